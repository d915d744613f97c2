// What one call through the run-time gateway works with: the run it speaks
// for, the gateway's parts, and the response it answers on.
import type { ServerResponse } from "node:http";
import type { ObjectLookup } from "../context/lookup.ts";
import type { Logger } from "../log.ts";
import type { PolicyEngine } from "../policy/engine.ts";
import { CallRefused, type TokenReviewFn } from "./caller.ts";
import type { Ledger, RunRef } from "./ledger.ts";
import type { ActingRun, RunRecords } from "./run-record.ts";

export type SecretReader = (namespace: string, name: string, key: string) => Promise<string | undefined>;

export interface CallGatewayDeps {
  engine: () => PolicyEngine;
  review: TokenReviewFn;
  runs: RunRecords;
  ledger: Ledger;
  /** tool servers and ModelConfigs, as the webhook reads them */
  lookup: ObjectLookup;
  /** provider keys, read from the pinned ModelConfig's own Secret */
  secret: SecretReader;
  fetch: typeof fetch;
  log: Logger;
  now: () => number;
}

export interface CallContext {
  run: ActingRun;
  ref: RunRef;
  deps: CallGatewayDeps;
  res: ServerResponse;
  /** aborted when the caller goes away */
  signal: AbortSignal;
  now: () => number;
  /**
   * Streams an upstream answer to the caller as it comes, with the named
   * headers; `leaveOpen` leaves the response to be ended by the caller
   * (after the ledger is settled, so the agent's next call sees it).
   */
  pipe(upstream: Response, headers: readonly string[], onChunk?: (chunk: Uint8Array) => boolean, leaveOpen?: boolean): Promise<void>;
  /** An upstream answer read whole, refused past `limit` bytes. */
  bounded(upstream: Response, limit: number): Promise<string>;
}

export function callContext(run: ActingRun, deps: CallGatewayDeps, res: ServerResponse, signal: AbortSignal): CallContext {
  return {
    run,
    ref: { namespace: run.namespace, name: run.name, uid: run.uid, budget: run.guardrails.tokenBudget },
    deps,
    res,
    signal,
    now: deps.now,
    async pipe(upstream, headers, onChunk, leaveOpen = false) {
      res.statusCode = upstream.status;
      for (const h of headers) {
        const v = upstream.headers.get(h);
        if (v !== null) res.setHeader(h, v);
      }
      if (!upstream.body) {
        if (!leaveOpen) res.end();
        return;
      }
      res.flushHeaders();
      const reader = (upstream.body as ReadableStream<Uint8Array>).getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          // onChunk says false to cut the stream here (the budget is spent).
          const keep = onChunk ? onChunk(value) : true;
          res.write(value);
          if (!keep) break;
        }
      } finally {
        await reader.cancel().catch(() => undefined);
        if (!leaveOpen) res.end();
      }
    },
    async bounded(upstream, limit) {
      if (!upstream.body) return "";
      const reader = (upstream.body as ReadableStream<Uint8Array>).getReader();
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
    },
  };
}
