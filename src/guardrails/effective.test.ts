import { test } from "node:test";
import assert from "node:assert/strict";
import type { AgentConfig, AgentRun, Guardrails } from "../types/agent.ts";
import type { PolicyContext } from "../types/policy.ts";
import { computeGuardrails, egressFor } from "./effective.ts";

const cases: [string, string, { host: string; port: number; service?: { namespace: string; name: string } } | undefined][] = [
  ["in-cluster name.namespace", "http://kagent-tools.kagent:8084/mcp", { host: "kagent-tools.kagent", port: 8084, service: { namespace: "kagent", name: "kagent-tools" } }],
  ["in-cluster .svc", "http://mcp.tools.svc/mcp", { host: "mcp.tools.svc", port: 80, service: { namespace: "tools", name: "mcp" } }],
  ["in-cluster fully qualified", "https://mcp.tools.svc.cluster.local:9443", { host: "mcp.tools.svc.cluster.local", port: 9443, service: { namespace: "tools", name: "mcp" } }],
  ["public host", "https://api.openai.com/v1", { host: "api.openai.com", port: 443 }],
  ["two-label public host", "https://openai.com", { host: "openai.com", port: 443 }],
  ["a public TLD the model-endpoint rule knows is public here too, not a Service", "https://llm.site", { host: "llm.site", port: 443 }],
  ["a private suffix is no namespace either", "https://llm.corp:8443", { host: "llm.corp", port: 8443 }],
  ["no scheme", "llm.example.com:8443", { host: "llm.example.com", port: 8443 }],
  ["garbage", "http://", undefined],
];

for (const [name, endpoint, want] of cases) {
  test(`egress for ${name}`, () => {
    const got = egressFor("p", endpoint);
    assert.deepEqual(got, want && { purpose: "p", ...want });
  });
}

// computeGuardrails: what is stamped on a run, field by field. Each row
// names the precedence or mapping it pins down.
const policyConfig = {
  budgets: { defaultTokenBudget: 100000, defaultTimeout: "15m", defaultMaxIterations: 5 },
  approval: { approverGroups: ["agent-approvers"] },
};
const runOf = (spec: Record<string, unknown> = {}): AgentRun => ({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "r", namespace: "qe" }, spec: { configRef: { name: "c" }, goal: "g", ...spec } });
const configOf = (spec: Record<string, unknown> = {}): AgentConfig => ({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "c", namespace: "qe" }, spec });
const contextOf = (over: Partial<PolicyContext> = {}): PolicyContext => ({ namespace: null, agentConfig: null, modelConfig: null, toolServers: {}, ...over });

const limitCases: { name: string; run: Record<string, unknown>; config: Record<string, unknown>; want: Pick<Guardrails, "tokenBudget" | "timeout" | "maxIterations"> }[] = [
  { name: "the run's overrides win", run: { tokenBudget: 1000, timeout: "2m", maxIterations: 2 }, config: { tokenBudget: 50000, timeout: "10m", maxIterations: 4 }, want: { tokenBudget: 1000, timeout: "2m", maxIterations: 2 } },
  { name: "the config's values without overrides", run: {}, config: { tokenBudget: 50000, timeout: "10m", maxIterations: 4 }, want: { tokenBudget: 50000, timeout: "10m", maxIterations: 4 } },
  { name: "the policy config's defaults without either", run: {}, config: {}, want: { tokenBudget: 100000, timeout: "15m", maxIterations: 5 } },
  { name: "values of the wrong type are not used", run: { tokenBudget: "1000", timeout: 5, maxIterations: Number.NaN }, config: { tokenBudget: 50000, timeout: "", maxIterations: 4 }, want: { tokenBudget: 50000, timeout: "15m", maxIterations: 4 } },
];

for (const c of limitCases) {
  test(`computeGuardrails limits: ${c.name}`, () => {
    const g = computeGuardrails(runOf(c.run), configOf(c.config), contextOf(), policyConfig);
    assert.deepEqual({ tokenBudget: g.tokenBudget, timeout: g.timeout, maxIterations: g.maxIterations }, c.want);
  });
}

test("computeGuardrails: networkPolicy is permissive only when the config says so", () => {
  assert.equal(computeGuardrails(runOf(), configOf({ networkPolicy: "permissive" }), contextOf(), policyConfig).networkPolicy, "permissive");
  assert.equal(computeGuardrails(runOf(), configOf({ networkPolicy: "strict" }), contextOf(), policyConfig).networkPolicy, "strict");
  assert.equal(computeGuardrails(runOf(), configOf({ networkPolicy: "open" }), contextOf(), policyConfig).networkPolicy, "strict");
  assert.equal(computeGuardrails(runOf(), configOf(), contextOf(), policyConfig).networkPolicy, "strict");
});

test("computeGuardrails: approval comes from the config, approver groups only among the policy config's, falling back to them", () => {
  const twoGroups = { ...policyConfig, approval: { approverGroups: ["agent-approvers", "team-leads", "system:authenticated"] } };
  const own = computeGuardrails(runOf(), configOf({ approval: { required: true, approverGroups: ["team-leads", "outsiders"] } }), contextOf(), twoGroups);
  assert.deepEqual(own.approval, { required: true, approverGroups: ["team-leads"] }, "a group the policy does not name is dropped");
  assert.deepEqual(computeGuardrails(runOf(), configOf({ approval: { required: true } }), contextOf(), twoGroups).approval.approverGroups, ["agent-approvers", "team-leads"], "never a system: group");
  const fallback = computeGuardrails(runOf(), configOf({ approval: { required: true, approverGroups: [] } }), contextOf(), policyConfig);
  assert.deepEqual(fallback.approval, { required: true, approverGroups: ["agent-approvers"] });
  assert.deepEqual(computeGuardrails(runOf(), configOf({ approval: { required: "yes" } }), contextOf(), policyConfig).approval, { required: false, approverGroups: ["agent-approvers"] });
});

test("computeGuardrails: egress for the model and each tool server, tools and rbac as the config lists them", () => {
  const config = configOf({
    rbac: { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }] },
    toolServers: [
      { ref: { name: "remote", namespace: "kagent" }, allowedTools: ["k8s_get_resources"], requireApproval: [] },
      { ref: { name: "kmcp", kind: "MCPServer" }, allowedTools: ["git_log"], requireApproval: ["git_log"] },
      { ref: { name: "plain", kind: "Service" }, allowedTools: ["search"] },
      { ref: { name: "gone", namespace: "kagent" }, allowedTools: ["x"] },
    ],
  });
  const context = contextOf({
    modelConfig: { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "m" }, spec: { provider: "OpenAI", model: "gpt-4o", openAI: { baseUrl: "https://llm.example.com:8443/v1" } } },
    toolServers: {
      "kagent/remote": { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "remote" }, spec: { url: "http://kagent-tools.kagent:8084/mcp" } },
      // kmcp keeps the port in spec.deployment.port; a Service's is kagent's annotation, else its only port, else appProtocol mcp
      "qe/kmcp": { apiVersion: "kagent.dev/v1alpha1", kind: "MCPServer", metadata: { name: "kmcp" }, spec: { deployment: { port: 3000 } } },
      "qe/plain": { apiVersion: "v1", kind: "Service", metadata: { name: "plain", annotations: { "kagent.dev/mcp-service-port": "9000" } }, spec: { ports: [{ port: 8088 }, { port: 9000 }] } },
      "kagent/gone": null,
    },
  });
  const g = computeGuardrails(runOf(), config, context, policyConfig);
  assert.deepEqual(g.egress, [
    { purpose: "model", host: "llm.example.com", port: 8443 },
    { purpose: "mcp:kagent/remote", host: "kagent-tools.kagent", port: 8084, service: { namespace: "kagent", name: "kagent-tools" } },
    { purpose: "mcp:qe/kmcp", host: "kmcp.qe.svc", port: 3000, service: { namespace: "qe", name: "kmcp" } },
    { purpose: "mcp:qe/plain", host: "plain.qe.svc", port: 9000, service: { namespace: "qe", name: "plain" } },
  ]);
  assert.deepEqual(g.tools, [
    { server: "kagent/remote", kind: "RemoteMCPServer", allowedTools: ["k8s_get_resources"], requireApproval: [] },
    { server: "qe/kmcp", kind: "MCPServer", allowedTools: ["git_log"], requireApproval: ["git_log"] },
    { server: "qe/plain", kind: "Service", allowedTools: ["search"], requireApproval: [] },
    { server: "kagent/gone", kind: "RemoteMCPServer", allowedTools: ["x"], requireApproval: [] },
  ]);
  assert.deepEqual(g.rbac, [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }]);
});

test("computeGuardrails: a provider without a base URL gets its well-known endpoint, an unknown one none", () => {
  const model = (spec: Record<string, unknown>) => contextOf({ modelConfig: { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "m" }, spec } });
  assert.deepEqual(computeGuardrails(runOf(), configOf(), model({ provider: "Anthropic", model: "claude-x" }), policyConfig).egress, [{ purpose: "model", host: "api.anthropic.com", port: 443 }]);
  assert.deepEqual(computeGuardrails(runOf(), configOf(), model({ provider: "Ollama", model: "llama" }), policyConfig).egress, []);
  assert.deepEqual(computeGuardrails(runOf(), configOf(), contextOf(), policyConfig).egress, []);
});

test("computeGuardrails: limits are clamped to today's maxima (a config stored before a limit was lowered)", () => {
  const capped = { budgets: { ...policyConfig.budgets, maxTokenBudget: 500, maxTimeout: "2m", maxIterations: 2 } };
  const g = computeGuardrails(runOf(), configOf({ tokenBudget: 50000, timeout: "1h", maxIterations: 9 }), contextOf(), capped);
  assert.deepEqual([g.tokenBudget, g.timeout, g.maxIterations], [500, "2m", 2]);
  const under = computeGuardrails(runOf(), configOf({ tokenBudget: 100, timeout: "90s", maxIterations: 1 }), contextOf(), capped);
  assert.deepEqual([under.tokenBudget, under.timeout, under.maxIterations], [100, "90s", 1]);
});

test("computeGuardrails: the model's egress is the block spec.provider selects, never a decoy block; Vertex by location, Bedrock by region; SAP's token endpoint too", () => {
  const model = (spec: Record<string, unknown>) => contextOf({ modelConfig: { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "m" }, spec } });
  const egressOf = (spec: Record<string, unknown>) => computeGuardrails(runOf(), configOf(), model(spec), policyConfig).egress;
  assert.deepEqual(egressOf({ provider: "Anthropic", model: "claude-x", openAI: { baseUrl: "http://169.254.169.254" } }), [{ purpose: "model", host: "api.anthropic.com", port: 443 }]);
  assert.deepEqual(egressOf({ provider: "GeminiVertexAI", model: "g", geminiVertexAI: { projectID: "p", location: "europe-west4" } }), [{ purpose: "model", host: "europe-west4-aiplatform.googleapis.com", port: 443 }]);
  assert.deepEqual(egressOf({ provider: "Bedrock", model: "b", bedrock: { region: "eu-central-1" } }), [{ purpose: "model", host: "bedrock-runtime.eu-central-1.amazonaws.com", port: 443 }]);
  assert.deepEqual(egressOf({ provider: "SAPAICore", model: "s", sapAICore: { baseUrl: "https://api.ai.sap.example.com", authUrl: "https://auth.sap.example.com" } }), [
    { purpose: "model", host: "api.ai.sap.example.com", port: 443 },
    { purpose: "model-auth", host: "auth.sap.example.com", port: 443 },
  ]);
});

test("computeGuardrails: egress to the metadata service or the node is never stamped unless models.allowedEndpoints lists it, whatever profile admitted the config", () => {
  const model = (baseUrl: string) => contextOf({ modelConfig: { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "m", namespace: "qe" }, spec: { provider: "OpenAI", model: "gpt-4o", openAI: { baseUrl } } } });
  const hosts = (g: Guardrails) => g.egress.map((e) => `${e.host}:${String(e.port)}`);
  assert.deepEqual(hosts(computeGuardrails(runOf(), configOf(), model("http://169.254.169.254:80/v1"), policyConfig)), []);
  assert.deepEqual(hosts(computeGuardrails(runOf(), configOf(), model("http://127.0.0.1:8080/v1"), policyConfig)), []);
  assert.deepEqual(hosts(computeGuardrails(runOf(), configOf(), model("http://[::1]:8080/v1"), policyConfig)), []);
  const listed = { ...policyConfig, models: { allowedEndpoints: ["169.254.169.254:80"] } };
  assert.deepEqual(hosts(computeGuardrails(runOf(), configOf(), model("http://169.254.169.254:80/v1"), listed)), ["169.254.169.254:80"], "listed by the platform");
  assert.deepEqual(hosts(computeGuardrails(runOf(), configOf(), model("https://api.openai.com/v1"), policyConfig)), ["api.openai.com:443"], "a public host is kept");
});
