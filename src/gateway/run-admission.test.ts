// goalInput on a stored AgentConfig of any shape: what fuzz/manifests.fuzz.ts
// found (review admits an AgentConfig with `toolServers: [null]`, and the
// run naming it then threw "Cannot read properties of null").
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AgentRun } from "../types/agent.ts";
import type { PolicyContext } from "../types/policy.ts";
import { goalInput } from "./run-admission.ts";

const run: AgentRun = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "r", namespace: "qe" }, spec: { configRef: { name: "writer" }, goal: "Write tests" } };

test("tool servers that are not objects name no tools; the others still do", () => {
  const context: PolicyContext = {
    namespace: null,
    modelConfig: null,
    toolServers: {},
    agentConfig: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "writer" }, spec: { toolServers: [null, "tools", 7, [], { allowedTools: ["k8s_get_resources", 1], requireApproval: ["k8s_get_resources"] }] } },
  };
  const input = goalInput(run, context, "qe");
  assert.deepEqual(input.requested_tools, ["k8s_get_resources"]);
  assert.deepEqual(input.require_approval, ["k8s_get_resources"]);
  assert.equal(input.config, "writer");
});
