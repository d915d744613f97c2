import { test } from "node:test";
import assert from "node:assert/strict";
import type { AgentRun, Guardrails, Snapshot } from "../types/agent.ts";
import type { ModelConfig } from "../types/kagent.ts";
import { agentRoute, callsSecret, routedModelConfig, routedObjects, routedToolServer, secretOfRoutedModel, tokenLifetimeSeconds, unroutable } from "./calls-route.ts";

const run: AgentRun = { metadata: { name: "r1", namespace: "qe", uid: "u-1" } };
const BASE = "http://agentgate.agentgate-system.svc:8444";
const guardrails = {
  networkPolicy: "strict",
  tools: [
    { server: "kagent/tools", kind: "RemoteMCPServer", allowedTools: ["k8s_get_resources"], requireApproval: [] },
    { server: "qe/none", kind: "RemoteMCPServer", allowedTools: [], requireApproval: [] },
    { server: "qe/mcp", kind: "Service", allowedTools: ["query"], requireApproval: [] },
  ],
} as unknown as Guardrails;
const snapshot: Snapshot = { config: { name: "writer", spec: {} }, modelConfig: { namespace: "qe", name: "gpt", sha256: "x" }, toolServers: {} };
const openai: ModelConfig = {
  metadata: { name: "gpt", namespace: "qe" },
  spec: { provider: "OpenAI", model: "gpt-4o", apiKeySecret: "openai-key", apiKeySecretKey: "key", tls: { disableVerify: true }, defaultHeaders: { "x-team": "qe" }, openAI: { baseUrl: "https://api.openai.com/v1", temperature: "0.2", maxTokens: 512, tokenExchange: { type: "GDCHServiceAccount" } } },
};

test("the route names the run's own ModelConfig and one RemoteMCPServer per tool server with an allowed tool", () => {
  const route = agentRoute(run, guardrails);
  assert.equal(route.modelConfig, "r1-model");
  assert.deepEqual([...route.toolServers], [["kagent/tools", "r1-tools-0"], ["qe/mcp", "r1-tools-1"]]);
});

test("the run's ModelConfig: same provider, model and settings; the gateway's path as base URL; the call token as key; no provider key, TLS, headers or token exchange", () => {
  const m = routedModelConfig(run, openai, "r1-calls-abcde", BASE);
  assert.equal(m.metadata?.name, "r1-model");
  assert.equal(m.metadata?.namespace, "qe");
  assert.equal(m.metadata?.labels?.["app.kubernetes.io/managed-by"], "agentgate");
  assert.equal(m.metadata?.ownerReferences?.[0]?.uid, "u-1");
  assert.deepEqual(m.spec, {
    provider: "OpenAI",
    model: "gpt-4o",
    apiKeySecret: "r1-calls-abcde",
    apiKeySecretKey: "token",
    openAI: { baseUrl: `${BASE}/v1/runs/qe/r1/model`, temperature: "0.2", maxTokens: 512 },
  });
  const claude = routedModelConfig(run, { spec: { provider: "Anthropic", model: "claude", anthropic: { baseUrl: "https://x", maxTokens: 9 } } }, "s", `${BASE}/`);
  assert.deepEqual(claude.spec?.anthropic, { baseUrl: `${BASE}/v1/runs/qe/r1/model`, maxTokens: 9 });
});

test("the run's RemoteMCPServer: streamable HTTP to the gateway's path for that server, the token as its Authorization header from the Secret", () => {
  const s = routedToolServer(run, "r1-tools-0", { key: "kagent/tools", kind: "RemoteMCPServer" }, "r1-calls-abcde", BASE);
  assert.equal(s.metadata?.name, "r1-tools-0");
  assert.equal(s.spec?.url, `${BASE}/v1/runs/qe/r1/mcp/kagent/tools`);
  assert.equal(s.spec?.protocol, "STREAMABLE_HTTP");
  assert.deepEqual(s.spec?.headersFrom, [{ name: "Authorization", valueFrom: { type: "Secret", name: "r1-calls-abcde", key: "authorization" } }]);
  assert.deepEqual(routedObjects(run, guardrails, openai, "s", BASE).map((o) => `${o.kind ?? ""}/${o.metadata?.name ?? ""}`), ["ModelConfig/r1-model", "RemoteMCPServer/r1-tools-0", "RemoteMCPServer/r1-tools-1"]);
});

test("the call Secret is created under a generated name, owned by the run, holding the token and its header", () => {
  const s = callsSecret(run, "tok");
  assert.equal(s.metadata?.name, undefined);
  assert.equal(s.metadata?.generateName, "r1-calls-");
  assert.equal(s.metadata?.ownerReferences?.[0]?.uid, "u-1");
  assert.equal(s.type, "Opaque");
  assert.deepEqual(s.stringData, { token: "tok", authorization: "Bearer tok" });
  assert.equal(secretOfRoutedModel(routedModelConfig(run, openai, "r1-calls-xyz12", BASE)), "r1-calls-xyz12");
  assert.equal(secretOfRoutedModel(null), undefined);
});

test("a run the gateway cannot carry is refused before its agent starts, saying why", () => {
  assert.equal(unroutable(guardrails, snapshot, "qe", openai), undefined);
  assert.match(unroutable(guardrails, { ...snapshot, modelConfig: null }, "qe", null) ?? "", /pins no ModelConfig/);
  assert.match(unroutable(guardrails, { ...snapshot, modelConfig: { namespace: "shared", name: "gpt", sha256: "x" } }, "qe", openai) ?? "", /not in the run's namespace qe/);
  assert.match(unroutable(guardrails, snapshot, "qe", null) ?? "", /no longer exists/);
  assert.match(unroutable(guardrails, snapshot, "qe", { spec: { provider: "Gemini", model: "g" } }) ?? "", /provider "Gemini"; the run-time gateway forwards and meters OpenAI and Anthropic only/);
  const kmcp = { networkPolicy: "strict", tools: [{ server: "tools/git", kind: "MCPServer", allowedTools: ["log"], requireApproval: [] }] } as unknown as Guardrails;
  assert.match(unroutable({ ...guardrails, networkPolicy: "permissive" }, snapshot, "qe", openai) ?? "", /networkPolicy: permissive, so its agent could reach its tool servers and endpoints around agentgate's run-time gateway/);
  assert.match(unroutable(kmcp, snapshot, "qe", openai) ?? "", /MCPServer tools\/git: the run-time gateway does not forward MCPServer/);
});

test("the call token outlives the run's timeout and the wait for kagent, and never lives under an hour", () => {
  assert.equal(tokenLifetimeSeconds(15 * 60_000, 10 * 60_000), 3600);
  assert.equal(tokenLifetimeSeconds(3 * 3600_000, 10 * 60_000), 3 * 3600 + 600 + 300);
});
