// Translation between the two A2A JSON dialects and the internal (0.3-shaped)
// model. Decoding is by shape rather than by the negotiated version, so a
// server that mixes forms (a 1.0 proxy in front of a 0.3 runtime) still reads.
import type {
  A2AEvent,
  Artifact,
  FileContent,
  Message,
  Metadata,
  Part,
  ProtocolVersion,
  Role,
  Task,
  TaskArtifactUpdateEvent,
  TaskState,
  TaskStatus,
  TaskStatusUpdateEvent,
} from "./types.ts";
import { INTERRUPTED_STATES, TERMINAL_STATES } from "./types.ts";
import { AgentgateError } from "../../errors.ts";

export type Operation = "send" | "stream" | "get" | "cancel" | "resubscribe";

const METHODS: Record<ProtocolVersion, Record<Operation, string>> = {
  "0.3": { send: "message/send", stream: "message/stream", get: "tasks/get", cancel: "tasks/cancel", resubscribe: "tasks/resubscribe" },
  "1.0": { send: "SendMessage", stream: "SendStreamingMessage", get: "GetTask", cancel: "CancelTask", resubscribe: "SubscribeToTask" },
};

export function methodName(version: ProtocolVersion, op: Operation): string {
  return METHODS[version][op];
}

/** A response that is not the A2A shape it claims to be. */
export class A2ADecodeError extends AgentgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unavailable", message, options);
  }
  override name = "A2ADecodeError";
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function meta(v: unknown): Metadata | undefined {
  return isObj(v) ? v : undefined;
}

const STATE_BY_WIRE: Record<string, TaskState> = {
  submitted: "submitted",
  working: "working",
  "input-required": "input-required",
  completed: "completed",
  canceled: "canceled",
  // the 0.1 spelling, still produced by some servers
  cancelled: "canceled",
  failed: "failed",
  rejected: "rejected",
  "auth-required": "auth-required",
  unknown: "unknown",
  TASK_STATE_SUBMITTED: "submitted",
  TASK_STATE_WORKING: "working",
  TASK_STATE_INPUT_REQUIRED: "input-required",
  TASK_STATE_COMPLETED: "completed",
  TASK_STATE_CANCELED: "canceled",
  TASK_STATE_FAILED: "failed",
  TASK_STATE_REJECTED: "rejected",
  TASK_STATE_AUTH_REQUIRED: "auth-required",
  TASK_STATE_UNSPECIFIED: "unknown",
};

export function decodeState(v: unknown): TaskState {
  return (typeof v === "string" ? STATE_BY_WIRE[v] : undefined) ?? "unknown";
}

function decodeRole(v: unknown): Role {
  return v === "user" || v === "ROLE_USER" ? "user" : "agent";
}

function decodeFile(v: Obj, part: Obj): FileContent {
  const file: FileContent = {};
  const name = str(v.name) ?? str(part.filename);
  const mimeType = str(v.mimeType) ?? str(part.mediaType);
  const bytes = str(v.bytes) ?? str(part.raw);
  const uri = str(v.uri) ?? str(part.url);
  if (name !== undefined) file.name = name;
  if (mimeType !== undefined) file.mimeType = mimeType;
  if (bytes !== undefined) file.bytes = bytes;
  if (uri !== undefined) file.uri = uri;
  return file;
}

function decodePart(v: unknown): Part | undefined {
  if (!isObj(v)) return undefined;
  const metadata = meta(v.metadata);
  const withMeta = <P extends Part>(p: P): P => (metadata ? { ...p, metadata } : p);
  const kind = str(v.kind) ?? str(v.type);
  if (kind === "text" || (kind === undefined && typeof v.text === "string")) {
    return withMeta({ kind: "text", text: str(v.text) ?? "" });
  }
  if (kind === "data" || (kind === undefined && "data" in v)) {
    // 1.0 allows any JSON value; the model keeps objects and boxes the rest.
    return withMeta({ kind: "data", data: isObj(v.data) ? v.data : { value: v.data } });
  }
  if (kind === "file") {
    return withMeta({ kind: "file", file: decodeFile(isObj(v.file) ? v.file : {}, v) });
  }
  if (kind === undefined && (typeof v.raw === "string" || typeof v.url === "string")) {
    return withMeta({ kind: "file", file: decodeFile({}, v) });
  }
  return undefined;
}

function decodeParts(v: unknown): Part[] {
  if (!Array.isArray(v)) return [];
  const parts: Part[] = [];
  for (const p of v) {
    const part = decodePart(p);
    if (part) parts.push(part);
  }
  return parts;
}

export function decodeMessage(v: unknown): Message {
  if (!isObj(v)) throw new A2ADecodeError("message is not an object");
  const messageId = str(v.messageId);
  if (messageId === undefined) throw new A2ADecodeError("message has no messageId");
  const m: Message = { kind: "message", messageId, role: decodeRole(v.role), parts: decodeParts(v.parts) };
  const contextId = str(v.contextId);
  const taskId = str(v.taskId);
  const metadata = meta(v.metadata);
  if (contextId !== undefined) m.contextId = contextId;
  if (taskId !== undefined) m.taskId = taskId;
  if (metadata) m.metadata = metadata;
  if (Array.isArray(v.referenceTaskIds)) m.referenceTaskIds = v.referenceTaskIds.filter((x): x is string => typeof x === "string");
  return m;
}

function decodeStatus(v: unknown): TaskStatus {
  if (!isObj(v)) return { state: "unknown" };
  const status: TaskStatus = { state: decodeState(v.state) };
  if (v.message !== undefined && v.message !== null) status.message = decodeMessage(v.message);
  const timestamp = str(v.timestamp);
  if (timestamp !== undefined) status.timestamp = timestamp;
  return status;
}

function decodeArtifact(v: unknown): Artifact {
  if (!isObj(v)) throw new A2ADecodeError("artifact is not an object");
  const artifact: Artifact = { artifactId: str(v.artifactId) ?? "", parts: decodeParts(v.parts) };
  const name = str(v.name);
  const description = str(v.description);
  const metadata = meta(v.metadata);
  if (name !== undefined) artifact.name = name;
  if (description !== undefined) artifact.description = description;
  if (metadata) artifact.metadata = metadata;
  return artifact;
}

export function decodeTask(v: unknown): Task {
  if (!isObj(v)) throw new A2ADecodeError("task is not an object");
  // 1.0 SendMessage wraps the task: {"task": {...}}
  if (!("id" in v) && isObj(v.task)) return decodeTask(v.task);
  const id = str(v.id);
  if (id === undefined) throw new A2ADecodeError("task has no id");
  const task: Task = { kind: "task", id, contextId: str(v.contextId) ?? "", status: decodeStatus(v.status) };
  if (Array.isArray(v.history)) task.history = v.history.map(decodeMessage);
  if (Array.isArray(v.artifacts)) task.artifacts = v.artifacts.map(decodeArtifact);
  const metadata = meta(v.metadata);
  if (metadata) task.metadata = metadata;
  return task;
}

function decodeStatusUpdate(v: Obj): TaskStatusUpdateEvent {
  const status = decodeStatus(v.status);
  const ev: TaskStatusUpdateEvent = {
    kind: "status-update",
    taskId: str(v.taskId) ?? "",
    contextId: str(v.contextId) ?? "",
    status,
    final: typeof v.final === "boolean" ? v.final : TERMINAL_STATES.has(status.state) || INTERRUPTED_STATES.has(status.state),
  };
  const metadata = meta(v.metadata);
  if (metadata) ev.metadata = metadata;
  return ev;
}

function decodeArtifactUpdate(v: Obj): TaskArtifactUpdateEvent {
  const ev: TaskArtifactUpdateEvent = {
    kind: "artifact-update",
    taskId: str(v.taskId) ?? "",
    contextId: str(v.contextId) ?? "",
    artifact: decodeArtifact(v.artifact),
  };
  if (typeof v.append === "boolean") ev.append = v.append;
  if (typeof v.lastChunk === "boolean") ev.lastChunk = v.lastChunk;
  const metadata = meta(v.metadata);
  if (metadata) ev.metadata = metadata;
  return ev;
}

/**
 * One `result` of message/send or one streamed event, in either dialect:
 * 0.3 objects carry `kind`; 1.0 wraps them as {task}|{message}|{statusUpdate}|{artifactUpdate}.
 */
export function decodeEvent(v: unknown): A2AEvent {
  if (!isObj(v)) throw new A2ADecodeError("event is not an object");
  switch (v.kind) {
    case "task":
      return decodeTask(v);
    case "message":
      return decodeMessage(v);
    case "status-update":
      return decodeStatusUpdate(v);
    case "artifact-update":
      return decodeArtifactUpdate(v);
    default:
      break;
  }
  if (isObj(v.task)) return decodeTask(v.task);
  if (isObj(v.message) && !("status" in v)) return decodeMessage(v.message);
  if (isObj(v.statusUpdate)) return decodeStatusUpdate(v.statusUpdate);
  if (isObj(v.artifactUpdate)) return decodeArtifactUpdate(v.artifactUpdate);
  // unwrapped and without `kind`: recognise by the required fields
  if (typeof v.id === "string" && "status" in v) return decodeTask(v);
  if (typeof v.messageId === "string" && "parts" in v) return decodeMessage(v);
  if (isObj(v.artifact)) return decodeArtifactUpdate(v);
  if (isObj(v.status) && typeof v.taskId === "string") return decodeStatusUpdate(v);
  throw new A2ADecodeError(`unrecognised A2A event with keys ${Object.keys(v).join(", ") || "(none)"}`);
}

function encodePart(p: Part, version: ProtocolVersion): Obj {
  const out: Obj = {};
  if (version === "0.3") {
    if (p.kind === "text") Object.assign(out, { kind: "text", text: p.text });
    else if (p.kind === "data") Object.assign(out, { kind: "data", data: p.data });
    else Object.assign(out, { kind: "file", file: p.file });
  } else if (p.kind === "text") {
    out.text = p.text;
  } else if (p.kind === "data") {
    out.data = p.data;
  } else {
    if (p.file.bytes !== undefined) out.raw = p.file.bytes;
    else if (p.file.uri !== undefined) out.url = p.file.uri;
    if (p.file.name !== undefined) out.filename = p.file.name;
    if (p.file.mimeType !== undefined) out.mediaType = p.file.mimeType;
  }
  if (p.metadata) out.metadata = p.metadata;
  return out;
}

export function encodeMessage(m: Message, version: ProtocolVersion): Obj {
  const out: Obj = {
    messageId: m.messageId,
    role: version === "0.3" ? m.role : m.role === "user" ? "ROLE_USER" : "ROLE_AGENT",
    parts: m.parts.map((p) => encodePart(p, version)),
  };
  if (version === "0.3") out.kind = "message";
  if (m.contextId !== undefined) out.contextId = m.contextId;
  if (m.taskId !== undefined) out.taskId = m.taskId;
  if (m.metadata) out.metadata = m.metadata;
  if (m.referenceTaskIds) out.referenceTaskIds = m.referenceTaskIds;
  if (m.extensions) out.extensions = m.extensions;
  return out;
}

export function sendParams(m: Message, version: ProtocolVersion, blocking: boolean): Obj {
  // 0.3 says `blocking`; 1.0 inverted it into `returnImmediately`.
  const configuration = version === "0.3" ? { blocking } : { returnImmediately: !blocking };
  return { message: encodeMessage(m, version), configuration };
}
