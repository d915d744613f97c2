// Bytes in and out of the run-time gateway: request bodies, JSON answers, and upstream answers relayed (streamed or read
// whole) with only the headers named.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { BodyTooLarge, readBody } from "../streams/read-body.ts";
import { CallRefused } from "./caller.ts";
import type { UpstreamAnswer } from "./egress.ts";

/** The request body as text; refused with 413 past `limit` bytes (streams/read-body.ts). */
export async function readText(req: IncomingMessage, limit: number): Promise<string> {
  try {
    return (await readBody(req, limit)).toString("utf8");
  } catch (err) {
    throw err instanceof BodyTooLarge ? new CallRefused(413, err.message) : err;
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  // A body left unread (refused before or while reading it) must not be parsed as the next request.
  if (!res.req.complete) res.setHeader("connection", "close");
  res.end(JSON.stringify(value));
}

/** The named request headers, to pass on; everything else (the run's token first) stays here. */
export function relayHeaders(headers: IncomingHttpHeaders, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = headers[n];
    if (typeof v === "string") out[n] = v;
  }
  return out;
}

/** The upstream answer's status and named headers, onto our response. */
export function copyAnswerHead(upstream: UpstreamAnswer, res: ServerResponse, names: readonly string[]): void {
  res.statusCode = upstream.status;
  for (const n of names) {
    const v = upstream.headers.get(n);
    if (v !== null) res.setHeader(n, v);
  }
}

/**
 * Streams an upstream answer to the caller as it comes. `onChunk` may say
 * false to cut the stream there; `leaveOpen` leaves the response for the
 * caller to end (after the ledger is settled, so the agent's next call
 * sees it).
 */
export async function relayStream(upstream: UpstreamAnswer, res: ServerResponse, names: readonly string[], onChunk?: (chunk: Uint8Array) => boolean, leaveOpen = false): Promise<void> {
  copyAnswerHead(upstream, res, names);
  if (!upstream.body) {
    if (!leaveOpen) res.end();
    return;
  }
  res.flushHeaders();
  const reader = upstream.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const keep = onChunk ? onChunk(value) : true;
      res.write(value);
      if (!keep) break;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
    if (!leaveOpen) res.end();
  }
}

/** An upstream answer read whole; refused (502) past `limit` bytes. */
export async function readAnswer(upstream: UpstreamAnswer, limit: number): Promise<string> {
  if (!upstream.body) return "";
  const reader = upstream.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) throw new CallRefused(502, `the upstream answer is larger than ${limit} bytes`);
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString("utf8");
}
