import { test } from "node:test";
import assert from "node:assert/strict";
import type { CustomRun } from "../types/tekton.ts";
import { agentRunFor, isAgentRunCustomRun } from "./customrun.ts";

const cr = (params: { name: string; value: unknown }[], timeout?: string): CustomRun => ({
  apiVersion: "tekton.dev/v1beta1",
  kind: "CustomRun",
  metadata: { name: "pr-1-agent", namespace: "qe", uid: "cr-uid", labels: { "tekton.dev/pipelineRun": "pr-1" } },
  spec: { customRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" }, params, ...(timeout ? { timeout } : {}) },
});

test("a CustomRun for AgentRun becomes an AgentRun it owns", () => {
  const out = agentRunFor(cr([{ name: "configRef", value: "writer" }, { name: "goal", value: "write tests" }, { name: "hints", value: ["a", "b"] }], "10m"));
  assert.ok("run" in out);
  assert.deepEqual(out.run.spec, { configRef: { name: "writer" }, goal: "write tests", context: { hints: ["a", "b"] }, timeout: "10m" });
  assert.deepEqual(out.run.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]), [["CustomRun", "pr-1-agent", "cr-uid", true]]);
  assert.equal(out.run.metadata?.labels?.["tekton.dev/pipelineRun"], "pr-1");
});

for (const [name, params, error] of [
  ["no configRef", [{ name: "goal", value: "g" }], /configRef/],
  ["no goal", [{ name: "configRef", value: "c" }], /goal/],
] as const) {
  test(`a CustomRun with ${name} is refused with why`, () => {
    const out = agentRunFor(cr([...params]));
    assert.ok("error" in out);
    assert.match(out.error, error);
  });
}

test("hints given as a JSON string or lines are accepted", () => {
  const a = agentRunFor(cr([{ name: "configRef", value: "c" }, { name: "goal", value: "g" }, { name: "hints", value: '["x","y"]' }]));
  const b = agentRunFor(cr([{ name: "configRef", value: "c" }, { name: "goal", value: "g" }, { name: "hints", value: "x\ny\n" }]));
  assert.ok("run" in a && "run" in b);
  assert.deepEqual(a.run.spec?.context?.hints, ["x", "y"]);
  assert.deepEqual(b.run.spec?.context?.hints, ["x", "y"]);
});

test("only CustomRuns referencing AgentRun are ours", () => {
  assert.equal(isAgentRunCustomRun(cr([])), true);
  assert.equal(isAgentRunCustomRun({ spec: { customRef: { apiVersion: "example.dev/v1", kind: "Wait" } } }), false);
});
