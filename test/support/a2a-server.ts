// A stand-in for kagent's A2A endpoint (/api/a2a/<namespace>/<name>/), enough
// to drive agentgate's A2A client the way kagent does:
//  - protocol "0.3" behaves like released kagent (Python ADK executor): a
//    submitted Task, `working` status-updates whose agent Message carries the
//    LLM call's `kagent_usage_metadata` (or `adk_usage_metadata`, as the Go
//    ADK writes it) and its function_call DataParts, a final unnamed artifact
//    repeating the answer, then `completed` with the last call's usage
//    repeated in the event metadata;
//  - protocol "1.0" behaves like kagent main: `A2A-Version: 1.0` required
//    (plain-text 400 otherwise), PascalCase methods, ProtoJSON, one artifact
//    per ADK event with the usage on the artifact's metadata.
// tasks/get returns the whole history, so it repeats every streamed message.
// Unlike kagent, a repeated messageId returns the existing task: the tests
// count sends per messageId to prove the client never re-sends a goal.
// A script may pause for a tool approval as released kagent does (an
// `adk_request_confirmation` function call naming the original tool call,
// task state input-required) until a human's decision arrives the way
// kagent's UI sends it: a message with the task's id carrying a DataPart
// {decision_type: "approve" | "deny"} (approve() does just that).
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { A2AEvent, Artifact, Message, Metadata, Part, Task, TaskState } from "../../src/controller/a2a/types.ts";

export type FakeProtocol = "0.3" | "1.0";

export interface AgentScript {
  /** LLM calls the agent makes; default 2 */
  llmCalls?: number;
  /** per call; default 100 */
  promptTokens?: number;
  /** per call; default 20 */
  completionTokens?: number;
  /** leave totalTokenCount out of the usage block */
  omitTotal?: boolean;
  /** write `adk_usage_metadata` / `adk_type` (Go ADK) instead of the `kagent_` keys */
  usageKey?: "kagent" | "adk";
  /** function calls in every call but the last; default 1 */
  toolCallsPerCall?: number;
  /** emit streaming chunks (partial, also carrying usage) before each call's record */
  partialChunks?: boolean;
  /** pause before each LLM call; default 0 */
  stepDelayMs?: number;
  /** default "completed" */
  finalState?: "completed" | "failed" | "rejected" | "input-required";
  /** the failed status message */
  failureMessage?: string;
  /** the final answer; default "done" */
  resultText?: string;
  /** named artifacts emitted before the task completes */
  artifacts?: { name: string; text: string }[];
  /** false: message/stream and tasks/resubscribe answer UnsupportedOperation (-32004) */
  streaming?: boolean;
  /** false: tasks/resubscribe is an unknown method (-32601) */
  resubscribe?: boolean;
  /** after this many LLM calls, pause in input-required until a human approves this tool call */
  approval?: { afterCalls: number; tool: string };
  /** end a stream after this many events, as a dropped connection would */
  dropStreamAfter?: number;
  /** write each SSE event as pretty JSON over several data: lines, CRLF, comments, in tiny delayed pieces */
  fragmentSse?: boolean;
}

export interface RecordedCall {
  /** "<namespace>/<name>" */
  agent: string;
  method: string;
  params: unknown;
  /** the A2A-Version header, when sent */
  a2aVersion: string | undefined;
  messageId: string | undefined;
  taskId: string | undefined;
  /** the HTTP status or JSON-RPC error code the fake answered with, when not a success */
  refusal: number | undefined;
}

export interface FakeKagentOptions {
  protocol?: FakeProtocol;
  /** script for agents without one of their own */
  defaultScript?: AgentScript;
}

export interface FakeKagent {
  /** http://127.0.0.1:<port> */
  url: string;
  /** the agent's A2A endpoint under this server */
  agentUrl(namespace: string, name: string): string;
  received: RecordedCall[];
  setScript(agentKey: string, script: AgentScript): void;
  /** message/send + message/stream calls that carried this messageId */
  sendCount(messageId: string): number;
  /** the task as tasks/get would show it (0.3 shape) */
  task(taskId: string): Task | undefined;
  /** LLM calls the task actually made before it ended */
  llmCallsMade(taskId: string): number;
  /** the human's decision, as kagent's UI sends it (message/send with the task id); resolves with the JSON-RPC answer */
  approve(namespace: string, name: string, taskId: string, decision?: "approve" | "deny"): Promise<unknown>;
  /** the decisions a paused task received */
  decisions(taskId: string): string[];
  close(): Promise<void>;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const TERMINAL = new Set<TaskState>(["completed", "canceled", "failed", "rejected"]);
const ENDS_STREAM = new Set<TaskState>([...TERMINAL, "input-required", "auth-required"]);

const METHODS: Record<FakeProtocol, Record<string, string>> = {
  "0.3": { "message/send": "send", "message/stream": "stream", "tasks/get": "get", "tasks/cancel": "cancel", "tasks/resubscribe": "resubscribe" },
  "1.0": { SendMessage: "send", SendStreamingMessage: "stream", GetTask: "get", CancelTask: "cancel", SubscribeToTask: "resubscribe" },
};

// ---- 1.0 ProtoJSON encoding, written independently of the client's decoder

function v1State(s: TaskState): string {
  return `TASK_STATE_${s.toUpperCase().replace(/-/g, "_")}`;
}

function v1Part(p: Part): Obj {
  const out: Obj = p.kind === "text" ? { text: p.text } : p.kind === "data" ? { data: p.data } : { url: p.file.uri ?? "" };
  if (p.metadata) out.metadata = p.metadata;
  return out;
}

function v1Message(m: Message): Obj {
  const out: Obj = { messageId: m.messageId, role: m.role === "user" ? "ROLE_USER" : "ROLE_AGENT", parts: m.parts.map(v1Part) };
  if (m.contextId) out.contextId = m.contextId;
  if (m.taskId) out.taskId = m.taskId;
  if (m.metadata) out.metadata = m.metadata;
  return out;
}

function v1Artifact(a: Artifact): Obj {
  return { artifactId: a.artifactId, ...(a.name ? { name: a.name } : {}), parts: a.parts.map(v1Part), ...(a.metadata ? { metadata: a.metadata } : {}) };
}

function v1Status(s: Task["status"]): Obj {
  return { state: v1State(s.state), ...(s.message ? { message: v1Message(s.message) } : {}), ...(s.timestamp ? { timestamp: s.timestamp } : {}) };
}

function v1Task(t: Task): Obj {
  return {
    id: t.id,
    contextId: t.contextId,
    status: v1Status(t.status),
    artifacts: (t.artifacts ?? []).map(v1Artifact),
    history: (t.history ?? []).map(v1Message),
    ...(t.metadata ? { metadata: t.metadata } : {}),
  };
}

function v1Event(ev: A2AEvent): Obj {
  switch (ev.kind) {
    case "task":
      return { task: v1Task(ev) };
    case "message":
      return { message: v1Message(ev) };
    case "status-update":
      return { statusUpdate: { taskId: ev.taskId, contextId: ev.contextId, status: v1Status(ev.status), ...(ev.metadata ? { metadata: ev.metadata } : {}) } };
    case "artifact-update":
      return {
        artifactUpdate: {
          taskId: ev.taskId,
          contextId: ev.contextId,
          artifact: v1Artifact(ev.artifact),
          append: ev.append ?? false,
          lastChunk: ev.lastChunk ?? false,
          ...(ev.metadata ? { metadata: ev.metadata } : {}),
        },
      };
  }
}

// ---- the fake agent runtime

interface Resolved {
  llmCalls: number;
  promptTokens: number;
  completionTokens: number;
  omitTotal: boolean;
  prefix: string;
  toolCallsPerCall: number;
  partialChunks: boolean;
  stepDelayMs: number;
  finalState: "completed" | "failed" | "rejected" | "input-required";
  failureMessage: string;
  resultText: string;
  artifacts: { name: string; text: string }[];
  approval: { afterCalls: number; tool: string } | undefined;
  streaming: boolean;
  resubscribe: boolean;
  dropStreamAfter: number;
  fragmentSse: boolean;
}

function resolve(s: AgentScript): Resolved {
  return {
    llmCalls: s.llmCalls ?? 2,
    promptTokens: s.promptTokens ?? 100,
    completionTokens: s.completionTokens ?? 20,
    omitTotal: s.omitTotal ?? false,
    prefix: s.usageKey === "adk" ? "adk_" : "kagent_",
    toolCallsPerCall: s.toolCallsPerCall ?? 1,
    partialChunks: s.partialChunks ?? false,
    stepDelayMs: s.stepDelayMs ?? 0,
    finalState: s.finalState ?? "completed",
    failureMessage: s.failureMessage ?? "the model returned an error",
    resultText: s.resultText ?? "done",
    artifacts: s.artifacts ?? [],
    approval: s.approval,
    streaming: s.streaming ?? true,
    resubscribe: s.resubscribe ?? true,
    dropStreamAfter: s.dropStreamAfter ?? Infinity,
    fragmentSse: s.fragmentSse ?? false,
  };
}

interface FakeTask {
  task: Task;
  script: Resolved;
  listeners: Set<(ev: A2AEvent) => void>;
  cancelled: boolean;
  wake: () => void;
  llmCalls: number;
  ended: Promise<undefined>;
  end: () => void;
  /** set while the task waits for a decision; called with it */
  decide: ((decision: string) => void) | undefined;
  decisions: string[];
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function now(): string {
  return new Date().toISOString();
}

export async function startFakeKagent(opts: FakeKagentOptions = {}): Promise<FakeKagent> {
  const protocol = opts.protocol ?? "0.3";
  const scripts = new Map<string, AgentScript>();
  const received: RecordedCall[] = [];
  const tasks = new Map<string, FakeTask>();
  const byMessageId = new Map<string, FakeTask>();
  const sockets = new Set<Socket>();

  const emit = (ft: FakeTask, ev: A2AEvent): void => {
    const t = ft.task;
    if (ev.kind === "status-update") {
      t.status = clone(ev.status);
      const partial = ev.status.message?.metadata?.kagent_adk_partial === true || ev.status.message?.metadata?.adk_partial === true;
      if (ev.status.message && !partial) (t.history ??= []).push(clone(ev.status.message));
      if (ev.metadata) t.metadata = { ...t.metadata, ...ev.metadata };
    } else if (ev.kind === "artifact-update") {
      const list = (t.artifacts ??= []);
      const i = list.findIndex((a) => a.artifactId === ev.artifact.artifactId);
      const existing = list[i];
      const next = ev.append && existing ? { ...existing, parts: [...existing.parts, ...ev.artifact.parts] } : clone(ev.artifact);
      if (i === -1) list.push(next);
      else list[i] = next;
    }
    for (const l of [...ft.listeners]) l(ev);
    if (ev.kind === "status-update" && ENDS_STREAM.has(ev.status.state)) ft.end();
  };

  const delay = (ft: FakeTask, ms: number): Promise<void> =>
    new Promise((res) => {
      if (ms <= 0 || ft.cancelled) {
        res();
        return;
      }
      const timer = setTimeout(res, ms);
      ft.wake = () => {
        clearTimeout(timer);
        res();
      };
    });

  const usageBlock = (s: Resolved): Obj => ({
    promptTokenCount: s.promptTokens,
    candidatesTokenCount: s.completionTokens,
    ...(s.omitTotal ? {} : { totalTokenCount: s.promptTokens + s.completionTokens }),
  });

  const agentMessage = (ft: FakeTask, parts: Part[], metadata: Metadata): Message => ({
    kind: "message",
    messageId: randomUUID(),
    role: "agent",
    parts,
    taskId: ft.task.id,
    contextId: ft.task.contextId,
    metadata,
  });

  const status = (ft: FakeTask, state: TaskState, message?: Message, metadata?: Metadata): A2AEvent => ({
    kind: "status-update",
    taskId: ft.task.id,
    contextId: ft.task.contextId,
    status: { state, timestamp: now(), ...(message ? { message } : {}) },
    final: ENDS_STREAM.has(state),
    ...(metadata ? { metadata } : {}),
  });

  const artifact = (ft: FakeTask, a: Artifact, extra: { append?: boolean; lastChunk?: boolean } = {}): A2AEvent => ({
    kind: "artifact-update",
    taskId: ft.task.id,
    contextId: ft.task.contextId,
    artifact: a,
    append: extra.append ?? false,
    lastChunk: extra.lastChunk ?? true,
    ...(a.metadata ? { metadata: a.metadata } : {}),
  });

  /** What kagent emits for one ADK event: a status message (0.3) or an artifact (1.0). */
  const record = (ft: FakeTask, parts: Part[], metadata: Metadata, partial: boolean, artifactId: string): A2AEvent => {
    const p = ft.script.prefix;
    if (protocol === "0.3") {
      const meta = partial ? { ...metadata, [p === "adk_" ? "adk_partial" : "kagent_adk_partial"]: true } : metadata;
      return status(ft, "working", agentMessage(ft, parts, meta), meta);
    }
    return artifact(ft, { artifactId, parts, metadata }, { append: partial, lastChunk: !partial });
  };

  const run = async (ft: FakeTask): Promise<void> => {
    const s = ft.script;
    const p = s.prefix;
    const base = { [`${p}app_name`]: "fake", [`${p}invocation_id`]: `inv-${ft.task.id}`, [`${p}author`]: "agent" };
    emit(ft, status(ft, "working", undefined, base));
    let lastUsage: Obj | undefined;
    for (let i = 0; i < s.llmCalls; i++) {
      await delay(ft, s.stepDelayMs);
      if (ft.cancelled) return;
      const last = i === s.llmCalls - 1;
      const usage = usageBlock(s);
      lastUsage = usage;
      const meta = { ...base, [`${p}usage_metadata`]: usage };
      const text = last && s.finalState === "completed" ? s.resultText : `step ${i + 1}`;
      const artifactId = randomUUID();
      if (s.partialChunks) emit(ft, record(ft, [{ kind: "text", text: text.slice(0, 1) }], meta, true, artifactId));
      const calls: Part[] = [];
      if (!last) {
        for (let j = 0; j < s.toolCallsPerCall; j++) {
          calls.push({ kind: "data", data: { id: `call-${i}-${j}`, name: `tool_${j}`, args: {} }, metadata: { [`${p}type`]: "function_call" } });
        }
      }
      emit(ft, record(ft, [{ kind: "text", text }, ...calls], meta, false, artifactId));
      ft.llmCalls++;
      if (s.approval && ft.llmCalls === s.approval.afterCalls) {
        // the decision's handler has already set the task working again
        await pauseForApproval(ft, s.approval.tool, base);
        if (ft.cancelled) return;
      }
      if (calls.length > 0) {
        // the tool results: an ADK event without usage
        const responses: Part[] = calls.map((c, j) => ({
          kind: "data",
          data: { id: `call-${i}-${j}`, name: `tool_${j}`, response: { result: "ok" } },
          metadata: { [`${p}type`]: "function_response" },
        }));
        emit(ft, record(ft, responses, base, false, randomUUID()));
      }
    }
    if (ft.cancelled) return;
    const finalMeta = { ...base, ...(lastUsage ? { [`${p}usage_metadata`]: lastUsage } : {}) };
    switch (s.finalState) {
      case "completed":
        for (const a of s.artifacts) emit(ft, artifact(ft, { artifactId: randomUUID(), name: a.name, parts: [{ kind: "text", text: a.text }] }));
        // released kagent repeats the answer as an unnamed artifact without metadata
        if (protocol === "0.3") emit(ft, artifact(ft, { artifactId: randomUUID(), parts: [{ kind: "text", text: s.resultText }] }));
        emit(ft, status(ft, "completed", undefined, finalMeta));
        break;
      case "input-required": {
        const ask: Part = { kind: "data", data: { id: "confirm-1", name: "adk_request_confirmation", args: {} }, metadata: { [`${p}type`]: "function_call", [`${p}is_long_running`]: true } };
        emit(ft, status(ft, "input-required", agentMessage(ft, [ask], base), finalMeta));
        break;
      }
      default:
        emit(ft, status(ft, s.finalState, agentMessage(ft, [{ kind: "text", text: s.failureMessage }], base), finalMeta));
    }
  };

  /** What released kagent emits when a requireApproval tool is called; waits for the human. */
  const pauseForApproval = (ft: FakeTask, tool: string, base: Metadata): Promise<string> => {
    const p = ft.script.prefix;
    const ask: Part = {
      kind: "data",
      data: { id: `confirm-${String(ft.llmCalls)}`, name: "adk_request_confirmation", args: { originalFunctionCall: { name: tool, args: {}, id: `call-${String(ft.llmCalls)}` }, toolConfirmation: { hint: "", confirmed: false } } },
      metadata: { [`${p}type`]: "function_call", [`${p}is_long_running`]: true },
    };
    return new Promise<string>((resolve) => {
      ft.decide = (decision) => {
        ft.decide = undefined;
        ft.decisions.push(decision);
        resolve(decision);
      };
      ft.wake = () => {
        ft.decide = undefined;
        resolve("cancelled");
      };
      emit(ft, status(ft, "input-required", agentMessage(ft, [ask], base), base));
    });
  };

  const startTask = (agent: string, message: Message): FakeTask => {
    const id = randomUUID();
    const contextId = message.contextId ?? randomUUID();
    let end = (): void => undefined;
    const ended = new Promise<undefined>((res) => {
      end = () => {
        res(undefined);
      };
    });
    const ft: FakeTask = {
      task: { kind: "task", id, contextId, status: { state: "submitted", timestamp: now() }, history: [{ ...message, taskId: id, contextId }], artifacts: [] },
      script: resolve(scripts.get(agent) ?? opts.defaultScript ?? {}),
      listeners: new Set(),
      cancelled: false,
      wake: () => undefined,
      llmCalls: 0,
      ended,
      end: () => {
        end();
      },
      decide: undefined,
      decisions: [],
    };
    tasks.set(id, ft);
    byMessageId.set(message.messageId, ft);
    return ft;
  };

  const launch = (ft: FakeTask): void => {
    // after the caller subscribed, so a stream sees every event
    setImmediate(() => {
      void run(ft);
    });
  };

  const encode = (ev: A2AEvent): unknown => (protocol === "0.3" ? ev : v1Event(ev));
  const encodeTask = (t: Task): unknown => (protocol === "0.3" ? t : v1Task(t));

  const parseMessage = (params: unknown): Message | undefined => {
    if (!isObj(params) || !isObj(params.message)) return undefined;
    const m = params.message;
    if (typeof m.messageId !== "string" || !Array.isArray(m.parts)) return undefined;
    const parts: Part[] = m.parts.filter(isObj).map((p): Part => (isObj(p.data) ? { kind: "data", data: p.data } : { kind: "text", text: typeof p.text === "string" ? p.text : "" }));
    const msg: Message = { kind: "message", messageId: m.messageId, role: "user", parts };
    if (typeof m.contextId === "string") msg.contextId = m.contextId;
    if (typeof m.taskId === "string") msg.taskId = m.taskId;
    return msg;
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  /** Serialises SSE writes so fragmented events keep their order. */
  const sseWriter = (res: ServerResponse, s: Resolved, id: unknown) => {
    let chain = Promise.resolve();
    let count = 0;
    let closed = false;
    res.on("close", () => {
      closed = true;
    });
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    res.flushHeaders();
    const writeRaw = (text: string): Promise<void> =>
      new Promise((done) => {
        if (closed) {
          done();
          return;
        }
        res.write(text, () => {
          done();
        });
      });
    const frame = (payload: unknown): string => {
      const body = { jsonrpc: "2.0", id, result: payload };
      if (!s.fragmentSse) return `data: ${JSON.stringify(body)}\n\n`;
      const lines = JSON.stringify(body, null, 1).split("\n");
      return `: keep-alive\r\nevent: message\r\n${lines.map((l) => `data:${l}`).join("\r\n")}\r\n\r\n`;
    };
    return {
      write(payload: unknown, last: boolean): void {
        chain = chain.then(async () => {
          if (closed) return;
          const text = frame(payload);
          if (s.fragmentSse) {
            for (let i = 0; i < text.length; i += 7) {
              await writeRaw(text.slice(i, i + 7));
              await new Promise((r) => setTimeout(r, 1));
            }
          } else {
            await writeRaw(text);
          }
          count++;
          if (last || count >= s.dropStreamAfter) {
            closed = true;
            res.end();
          }
        });
      },
      get closed(): boolean {
        return closed;
      },
    };
  };

  const streamTask = (res: ServerResponse, ft: FakeTask, id: unknown, first: A2AEvent | undefined): void => {
    const w = sseWriter(res, ft.script, id);
    if (first) w.write(encode(first), ENDS_STREAM.has(ft.task.status.state));
    if (ENDS_STREAM.has(ft.task.status.state)) {
      if (!first) res.end();
      return;
    }
    const listener = (ev: A2AEvent): void => {
      if (w.closed) {
        ft.listeners.delete(listener);
        return;
      }
      const last = ev.kind === "status-update" && ENDS_STREAM.has(ev.status.state);
      w.write(encode(ev), last);
      if (last) ft.listeners.delete(listener);
    };
    ft.listeners.add(listener);
    res.on("close", () => ft.listeners.delete(listener));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    const match = /^\/api\/a2a\/([^/]+)\/([^/]+)\/?$/.exec(path);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const a2aVersion = req.headers["a2a-version"];
    const call: RecordedCall = { agent: "", method: "", params: undefined, a2aVersion: typeof a2aVersion === "string" ? a2aVersion : undefined, messageId: undefined, taskId: undefined, refusal: undefined };
    received.push(call);
    if (req.method !== "POST" || !match) {
      call.refusal = req.method !== "POST" ? 405 : 404;
      res.writeHead(call.refusal, { "content-type": "text/plain" }).end(req.method !== "POST" ? "method not allowed" : "not found");
      return;
    }
    call.agent = `${decodeURIComponent(match[1] ?? "")}/${decodeURIComponent(match[2] ?? "")}`;
    let body: unknown;
    if (protocol === "1.0" && call.a2aVersion !== "1.0") {
      // what kagent main's handler mux answers before any JSON-RPC processing
      call.refusal = 400;
      try {
        const peek: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        if (isObj(peek) && typeof peek.method === "string") call.method = peek.method;
      } catch {
        // the refusal does not depend on the body
      }
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" }).end(`missing required A2A-Version header; expected "1.0"\n`);
      return;
    }
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      call.refusal = -32700;
      sendJson(res, 200, { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
      return;
    }
    const rpc = isObj(body) ? body : {};
    const id = rpc.id ?? null;
    call.method = typeof rpc.method === "string" ? rpc.method : "";
    call.params = rpc.params;
    const fail = (code: number, message: string): void => {
      call.refusal = code;
      sendJson(res, 200, { jsonrpc: "2.0", id, error: { code, message } });
    };
    const op = METHODS[protocol][call.method];
    if (op === undefined) {
      fail(-32601, `Method not found: ${call.method}`);
      return;
    }
    const script = resolve(scripts.get(call.agent) ?? opts.defaultScript ?? {});
    const params = isObj(rpc.params) ? rpc.params : {};

    if (op === "send" || op === "stream") {
      const message = parseMessage(rpc.params);
      if (!message) {
        fail(-32602, "params.message with messageId and parts required");
        return;
      }
      call.messageId = message.messageId;
      if (op === "stream" && !script.streaming) {
        fail(-32004, "Streaming is not supported by this agent");
        return;
      }
      if (message.taskId !== undefined) {
        // a message for an existing task: the human's decision on a paused one
        call.taskId = message.taskId;
        const paused = tasks.get(message.taskId);
        const decision = message.parts.find((p): p is Extract<Part, { kind: "data" }> => p.kind === "data" && typeof p.data.decision_type === "string");
        if (!paused?.decide || !decision) {
          fail(-32602, `task ${message.taskId} is not waiting for a decision`);
          return;
        }
        (paused.task.history ??= []).push({ ...message, contextId: paused.task.contextId });
        const decide = paused.decide;
        emit(paused, status(paused, "working"));
        if (op === "stream") streamTask(res, paused, id, clone(paused.task));
        else sendJson(res, 200, { jsonrpc: "2.0", id, result: protocol === "0.3" ? clone(paused.task) : { task: v1Task(paused.task) } });
        setImmediate(() => {
          decide(String(decision.data.decision_type));
        });
        return;
      }
      const existing = byMessageId.get(message.messageId);
      const ft = existing ?? startTask(call.agent, message);
      call.taskId = ft.task.id;
      if (op === "stream") {
        streamTask(res, ft, id, { ...clone(ft.task) });
      } else {
        const configuration = isObj(params.configuration) ? params.configuration : {};
        const blocking = protocol === "0.3" ? configuration.blocking !== false : configuration.returnImmediately !== true;
        if (blocking && !existing) {
          launch(ft);
          await ft.ended;
        } else if (!existing) {
          launch(ft);
        }
        sendJson(res, 200, { jsonrpc: "2.0", id, result: protocol === "0.3" ? clone(ft.task) : { task: v1Task(ft.task) } });
        return;
      }
      if (!existing) launch(ft);
      return;
    }

    const taskId = typeof params.id === "string" ? params.id : "";
    call.taskId = taskId;
    const ft = tasks.get(taskId);
    if (!ft) {
      fail(-32001, `Task not found: ${taskId}`);
      return;
    }
    switch (op) {
      case "get": {
        const t = clone(ft.task);
        if (typeof params.historyLength === "number") t.history = (t.history ?? []).slice(-params.historyLength);
        sendJson(res, 200, { jsonrpc: "2.0", id, result: encodeTask(t) });
        return;
      }
      case "cancel":
        if (TERMINAL.has(ft.task.status.state)) {
          fail(-32002, `Task ${taskId} cannot be canceled: it is ${ft.task.status.state}`);
          return;
        }
        ft.cancelled = true;
        ft.wake();
        emit(ft, status(ft, "canceled", undefined, undefined));
        sendJson(res, 200, { jsonrpc: "2.0", id, result: encodeTask(clone(ft.task)) });
        return;
      case "resubscribe":
        if (!script.resubscribe) {
          fail(-32601, `Method not found: ${call.method}`);
          return;
        }
        if (!script.streaming || TERMINAL.has(ft.task.status.state)) {
          fail(-32004, "cannot resubscribe");
          return;
        }
        if (ENDS_STREAM.has(ft.task.status.state)) {
          // a2a-python: the executor ended at the pause, so there is no queue to tap
          fail(-32001, `Task not found: ${taskId}`);
          return;
        }
        streamTask(res, ft, id, undefined);
        return;
      default:
        fail(-32601, `Method not found: ${call.method}`);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(err instanceof Error ? err.message : String(err));
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    agentUrl: (namespace, name) => `${url}/api/a2a/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/`,
    received,
    setScript: (agentKey, script) => {
      scripts.set(agentKey, script);
    },
    sendCount: (messageId) => received.filter((c) => c.messageId === messageId && c.refusal === undefined && (METHODS[protocol][c.method] === "send" || METHODS[protocol][c.method] === "stream")).length,
    task: (taskId) => {
      const ft = tasks.get(taskId);
      return ft ? clone(ft.task) : undefined;
    },
    llmCallsMade: (taskId) => tasks.get(taskId)?.llmCalls ?? 0,
    approve: async (namespace, name, taskId, decision = "approve") => {
      const res = await fetch(`${url}/api/a2a/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(protocol === "1.0" ? { "A2A-Version": "1.0" } : {}) },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: randomUUID(),
          method: protocol === "0.3" ? "message/send" : "SendMessage",
          params: { message: { kind: "message", messageId: randomUUID(), role: "user", taskId, parts: [{ kind: "data", data: { decision_type: decision }, metadata: {} }] } },
        }),
      });
      return (await res.json());
    },
    decisions: (taskId) => [...(tasks.get(taskId)?.decisions ?? [])],
    close: async () => {
      for (const ft of tasks.values()) {
        ft.cancelled = true;
        ft.wake();
      }
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}
