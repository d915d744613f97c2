// The probe and metrics port every process serves: /metrics, /healthz and
// /readyz, each only where the process has it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Registry } from "prom-client";
import { ListenError, listenProbes } from "./probe-server.ts";

interface Answer {
  status: number;
  type: string;
  body: string;
}

function get(port: number, path: string, method = "GET"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"] ?? "", body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("a metrics-only port answers GET and HEAD /metrics with the registry's text, and nothing else", async () => {
  const registry = new Registry();
  new Counter({ name: "unit_things_total", help: "things", registers: [registry] }).inc(3);
  const server = await listenProbes("metricsListen", { host: "127.0.0.1", port: 0 }, { metrics: registry });
  try {
    const { port } = server;
    const metrics = await get(port, "/metrics");
    assert.equal(metrics.status, 200);
    assert.equal(metrics.type, registry.contentType);
    assert.match(metrics.body, /^unit_things_total 3$/m);
    assert.equal((await get(port, "/metrics?name[]=x")).status, 200, "a query string is the same path");
    const head = await get(port, "/metrics", "HEAD");
    assert.deepEqual([head.status, head.body], [200, ""]);
    for (const path of ["/", "/healthz", "/validate", "/metricsx"]) assert.equal((await get(port, path)).status, 404, path);
    assert.equal((await get(port, "/metrics", "POST")).status, 405);
  } finally {
    await server.close();
  }
});

test("listenProbes rejects with the listen error when the address is taken", async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
  try {
    await assert.rejects(listenProbes("metricsListen", { host: "127.0.0.1", port: (busy.address() as AddressInfo).port }, { metrics: new Registry() }), (err: unknown) => err instanceof ListenError && /EADDRINUSE/.test(err.message));
  } finally {
    await new Promise((r) => busy.close(r));
  }
});

test("health and readiness: /healthz is ok while up, /readyz says why not ready", async () => {
  let why: string | undefined = "watches not synced";
  const server = await listenProbes("metricsListen", { host: "127.0.0.1", port: 0 }, { health: true, ready: () => why });
  try {
    assert.deepEqual(await get(server.port, "/healthz"), { status: 200, type: "text/plain", body: "ok\n" });
    assert.deepEqual(await get(server.port, "/readyz"), { status: 503, type: "text/plain", body: "not ready: watches not synced\n" });
    why = undefined;
    assert.equal((await get(server.port, "/readyz")).status, 200);
    assert.equal((await get(server.port, "/metrics")).status, 404, "no registry, no /metrics");
  } finally {
    await server.close();
  }
});
