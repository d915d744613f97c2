import { test } from "node:test";
import assert from "node:assert/strict";
import type { AgentConfig, AgentRun, Guardrails } from "../types/agent.ts";
import type { Agent } from "../types/kagent.ts";
import type { AgentReadiness } from "./kagent-agent.ts";
import { agentReady, kagentAgent } from "./kagent-agent.ts";
import { agentPodLabels } from "./scope.ts";

const run: AgentRun = { metadata: { name: "r1", namespace: "qe", uid: "u" } };
const config: AgentConfig = { metadata: { name: "writer", namespace: "qe" }, spec: { modelConfigRef: { name: "claude" }, systemPrompt: "be careful" } };
const guardrails = {
  tools: [
    { server: "kagent/tools", kind: "RemoteMCPServer", allowedTools: ["k8s_get_resources", "k8s_apply_manifest"], requireApproval: ["k8s_apply_manifest"] },
    { server: "qe/empty", kind: "RemoteMCPServer", allowedTools: [], requireApproval: [] },
    { server: "qe/mcp", kind: "Service", allowedTools: ["query"], requireApproval: [] },
  ],
} as unknown as Guardrails;

test("the Agent uses the config's model and prompt, the ServiceAccount it is given, and only the stamped tools", () => {
  const agent = kagentAgent(run, config, guardrails, { serviceAccountName: "agentgate-run-r1" });
  assert.equal(agent.metadata?.name, "r1-agent");
  assert.equal(agent.metadata?.labels?.["agent.tekton.dev/config"], "writer");
  assert.equal(agent.metadata?.ownerReferences?.[0]?.uid, "u");
  assert.equal(agent.spec?.type, "Declarative");
  assert.equal(agent.spec?.declarative?.modelConfig, "claude");
  assert.equal(agent.spec?.declarative?.systemMessage, "be careful");
  assert.equal(agent.spec?.declarative?.deployment?.serviceAccountName, "agentgate-run-r1");
  assert.deepEqual(agent.spec?.declarative?.deployment?.labels, agentPodLabels(run));
  assert.deepEqual(agent.spec?.declarative?.tools, [
    { type: "McpServer", mcpServer: { apiGroup: "kagent.dev", kind: "RemoteMCPServer", name: "tools", namespace: "kagent", toolNames: ["k8s_get_resources", "k8s_apply_manifest"], requireApproval: ["k8s_apply_manifest"] } },
    { type: "McpServer", mcpServer: { apiGroup: "", kind: "Service", name: "mcp", namespace: "qe", toolNames: ["query"] } },
  ], "a server with no allowed tools is left out (empty means all tools in kagent)");
});

for (const c of [
  { name: "default: go, which honours tasks/cancel", opts: {}, want: "go" },
  { name: "go", opts: { runtime: "go" as const }, want: "go" },
  { name: "python, which refuses tasks/cancel", opts: { runtime: "python" as const }, want: "python" },
]) {
  test(`the Agent's runtime is set explicitly (the CRD default is python in v0.9.x, go in v0.10): ${c.name}`, () => {
    assert.equal(kagentAgent(run, config, guardrails, c.opts).spec?.declarative?.runtime, c.want);
  });
}

const condition = (type: string, status: string, extra: Record<string, unknown> = {}) => ({ type, status, ...extra });
const agentWith = (conditions: ReturnType<typeof condition>[], generation?: number): Agent => ({ metadata: { name: "r1-agent", namespace: "qe", ...(generation !== undefined ? { generation } : {}) }, status: { conditions } });

const crossNamespace = "cross-namespace reference to RemoteMCPServer kagent/kagent-tool-server is not allowed from namespace qe";
const readinessCases: { name: string; agent: Agent | null; want: Partial<AgentReadiness> & { state: AgentReadiness["state"] } }[] = [
  { name: "no Agent yet", agent: null, want: { state: "waiting", ready: false } },
  { name: "no conditions yet", agent: agentWith([]), want: { state: "waiting", message: "waiting for kagent to report the Agent Ready" } },
  { name: "Ready True", agent: agentWith([condition("Accepted", "True", { reason: "Reconciled" }), condition("Ready", "True", { reason: "DeploymentReady", message: "Deployment is ready" })]), want: { state: "ready", ready: true } },
  { name: "Ready False: kagent's message", agent: agentWith([condition("Accepted", "True"), condition("Ready", "False", { reason: "DeploymentNotReady", message: "Deployment is not ready, 0/1 pods are ready" })]), want: { state: "waiting", message: "Deployment is not ready, 0/1 pods are ready" } },
  // kagent's short-circuit || can leave Ready unwritten in the pass that set Accepted
  { name: "Accepted True, Ready not written yet", agent: agentWith([condition("Accepted", "True")]), want: { state: "waiting", message: "kagent accepted the Agent; waiting for it to report the Agent Ready" } },
  {
    name: "Accepted False with Ready absent: refused at once with kagent's message",
    agent: agentWith([condition("Accepted", "False", { reason: "ReconcileFailed", message: crossNamespace })]),
    want: { state: "refused", ready: false, reason: "ReconcileFailed", message: `kagent did not accept the Agent (ReconcileFailed): ${crossNamespace}` },
  },
  {
    name: "Accepted False while Ready is still True from an earlier pass: refused, not ready",
    agent: agentWith([condition("Accepted", "False", { reason: "ReconcileFailed", message: crossNamespace, observedGeneration: 2 }), condition("Ready", "True", { reason: "DeploymentReady", observedGeneration: 2 })], 2),
    want: { state: "refused", ready: false, reason: "ReconcileFailed" },
  },
  {
    name: "Accepted False for an older generation: not trusted, still waiting",
    agent: agentWith([condition("Accepted", "False", { reason: "ReconcileFailed", message: crossNamespace, observedGeneration: 1 })], 2),
    want: { state: "waiting", ready: false },
  },
];

for (const c of readinessCases) {
  test(`agentReady: ${c.name}`, () => {
    const got = agentReady(c.agent);
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual((got as Record<string, unknown>)[k], v, `${k}: ${JSON.stringify(got)}`);
  });
}

test("through the run-time gateway the Agent is given the run's own ModelConfig and a RemoteMCPServer of the run's per tool server, with the same tools and approvals", () => {
  const route = { modelConfig: "r1-model", toolServers: new Map([["kagent/tools", "r1-tools-0"], ["qe/mcp", "r1-tools-1"]]) };
  const agent = kagentAgent(run, config, guardrails, { serviceAccountName: "agentgate-run-r1", route });
  assert.equal(agent.spec?.declarative?.modelConfig, "r1-model");
  assert.deepEqual(agent.spec?.declarative?.tools, [
    { type: "McpServer", mcpServer: { apiGroup: "kagent.dev", kind: "RemoteMCPServer", name: "r1-tools-0", namespace: "qe", toolNames: ["k8s_get_resources", "k8s_apply_manifest"], requireApproval: ["k8s_apply_manifest"] } },
    { type: "McpServer", mcpServer: { apiGroup: "kagent.dev", kind: "RemoteMCPServer", name: "r1-tools-1", namespace: "qe", toolNames: ["query"] } },
  ]);
});
