// Tool calls forwarded (docs/run-time-gateway.md, "Tool calls"): MCP's
// streamable HTTP passed through to the run's pinned tool server, except
// that tools/list answers only the stamped allowlist, and each tools/call is
// judged before it is sent. A refused call is answered as MCP tool errors
// are (a result with isError), so the agent's model reads why and carries
// on; the tool server never sees it. The run's token is not passed on.
import type { IncomingMessage, ServerResponse } from "node:http";
import { isRecord } from "../types/kube.ts";
import { SseParser } from "../streams/sse.ts";
import { CallRefused } from "./caller.ts";
import { digestOf, type NewTraceEntry } from "./ledger.ts";
import type { CallContext } from "./call-context.ts";
import { judgeToolCall, stampedServer } from "./tool-policy.ts";
import { toolServerUrl } from "./upstream.ts";
import { readBody, relayHeaders, sendJson } from "./http-io.ts";

const MCP_BODY_LIMIT = 4 * 1024 * 1024;
const MCP_RESULT_LIMIT = 16 * 1024 * 1024;
const FORWARDED_REQUEST_HEADERS = ["content-type", "accept", "mcp-session-id", "mcp-protocol-version", "last-event-id"];
const FORWARDED_RESPONSE_HEADERS = ["content-type", "mcp-session-id", "mcp-protocol-version", "cache-control"];

interface JsonRpcRequest {
  jsonrpc: "2.0";
  id?: string | number | null;
  method: string;
  params?: Record<string, unknown>;
}

function asRequest(v: unknown): JsonRpcRequest | undefined {
  if (!isRecord(v) || v.jsonrpc !== "2.0" || typeof v.method !== "string") return undefined;
  if (v.params !== undefined && !isRecord(v.params)) return undefined;
  return v as unknown as JsonRpcRequest;
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

export async function forwardMcp(ctx: CallContext, serverKey: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { run, deps } = ctx;
  const server = stampedServer(run.guardrails, serverKey);
  if (!server) throw new CallRefused(403, `tool server ${serverKey} is not one this run's decision names`);
  const [namespace = "", name = ""] = serverKey.split("/");
  const url = toolServerUrl(server.kind, await deps.lookup.get(server.kind, namespace, name), serverKey, run.snapshot);
  const headers = relayHeaders(req.headers, FORWARDED_REQUEST_HEADERS);

  if (req.method !== "POST") {
    // GET opens the server's stream of notifications; DELETE ends a session. Neither calls a tool.
    const upstream = await deps.fetch(url, { method: req.method ?? "GET", headers, signal: ctx.signal });
    await ctx.pipe(upstream, FORWARDED_RESPONSE_HEADERS);
    return;
  }

  const raw = await readBody(req, MCP_BODY_LIMIT);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    rpcError(res, 400, null, -32700, "the request body is not JSON");
    return;
  }
  if (Array.isArray(parsed)) {
    rpcError(res, 400, null, -32600, "JSON-RPC batches are not forwarded: send one message per request (MCP 2025-06-18 has no batches)");
    return;
  }
  const message = asRequest(parsed);
  if (!message || (message.method !== "tools/call" && message.method !== "tools/list")) {
    // initialize, notifications, responses, ping, resources…: passed through as they are.
    const upstream = await deps.fetch(url, { method: "POST", headers, body: raw, signal: ctx.signal });
    await ctx.pipe(upstream, FORWARDED_RESPONSE_HEADERS);
    return;
  }

  if (message.method === "tools/list") {
    const upstream = await deps.fetch(url, { method: "POST", headers, body: raw, signal: ctx.signal });
    const text = await ctx.bounded(upstream, MCP_RESULT_LIMIT);
    const answer = answerTo(messagesOf(upstream.headers.get("content-type") ?? "", text), message.id);
    if (!answer) throw new CallRefused(502, `tool server ${serverKey} answered tools/list with nothing agentgate can read`);
    relayResponseHeaders(upstream, res);
    sendJson(res, upstream.status, narrowToolList(answer, server.allowedTools));
    return;
  }

  const tool = typeof message.params?.name === "string" ? message.params.name : "";
  const args = message.params?.arguments ?? {};
  const started = ctx.now();
  const entry = (verdict: NewTraceEntry["verdict"], extra: Partial<NewTraceEntry>): NewTraceEntry => ({
    at: new Date(started).toISOString(),
    kind: "tool",
    server: serverKey,
    tool,
    inputSha256: digestOf(args),
    verdict,
    ms: ctx.now() - started,
    ...extra,
  });
  const ledger = await deps.ledger.read(run.uid);
  const verdict = judgeToolCall(deps.engine(), run, server, tool, args, ledger?.trace ?? []);
  if (!verdict.allowed) {
    await deps.ledger.record(ctx.ref, entry("denied", { reason: verdict.reason }));
    deps.log.info("tool call refused", { run: `${run.namespace}/${run.name}`, server: serverKey, tool, reason: verdict.reason });
    sendJson(res, 200, { jsonrpc: "2.0", id: message.id ?? null, result: { content: [{ type: "text", text: `agentgate refused this call: ${verdict.reason}` }], isError: true } });
    return;
  }
  const upstream = await deps.fetch(url, { method: "POST", headers, body: raw, signal: ctx.signal });
  const text = await ctx.bounded(upstream, MCP_RESULT_LIMIT);
  const answer = answerTo(messagesOf(upstream.headers.get("content-type") ?? "", text), message.id);
  const failed = !upstream.ok || !answer || "error" in answer || (isRecord(answer.result) && answer.result.isError === true);
  await deps.ledger.record(ctx.ref, entry(failed ? "failed" : "allowed", answer ? { outputSha256: digestOf("error" in answer ? answer.error : answer.result) } : { reason: `tool server answered HTTP ${upstream.status}` }));
  relayResponseHeaders(upstream, res);
  res.statusCode = upstream.status;
  res.end(text);
}

function relayResponseHeaders(upstream: Response, res: ServerResponse): void {
  for (const h of FORWARDED_RESPONSE_HEADERS) {
    const v = upstream.headers.get(h);
    if (v !== null) res.setHeader(h, v);
  }
}
