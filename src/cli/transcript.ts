// What the agent said and did, read from kagent's A2A task (its live stream,
// or the task with its history once it ended): `agentgate logs --kagent-url`.
// Each record kagent emits once per ADK event (a message in 0.3, an artifact
// in 1.0) becomes lines: the agent's text, each tool it calls with its
// arguments summarised, each tool result, a human approval it waits for,
// and the tokens so far whenever they grow. Pure.
import { isEventArtifact, isPartial, partType, UsageMeter } from "../controller/a2a/usage.ts";
import type { A2AEvent, Artifact, DataPart, Message, Part, TaskState } from "../controller/a2a/types.ts";
import type { LogLine } from "./run-log.ts";

const ARGS_LIMIT = 160;
const TEXT_LIMIT = 400;

function oneLine(text: string, max: number): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** Arguments as `key=value` pairs, each value cut short: enough to see what was asked, never a whole file. */
export function summariseArgs(args: unknown): string {
  if (typeof args !== "object" || args === null || Array.isArray(args)) return args === undefined ? "" : oneLine(JSON.stringify(args), ARGS_LIMIT);
  const value = (v: unknown): string => (v === undefined ? "null" : JSON.stringify(typeof v === "string" && v.length > 40 ? `${v.slice(0, 39)}…` : v));
  const pairs = Object.entries(args as Record<string, unknown>).map(([k, v]) => `${k}=${oneLine(value(v), 60)}`);
  return oneLine(pairs.join(" "), ARGS_LIMIT);
}

const data = (p: Part): DataPart | undefined => (p.kind === "data" ? p : undefined);
const nameOf = (d: DataPart): string => (typeof d.data.name === "string" ? d.data.name : "(unnamed)");

/** A tool's result as kagent returns it: an error when the response says so. */
function resultStatus(response: unknown): string {
  if (typeof response !== "object" || response === null) return "ok";
  const r = response as Record<string, unknown>;
  if (r.isError === true || r.is_error === true || "error" in r) return "error";
  return "ok";
}

export class Transcript {
  private readonly meter = new UsageMeter();
  private readonly seen = new Set<string>();
  private lastTotal = 0;
  private lastState: TaskState | undefined;

  /** Lines for what this event shows that was not shown before. */
  observe(ev: A2AEvent, time: string): LogLine[] {
    const out: LogLine[] = [];
    const line = (reason: string, message: string, type: LogLine["type"] = "Normal") => out.push({ time, kind: "agent", type, reason, message });
    const records: { key: string; parts: Part[] }[] = [];
    const fromMessage = (m: Message | undefined) => {
      if (m && m.role === "agent" && !isPartial(m.metadata)) records.push({ key: `message:${m.messageId}`, parts: m.parts });
    };
    const fromArtifact = (taskId: string, a: Artifact) => {
      if (isEventArtifact(a.metadata)) records.push({ key: `artifact:${taskId}:${a.artifactId}`, parts: a.parts });
    };
    let state: TaskState | undefined;
    switch (ev.kind) {
      case "message":
        fromMessage(ev);
        break;
      case "task":
        for (const m of ev.history ?? []) fromMessage(m);
        fromMessage(ev.status.message);
        for (const a of ev.artifacts ?? []) fromArtifact(ev.id, a);
        state = ev.status.state;
        break;
      case "status-update":
        fromMessage(ev.status.message);
        state = ev.status.state;
        break;
      case "artifact-update":
        if (ev.lastChunk === true || (ev.lastChunk === undefined && ev.append !== true)) fromArtifact(ev.taskId, ev.artifact);
        break;
    }
    for (const r of records) {
      if (this.seen.has(r.key)) continue;
      this.seen.add(r.key);
      for (const p of r.parts) {
        const d = data(p);
        if (p.kind === "text") {
          if (p.metadata?.adk_thought === true || p.metadata?.kagent_thought === true) continue;
          const t = oneLine(p.text, TEXT_LIMIT);
          if (t) line("AgentMessage", t);
        } else if (d && partType(p) === "function_call") {
          const name = nameOf(d);
          if (name === "adk_request_confirmation") {
            const original = d.data.args as { originalFunctionCall?: { name?: unknown; args?: unknown } } | undefined;
            const tool = typeof original?.originalFunctionCall?.name === "string" ? original.originalFunctionCall.name : "a tool";
            line("WaitingForApproval", `the agent waits for a human to approve ${tool}(${summariseArgs(original?.originalFunctionCall?.args)}) in kagent`, "Warning");
          } else if (!name.startsWith("adk_request_")) {
            line("ToolCall", `${name}(${summariseArgs(d.data.args)})`);
          }
        } else if (d && partType(p) === "function_response") {
          const status = resultStatus(d.data.response);
          line(status === "ok" ? "ToolResult" : "ToolError", `${nameOf(d)}: ${status}`, status === "ok" ? "Normal" : "Warning");
        }
      }
    }
    this.meter.observe(ev);
    const u = this.meter.usage;
    if (u.totalTokens !== this.lastTotal) {
      this.lastTotal = u.totalTokens;
      line("Tokens", `${String(u.totalTokens)} so far (${String(u.promptTokens)} prompt, ${String(u.completionTokens)} completion), ${String(u.toolCalls)} tool calls`);
    }
    if (state !== undefined && state !== this.lastState) {
      this.lastState = state;
      if (state !== "working" && state !== "submitted") line("TaskState", `kagent task ${state}`, state === "completed" ? "Normal" : "Warning");
    }
    return out;
  }
}
