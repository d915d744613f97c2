// Where the gateway may connect for a run: no further than the run's own
// NetworkPolicy lets its agent (src/controller/scope.ts), so going through
// agentgate never widens a run's reach. The destination must be a stamped
// egress rule of that purpose (the model, or that tool server); a Service
// is reached in the cluster, a stamped IP as it is, and a host name only at
// public addresses, checked on every connection (a name that resolves to
// the metadata service or a private address later is refused then).
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import type { LookupFunction } from "node:net";
import { isIP } from "node:net";
import type * as Undici from "undici";
import { classifyHost, nonPublicRange } from "../guardrails/endpoints.ts";
import { egressFor } from "../guardrails/effective.ts";
import type { Guardrails } from "../types/agent.ts";
import { CallRefused } from "./caller.ts";

/** How far a connection for one call may go. */
export type Reach = "stamped-ip" | "in-cluster" | "public";

/** What the gateway reads of an upstream answer (the global fetch's Response and undici's both have it). */
export interface UpstreamAnswer {
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  body: ReadableStream<Uint8Array> | null;
}

export interface UpstreamRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

export type UpstreamFetch = (url: string, init: UpstreamRequest, reach: Reach) => Promise<UpstreamAnswer>;

/**
 * The reach of a call to `url` for `purpose` ("model", "mcp:<ns>/<name>"),
 * or a refusal when the run's decision stamped no route there.
 */
export function reachFor(guardrails: Guardrails, purpose: string, url: string): Reach {
  const wanted = egressFor(purpose, url);
  const rules = guardrails.egress.filter((e) => e.purpose === purpose);
  const rule = wanted && rules.find((e) => e.port === wanted.port && (e.host.toLowerCase() === wanted.host.toLowerCase() || (e.service !== undefined && wanted.service !== undefined && e.service.namespace === wanted.service.namespace && e.service.name === wanted.service.name)));
  if (!wanted || !rule) {
    const stamped = rules.map((e) => `${e.host}:${e.port}`).join(", ") || "none";
    throw new CallRefused(403, `the run's decision gives it no route to ${wanted ? `${wanted.host}:${wanted.port}` : url} for ${purpose} (stamped: ${stamped}); the run reaches through agentgate only what its NetworkPolicy allows`);
  }
  if (rule.service) return "in-cluster";
  return isIP(rule.host.replace(/^\[(.*)\]$/, "$1")) !== 0 ? "stamped-ip" : "public";
}

/** Why an address a name resolved to is out of reach, or undefined. */
export function whyUnreachable(address: string, reach: Reach): string | undefined {
  if (reach === "stamped-ip") return undefined;
  const range = nonPublicRange(address);
  if (reach === "public") return range ? `${address} is not a public address (${range.cidr})` : undefined;
  const cls = classifyHost(address);
  return cls === "link-local" || cls === "loopback" ? `${address} is ${cls}` : undefined;
}

/** A DNS lookup that refuses a name resolving to any address out of reach. */
function guardedLookup(reach: Reach): LookupFunction {
  return (hostname: string, options: LookupOptions, callback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) {
        callback(err, []);
        return;
      }
      for (const a of addresses) {
        const why = whyUnreachable(a.address, reach);
        if (why !== undefined) {
          callback(Object.assign(new CallRefused(403, `${hostname} resolves to an address the run may not reach: ${why}`), { code: "EACCES" }), []);
          return;
        }
      }
      const first = addresses[0];
      if (options.all === true) callback(null, addresses);
      else callback(null, first?.address ?? "", first?.family ?? 4);
    });
  };
}

/**
 * The gateway's fetch: a connection pool per reach, each with its lookup
 * guard. undici is imported here, when the run-time gateway starts, not
 * when the module loads: a gateway without it never loads undici (7–10 MB
 * of resident memory).
 */
export function guardedFetch(): UpstreamFetch & { close(): Promise<void> } {
  const pools = import("undici").then((undici: typeof Undici) => ({
    fetch: undici.fetch,
    agents: {
      "stamped-ip": new undici.Agent(),
      "in-cluster": new undici.Agent({ connect: { lookup: guardedLookup("in-cluster") } }),
      public: new undici.Agent({ connect: { lookup: guardedLookup("public") } }),
    } satisfies Record<Reach, Undici.Agent>,
  }));
  // A failed import is said by the first call, not as an unhandled rejection.
  pools.catch(() => undefined);
  const f = async (url: string, init: UpstreamRequest, reach: Reach): Promise<UpstreamAnswer> => {
    const { fetch, agents } = await pools;
    try {
      return await fetch(url, { ...init, dispatcher: agents[reach] });
    } catch (err) {
      // fetch wraps the connector's error: a refused route is said as such, not as "fetch failed".
      const cause: unknown = err instanceof Error ? err.cause : undefined;
      throw cause instanceof CallRefused ? cause : err;
    }
  };
  return Object.assign(f, { close: async () => { const { agents } = await pools; await Promise.all(Object.values(agents).map((a) => a.close())); } });
}
