// A stand-in for kagent's A2A endpoint (/api/a2a/<namespace>/<name>/) that
// plays what kagent's source shows, with a scripted agent behind it.
//
// The A2A server is the A2A project's JavaScript SDK (@a2a-js/sdk 1.3.0):
// DefaultRequestHandler, with LegacyJsonRpcTransportHandler for the JSON-RPC
// 0.3 methods released kagent speaks (message/send, message/stream,
// tasks/get, tasks/cancel, tasks/resubscribe; kagent v0.9.7+ picks 0.3 when
// A2A-Version is absent, go/core/internal/httpserver/utils/a2a_version.go)
// and JsonRpcTransportHandler for 1.0 (kagent main, A2A-Version: 1.0). The
// SDK parses and validates requests, runs the request lifecycle (task not
// found, not cancelable, terminal tasks, streaming capability, the executor's
// cancel, resubscription), ends streams where A2A says, and translates every
// answer into the 0.3 or 1.0 wire shape. Hand-written here, because the SDK
// does not play them:
//  - the route per Agent, kagent's controller auth in front of it
//    (go/core/pkg/auth/auth.go AuthnMiddleware: 401 "Unauthorized"), and the
//    trpc-a2a-go proxy of v0.9.0–v0.9.6, which wraps a runtime's JSON-RPC
//    error into -32603 "Internal error" with the original in `data`
//    (trpc-a2a-go v0.2.5 server/server.go handleTaskManagerError: the
//    client's fmt.Errorf("a2aClient.CancelTasks: %w") is no *jsonrpc.Error);
//  - a2a-python's background consumer: a2a-python 0.3.26 keeps consuming
//    (and saving) a message/stream whose reader went away; the SDK's
//    sendMessageStream saves only while it is read (it stops its queue in
//    `finally`). The stand-in therefore drains such a stream itself;
//  - kagent's task store (KAgentTaskStore, python/packages/kagent-core/src/
//    kagent/core/a2a/_task_store.py) drops partial streaming events before a
//    task is saved, and is not scoped by user;
//  - SSE framing (so a test can fragment or drop a stream) and a Python
//    task's tasks/resubscribe while it waits for a human (a2a-python: the
//    executor ended at the pause, so there is no queue to tap: TaskNotFound;
//    the SDK would keep the bus and stream it).
//
// Runtimes, as kagent's source shows them (v0.9.0 through v0.10.0-rc3):
//  - "python" (kagent-adk, _agent_executor.py): cancel raises
//    NotImplementedError("Cancellation is not supported"), which a2a-python's
//    jsonrpc_app turns into -32603 with that message; the task keeps running.
//    Usage under `kagent_usage_metadata` on each LLM event, and the final
//    status-update repeats the last call's usage (not a total);
//  - "go" (go/adk/pkg/a2a/executor.go Cancel): cancel honoured with a final
//    `canceled` status-update; usage under `adk_usage_metadata`
//    (converter.go buildEventMeta), none on the final event.
// tasks/get returns the task with its history, whose first message is the
// user's goal with the messageId the client sent. Unlike kagent's UI, nothing
// here sends anything on its own; a script may pause for a tool approval as
// released kagent does (an `adk_request_confirmation` function call naming
// the original tool call, task state input-required) until a human's
// decision arrives the way kagent's UI sends it: a message with the task's id
// carrying a DataPart {decision_type: "approve" | "deny"} (approve()).
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Role, TaskState as CoreState } from "@a2a-js/sdk";
import type { AgentCard, Message as CoreMessage, Part as CorePart, Task as CoreTask, TaskStatus as CoreStatus } from "@a2a-js/sdk";
import { AgentEvent, DefaultRequestHandler, JsonRpcTransportHandler, ServerCallContext } from "@a2a-js/sdk/server";
import type { AgentExecutor, ExecutionEventBus, RequestContext, TaskStore, User } from "@a2a-js/sdk/server";
import { LegacyJsonRpcTransportHandler } from "@a2a-js/sdk/compat/v0_3/server";
import type { A2AEvent, Artifact, Message, Metadata, Part, Task, TaskState } from "../../src/controller/a2a/types.ts";

export type FakeProtocol = "0.3" | "1.0";

/** kagent's `spec.declarative.runtime`. */
export type KagentRuntime = "python" | "go";

/**
 * The first release of each range that behaves differently here:
 * v0.9.0–v0.9.3 (trusted-proxy takes X-Agent-Name + X-User-Id without a
 * token; trpc-a2a-go proxy), v0.9.4–v0.9.6 (Bearer JWT required; trpc-a2a-go
 * proxy), v0.9.7 on (a2a-go v2 proxy, errors passed through).
 */
export type KagentRelease = "v0.9.0" | "v0.9.4" | "v0.9.7";

/** kagent's `controller.auth.mode` (Helm), `--auth-mode`. */
export type FakeAuth = { mode: "unsecure" } | { mode: "trusted-proxy"; userIdClaim?: string };

export interface AgentScript {
  /** the Agent's runtime; default the stand-in's */
  runtime?: KagentRuntime;
  /** LLM calls the agent makes; default 2 */
  llmCalls?: number;
  /** per call; default 100 */
  promptTokens?: number;
  /** per call; default 20 */
  completionTokens?: number;
  /** leave totalTokenCount out of the usage block */
  omitTotal?: boolean;
  /** override the runtime's metadata prefix: `kagent_` (Python) or `adk_` (Go) */
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
  /**
   * What each LLM call says and which tools it calls, in order, as a real
   * agent's turns read (in place of "step N" and toolCallsPerCall's
   * `tool_<j>` calls, for the calls listed; the last call's text is still the
   * answer when it completes). The demo's test-writing agent uses it.
   */
  turns?: { text: string; toolCalls?: { name: string; args: Record<string, unknown> }[] }[];
  /** named artifacts emitted before the task completes */
  artifacts?: { name: string; text: string }[];
  /** false: the card says no streaming, so message/stream and tasks/resubscribe answer UnsupportedOperation (-32004) */
  streaming?: boolean;
  /** false: tasks/resubscribe is an unknown method (-32601) */
  resubscribe?: boolean;
  /** after this many LLM calls, pause in input-required until a human approves this tool call */
  approval?: { afterCalls: number; tool: string };
  /** end a stream after this many events, as a dropped connection would */
  dropStreamAfter?: number;
  /** write each SSE event as pretty JSON over several data: lines, CRLF, comments, in tiny delayed pieces */
  fragmentSse?: boolean;
  /**
   * What the agent really does before its scripted LLM calls: called once
   * per task with the Agent's "<namespace>/<name>" (a test calls the tools
   * and model the Agent was given, as kagent's runtime would). A rejection
   * fails the task with its message.
   */
  work?: (agent: string) => Promise<void>;
}

export interface RecordedCall {
  /** "<namespace>/<name>" */
  agent: string;
  method: string;
  params: unknown;
  /** the A2A-Version header, when sent */
  a2aVersion: string | undefined;
  /** the Authorization header, when sent */
  authorization: string | undefined;
  /** who kagent's authenticator says the caller is; undefined when refused */
  user: string | undefined;
  messageId: string | undefined;
  taskId: string | undefined;
  /** the HTTP status or JSON-RPC error code the stand-in answered with, when not a success */
  refusal: number | undefined;
  /** the JSON-RPC error message (or HTTP body) of a refusal */
  refusalMessage: string | undefined;
}

export interface FakeKagentOptions {
  protocol?: FakeProtocol;
  /** script for agents without one of their own */
  defaultScript?: AgentScript;
  /** runtime of agents whose script names none; default "go" (kagent v0.10's CRD default, and agentgate's) */
  runtime?: KagentRuntime;
  /** default { mode: "unsecure" } (kagent's Helm default) */
  auth?: FakeAuth;
  /** default "v0.9.7" */
  release?: KagentRelease;
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
  /** the task as kagent's task store holds it (0.3 shape) */
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
const INTERRUPTED = new Set<TaskState>(["input-required", "auth-required"]);

const OPS: Record<FakeProtocol, Record<string, "send" | "stream" | "get" | "cancel" | "resubscribe">> = {
  "0.3": { "message/send": "send", "message/stream": "stream", "tasks/get": "get", "tasks/cancel": "cancel", "tasks/resubscribe": "resubscribe" },
  "1.0": { SendMessage: "send", SendStreamingMessage: "stream", GetTask: "get", CancelTask: "cancel", SubscribeToTask: "resubscribe" },
};

/** trpc-a2a-go's TaskManager operation and client method per 0.3 method (kagent v0.9.0–v0.9.6 go/core/internal/a2a/manager.go). */
const TRPC_WRAP: Record<string, [string, string]> = {
  "message/send": ["OnSendMessage", "SendMessage"],
  "tasks/get": ["OnGetTask", "GetTasks"],
  "tasks/cancel": ["OnCancelTask", "CancelTasks"],
};

// ---- the 0.3 record → the SDK's (1.0 proto) objects

const CORE_STATE: Record<TaskState, CoreState> = {
  submitted: CoreState.TASK_STATE_SUBMITTED,
  working: CoreState.TASK_STATE_WORKING,
  "input-required": CoreState.TASK_STATE_INPUT_REQUIRED,
  completed: CoreState.TASK_STATE_COMPLETED,
  canceled: CoreState.TASK_STATE_CANCELED,
  failed: CoreState.TASK_STATE_FAILED,
  rejected: CoreState.TASK_STATE_REJECTED,
  "auth-required": CoreState.TASK_STATE_AUTH_REQUIRED,
  unknown: CoreState.TASK_STATE_UNSPECIFIED,
};

function corePart(p: Part): CorePart {
  const base = { metadata: p.metadata ? structuredClone(p.metadata) : undefined, filename: "", mediaType: "" };
  if (p.kind === "text") return { ...base, content: { $case: "text", value: p.text } };
  if (p.kind === "data") return { ...base, content: { $case: "data", value: structuredClone(p.data) } };
  return { ...base, filename: p.file.name ?? "", mediaType: p.file.mimeType ?? "", content: p.file.bytes !== undefined ? { $case: "raw", value: Buffer.from(p.file.bytes, "base64") } : { $case: "url", value: p.file.uri ?? "" } };
}

function coreMessage(m: Message): CoreMessage {
  return {
    messageId: m.messageId,
    contextId: m.contextId ?? "",
    taskId: m.taskId ?? "",
    role: m.role === "user" ? Role.ROLE_USER : Role.ROLE_AGENT,
    parts: m.parts.map(corePart),
    metadata: m.metadata ? structuredClone(m.metadata) : undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

function coreStatus(s: Task["status"]): CoreStatus {
  return { state: CORE_STATE[s.state], message: s.message ? coreMessage(s.message) : undefined, timestamp: s.timestamp };
}

function coreArtifact(a: Artifact) {
  return { artifactId: a.artifactId, name: a.name ?? "", description: a.description ?? "", parts: a.parts.map(corePart), metadata: a.metadata ? structuredClone(a.metadata) : undefined, extensions: [] };
}

function coreTask(t: Task): CoreTask {
  return {
    id: t.id,
    contextId: t.contextId,
    status: coreStatus(t.status),
    artifacts: (t.artifacts ?? []).map(coreArtifact),
    history: (t.history ?? []).map(coreMessage),
    metadata: t.metadata ? structuredClone(t.metadata) : undefined,
  };
}

/** A user message as the SDK hands it to the executor, back in the 0.3 record's shape. */
function recordMessage(m: CoreMessage): Message {
  const parts: Part[] = m.parts.map((p): Part => {
    const metadata = p.metadata ? { metadata: p.metadata } : {};
    if (p.content?.$case === "data") return { kind: "data", data: isObj(p.content.value) ? p.content.value : { value: p.content.value as unknown }, ...metadata };
    if (p.content?.$case === "text") return { kind: "text", text: p.content.value, ...metadata };
    return { kind: "file", file: p.content?.$case === "url" ? { uri: p.content.value } : {}, ...metadata };
  });
  const out: Message = { kind: "message", messageId: m.messageId, role: m.role === Role.ROLE_USER ? "user" : "agent", parts };
  if (m.contextId) out.contextId = m.contextId;
  if (m.taskId) out.taskId = m.taskId;
  if (m.metadata && Object.keys(m.metadata).length > 0) out.metadata = m.metadata;
  return out;
}

// ---- kagent's controller authentication (go/core/internal/httpserver/auth)

/** kagent's parseJWTPayload: three dot-separated parts, the middle one base64url without padding (RawURLEncoding), a JSON object. Never verified. */
function jwtClaims(token: string): Obj | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const payload = parts[1] ?? "";
  if (!/^[A-Za-z0-9_-]*$/.test(payload) || payload.length % 4 === 1) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    return isObj(claims) ? claims : undefined;
  } catch {
    return undefined;
  }
}

/** The user kagent's authenticator finds, or undefined where it answers 401. */
function authenticate(auth: FakeAuth, release: KagentRelease, req: IncomingMessage, query: URLSearchParams): string | undefined {
  const header = (name: string): string => {
    const v = req.headers[name];
    return typeof v === "string" ? v : "";
  };
  const userFromRequest = (): string => query.get("user_id") || header("x-user-id");
  if (auth.mode === "unsecure") return userFromRequest() || "admin@kagent.dev";
  const claim = auth.userIdClaim || "sub";
  const agentName = header("x-agent-name");
  const authorization = header("authorization");
  // Go's strings.CutPrefix(authHeader, "Bearer "): case and the single space matter
  const token = authorization.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : undefined;
  const fromClaims = (claims: Obj): string | undefined => {
    let user = typeof claims[claim] === "string" ? claims[claim] : "";
    if (user === "" && claim !== "sub" && typeof claims.sub === "string") user = claims.sub;
    return user === "" ? undefined : user;
  };
  if (release === "v0.9.0") {
    // v0.9.0–v0.9.3 proxy_authn.go: a Bearer token is optional; without one, X-Agent-Name + a user id authenticate
    if (token !== undefined) {
      const claims = jwtClaims(token);
      return claims ? fromClaims(claims) : undefined;
    }
    if (agentName === "") return undefined;
    return userFromRequest() || undefined;
  }
  // v0.9.4 on proxy_authn.go: the Bearer JWT is required
  if (token === undefined) return undefined;
  const claims = jwtClaims(token);
  if (!claims) return undefined;
  if (agentName !== "") {
    const user = userFromRequest() || (typeof claims.sub === "string" ? claims.sub : "");
    return user === "" ? undefined : user;
  }
  return fromClaims(claims);
}

// ---- the scripted runtime

interface Resolved {
  runtime: KagentRuntime;
  llmCalls: number;
  promptTokens: number;
  completionTokens: number;
  omitTotal: boolean;
  prefix: "kagent_" | "adk_";
  toolCallsPerCall: number;
  partialChunks: boolean;
  stepDelayMs: number;
  finalState: "completed" | "failed" | "rejected" | "input-required";
  failureMessage: string;
  resultText: string;
  artifacts: { name: string; text: string }[];
  turns: NonNullable<AgentScript["turns"]>;
  approval: { afterCalls: number; tool: string } | undefined;
  streaming: boolean;
  resubscribe: boolean;
  dropStreamAfter: number;
  fragmentSse: boolean;
  work: ((agent: string) => Promise<void>) | undefined;
}

function resolve(s: AgentScript, runtime: KagentRuntime): Resolved {
  const rt = s.runtime ?? runtime;
  const key = s.usageKey ?? (rt === "python" ? "kagent" : "adk");
  return {
    runtime: rt,
    llmCalls: s.llmCalls ?? 2,
    promptTokens: s.promptTokens ?? 100,
    completionTokens: s.completionTokens ?? 20,
    omitTotal: s.omitTotal ?? false,
    prefix: key === "adk" ? "adk_" : "kagent_",
    toolCallsPerCall: s.toolCallsPerCall ?? 1,
    partialChunks: s.partialChunks ?? false,
    stepDelayMs: s.stepDelayMs ?? 0,
    finalState: s.finalState ?? "completed",
    failureMessage: s.failureMessage ?? "the model returned an error",
    resultText: s.resultText ?? "done",
    artifacts: s.artifacts ?? [],
    turns: s.turns ?? [],
    approval: s.approval,
    streaming: s.streaming ?? true,
    resubscribe: s.resubscribe ?? true,
    dropStreamAfter: s.dropStreamAfter ?? Infinity,
    fragmentSse: s.fragmentSse ?? false,
    work: s.work,
  };
}

interface FakeTask {
  task: Task;
  script: Resolved;
  /** the SDK's event bus of the current execution */
  bus: ExecutionEventBus | undefined;
  cancelled: boolean;
  wake: () => void;
  llmCalls: number;
  /** the LLM call whose tool results follow the human's decision */
  afterPause: Part[] | undefined;
  /** waiting for a human's decision */
  waiting: boolean;
  decisions: string[];
  /** the Agent, "<namespace>/<name>" */
  agent: string;
  workDone: boolean;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function now(): string {
  return new Date().toISOString();
}

function partial(m: Message | undefined): boolean {
  return m?.metadata?.kagent_adk_partial === true || m?.metadata?.adk_partial === true;
}

export async function startFakeKagent(opts: FakeKagentOptions = {}): Promise<FakeKagent> {
  const protocol = opts.protocol ?? "0.3";
  const auth: FakeAuth = opts.auth ?? { mode: "unsecure" };
  const release: KagentRelease = opts.release ?? "v0.9.7";
  const scripts = new Map<string, AgentScript>();
  const received: RecordedCall[] = [];
  const tasks = new Map<string, FakeTask>();
  const sockets = new Set<Socket>();
  const scriptOf = (agent: string): Resolved => resolve(scripts.get(agent) ?? opts.defaultScript ?? {}, opts.runtime ?? "go");

  /** Records the event as kagent's task store would, then hands it to the SDK. */
  const emit = (ft: FakeTask, ev: A2AEvent): void => {
    const t = ft.task;
    if (ev.kind === "status-update") {
      if (TERMINAL.has(t.status.state)) return;
      t.status = clone(ev.status);
      if (ev.status.message && !partial(ev.status.message)) (t.history ??= []).push(clone(ev.status.message));
      if (ev.metadata) t.metadata = { ...t.metadata, ...ev.metadata };
      ft.bus?.publish(AgentEvent.statusUpdate({ taskId: t.id, contextId: t.contextId, status: coreStatus(ev.status), metadata: ev.metadata ? clone(ev.metadata) : undefined }));
    } else if (ev.kind === "artifact-update") {
      const list = (t.artifacts ??= []);
      const i = list.findIndex((a) => a.artifactId === ev.artifact.artifactId);
      const existing = list[i];
      const next = ev.append && existing ? { ...existing, parts: [...existing.parts, ...ev.artifact.parts] } : clone(ev.artifact);
      if (i === -1) list.push(next);
      else list[i] = next;
      ft.bus?.publish(AgentEvent.artifactUpdate({ taskId: t.id, contextId: t.contextId, artifact: coreArtifact(ev.artifact), append: ev.append ?? false, lastChunk: ev.lastChunk ?? true, metadata: ev.metadata ? clone(ev.metadata) : undefined }));
    }
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
    final: TERMINAL.has(state) || INTERRUPTED.has(state),
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
  const record = (ft: FakeTask, parts: Part[], metadata: Metadata, isPartial: boolean, artifactId: string): A2AEvent => {
    const p = ft.script.prefix;
    if (protocol === "0.3") {
      const meta = isPartial ? { ...metadata, [p === "adk_" ? "adk_partial" : "kagent_adk_partial"]: true } : metadata;
      return status(ft, "working", agentMessage(ft, parts, meta), meta);
    }
    return artifact(ft, { artifactId, parts, metadata }, { append: isPartial, lastChunk: !isPartial });
  };

  const baseMeta = (ft: FakeTask): Metadata => {
    const p = ft.script.prefix;
    return { [`${p}app_name`]: "fake", [`${p}invocation_id`]: `inv-${ft.task.id}`, [`${p}author`]: "agent" };
  };

  const toolResponses = (ft: FakeTask, calls: Part[]): void => {
    if (calls.length === 0) return;
    const p = ft.script.prefix;
    // the tool results: an ADK event without usage
    const responses: Part[] = calls.map((c) => ({
      kind: "data",
      data: { id: c.kind === "data" ? c.data.id : "", name: c.kind === "data" ? c.data.name : "", response: { result: "ok" } },
      metadata: { [`${p}type`]: "function_response" },
    }));
    emit(ft, record(ft, responses, baseMeta(ft), false, randomUUID()));
  };

  /** Runs the script from where the task stands until it ends or waits for a human. */
  const run = async (ft: FakeTask): Promise<void> => {
    const s = ft.script;
    const p = s.prefix;
    const base = baseMeta(ft);
    if (ft.afterPause) {
      const calls = ft.afterPause;
      ft.afterPause = undefined;
      toolResponses(ft, calls);
    }
    if (s.work && !ft.workDone) {
      ft.workDone = true;
      try {
        await s.work(ft.agent);
      } catch (err) {
        if (!ft.cancelled) emit(ft, status(ft, "failed", agentMessage(ft, [{ kind: "text", text: err instanceof Error ? err.message : String(err) }], base), base));
        return;
      }
    }
    let lastUsage: Obj | undefined;
    for (let i = ft.llmCalls; i < s.llmCalls; i++) {
      await delay(ft, s.stepDelayMs);
      if (ft.cancelled) return;
      const last = i === s.llmCalls - 1;
      const usage = usageBlock(s);
      lastUsage = usage;
      const meta = { ...base, [`${p}usage_metadata`]: usage };
      const turn = s.turns[i];
      const text = last && s.finalState === "completed" ? s.resultText : (turn?.text ?? `step ${i + 1}`);
      const artifactId = randomUUID();
      if (s.partialChunks) emit(ft, record(ft, [{ kind: "text", text: text.slice(0, 1) }], meta, true, artifactId));
      const calls: Part[] = [];
      if (turn) {
        (turn.toolCalls ?? []).forEach((c, j) => calls.push({ kind: "data", data: { id: `call-${i}-${j}`, name: c.name, args: structuredClone(c.args) }, metadata: { [`${p}type`]: "function_call" } }));
      } else if (!last) {
        for (let j = 0; j < s.toolCallsPerCall; j++) {
          calls.push({ kind: "data", data: { id: `call-${i}-${j}`, name: `tool_${j}`, args: {} }, metadata: { [`${p}type`]: "function_call" } });
        }
      }
      emit(ft, record(ft, [{ kind: "text", text }, ...calls], meta, false, artifactId));
      ft.llmCalls++;
      if (s.approval && ft.llmCalls === s.approval.afterCalls) {
        // released kagent asks through adk_request_confirmation and ends the execution at the pause
        ft.afterPause = calls;
        ft.waiting = true;
        const ask: Part = {
          kind: "data",
          data: { id: `confirm-${String(ft.llmCalls)}`, name: "adk_request_confirmation", args: { originalFunctionCall: { name: s.approval.tool, args: {}, id: `call-${String(ft.llmCalls)}` }, toolConfirmation: { hint: "", confirmed: false } } },
          metadata: { [`${p}type`]: "function_call", [`${p}is_long_running`]: true },
        };
        emit(ft, status(ft, "input-required", agentMessage(ft, [ask], base), base));
        return;
      }
      toolResponses(ft, calls);
    }
    if (ft.cancelled) return;
    // kagent-adk repeats the last call's usage on the final event; the Go ADK's finalMeta has none
    const finalMeta = { ...base, ...(lastUsage && s.runtime === "python" ? { [`${p}usage_metadata`]: lastUsage } : {}) };
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

  const executorFor = (agent: string): AgentExecutor => ({
    execute: async (rc: RequestContext, bus: ExecutionEventBus): Promise<void> => {
      const call = rc.context.state.get("call") as RecordedCall | undefined;
      const incoming = recordMessage(rc.userMessage);
      let ft = tasks.get(rc.taskId);
      if (ft) {
        // the human's decision on a paused task (checked before the SDK saw it)
        ft.bus = bus;
        (ft.task.history ??= []).push(incoming);
        const decision = incoming.parts.find((p): p is Extract<Part, { kind: "data" }> => p.kind === "data" && typeof p.data.decision_type === "string");
        ft.decisions.push(String(decision?.data.decision_type));
        ft.waiting = false;
      } else {
        ft = {
          task: { kind: "task", id: rc.taskId, contextId: rc.contextId, status: { state: "submitted", timestamp: now() }, history: [incoming], artifacts: [] },
          script: scriptOf(agent),
          bus,
          cancelled: false,
          wake: () => undefined,
          llmCalls: 0,
          afterPause: undefined,
          waiting: false,
          decisions: [],
          agent,
          workDone: false,
        };
        tasks.set(rc.taskId, ft);
      }
      if (call) call.taskId = rc.taskId;
      // every execution opens with the task (the SDK refuses a stream that does not)
      bus.publish(AgentEvent.task(coreTask(ft.task)));
      emit(ft, status(ft, "working", undefined, baseMeta(ft)));
      await run(ft);
    },
    cancelTask: (taskId: string, bus: ExecutionEventBus): Promise<void> => {
      const ft = tasks.get(taskId);
      if (!ft) return Promise.resolve();
      if (ft.script.runtime === "python") {
        // kagent-adk _agent_executor.py (v0.9.0–v0.10.0-rc3): raise NotImplementedError("Cancellation is not supported")
        return Promise.reject(new Error("Cancellation is not supported"));
      }
      // go/adk/pkg/a2a/executor.go Cancel: a final canceled status-update on the execution's queue
      ft.cancelled = true;
      ft.waiting = false;
      ft.wake();
      ft.bus = bus;
      emit(ft, status(ft, "canceled"));
      return Promise.resolve();
    },
  });

  // kagent's task store as the SDK's ResultManager writes it: partial
  // streaming events dropped before saving (_task_store.py), no user scoping
  const saved = new Map<string, CoreTask>();
  const isPartial = (m: CoreMessage): boolean => m.metadata?.kagent_adk_partial === true || m.metadata?.adk_partial === true;
  const store: TaskStore = {
    load: (taskId) => Promise.resolve(saved.has(taskId) ? structuredClone(saved.get(taskId)) : undefined),
    save: (task) => {
      const copy = structuredClone(task);
      copy.history = copy.history.filter((m) => !isPartial(m));
      saved.set(task.id, copy);
      return Promise.resolve();
    },
    list: () => Promise.resolve({ tasks: [...saved.values()].map((t) => structuredClone(t)), nextPageToken: "", pageSize: saved.size, totalSize: saved.size }),
  };

  interface AgentServer {
    card: AgentCard;
    legacy: LegacyJsonRpcTransportHandler;
    v1: JsonRpcTransportHandler;
  }
  const servers = new Map<string, AgentServer>();
  const serverFor = (agent: string, base: string): AgentServer => {
    let s = servers.get(agent);
    if (!s) {
      const card: AgentCard = {
        name: agent,
        description: "stand-in kagent agent",
        supportedInterfaces: [{ url: base, protocolBinding: "JSONRPC", tenant: "", protocolVersion: protocol }],
        provider: undefined,
        version: "0.0.0",
        capabilities: { streaming: true, pushNotifications: false, extensions: [] },
        securitySchemes: {},
        securityRequirements: [],
        defaultInputModes: ["text"],
        defaultOutputModes: ["text"],
        skills: [],
        signatures: [],
      };
      const handler = new DefaultRequestHandler(card, store, executorFor(agent));
      s = { card, legacy: new LegacyJsonRpcTransportHandler(handler), v1: new JsonRpcTransportHandler(handler) };
      servers.set(agent, s);
    }
    // the card follows the agent's current script
    if (s.card.capabilities) s.card.capabilities.streaming = scriptOf(agent).streaming;
    return s;
  };

  const sendText = (res: ServerResponse, code: number, text: string): void => {
    // Go's http.Error
    res.writeHead(code, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" }).end(text);
  };

  const sendJson = (res: ServerResponse, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  /** Serialises SSE writes so fragmented events keep their order. */
  const sseWriter = (res: ServerResponse, s: Resolved) => {
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
    const frame = (envelope: unknown): string => {
      if (!s.fragmentSse) return `data: ${JSON.stringify(envelope)}\n\n`;
      const lines = JSON.stringify(envelope, null, 1).split("\n");
      return `: keep-alive\r\nevent: message\r\n${lines.map((l) => `data:${l}`).join("\r\n")}\r\n\r\n`;
    };
    return {
      write(envelope: unknown): Promise<void> {
        chain = chain.then(async () => {
          if (closed) return;
          const text = frame(envelope);
          if (s.fragmentSse) {
            for (let i = 0; i < text.length; i += 7) {
              await writeRaw(text.slice(i, i + 7));
              await new Promise((r) => setTimeout(r, 1));
            }
          } else {
            await writeRaw(text);
          }
          count++;
          if (count >= s.dropStreamAfter) {
            closed = true;
            res.end();
          }
        });
        return chain;
      },
      end(): Promise<void> {
        chain = chain.then(() => {
          if (!closed) {
            closed = true;
            res.end();
          }
        });
        return chain;
      },
      get closed(): boolean {
        return closed;
      },
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const match = /^\/api\/a2a\/([^/]+)\/([^/]+)\/?$/.exec(url.pathname);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const header = (name: string): string | undefined => {
      const v = req.headers[name];
      return typeof v === "string" ? v : undefined;
    };
    const call: RecordedCall = { agent: "", method: "", params: undefined, a2aVersion: header("a2a-version"), authorization: header("authorization"), user: undefined, messageId: undefined, taskId: undefined, refusal: undefined, refusalMessage: undefined };
    received.push(call);
    let rpc: Obj = {};
    try {
      const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (isObj(parsed)) rpc = parsed;
    } catch {
      // the SDK answers a body that is not JSON
    }
    call.method = typeof rpc.method === "string" ? rpc.method : "";
    call.params = rpc.params;
    if (req.method !== "POST" || !match) {
      call.refusal = req.method !== "POST" ? 405 : 404;
      sendText(res, call.refusal, req.method !== "POST" ? "method not allowed\n" : "404 page not found\n");
      return;
    }
    call.agent = `${decodeURIComponent(match[1] ?? "")}/${decodeURIComponent(match[2] ?? "")}`;
    call.user = authenticate(auth, release, req, url.searchParams);
    if (call.user === undefined) {
      call.refusal = 401;
      call.refusalMessage = "Unauthorized";
      sendText(res, 401, "Unauthorized\n");
      return;
    }
    if (protocol === "1.0" && call.a2aVersion !== "1.0") {
      // what kagent main's handler mux answers before any JSON-RPC processing
      call.refusal = 400;
      sendText(res, 400, `missing required A2A-Version header; expected "1.0"\n`);
      return;
    }
    const id = rpc.id ?? null;
    const params = isObj(rpc.params) ? rpc.params : {};
    const message = isObj(params.message) ? params.message : undefined;
    if (message && typeof message.messageId === "string") call.messageId = message.messageId;
    const fail = (code: number, text: string): void => {
      call.refusal = code;
      call.refusalMessage = text;
      sendJson(res, { jsonrpc: "2.0", id, error: { code, message: text } });
    };
    const op = OPS[protocol][call.method];
    const script = scriptOf(call.agent);
    if (op === "get" || op === "cancel" || op === "resubscribe") call.taskId = typeof params.id === "string" ? params.id : undefined;
    if (op === "resubscribe" && !script.resubscribe) {
      fail(-32601, `Method not found: ${call.method}`);
      return;
    }
    const known = call.taskId !== undefined ? tasks.get(call.taskId) : undefined;
    if (op === "resubscribe" && known?.script.runtime === "python" && INTERRUPTED.has(known.task.status.state)) {
      // a2a-python 0.3.26 on_resubscribe_to_task: no queue to tap once the executor ended at the pause
      fail(-32001, "Task not found");
      return;
    }
    if ((op === "send" || op === "stream") && message && typeof message.taskId === "string") {
      call.taskId = message.taskId;
      const paused = tasks.get(message.taskId);
      const decides = Array.isArray(message.parts) && message.parts.some((p) => isObj(p) && isObj(p.data) && typeof p.data.decision_type === "string");
      // the stand-in's agent only understands a human's decision on a paused task
      if (paused && !(paused.waiting && decides)) {
        fail(-32602, `task ${message.taskId} is not waiting for a decision`);
        return;
      }
    }

    const context = new ServerCallContext({ user: { isAuthenticated: true, userName: call.user } satisfies User, requestedVersion: protocol, state: new Map<string, unknown>([["call", call]]) });
    const server = serverFor(call.agent, `${url.origin}${url.pathname}`);
    const answer = protocol === "0.3" ? await server.legacy.handle(rpc, context) : await server.v1.handle(rpc, context);
    const mapError = (err: unknown): { code: number; message: string; data?: unknown } =>
      protocol === "0.3" ? LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError(err) : JsonRpcTransportHandler.mapToJSONRPCError(err);

    if (Symbol.asyncIterator in answer) {
      // a stream: its first event (or the error it opens with) decides between SSE and a JSON-RPC error
      const events = answer[Symbol.asyncIterator]();
      let first: IteratorResult<unknown>;
      try {
        first = await events.next();
      } catch (err) {
        const e = mapError(err);
        fail(e.code, e.message);
        return;
      }
      const w = sseWriter(res, script);
      try {
        for (let r = first; !r.done; r = await events.next()) {
          if (!w.closed) await w.write(r.value);
          // a2a-python consumes a message/stream to its end even when the reader left (its events are saved on the way)
          else if (op !== "stream") break;
        }
      } catch (err) {
        await w.write({ jsonrpc: "2.0", id, error: mapError(err) });
      } finally {
        void events.return?.(undefined);
      }
      await w.end();
      return;
    }
    const error = isObj(answer.error) ? answer.error : undefined;
    if (error) {
      call.refusal = typeof error.code === "number" ? error.code : -32603;
      call.refusalMessage = typeof error.message === "string" ? error.message : "";
      const wrap = TRPC_WRAP[call.method];
      if (protocol === "0.3" && release !== "v0.9.7" && wrap) {
        // trpc-a2a-go v0.2.5: the passthrough client wraps the runtime's *jsonrpc.Error, the server no longer sees it as one
        call.refusal = -32603;
        sendJson(res, { jsonrpc: "2.0", id, error: { code: -32603, message: "Internal error", data: `${wrap[0]} failed: a2aClient.${wrap[1]}: jsonrpc error ${String(error.code)}: ${String(error.message)}` } });
        return;
      }
    }
    sendJson(res, answer);
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
  const base = `http://127.0.0.1:${String(port)}`;
  const agentUrl = (namespace: string, name: string): string => `${base}/api/a2a/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/`;

  return {
    url: base,
    agentUrl,
    received,
    setScript: (agentKey, script) => {
      scripts.set(agentKey, script);
    },
    sendCount: (messageId) => received.filter((c) => c.messageId === messageId && c.refusal === undefined && (OPS[protocol][c.method] === "send" || OPS[protocol][c.method] === "stream")).length,
    task: (taskId) => {
      const ft = tasks.get(taskId);
      return ft ? clone(ft.task) : undefined;
    },
    llmCallsMade: (taskId) => tasks.get(taskId)?.llmCalls ?? 0,
    approve: async (namespace, name, taskId, decision = "approve") => {
      // kagent's UI: a new message on the task carrying the decision; it does not wait for the task
      const messageId = randomUUID();
      const body =
        protocol === "0.3"
          ? { jsonrpc: "2.0", id: randomUUID(), method: "message/send", params: { message: { kind: "message", messageId, role: "user", taskId, parts: [{ kind: "data", data: { decision_type: decision } }] }, configuration: { blocking: false } } }
          : { jsonrpc: "2.0", id: randomUUID(), method: "SendMessage", params: { message: { messageId, role: "ROLE_USER", taskId, parts: [{ data: { decision_type: decision } }] }, configuration: { returnImmediately: true } } };
      // the stand-in's auth applies to kagent's UI too: it forwards the user's token
      const headers: Record<string, string> = { "content-type": "application/json", ...(protocol === "1.0" ? { "A2A-Version": "1.0" } : {}) };
      if (auth.mode === "trusted-proxy") headers.authorization = `Bearer ${unsignedJwt({ sub: "human@example.com" })}`;
      const res = await fetch(agentUrl(namespace, name), { method: "POST", headers, body: JSON.stringify(body) });
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

/** A three-part JWT as kagent's trusted-proxy mode reads it (payload only; the signature is never checked). */
export function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${part({ alg: "RS256", kid: "stand-in" })}.${part(claims)}.${Buffer.from("not-checked").toString("base64url")}`;
}
