import { test } from "node:test";
import assert from "node:assert/strict";
import type { AgentConfig, AgentRun, Guardrails } from "../types/agent.ts";
import { agentReady, kagentAgent } from "./kagent-agent.ts";

const run: AgentRun = { metadata: { name: "r1", namespace: "qe", uid: "u" } };
const config: AgentConfig = { metadata: { name: "writer", namespace: "qe" }, spec: { modelConfigRef: { name: "claude" }, systemPrompt: "be careful" } };
const guardrails = {
  tools: [
    { server: "kagent/tools", kind: "RemoteMCPServer", allowedTools: ["k8s_get_resources", "k8s_apply_manifest"], requireApproval: ["k8s_apply_manifest"] },
    { server: "qe/empty", kind: "RemoteMCPServer", allowedTools: [], requireApproval: [] },
  ],
} as unknown as Guardrails;

test("the Agent uses the config's model and prompt, the run's ServiceAccount, and only the stamped tools", () => {
  const agent = kagentAgent(run, config, guardrails);
  assert.equal(agent.metadata?.name, "r1-agent");
  assert.equal(agent.spec?.declarative?.modelConfig, "claude");
  assert.equal(agent.spec?.declarative?.systemMessage, "be careful");
  assert.equal(agent.spec?.declarative?.deployment?.serviceAccountName, "r1-sa");
  assert.deepEqual(agent.spec?.declarative?.tools, [
    { type: "McpServer", mcpServer: { apiGroup: "kagent.dev", kind: "RemoteMCPServer", name: "tools", namespace: "kagent", toolNames: ["k8s_get_resources", "k8s_apply_manifest"], requireApproval: ["k8s_apply_manifest"] } },
  ], "a server with no allowed tools is left out (empty means all tools in kagent)");
});

test("readiness is kagent's Ready condition", () => {
  assert.equal(agentReady(null).ready, false);
  assert.equal(agentReady({ status: { conditions: [{ type: "Ready", status: "False", message: "no model" }] } }).message, "no model");
  assert.equal(agentReady({ status: { conditions: [{ type: "Ready", status: "True" }] } }).ready, true);
});
