import { test } from "node:test";
import assert from "node:assert/strict";
import { STAMP, type AgentRun } from "../types/agent.ts";
import { checkRunImmutable, checkStampsOnCreate, checkStampsOnUpdate } from "./integrity.ts";

function run(spec: AgentRun["spec"], annotations: Record<string, string> = {}, labels: Record<string, string> = {}): AgentRun {
  return { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "r", annotations, labels }, spec };
}

const spec = { configRef: { name: "c" }, goal: "g" };

test("run-immutable: cancelling is the one allowed edit", () => {
  assert.deepEqual(checkRunImmutable(run({ ...spec, status: "Cancelled" }), run(spec)), []);
});

test("run-immutable: a changed goal or budget is denied, field by field", () => {
  const v = checkRunImmutable(run({ ...spec, goal: "other", tokenBudget: 9 }), run(spec));
  assert.deepEqual(v.map((x) => x.field), ["spec.goal", "spec.tokenBudget"]);
  assert.ok(v.every((x) => x.policy === "run-immutable"));
});

test("run-immutable: a cancelled run cannot be resumed", () => {
  const v = checkRunImmutable(run({ ...spec, status: "" }), run({ ...spec, status: "Cancelled" }));
  assert.equal(v[0]?.field, "spec.status");
  assert.match(v[0].message, /from "Cancelled" to ""/);
});

test("stamp-integrity on UPDATE: every stamp is frozen", () => {
  const stamped = { [STAMP.createdBy]: "alice", [STAMP.policyRevision]: "default@1", [STAMP.guardrails]: "{}" };
  const v = checkStampsOnUpdate(run(spec, { ...stamped, [STAMP.guardrails]: '{"tokenBudget":1}' }, { [STAMP.configLabel]: "x" }), run(spec, stamped, { [STAMP.configLabel]: "c" }));
  assert.deepEqual(v.map((x) => x.field).sort(), [`metadata.annotations["${STAMP.guardrails}"]`, `metadata.labels["${STAMP.configLabel}"]`]);
});

test("stamp-integrity on CREATE: a forged creator is caught", () => {
  const expected = { annotations: { [STAMP.createdBy]: "bob", [STAMP.policyRevision]: "r", [STAMP.guardrails]: "{}" }, labels: { [STAMP.configLabel]: "c" } };
  const v = checkStampsOnCreate(run(spec, { ...expected.annotations, [STAMP.createdBy]: "alice" }, expected.labels), expected, "bob");
  assert.equal(v.length, 1);
  assert.match(v[0]?.message ?? "", /is "alice" but the request comes from "bob"/);
  assert.deepEqual(checkStampsOnCreate(run(spec, expected.annotations, expected.labels), expected, "bob"), []);
});

test("stamp-integrity on CREATE: a run the mutating webhook never saw is refused", () => {
  const expected = { annotations: { [STAMP.createdBy]: "bob" }, labels: {} };
  assert.match(checkStampsOnCreate(run(spec), expected, "bob")[0]?.message ?? "", /mutating webhook did not run/);
});
