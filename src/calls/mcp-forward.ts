// Tool calls forwarded (docs/run-time-gateway.md, "Tool calls"): MCP's
// streamable HTTP to the run's pinned tool server. tools/list answers only
// the stamped allowlist, and each tools/call is judged before it is sent. A
// refused call is answered as MCP tool errors are (a result with isError),
// so the agent's model reads why and carries on; the tool server never sees
// it. Only the methods a tool-using agent needs are forwarded, each as the
// JSON agentgate parsed and judged (never the bytes as received, which
// another parser might read differently), and the run's token is not passed
// on.
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorMessage } from "../errors.ts";
import { isRecord } from "../types/kube.ts";
import { SseParser } from "../streams/sse.ts";
import { CallRefused } from "./caller.ts";
import type { CallContext } from "./call-context.ts";
import { digestOf, type NewTraceEntry } from "./ledger.ts";
import { judgeToolCall, stampedServer, type StampedServer } from "./tool-policy.ts";
import { toolServerHeaders, toolServerUrl, type ServerHeader } from "./upstream.ts";
import { reachFor, type UpstreamAnswer } from "./egress.ts";
import { copyAnswerHead, readAnswer, readText, relayHeaders, relayStream, sendJson } from "./http-io.ts";

const MCP_BODY_LIMIT = 4 * 1024 * 1024;
const MCP_RESULT_LIMIT = 16 * 1024 * 1024;
const FORWARDED_REQUEST_HEADERS = ["content-type", "accept", "mcp-session-id", "mcp-protocol-version", "last-event-id"];
const FORWARDED_RESPONSE_HEADERS = ["content-type", "mcp-session-id", "mcp-protocol-version", "cache-control"];

/**
 * The client-to-server methods forwarded: the lifecycle, and tools. A
 * method outside these (resources, prompts, anything a server might treat
 * as a way to act) is refused: the run's decision speaks of tools only.
 * Notifications and answers to the server's own requests pass.
 */
export const FORWARDED_METHODS: ReadonlySet<string> = new Set(["initialize", "ping", "tools/list", "tools/call"]);

interface JsonRpcMessage {
  jsonrpc: "2.0";
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
}

/** A JSON-RPC 2.0 message, or undefined for anything else. */
export function asMessage(v: unknown): JsonRpcMessage | undefined {
  if (!isRecord(v) || v.jsonrpc !== "2.0") return undefined;
  if (v.method !== undefined && typeof v.method !== "string") return undefined;
  if (v.params !== undefined && !isRecord(v.params)) return undefined;
  if (v.method === undefined && !("result" in v) && !("error" in v)) return undefined;
  return v as unknown as JsonRpcMessage;
}

/** Why a message is not forwarded, or undefined when it is. */
export function whyNotForwarded(message: JsonRpcMessage): string | undefined {
  if (message.method === undefined) return undefined;
  if (message.method.startsWith("notifications/") || FORWARDED_METHODS.has(message.method)) return undefined;
  return `method ${JSON.stringify(message.method)} is not forwarded: a run reaches its tool servers for ${[...FORWARDED_METHODS].join(", ")} and notifications only`;
}

function rpcError(res: ServerResponse, status: number, id: unknown, code: number, message: string): void {
  sendJson(res, status, { jsonrpc: "2.0", id: id ?? null, error: { code, message } });
}

/** The JSON-RPC messages of an upstream answer, JSON or an SSE stream read to its end. */
export function messagesOf(contentType: string, body: string): unknown[] {
  if (contentType.includes("text/event-stream")) {
    const parser = new SseParser();
    const events = [...parser.push(body), ...parser.end()];
    return events.flatMap((e) => {
      try {
        return [JSON.parse(e.data) as unknown];
      } catch {
        return [];
      }
    });
  }
  try {
    const v: unknown = JSON.parse(body);
    return Array.isArray(v) ? v : [v];
  } catch {
    return [];
  }
}

/** The answer to request `id` among an upstream's messages. */
export function answerTo(messages: readonly unknown[], id: unknown): Record<string, unknown> | undefined {
  for (const m of messages) if (isRecord(m) && m.id === id && ("result" in m || "error" in m)) return m;
  return undefined;
}

/** A tools/list answer narrowed to the allowlist. */
export function narrowToolList(answer: Record<string, unknown>, allowed: readonly string[]): Record<string, unknown> {
  if (!isRecord(answer.result) || !Array.isArray(answer.result.tools)) return answer;
  const tools = answer.result.tools.filter((t) => isRecord(t) && typeof t.name === "string" && allowed.includes(t.name));
  return { ...answer, result: { ...answer.result, tools } };
}

/** The tool server's own credentials, read as it is called (a rotated Secret is used at once). */
async function serverCredentials(ctx: CallContext, wanted: readonly ServerHeader[], serverKey: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const h of wanted) {
    if (h.value !== undefined) {
      out[h.name] = h.value;
      continue;
    }
    const from = h.from;
    if (!from) continue;
    let value: string | undefined;
    try {
      value = await (from.kind === "Secret" ? ctx.deps.secret : ctx.deps.configMap)(from.namespace, from.name, from.key);
    } catch (err) {
      ctx.deps.log.warn("cannot read a tool server's header", { server: serverKey, from: `${from.kind} ${from.namespace}/${from.name}`, error: err instanceof Error ? err.message : String(err) });
      throw new CallRefused(503, `cannot read the credentials of tool server ${serverKey} now; retry`, { cause: err });
    }
    if (value === undefined) throw new CallRefused(502, `tool server ${serverKey}: header ${h.name} names ${from.kind} key ${from.namespace}/${from.name}[${from.key}], which does not exist`);
    out[h.name] = value;
  }
  return out;
}

export async function forwardMcp(ctx: CallContext, serverKey: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { run, deps } = ctx;
  const server = stampedServer(run.guardrails, serverKey);
  if (!server) throw new CallRefused(403, `tool server ${serverKey} is not one this run's decision names`);
  const [namespace = "", name = ""] = serverKey.split("/");
  const live = await deps.lookup.get(server.kind, namespace, name);
  const url = toolServerUrl(server.kind, live, serverKey, run.snapshot);
  const reach = reachFor(run.guardrails, `mcp:${serverKey}`, url);
  const headers = { ...relayHeaders(req.headers, FORWARDED_REQUEST_HEADERS), ...(await serverCredentials(ctx, toolServerHeaders(server.kind, live, serverKey), serverKey)) };
  const send = (body?: string) => deps.fetch(url, { method: req.method ?? "GET", headers, ...(body !== undefined ? { body } : {}), signal: ctx.signal }, reach);

  if (req.method === "GET" || req.method === "DELETE") {
    // GET opens the server's stream of notifications; DELETE ends a session. Neither calls a tool.
    await relayStream(await send(), res, FORWARDED_RESPONSE_HEADERS);
    return;
  }
  if (req.method !== "POST") throw new CallRefused(405, `MCP's streamable HTTP has no ${req.method ?? ""}: POST, GET or DELETE`);

  let parsed: unknown;
  try {
    parsed = JSON.parse(await readText(req, MCP_BODY_LIMIT));
  } catch (err) {
    if (err instanceof CallRefused) throw err;
    rpcError(res, 400, null, -32700, "the request body is not JSON");
    return;
  }
  if (Array.isArray(parsed)) {
    rpcError(res, 400, null, -32600, "JSON-RPC batches are not forwarded: send one message per request (MCP 2025-06-18 has no batches)");
    return;
  }
  const message = asMessage(parsed);
  if (!message) {
    rpcError(res, 400, null, -32600, "not a JSON-RPC 2.0 request, notification or answer");
    return;
  }
  const refused = whyNotForwarded(message);
  if (refused !== undefined) {
    rpcError(res, 200, message.id, -32601, refused);
    return;
  }
  const body = JSON.stringify(message);
  if (message.method === "tools/call") {
    await callTool(ctx, server, message, () => send(body), res);
    return;
  }
  if (message.method === "tools/list") {
    const upstream = await send(body);
    const answer = answerTo(messagesOf(upstream.headers.get("content-type") ?? "", await readAnswer(upstream, MCP_RESULT_LIMIT)), message.id);
    if (!answer) throw new CallRefused(502, `tool server ${serverKey} answered tools/list with nothing agentgate can read`);
    copyAnswerHead(upstream, res, FORWARDED_RESPONSE_HEADERS);
    sendJson(res, upstream.status, narrowToolList(answer, server.allowedTools));
    return;
  }
  // initialize, ping, notifications, answers to the server's requests.
  await relayStream(await send(body), res, FORWARDED_RESPONSE_HEADERS);
}

/** One tools/call: judged, forwarded when allowed, traced whatever happens once it was sent. */
async function callTool(ctx: CallContext, server: StampedServer, message: JsonRpcMessage, send: () => Promise<UpstreamAnswer>, res: ServerResponse): Promise<void> {
  const { run, deps } = ctx;
  const tool = typeof message.params?.name === "string" ? message.params.name : "";
  const args = message.params?.arguments ?? {};
  const started = deps.now();
  const entry = (verdict: NewTraceEntry["verdict"], extra: Partial<NewTraceEntry>): NewTraceEntry => ({
    at: new Date(started).toISOString(),
    kind: "tool",
    server: server.server,
    tool,
    inputSha256: digestOf(args),
    verdict,
    ms: deps.now() - started,
    ...extra,
  });
  const ledger = await deps.ledger.begin(ctx.ref);
  const verdict = judgeToolCall(deps.engine(), run, server, tool, args, ledger.trace);
  if (!verdict.allowed) {
    await deps.ledger.record(ctx.ref, entry("denied", { reason: verdict.reason }), true);
    deps.log.info("tool call refused", { run: `${run.namespace}/${run.name}`, server: server.server, tool, reason: verdict.reason });
    sendJson(res, 200, { jsonrpc: "2.0", id: message.id ?? null, result: { content: [{ type: "text", text: `agentgate refused this call: ${verdict.reason}` }], isError: true } });
    return;
  }
  let upstream: UpstreamAnswer;
  let text: string;
  try {
    upstream = await send();
    text = await readAnswer(upstream, MCP_RESULT_LIMIT);
  } catch (err) {
    // The server may have acted on it: the call is traced before the caller hears of the failure.
    await deps.ledger.record(ctx.ref, entry("failed", { reason: `no answer from the tool server: ${errorMessage(err)}` }), true);
    throw err instanceof CallRefused ? err : new CallRefused(502, `tool server ${server.server} could not be reached or did not answer`);
  }
  const answer = answerTo(messagesOf(upstream.headers.get("content-type") ?? "", text), message.id);
  const failed = !upstream.ok || !answer || "error" in answer || (isRecord(answer.result) && answer.result.isError === true);
  await deps.ledger.record(ctx.ref, entry(failed ? "failed" : "allowed", answer ? { outputSha256: digestOf("error" in answer ? answer.error : answer.result) } : { reason: `tool server answered HTTP ${upstream.status}` }), true);
  copyAnswerHead(upstream, res, FORWARDED_RESPONSE_HEADERS);
  res.end(text);
}
