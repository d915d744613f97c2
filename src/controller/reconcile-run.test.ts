import { test } from "node:test";
import assert from "node:assert/strict";
import { snapshotConfig } from "./reconcile-run.ts";

test("snapshotConfig: the run executes the AgentConfig as it was admitted, in the run's namespace", () => {
  const config = snapshotConfig({ config: { name: "writer", spec: { systemPrompt: "as approved", preHooks: [{ pipelineRef: { name: "scan" } }] } }, modelConfig: null, toolServers: {} }, "qe");
  assert.deepEqual(config, { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "writer", namespace: "qe" }, spec: { systemPrompt: "as approved", preHooks: [{ pipelineRef: { name: "scan" } }] } });
});
