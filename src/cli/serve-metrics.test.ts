// `serve --metrics-listen`: the gateway's registry on a plain-HTTP port that
// serves /metrics and nothing else, beside the TLS port's /metrics.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { startGateway, type ServeOptions } from "./serve.ts";
import { InputError } from "../errors.ts";
import { logger } from "../log.ts";
import { freePort } from "../testing/free-port.ts";

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
