// The run-time gateway's listener (docs/run-time-gateway.md): a run's agent
// reaches its tool servers and its model only through here.
//
//   /v1/runs/<namespace>/<run>/mcp/<server-namespace>/<server-name>
//   /v1/runs/<namespace>/<run>/model/<provider path>
//
// Every request proves it is the run's (caller.ts); the run's verified
// decision says what it may call (run-record.ts); the rest is per kind.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { errorMessage } from "../errors.ts";
import { authenticate, bearerOf, CallRefused, fromRunPod } from "./caller.ts";
import { callContext, type CallGatewayDeps } from "./call-context.ts";
import { forwardMcp } from "./mcp-forward.ts";
import { forwardModel } from "./model-forward.ts";
import { sendJson } from "./http-io.ts";

// node:http as Node's own module object, not an ES import: the ES namespace
// of node:http reads every export, and one of them loads Node's bundled
// fetch (undici), ~7 MB of RSS the process never uses (test/unit/serve-imports.test.ts).
const { createServer } = process.getBuiltinModule("node:http");

const NAME = "[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?";
const ROUTE = new RegExp(`^/v1/runs/(?<namespace>${NAME})/(?<run>${NAME})/(?:mcp/(?<serverNamespace>${NAME})/(?<serverName>${NAME})|model/(?<path>[A-Za-z0-9/_.-]+))$`);

export type CallRoute =
  | { kind: "mcp"; namespace: string; run: string; server: string }
  | { kind: "model"; namespace: string; run: string; path: string };

export function parseRoute(url: string): CallRoute | undefined {
  const path = url.split("?")[0] ?? "";
  const g = ROUTE.exec(path)?.groups;
  if (!g) return undefined;
  const namespace = g.namespace ?? "";
  const run = g.run ?? "";
  if (g.serverNamespace !== undefined) return { kind: "mcp", namespace, run, server: `${g.serverNamespace}/${g.serverName ?? ""}` };
  const rest = g.path ?? "";
  if (rest.split("/").some((s) => s === ".." || s === ".")) return undefined;
  return { kind: "model", namespace, run, path: rest };
}

export function createCallServer(deps: CallGatewayDeps): Server {
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === "/healthz") {
      res.setHeader("content-type", "text/plain");
      res.end("ok\n");
      return;
    }
    const route = parseRoute(req.url ?? "");
    if (!route) throw new CallRefused(404, "not a run-time gateway path: /v1/runs/<namespace>/<run>/mcp/<namespace>/<server> or /v1/runs/<namespace>/<run>/model/…");
    const caller = await authenticate(bearerOf(req.headers), deps.review);
    if (caller.namespace !== route.namespace || caller.name !== route.run) throw new CallRefused(403, `this token speaks for AgentRun ${caller.namespace}/${caller.name}, not ${route.namespace}/${route.run}`);
    await fromRunPod(caller, req.socket.remoteAddress, deps.pods);
    const run = await deps.runs.acting(caller);
    const aborted = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) aborted.abort();
    });
    const ctx = callContext(run, deps, aborted.signal);
    if (route.kind === "mcp") await forwardMcp(ctx, route.server, req, res);
    else await forwardModel(ctx, route.path, req, res);
  }

  return createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof CallRefused) {
        if (err.status >= 500) deps.log.warn("call refused", { url: req.url, status: err.status, reason: err.message, ...(err.cause !== undefined ? { cause: errorMessage(err.cause) } : {}) });
        sendJson(res, err.status, { error: err.message });
        return;
      }
      // An upstream that cannot be reached, a ledger write that failed: refused, never let through.
      deps.log.warn("call failed", { url: req.url, error: errorMessage(err) });
      sendJson(res, 502, { error: `agentgate could not complete this call: ${errorMessage(err)}` });
    });
  });
}
