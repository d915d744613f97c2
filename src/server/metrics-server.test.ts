// `serve --metrics-listen`: the gateway's registry on a plain-HTTP port that
// serves /metrics and nothing else, beside the TLS port's /metrics.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { Counter, Registry } from "prom-client";
import { startGateway, type ServeOptions } from "../cli/serve.ts";
import { InputError } from "../cli/manifests.ts";
import { logger } from "../log.ts";
import { listenMetrics, listeningPort } from "./metrics-server.ts";

interface Answer {
  status: number;
  type: string;
  body: string;
}

function get(port: number, path: string, method = "GET", tls = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : httpRequest)({ host: "127.0.0.1", port, path, method, rejectUnauthorized: false, agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"] ?? "", body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

test("listenMetrics answers GET and HEAD /metrics with the registry's text, and nothing else", async () => {
  const registry = new Registry();
  new Counter({ name: "unit_things_total", help: "things", registers: [registry] }).inc(3);
  const server = await listenMetrics(registry, { host: "127.0.0.1", port: 0 });
  try {
    const port = listeningPort(server);
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
    await new Promise((r) => server.close(r));
  }
});

test("listenMetrics rejects with the listen error when the address is taken", async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
  try {
    await assert.rejects(listenMetrics(new Registry(), { host: "127.0.0.1", port: (busy.address() as AddressInfo).port }), /EADDRINUSE/);
  } finally {
    await new Promise((r) => busy.close(r));
  }
});

const SERVE: ServeOptions = { listen: "127.0.0.1:0", bundle: [], offline: true, namespace: "agentgate-system", serviceAccount: "system:serviceaccount:agentgate-system:agentgate", trustedUser: [], drainSeconds: 0 };

test("serve --metrics-listen: the same registry on plain HTTP, with the process metrics under standard names; the TLS /metrics stays", async () => {
  logger.level = "error";
  const gateway = await startGateway({ ...SERVE, metricsListen: "127.0.0.1:0" });
  const metricsPort = gateway.metricsPort;
  try {
    assert.ok(metricsPort !== undefined && metricsPort > 0 && metricsPort !== gateway.port);
    const plain = await get(metricsPort, "/metrics");
    assert.equal(plain.status, 200);
    assert.match(plain.body, /^agentgate_serving_certificate_loads_total\{source="generated"\} 1$/m);
    assert.match(plain.body, /^agentgate_build_info\{version="[^"]+",node="v[^"]+",component="gateway"\} 1$/m);
    assert.match(plain.body, /^process_cpu_user_seconds_total\{component="gateway"\} /m);
    assert.match(plain.body, /^nodejs_heap_size_used_bytes\{component="gateway"\} /m);
    assert.doesNotMatch(plain.body, /^agentgate_process_|^agentgate_nodejs_/m, "the old prefixed names are gone");
    assert.equal((await get(metricsPort, "/validate", "POST")).status, 404, "no admission on the metrics port");
    const tls = await get(gateway.port, "/metrics", "GET", true);
    assert.equal(tls.status, 200);
    assert.match(tls.body, /^agentgate_serving_certificate_loads_total\{source="generated"\} 1$/m);
  } finally {
    await gateway.close();
  }
  await assert.rejects(get(metricsPort, "/metrics"), /ECONNREFUSED/, "closed with the gateway");
});

test("serve without --metrics-listen opens no other port", async () => {
  logger.level = "error";
  const gateway = await startGateway(SERVE);
  try {
    assert.equal(gateway.metricsPort, undefined);
  } finally {
    await gateway.close();
  }
});

test("serve --metrics-listen on an address in use: one error naming the flag, and the webhook port is let go", async () => {
  logger.level = "error";
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
  const listen = await freePort();
  const taken = `127.0.0.1:${String((busy.address() as AddressInfo).port)}`;
  try {
    await assert.rejects(startGateway({ ...SERVE, listen: `127.0.0.1:${String(listen)}`, metricsListen: taken }), (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.match(err.message, new RegExp(`^--metrics-listen ${taken}: listen EADDRINUSE`));
      return true;
    });
    // The TLS server that had started listening was closed: its port is free again.
    const again = createServer();
    await new Promise<void>((resolve, reject) => { again.once("error", reject); again.listen(listen, "127.0.0.1", resolve); });
    await new Promise((r) => again.close(r));
  } finally {
    await new Promise((r) => busy.close(r));
  }
});
