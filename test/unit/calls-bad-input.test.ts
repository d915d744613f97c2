// The run-time gateway's answers to malformed and hostile requests, in one
// process: the call server (src/calls/server.ts) in front of the MCP SDK's
// server and the stand-in model API. Identity is a fixed TokenReview
// answer here (test/e2e/calls.test.ts has the API server's own); everything
// after it is the gateway's real path. Each refusal is one clear line, and
// nothing refused reaches the tool server or the provider.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { CALLS_AUDIENCE } from "../../src/calls/caller.ts";
import { guardedFetch } from "../../src/calls/egress.ts";
import { emptyLedger, Ledger, MemoryLedgerStore } from "../../src/calls/ledger.ts";
import { RunRecords } from "../../src/calls/run-record.ts";
import { createCallServer } from "../../src/calls/server.ts";
import { StaticLookup } from "../../src/context/static-lookup.ts";
import { egressFor } from "../../src/guardrails/effective.ts";
import { specSha256, toolServerSha256 } from "../../src/guardrails/snapshot.ts";
import { logger } from "../../src/log.ts";
import { generateSigningKey } from "../../src/signing/keys.ts";
import { staticKeyring } from "../../src/signing/keyring.ts";
import type { AgentRun, Guardrails } from "../../src/types/agent.ts";
import type { KubeObject } from "../../src/types/kube.ts";
import { startModelApi, type ModelApi } from "../support/model-api.ts";
import { startToolServer, type ToolServer } from "../support/mcp-tool-server.ts";
import { stampedRun } from "../support/stamps.ts";

let tools: ToolServer;
let model: ModelApi;
let server: Server;
let base = "";

const upstreams = guardedFetch();

before(async () => {
  logger.level = "error";
  tools = await startToolServer();
  model = await startModelApi();
  const remote: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "fs", namespace: "tools" }, spec: { url: tools.url } };
  const modelConfig: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "gpt", namespace: "ci" }, spec: { provider: "OpenAI", model: "gpt-4o", openAI: { baseUrl: model.baseUrl } } };
  // The routes a platform that listed these loopback endpoints would stamp.
  const egress = [egressFor("mcp:tools/fs", tools.url), egressFor("model", model.baseUrl)].filter((e) => e !== undefined);
  const guardrails: Guardrails = { tokenBudget: 10_000, timeout: "10m", maxIterations: 5, networkPolicy: "strict", egress, rbac: [], approval: { required: false, approverGroups: [] }, tools: [{ server: "tools/fs", kind: "RemoteMCPServer", allowedTools: ["read_file"], requireApproval: [] }] };
  const key = generateSigningKey();
  const run: AgentRun = {
    ...(await stampedRun({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "r1", namespace: "ci", uid: "u1" }, spec: { configRef: { name: "writer" }, goal: "g" } }, { metadata: { name: "writer", namespace: "ci" }, spec: {} }, guardrails, key, "alice", {
      modelConfig: { namespace: "ci", name: "gpt", sha256: specSha256(modelConfig) },
      toolServers: { "tools/fs": { kind: "RemoteMCPServer", sha256: toolServerSha256("RemoteMCPServer", remote) } },
    })),
    status: { phase: "Acting" },
  };
  const ledger = new Ledger(new MemoryLedgerStore());
  await ledger.store.open(emptyLedger({ namespace: "ci", name: "r1", uid: "u1" }, guardrails.tokenBudget));
  server = createCallServer({
    engine: () => ({ toolCall: () => ({ violations: [], failures: [] }) }),
    review: (token) => Promise.resolve(token === "run-token" ? { authenticated: true, username: "system:serviceaccount:ci:agentgate-run-r1", audiences: [CALLS_AUDIENCE] } : { authenticated: false, username: "", audiences: [] }),
    runs: new RunRecords(() => Promise.resolve(run), staticKeyring(key).resolve),
    pods: (r, ip) => Promise.resolve(r.name === "r1" && ip === "127.0.0.1"),
    ledger,
    lookup: new StaticLookup([remote, modelConfig]),
    secret: () => Promise.resolve(undefined),
    configMap: () => Promise.resolve(undefined),
    fetch: upstreams,
    log: logger,
    now: Date.now,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/runs/ci/r1`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await upstreams.close();
  await tools.close();
  await model.close();
});

const mcp = (body: string | Buffer, headers: Record<string, string> = {}) =>
  fetch(`${base}/mcp/tools/fs`, { method: "POST", headers: { authorization: "Bearer run-token", "content-type": "application/json", accept: "application/json, text/event-stream", ...headers }, body });
const chat = (body: string, path = "chat/completions") => fetch(`${base}/model/${path}`, { method: "POST", headers: { authorization: "Bearer run-token", "content-type": "application/json" }, body });

const cases: { name: string; send: () => Promise<Response>; status: number; says: RegExp }[] = [
  { name: "no route", send: () => fetch(`${base.replace("/v1/runs/ci/r1", "")}/admin`, { headers: { authorization: "Bearer run-token" } }), status: 404, says: /not a run-time gateway path/ },
  { name: "a token the API server does not know", send: () => fetch(`${base}/mcp/tools/fs`, { method: "POST", headers: { authorization: "Bearer forged" }, body: "{}" }), status: 401, says: /not valid/ },
  { name: "MCP: a body that is not JSON", send: () => mcp("{ not json"), status: 400, says: /"code":-32700.*not JSON/ },
  { name: "MCP: binary garbage", send: () => mcp(Buffer.from([0xff, 0x00, 0xfe, 0x7b])), status: 400, says: /not JSON/ },
  { name: "MCP: a batch", send: () => mcp(JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "read_file", arguments: { path: "src/refund.py" } } }])), status: 400, says: /batches are not forwarded/ },
  { name: "MCP: JSON that is no JSON-RPC message", send: () => mcp(JSON.stringify({ method: "tools/call" })), status: 400, says: /not a JSON-RPC 2\.0/ },
  { name: "MCP: a method outside lifecycle and tools", send: () => mcp(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "resources/read", params: { uri: "file:///etc/passwd" } })), status: 200, says: /"code":-32601.*method \\"resources\/read\\" is not forwarded/ },
  { name: "MCP: a body over 4 MiB", send: () => mcp(JSON.stringify({ jsonrpc: "2.0", id: 3, method: "ping", params: { pad: "x".repeat(5 * 1024 * 1024) } })), status: 413, says: /over the limit of 4194304 bytes/ },
  { name: "MCP: PUT", send: () => fetch(`${base}/mcp/tools/fs`, { method: "PUT", headers: { authorization: "Bearer run-token" }, body: "{}" }), status: 405, says: /POST, GET or DELETE/ },
  { name: "model: an endpoint that is not metered", send: () => chat("{}", "embeddings"), status: 404, says: /only POST chat\/completions is forwarded/ },
  { name: "model: a body that is not JSON", send: () => chat("nope"), status: 400, says: /agentgate: the request body is not JSON/ },
  { name: "model: a JSON array", send: () => chat("[]"), status: 400, says: /not a JSON object/ },
  { name: "model: n choices, each of which would get the whole grant", send: () => chat(JSON.stringify({ model: "gpt-4o", n: 8, messages: [] })), status: 400, says: /n = 8: only one choice per call is forwarded/ },
];

for (const c of cases) {
  test(`${c.name}: ${c.status}, one line, nothing forwarded`, async () => {
    const toolCalls = tools.calls.length;
    const modelCalls = model.requests.length;
    const res = await c.send();
    const text = await res.text();
    assert.equal(res.status, c.status, text);
    assert.match(text, c.says);
    assert.ok(!text.includes("\n"), "one line");
    assert.equal(tools.calls.length, toolCalls);
    assert.equal(model.requests.length, modelCalls);
  });
}

test("after every refusal the gateway still forwards a good call", async () => {
  const res = await mcp(JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "read_file", arguments: { path: "src/refund.py" } } }));
  assert.equal(res.status, 200);
  assert.match(await res.text(), /def refund/);
  assert.equal(tools.calls.at(-1)?.tool, "read_file");
});

test("a message is forwarded as agentgate parsed it: duplicate keys reach the server as the one the gateway judged", async () => {
  const before = tools.bodies.length;
  // JSON.parse keeps the last "name"; a server whose parser keeps the first would call delete_repo.
  const raw = '{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"delete_repo","name":"read_file","arguments":{"path":"src/refund.py","confirm":true}}}';
  const res = await mcp(raw);
  assert.equal(res.status, 200);
  const forwarded = tools.bodies.slice(before);
  assert.equal(forwarded.length, 1);
  assert.doesNotMatch(forwarded[0] ?? "", /delete_repo/, "the bytes the server got name only the tool that was judged");
});
