// The plain-HTTP port every agentgate process gives the kubelet and
// Prometheus: /metrics, /healthz, /readyz, whichever the process has. The
// gateway's webhook port serves /metrics too, but over TLS with a
// certificate Prometheus would have to be given the CA of; and the chart
// scrapes every process on one port name, `metrics`. One server, so the
// controller, audit and the gateway answer probes and scrapes alike.
import type { Server as NetServer } from "node:net";
import type { Registry } from "prom-client";
import { AgentgateError, errorMessage } from "../errors.ts";

// node:http as Node's own module object, not an ES import: the ES namespace
// of node:http reads every export, and one of them loads Node's bundled
// fetch (undici), ~7 MB of RSS the process never uses (test/unit/serve-imports.test.ts).
const { createServer } = process.getBuiltinModule("node:http");

export interface ProbeRoutes {
  /** GET/HEAD /metrics: the registry's text */
  metrics?: Registry;
  /** /healthz: ok while the process runs */
  health?: boolean;
  /** /readyz: why the process is not ready, or undefined when it is */
  ready?: () => string | undefined;
}

export interface ListenAddress {
  host: string;
  port: number;
}

export interface ProbeServer {
  /** the port it got (the one asked for, or the one picked for port 0) */
  port: number;
  close(): Promise<void>;
}

/**
 * An address could not be listened on (in use, not local). `field` names
 * the config field that gave it; the message is the listen error's, so the
 * command line can put its flag and value in front.
 */
export class ListenError extends AgentgateError {
  readonly address: ListenAddress;
  constructor(field: string, address: ListenAddress, cause: unknown) {
    super("input", errorMessage(cause), { field, cause });
    this.name = "ListenError";
    this.address = address;
  }
}

function paths(routes: ProbeRoutes): string[] {
  return [...(routes.metrics ? ["/metrics"] : []), ...(routes.health ? ["/healthz"] : []), ...(routes.ready ? ["/readyz"] : [])];
}

/** Listens on addr; rejects with ListenError (of `field`), leaving nothing listening. */
export async function listenProbes(field: string, addr: ListenAddress, routes: ProbeRoutes): Promise<ProbeServer> {
  const served = paths(routes);
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    const text = (status: number, body: string) => res.writeHead(status, { "content-type": "text/plain" }).end(body);
    if (!served.includes(path)) return void text(404, served.length === 1 ? `this port serves ${served[0] ?? ""} only\n` : `this port serves ${served.join(", ")}\n`);
    if (req.method !== "GET" && req.method !== "HEAD") return void res.writeHead(405, { "content-type": "text/plain", allow: "GET, HEAD" }).end(`GET ${path}\n`);
    const { metrics, ready } = routes;
    if (path === "/metrics" && metrics) {
      return void metrics.metrics().then(
        (body) => res.writeHead(200, { "content-type": metrics.contentType }).end(req.method === "HEAD" ? undefined : body),
        () => text(500, "metrics could not be collected\n"),
      );
    }
    const why = path === "/readyz" ? ready?.() : undefined;
    text(why ? 503 : 200, why ? `not ready: ${why}\n` : "ok\n");
  });
  await listenOn(server, field, addr);
  return { port: listeningPort(server), close: () => closeServer(server) };
}

/** The port a listening server got (the one asked for, or the one picked for port 0). */
export function listeningPort(server: NetServer): number {
  const address = server.address();
  return typeof address === "object" && address ? address.port : 0;
}

/** Any server (the webhook's HTTPS one too): resolves once it listens, rejects with ListenError. */
export async function listenOn(server: NetServer, field: string, addr: ListenAddress): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(addr.port, addr.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    throw new ListenError(field, addr, err);
  }
}

export function closeServer(server: NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
