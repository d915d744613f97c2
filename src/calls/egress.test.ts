import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import test from "node:test";
import type { Guardrails } from "../types/agent.ts";
import { guardedFetch, reachFor, whyUnreachable } from "./egress.ts";

const guardrails = (egress: Guardrails["egress"]): Guardrails => ({ tokenBudget: 1, timeout: "1m", maxIterations: 1, networkPolicy: "strict", egress, rbac: [], approval: { required: false, approverGroups: [] }, tools: [] });

const stamped = guardrails([
  { purpose: "model", host: "api.openai.com", port: 443 },
  { purpose: "mcp:tools/fs", host: "fs.tools.svc", port: 3000, service: { namespace: "tools", name: "fs" } },
  { purpose: "mcp:tools/ip", host: "10.0.0.7", port: 8080 },
]);

test("a call goes only where the run's decision stamped a route for that purpose", () => {
  assert.equal(reachFor(stamped, "model", "https://api.openai.com/v1"), "public");
  assert.equal(reachFor(stamped, "mcp:tools/fs", "http://fs.tools.svc:3000/mcp"), "in-cluster", "the Service (in namespace tools, also a public TLD)");
  assert.throws(() => reachFor(stamped, "mcp:tools/fs", "http://fs.tools.svc:3001/mcp"), { status: 403 }, "the Service on another port");
  assert.equal(reachFor(stamped, "mcp:tools/ip", "http://10.0.0.7:8080/mcp"), "stamped-ip");
  assert.throws(() => reachFor(stamped, "model", "https://api.openai.com:8443/v1"), { status: 403, message: /no route to api\.openai\.com:8443 for model \(stamped: api\.openai\.com:443\)/ });
  assert.throws(() => reachFor(stamped, "model", "http://169.254.169.254/latest"), { status: 403 });
  assert.throws(() => reachFor(stamped, "mcp:tools/fs", "https://api.openai.com/v1"), { status: 403 }, "another purpose's route is not this one's");
  assert.throws(() => reachFor(guardrails([]), "mcp:tools/fs", "http://fs.tools.svc:3000/mcp"), { status: 403, message: /stamped: none/ });
});

test("a host name reaches public addresses only; a Service anything but link-local and loopback", () => {
  assert.equal(whyUnreachable("93.184.216.34", "public"), undefined);
  assert.match(whyUnreachable("169.254.169.254", "public") ?? "", /not a public address/);
  assert.match(whyUnreachable("10.1.2.3", "public") ?? "", /not a public address/);
  assert.match(whyUnreachable("::1", "public") ?? "", /not a public address/);
  assert.equal(whyUnreachable("10.96.0.12", "in-cluster"), undefined);
  assert.match(whyUnreachable("169.254.169.254", "in-cluster") ?? "", /link-local/);
  assert.match(whyUnreachable("127.0.0.1", "in-cluster") ?? "", /loopback/);
  assert.equal(whyUnreachable("127.0.0.1", "stamped-ip"), undefined, "an IP the platform listed is reached as it is");
});

test("the guard holds at connection time: a name resolving to loopback is refused, the stamped IP is reached", async () => {
  const server = createServer((_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const fetch = guardedFetch();
  const init = { method: "GET", headers: {}, signal: new AbortController().signal };
  try {
    await assert.rejects(fetch(`http://localhost:${port}/`, init, "public"), { name: "CallRefused", status: 403, message: /localhost resolves to an address the run may not reach: .* is not a public address/ });
    await assert.rejects(fetch(`http://localhost:${port}/`, init, "in-cluster"), { status: 403, message: /loopback/ });
    const answer = await fetch(`http://127.0.0.1:${port}/`, init, "stamped-ip");
    assert.equal(answer.status, 200);
    await answer.body?.cancel();
  } finally {
    await fetch.close();
    server.close();
  }
});
