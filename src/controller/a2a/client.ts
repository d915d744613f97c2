// A2A JSON-RPC client for one agent endpoint (kagent serves one per Agent at
// /api/a2a/<namespace>/<name>/). It speaks both wire dialects: released kagent
// answers 0.3 (`message/send`), kagent main only 1.0 (`SendMessage` plus an
// `A2A-Version: 1.0` header, anything else is a plain-text HTTP 400). In
// "auto" mode the first call tries 0.3 and switches once when the server says
// the version or method is unknown; such refusals happen before any work, so
// repeating the call cannot start a task twice.
import { randomUUID } from "node:crypto";
import { readSse } from "../../streams/sse.ts";
import type { A2AEvent, JsonRpcErrorObject, Message, Metadata, ProtocolVersion, Task } from "./types.ts";
import { RpcCode } from "./types.ts";
import type { TokenSource } from "./token.ts";
import type { Operation } from "./wire.ts";
import { decodeEvent, decodeTask, methodName, sendParams } from "./wire.ts";
import { AgentgateError } from "../../errors.ts";

export interface A2AClientOptions {
  fetch?: typeof fetch;
  /** added to every request (e.g. x-user-id) */
  headers?: Record<string, string>;
  /**
   * Sent as `Authorization: Bearer <token>` on every request, asked for anew
   * each time (kagent's trusted-proxy auth mode; see token.ts).
   */
  bearerToken?: TokenSource;
  /** bound on a unary call and on the wait for a stream's response headers; default 30 s */
  timeoutMs?: number;
  /** wire dialect; "auto" (default) detects it on the first call */
  protocol?: ProtocolVersion | "auto";
}

export interface SendOptions {
  /** message/stream with SSE; falls back to message/send when the server cannot stream */
  stream?: boolean;
  /**
   * For message/send: wait for the task to finish. Off by default: a blocking
   * call would hide the task id until the end, and the caller could then
   * neither poll nor cancel it.
   */
  blocking?: boolean;
  signal?: AbortSignal;
}

interface ErrorContext {
  method: string;
  url: string;
  code?: number;
  httpStatus?: number;
  data?: unknown;
  rpcMessage?: string;
  cause?: unknown;
}

/**
 * fetch's own words ("fetch failed", "terminated") say nothing of why: the
 * network error under them does (connection refused, bytes that are not
 * HTTP, the peer closing mid-stream).
 */
function networkMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause: unknown = err.cause;
  if (!(cause instanceof Error)) return err.message;
  const code = "code" in cause && typeof cause.code === "string" && !cause.message.includes(cause.code) ? `${cause.code}: ` : "";
  const detail = `${code}${cause.message}`;
  return detail === "" || err.message.includes(detail) ? err.message : `${err.message} (${detail})`;
}

/** Any failure talking A2A, with where it happened and what the server said. */
export class A2AError extends AgentgateError {
  override name = "A2AError";
  readonly method: string;
  readonly url: string;
  /** JSON-RPC error code, when the server answered with one */
  readonly code: number | undefined;
  readonly httpStatus: number | undefined;
  readonly data: unknown;
  /** the JSON-RPC error's own message, when the server answered with one */
  readonly rpcMessage: string | undefined;

  constructor(detail: string, ctx: ErrorContext) {
    super("unavailable", `A2A ${ctx.method} ${ctx.url}: ${detail}`, ctx.cause === undefined ? undefined : { cause: ctx.cause });
    this.method = ctx.method;
    this.url = ctx.url;
    this.code = ctx.code;
    this.httpStatus = ctx.httpStatus;
    this.data = ctx.data;
    this.rpcMessage = ctx.rpcMessage;
  }

  /**
   * What the server said, for a person: the JSON-RPC message, and its data
   * when that is text (kagent v0.9.0–v0.9.6 put the runtime's own error
   * there: "Internal error" / "OnCancelTask failed: …").
   */
  get serverMessage(): string | undefined {
    if (this.rpcMessage === undefined) return undefined;
    return typeof this.data === "string" && this.data !== "" ? `${this.rpcMessage}: ${this.data}` : this.rpcMessage;
  }
}

/** The A2A endpoint kagent serves for an Agent. */
export function kagentAgentUrl(kagentBaseUrl: string, namespace: string, name: string): string {
  return `${kagentBaseUrl.replace(/\/+$/, "")}/api/a2a/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/`;
}

/** A user message with one text part per non-empty text. */
export function userMessage(texts: string | string[], opts: { messageId: string; contextId?: string; taskId?: string; metadata?: Metadata }): Message {
  const list = (Array.isArray(texts) ? texts : [texts]).filter((t) => t !== "");
  const m: Message = { kind: "message", messageId: opts.messageId, role: "user", parts: list.map((text) => ({ kind: "text", text })) };
  if (opts.contextId !== undefined) m.contextId = opts.contextId;
  if (opts.taskId !== undefined) m.taskId = opts.taskId;
  if (opts.metadata) m.metadata = opts.metadata;
  return m;
}

type Reply =
  | { type: "stream"; version: ProtocolVersion; method: string; res: Response; body: ReadableStream<Uint8Array>; release: () => void }
  | { type: "json"; version: ProtocolVersion; method: string; status: number; body: unknown }
  | { type: "other"; version: ProtocolVersion; method: string; status: number; contentType: string; text: string };

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function rpcError(body: unknown): JsonRpcErrorObject | undefined {
  if (!isObj(body) || !isObj(body.error)) return undefined;
  const { code, message, data } = body.error;
  return { code: typeof code === "number" ? code : RpcCode.InternalError, message: typeof message === "string" ? message : "", data };
}

function hasResult(body: unknown): body is { result: unknown } {
  return isObj(body) && "result" in body && !("error" in body && body.error != null);
}

function snippet(text: string): string {
  const t = text.trim().replace(/\s+/g, " ");
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

export class A2AClient {
  readonly url: string;
  private readonly fetchImpl: typeof fetch;
  private readonly headers: Record<string, string>;
  private readonly bearerToken: TokenSource | undefined;
  private readonly timeoutMs: number;
  private readonly auto: boolean;
  private version: ProtocolVersion | undefined;
  private streamingKnownUnsupported = false;

  constructor(baseUrl: string, opts: A2AClientOptions = {}) {
    this.url = baseUrl;
    this.fetchImpl = opts.fetch ?? fetch;
    this.headers = { ...(opts.headers ?? {}) };
    this.bearerToken = opts.bearerToken;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const protocol = opts.protocol ?? "auto";
    this.auto = protocol === "auto";
    this.version = protocol === "auto" ? undefined : protocol;
  }

  /** The dialect in use; undefined until the first answer in auto mode. */
  get protocol(): ProtocolVersion | undefined {
    return this.version;
  }

  /** False once the server refused to stream; followers then poll instead of resubscribing. */
  get streamingSupported(): boolean {
    return !this.streamingKnownUnsupported;
  }

  /**
   * Sends a message. With `stream` the events arrive as the server emits them;
   * otherwise (or after the fallback) the single message/send result is yielded.
   */
  async *send(message: Message, opts: SendOptions = {}): AsyncGenerator<A2AEvent, void, undefined> {
    if (opts.stream && !this.streamingKnownUnsupported) {
      const reply = await this.exchange("stream", (v) => sendParams(message, v, false), true, opts.signal);
      if (!this.streamUnsupported(reply)) {
        yield* this.eventsOf(reply, opts.signal);
        return;
      }
      this.streamingKnownUnsupported = true;
    }
    const result = await this.call("send", (v) => sendParams(message, v, opts.blocking ?? false), opts.signal);
    yield this.decode(() => decodeEvent(result), this.method("send"));
  }

  /** Re-attaches to a running task's event stream (tasks/resubscribe). Throws A2AError when unsupported. */
  async *resubscribe(taskId: string, opts: { signal?: AbortSignal } = {}): AsyncGenerator<A2AEvent, void, undefined> {
    const reply = await this.exchange("resubscribe", () => ({ id: taskId }), true, opts.signal);
    if (this.streamUnsupported(reply)) {
      throw this.replyError(reply);
    }
    yield* this.eventsOf(reply, opts.signal);
  }

  async getTask(taskId: string, historyLength?: number, signal?: AbortSignal): Promise<Task> {
    const result = await this.call("get", () => (historyLength === undefined ? { id: taskId } : { id: taskId, historyLength }), signal);
    return this.decode(() => decodeTask(result), this.method("get"));
  }

  async cancelTask(taskId: string, signal?: AbortSignal): Promise<Task> {
    const result = await this.call("cancel", () => ({ id: taskId }), signal);
    return this.decode(() => decodeTask(result), this.method("cancel"));
  }

  private method(op: Operation): string {
    return methodName(this.version ?? "0.3", op);
  }

  private decode<T>(fn: () => T, method: string): T {
    try {
      return fn();
    } catch (err) {
      throw new A2AError(`unexpected answer: ${err instanceof Error ? err.message : String(err)}`, { method, url: this.url, cause: err });
    }
  }

  private async call(op: Operation, params: (v: ProtocolVersion) => unknown, signal: AbortSignal | undefined): Promise<unknown> {
    const reply = await this.exchange(op, params, false, signal);
    if (reply.type === "json" && reply.status >= 200 && reply.status < 300 && hasResult(reply.body)) return reply.body.result;
    throw this.replyError(reply);
  }

  private replyError(reply: Reply): A2AError {
    const ctx = { method: reply.method, url: this.url };
    if (reply.type === "stream") {
      reply.release();
      return new A2AError("unexpected event stream", ctx);
    }
    if (reply.type === "json") {
      const err = rpcError(reply.body);
      if (err) return new A2AError(`JSON-RPC error ${err.code}: ${err.message}${typeof err.data === "string" && err.data !== "" ? ` (${err.data})` : ""}`, { ...ctx, code: err.code, httpStatus: reply.status, data: err.data, rpcMessage: err.message });
      if (reply.status < 200 || reply.status >= 300) return new A2AError(`HTTP ${reply.status}`, { ...ctx, httpStatus: reply.status });
      return new A2AError("the answer is neither a JSON-RPC result nor an error", { ...ctx, httpStatus: reply.status });
    }
    const what = reply.status >= 200 && reply.status < 300 ? `unexpected content type ${JSON.stringify(reply.contentType)}` : `HTTP ${reply.status}`;
    return new A2AError(`${what}${reply.text ? `: ${snippet(reply.text)}` : ""}`, { ...ctx, httpStatus: reply.status });
  }

  /** The server cannot stream this: UnsupportedOperation, an unknown method, or an HTTP layer that refuses SSE (404, 405, 415) before any work. */
  private streamUnsupported(reply: Reply): boolean {
    if (reply.type === "stream") return false;
    if (reply.type === "json") {
      const err = rpcError(reply.body);
      if (err) return err.code === RpcCode.UnsupportedOperation || err.code === RpcCode.MethodNotFound;
      if (hasResult(reply.body)) return false;
    }
    // Only a refusal made before any work: a 2xx that is neither an event
    // stream nor JSON-RPC (a proxy's page, a mangled stream) may come after
    // kagent took the goal, and message/send would then start a second task.
    return [404, 405, 415].includes(reply.status);
  }

  private versionRefused(reply: Reply): boolean {
    if (reply.type === "stream") return false;
    if (reply.type === "json") {
      const err = rpcError(reply.body);
      if (err && (err.code === RpcCode.VersionNotSupported || err.code === RpcCode.MethodNotFound)) return true;
      return reply.status === 400 && JSON.stringify(reply.body).includes("A2A-Version");
    }
    return reply.status === 400 && /A2A-Version/i.test(reply.text);
  }

  private async exchange(op: Operation, params: (v: ProtocolVersion) => unknown, stream: boolean, signal: AbortSignal | undefined): Promise<Reply> {
    if (this.version !== undefined || !this.auto) return this.attempt(this.version ?? "0.3", op, params, stream, signal);
    const first = await this.attempt("0.3", op, params, stream, signal);
    if (!this.versionRefused(first)) {
      this.version = "0.3";
      return first;
    }
    const second = await this.attempt("1.0", op, params, stream, signal);
    if (!this.versionRefused(second)) {
      this.version = "1.0";
      return second;
    }
    if (second.type === "stream") second.release();
    // Neither dialect knows the method: report what the 0.3 attempt said and
    // leave the version open for the next operation.
    return first;
  }

  private async attempt(version: ProtocolVersion, op: Operation, buildParams: (v: ProtocolVersion) => unknown, stream: boolean, signal: AbortSignal | undefined): Promise<Reply> {
    const method = methodName(version, op);
    const ctx = { method, url: this.url };
    signal?.throwIfAborted();
    let authorization: Record<string, string> = {};
    if (this.bearerToken) {
      try {
        authorization = { authorization: `Bearer ${await this.bearerToken()}` };
      } catch (err) {
        throw new A2AError(`no bearer token to send: ${err instanceof Error ? err.message : String(err)}`, { ...ctx, cause: err });
      }
    }
    const ac = new AbortController();
    const onAbort = (): void => ac.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => ac.abort(new A2AError(`no answer within ${this.timeoutMs} ms`, ctx)), this.timeoutMs);
    const release = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: stream ? "text/event-stream, application/json" : "application/json",
      ...(version === "1.0" ? { "A2A-Version": "1.0" } : {}),
      ...this.headers,
      ...authorization,
    };
    const request = { jsonrpc: "2.0", id: randomUUID(), method, params: buildParams(version) };
    try {
      const res = await this.fetchImpl(this.url, { method: "POST", headers, body: JSON.stringify(request), signal: ac.signal });
      const contentType = res.headers.get("content-type") ?? "";
      if (stream && res.ok && /^text\/event-stream\b/i.test(contentType) && res.body) {
        // Past the headers the stream may stay quiet for as long as the agent thinks.
        clearTimeout(timer);
        const body = res.body;
        return { type: "stream", version, method, res, body, release: () => { release(); void body.cancel().catch(() => undefined); } };
      }
      const text = await res.text();
      release();
      if (/json/i.test(contentType) || /^\s*[{[]/.test(text)) {
        try {
          return { type: "json", version, method, status: res.status, body: JSON.parse(text) as unknown };
        } catch {
          // not JSON after all: report it as text below
        }
      }
      return { type: "other", version, method, status: res.status, contentType, text };
    } catch (err) {
      release();
      if (signal?.aborted) throw signal.reason;
      if (err instanceof A2AError) throw err;
      if (ac.signal.aborted && ac.signal.reason instanceof A2AError) throw ac.signal.reason;
      throw new A2AError(networkMessage(err), { ...ctx, cause: err });
    }
  }

  private async *eventsOf(reply: Reply, signal: AbortSignal | undefined): AsyncGenerator<A2AEvent, void, undefined> {
    if (reply.type !== "stream") {
      // A server may answer a streaming method with one plain JSON-RPC result.
      if (reply.type === "json" && reply.status >= 200 && reply.status < 300 && hasResult(reply.body)) {
        const result = reply.body.result;
        yield this.decode(() => decodeEvent(result), reply.method);
        return;
      }
      throw this.replyError(reply);
    }
    const ctx = { method: reply.method, url: this.url };
    try {
      for await (const sse of readSse(reply.body)) {
        if (sse.data.trim() === "") continue;
        let body: unknown;
        try {
          body = JSON.parse(sse.data);
        } catch (err) {
          throw new A2AError(`malformed event data ${JSON.stringify(snippet(sse.data))}`, { ...ctx, cause: err });
        }
        const err = rpcError(body);
        if (err) throw new A2AError(`JSON-RPC error ${err.code}: ${err.message}`, { ...ctx, code: err.code, data: err.data, rpcMessage: err.message });
        if (!hasResult(body)) throw new A2AError("event is neither a JSON-RPC result nor an error", ctx);
        const result = body.result;
        yield this.decode(() => decodeEvent(result), reply.method);
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof A2AError) throw err;
      throw new A2AError(`event stream broke: ${networkMessage(err)}`, { ...ctx, cause: err });
    } finally {
      reply.release();
    }
  }
}
