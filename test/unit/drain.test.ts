// A rolling restart drops no request: on SIGTERM the real `agentgate serve`
// process reports not ready for --drain-seconds while it goes on answering
// (so the Service's endpoints drop it first), then finishes what it holds
// and exits 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { Agent, request } from "node:https";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { admissionReviews } from "../../bench/fixtures.ts";

const BIN = fileURLToPath(new URL("../../bin/agentgate.js", import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
    srv.on("error", reject);
  });
}

function call(agent: Agent, port: number, method: string, path: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, agent, headers: { "content-type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("SIGTERM: not ready during the drain, every request still answered, then exit 0", async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, "serve", "--offline", "--listen", `127.0.0.1:${port}`, "--drain-seconds", "2"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const agent = new Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: false });
  try {
    for (let i = 0; ; i++) {
      if ((await call(agent, port, "GET", "/readyz").catch(() => 0)) === 200) break;
      assert.ok(i < 200, `the gateway never became ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const bodies = admissionReviews().map(({ review }) => JSON.stringify(review));
    let answered = 0;
    let failed = 0;
    let sawNotReady = false;
    let loading = true;
    // Four clients in a loop, as the API server's connections would be.
    const clients = [0, 1, 2, 3].map(async (c) => {
      for (let i = c; loading; i += 4) {
        const status = await call(agent, port, "POST", "/validate", bodies[i % bodies.length]).catch(() => 0);
        if (status === 200) answered++;
        else failed++;
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGTERM");
    // Keep sending until readiness has said "not ready" for a while, as a
    // client whose endpoints list still holds the pod would.
    const drainStarted = Date.now();
    while (Date.now() - drainStarted < 1500) {
      if ((await call(agent, port, "GET", "/readyz").catch(() => 0)) === 503) sawNotReady = true;
      await new Promise((r) => setTimeout(r, 100));
    }
    loading = false;
    await Promise.all(clients);
    assert.ok(sawNotReady, "/readyz never reported not ready during the drain");
    assert.ok(answered > 0, "no admission request was answered");
    assert.equal(failed, 0, `${failed} of ${answered + failed} requests failed during the drain`);
    assert.equal(await exited, 0, stderr);
  } finally {
    agent.destroy();
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
