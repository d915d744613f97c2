// Token and tool accounting over everything an A2A conversation shows us.
//
// kagent stamps the usage of one LLM call on the record of that call:
//  - A2A 0.3 (released kagent): the agent Message inside a `working`
//    status-update, `metadata.kagent_usage_metadata` (Python ADK) or
//    `metadata.adk_usage_metadata` (Go ADK), camelCase genai fields
//    promptTokenCount / candidatesTokenCount / totalTokenCount.
//  - A2A 1.0 (kagent main): one Artifact per ADK event, the same keys on
//    `artifact.metadata`.
// The same record reaches us several times: tasks/get repeats the streamed
// messages in `history`, the latest one also sits in `status.message`, and
// the final status-update / task metadata repeat the last call's usage. So
// usage is read only from messages and ADK-event artifacts (never from event
// or task metadata), keyed by messageId / artifactId, and a key seen again
// replaces its earlier contribution instead of adding to it.
import type { A2AEvent, Artifact, DataPart, Message, Metadata, Part, Usage } from "./types.ts";

export interface CallUsage {
  prompt: number;
  completion: number;
  total: number;
}

interface Entry {
  /** usage of the LLM call this record stands for */
  call: CallUsage | undefined;
  /** usage a sub-agent reported inside a function_response */
  child: CallUsage;
  toolCalls: number;
}

const ZERO: CallUsage = { prompt: 0, completion: 0, total: 0 };

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function count(v: unknown): number {
  // ProtoJSON renders 64-bit integers as strings.
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/** kagent reads `adk_<key>` first, then `kagent_<key>`; so do we. */
export function metadataValue(metadata: Metadata | undefined, key: string): unknown {
  if (!metadata) return undefined;
  if (`adk_${key}` in metadata) return metadata[`adk_${key}`];
  return metadata[`kagent_${key}`];
}

/** The usage block of one LLM call, or undefined when the metadata has none. */
export function parseUsage(raw: unknown): CallUsage | undefined {
  if (!isObj(raw)) return undefined;
  const prompt = count(raw.promptTokenCount ?? raw.prompt_token_count);
  const completion = count(raw.candidatesTokenCount ?? raw.candidates_token_count);
  const totalRaw = raw.totalTokenCount ?? raw.total_token_count;
  const total = totalRaw === undefined || totalRaw === null ? prompt + completion : count(totalRaw);
  return { prompt, completion, total };
}

export function usageOf(metadata: Metadata | undefined): CallUsage | undefined {
  return parseUsage(metadataValue(metadata, "usage_metadata"));
}

export function partType(p: Part): unknown {
  return metadataValue(p.metadata, "type");
}

/**
 * A tool the model asked to run: kagent converts a genai function_call into a
 * DataPart {id, name, args} with metadata `kagent_type` / `adk_type` =
 * "function_call". ADK's own control calls (adk_request_confirmation,
 * adk_request_credential) are HITL plumbing, not tool use.
 */
export function isToolCall(p: Part): p is DataPart {
  if (p.kind !== "data" || partType(p) !== "function_call") return false;
  const name = p.data.name;
  return !(typeof name === "string" && name.startsWith("adk_request_"));
}

function childUsage(p: Part): CallUsage | undefined {
  if (p.kind !== "data" || partType(p) !== "function_response") return undefined;
  const response = p.data.response;
  return isObj(response) ? usageOf(response) : undefined;
}

export function isPartial(metadata: Metadata | undefined): boolean {
  // Python ADK 0.3 marks streaming chunks `kagent_adk_partial`, Go ADK `adk_partial`.
  return metadataValue(metadata, "partial") === true || metadata?.kagent_adk_partial === true;
}

/** An artifact written per ADK event (1.0) rather than a final copy of the answer (0.3). */
export function isEventArtifact(metadata: Metadata | undefined): boolean {
  return ["usage_metadata", "invocation_id", "author"].some((k) => metadataValue(metadata, k) !== undefined);
}

function oneLine(text: string, max = 200): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

function linesOf(parts: Part[]): string[] {
  const lines: string[] = [];
  for (const p of parts) {
    if (p.kind === "text") {
      if (metadataValue(p.metadata, "thought") === true) continue;
      const t = oneLine(p.text);
      if (t) lines.push(t);
    } else if (isToolCall(p)) {
      const name = p.data.name;
      lines.push(`calling tool ${typeof name === "string" ? name : "(unnamed)"}`);
    }
  }
  return lines;
}

function add(a: CallUsage, b: CallUsage, sign: 1 | -1): CallUsage {
  return { prompt: a.prompt + sign * b.prompt, completion: a.completion + sign * b.completion, total: a.total + sign * b.total };
}

export class UsageMeter {
  private readonly entries = new Map<string, Entry>();
  private sum: CallUsage = { ...ZERO };
  private tools = 0;
  private calls = 0;

  get usage(): Usage {
    return { promptTokens: this.sum.prompt, completionTokens: this.sum.completion, totalTokens: this.sum.total, toolCalls: this.tools };
  }

  /** Distinct LLM calls seen (records that carried usage): the agent's iterations. */
  get llmCalls(): number {
    return this.calls;
  }

  /** Accounts for one event, message or task; returns progress lines for records not seen before. */
  observe(item: A2AEvent): string[] {
    const lines: string[] = [];
    switch (item.kind) {
      case "message":
        this.message(item, lines);
        break;
      case "task":
        for (const m of item.history ?? []) this.message(m, lines);
        if (item.status.message) this.message(item.status.message, lines);
        for (const a of item.artifacts ?? []) this.artifact(item.id, a, lines);
        break;
      case "status-update":
        if (item.status.message) this.message(item.status.message, lines);
        break;
      case "artifact-update":
        // Streaming chunks of one call share the artifact id and precede the
        // closing chunk, which carries the call's complete record. ProtoJSON
        // (1.0) leaves out a false lastChunk, so an appending chunk without
        // one is a chunk too.
        if (item.lastChunk === true || (item.lastChunk === undefined && item.append !== true)) this.artifact(item.taskId, item.artifact, lines);
        break;
    }
    return lines;
  }

  private message(m: Message, lines: string[]): void {
    if (m.role === "user" || isPartial(m.metadata)) return;
    this.record(`message:${m.messageId}`, m.metadata, m.parts, lines);
  }

  private artifact(taskId: string, a: Artifact, lines: string[]): void {
    if (!isEventArtifact(a.metadata)) return;
    this.record(`artifact:${taskId}:${a.artifactId}`, a.metadata, a.parts, lines);
  }

  private record(key: string, metadata: Metadata | undefined, parts: Part[], lines: string[]): void {
    let child = { ...ZERO };
    for (const p of parts) {
      const u = childUsage(p);
      if (u) child = add(child, u, 1);
    }
    const entry: Entry = { call: usageOf(metadata), child, toolCalls: parts.filter(isToolCall).length };
    const previous = this.entries.get(key);
    if (previous) this.apply(previous, -1);
    else lines.push(...linesOf(parts));
    this.entries.set(key, entry);
    this.apply(entry, 1);
  }

  private apply(e: Entry, sign: 1 | -1): void {
    if (e.call) {
      this.sum = add(this.sum, e.call, sign);
      this.calls += sign;
    }
    this.sum = add(this.sum, e.child, sign);
    this.tools += sign * e.toolCalls;
  }
}
