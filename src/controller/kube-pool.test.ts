// The controller's API requests share one connection pool. client-node
// builds an undici Agent, and so a TLS connection, for every request; a run
// sends ~50, and with 10 runs in flight the controller's RSS went from 195
// to 363 MiB and each run's time to Acting grew with the number in flight
// (bench/controller-run.ts --runs). Counted here as TLS connections accepted
// by a stand-in API server, not as time or memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import * as k8s from "@kubernetes/client-node";
import { generateServingCertificate } from "../tls/self-signed.ts";
import { GVR, Kube } from "./kube.ts";

test("sequential requests of the controller's Kube share their TLS connections (one per request before)", async () => {
  const tls = generateServingCertificate(["127.0.0.1", "localhost"]);
  let connections = 0;
  let requests = 0;
  const server = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
    requests++;
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404, message: "not found" }));
  });
  server.on("secureConnection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`, caData: Buffer.from(tls.caCert).toString("base64"), skipTLSVerify: false }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    const kube = new Kube(kc);
    for (let i = 0; i < 10; i++) assert.equal(await kube.get(GVR.agentRuns, "team-a", `run-${String(i)}`), null);
    assert.equal(requests, 10);
    assert.ok(connections <= 2, `10 requests opened ${String(connections)} TLS connections`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
