// The A2A shapes agentgate reads and writes. Internally everything is held in
// the A2A 0.3 JSON form (`kind` discriminators, lower-case task states), which
// is what released kagent versions speak; wire.ts translates the 1.0 ProtoJSON
// form (kagent main since its "A2A v1.0" migration) into these shapes so the
// usage meter and the task follower see one model.

export type Metadata = Record<string, unknown>;

export type TaskState =
  | "submitted"
  | "working"
  | "input-required"
  | "completed"
  | "canceled"
  | "failed"
  | "rejected"
  | "auth-required"
  | "unknown";

/** States after which a task never changes again. */
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set<TaskState>(["completed", "canceled", "failed", "rejected"]);

/** States in which the agent stopped and waits for a human (HITL); a stream ends there too. */
export const INTERRUPTED_STATES: ReadonlySet<TaskState> = new Set<TaskState>(["input-required", "auth-required"]);

export interface TextPart {
  kind: "text";
  text: string;
  metadata?: Metadata;
}

export interface DataPart {
  kind: "data";
  data: Record<string, unknown>;
  metadata?: Metadata;
}

export interface FileContent {
  name?: string;
  mimeType?: string;
  /** base64 */
  bytes?: string;
  uri?: string;
}

export interface FilePart {
  kind: "file";
  file: FileContent;
  metadata?: Metadata;
}

export type Part = TextPart | DataPart | FilePart;

export type Role = "user" | "agent";

export interface Message {
  kind: "message";
  messageId: string;
  role: Role;
  parts: Part[];
  contextId?: string;
  taskId?: string;
  metadata?: Metadata;
  referenceTaskIds?: string[];
  extensions?: string[];
}

export interface TaskStatus {
  state: TaskState;
  message?: Message;
  timestamp?: string;
}

export interface Artifact {
  artifactId: string;
  name?: string;
  description?: string;
  parts: Part[];
  metadata?: Metadata;
}

export interface Task {
  kind: "task";
  id: string;
  contextId: string;
  status: TaskStatus;
  history?: Message[];
  artifacts?: Artifact[];
  metadata?: Metadata;
}

export interface TaskStatusUpdateEvent {
  kind: "status-update";
  taskId: string;
  contextId: string;
  status: TaskStatus;
  /** 1.0 dropped the field; the decoder derives it from the state. */
  final: boolean;
  metadata?: Metadata;
}

export interface TaskArtifactUpdateEvent {
  kind: "artifact-update";
  taskId: string;
  contextId: string;
  artifact: Artifact;
  append?: boolean;
  lastChunk?: boolean;
  metadata?: Metadata;
}

/** What `message/send` answers and what `message/stream` / `tasks/resubscribe` stream. */
export type A2AEvent = Task | Message | TaskStatusUpdateEvent | TaskArtifactUpdateEvent;

/** The wire dialects: 0.3 (`message/send`, `kind`), 1.0 (`SendMessage`, ProtoJSON, `A2A-Version: 1.0`). */
export type ProtocolVersion = "0.3" | "1.0";

export type JsonRpcId = string | number | null;

export interface JsonRpcRequest {
  jsonrpc: "2.0";
  id: JsonRpcId;
  method: string;
  params?: unknown;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcSuccess {
  jsonrpc: "2.0";
  id: JsonRpcId;
  result: unknown;
}

export interface JsonRpcFailure {
  jsonrpc: "2.0";
  id: JsonRpcId;
  error: JsonRpcErrorObject;
}

export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;

/** JSON-RPC 2.0 codes plus the A2A ones (same numbers in 0.3 and 1.0). */
export const RpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  TaskNotFound: -32001,
  TaskNotCancelable: -32002,
  PushNotificationNotSupported: -32003,
  UnsupportedOperation: -32004,
  ContentTypeNotSupported: -32005,
  InvalidAgentResponse: -32006,
  VersionNotSupported: -32009,
} as const;

/** Token and tool accounting in the shape of AgentRun `status.usage`. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  toolCalls: number;
}

export interface Result {
  name: string;
  value: string;
}
