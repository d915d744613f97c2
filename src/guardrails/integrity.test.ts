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
  // each stamp on its own, changed and removed
  for (const key of [STAMP.createdBy, STAMP.policyRevision, STAMP.guardrails]) {
    const changed = checkStampsOnUpdate(run(spec, { ...stamped, [key]: "other" }, { [STAMP.configLabel]: "c" }), run(spec, stamped, { [STAMP.configLabel]: "c" }));
    assert.deepEqual(changed.map((x) => x.field), [`metadata.annotations["${key}"]`], `${key} changed`);
    const was = `was ${JSON.stringify(stamped[key])} and cannot be changed; `;
    assert.equal(changed[0]?.message.slice(0, was.length), was, `${key} changed`);
    const { [key]: _dropped, ...rest } = stamped;
    const removed = checkStampsOnUpdate(run(spec, rest, { [STAMP.configLabel]: "c" }), run(spec, stamped, { [STAMP.configLabel]: "c" }));
    assert.deepEqual(removed.map((x) => x.field), [`metadata.annotations["${key}"]`], `${key} removed`);
  }
  const unlabelled = checkStampsOnUpdate(run(spec, stamped), run(spec, stamped, { [STAMP.configLabel]: "c" }));
  assert.deepEqual(unlabelled.map((x) => x.field), [`metadata.labels["${STAMP.configLabel}"]`]);
  assert.deepEqual(checkStampsOnUpdate(run(spec, { ...stamped, unrelated: "x" }, { [STAMP.configLabel]: "c", other: "y" }), run(spec, stamped, { [STAMP.configLabel]: "c" })), [], "other metadata may change");
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

test("stamp-integrity on CREATE: a run missing only some stamps is told which, not that the webhook did not run", () => {
  const expected = { annotations: { [STAMP.createdBy]: "bob", [STAMP.policyRevision]: "r", [STAMP.guardrails]: "{}" }, labels: { [STAMP.configLabel]: "c" } };
  for (const key of [STAMP.createdBy, STAMP.guardrails]) {
    const { [key]: _dropped, ...rest } = expected.annotations;
    const v = checkStampsOnCreate(run(spec, rest, expected.labels), expected, "bob");
    assert.deepEqual(v.map((x) => x.field), [`metadata.annotations["${key}"]`], key);
    assert.doesNotMatch(v[0]?.message ?? "", /mutating webhook did not run/, key);
  }
});

test("run-immutable: the message says what changed, from what to what", () => {
  const v = checkRunImmutable(run({ ...spec, goal: "x".repeat(500), maxIterations: 9 }), run({ ...spec, maxIterations: 3 }));
  const goal = v.find((x) => x.field === "spec.goal");
  assert.match(goal?.message ?? "", /^changed from "g" to "x{70,}…, but an admitted AgentRun cannot be changed; the only allowed edit is spec\.status: Cancelled/);
  assert.ok((goal?.message.length ?? 0) < 300, "a long goal is cut short");
  assert.match(v.find((x) => x.field === "spec.maxIterations")?.message ?? "", /^changed from 3 to 9, /);
});

test("stamp-integrity on CREATE: wrong guardrails and revision say what was found and what agentgate computed", () => {
  const computed = JSON.stringify({ tokenBudget: 50000, timeout: "15m", maxIterations: 5 });
  const expected = { annotations: { [STAMP.createdBy]: "bob", [STAMP.policyRevision]: "default@1", [STAMP.guardrails]: computed }, labels: { [STAMP.configLabel]: "c" } };
  const got = { [STAMP.createdBy]: "bob", [STAMP.policyRevision]: "default@0", [STAMP.guardrails]: JSON.stringify({ tokenBudget: 9000000, timeout: "15m", maxIterations: 5 }) };
  const v = checkStampsOnCreate(run(spec, got, { [STAMP.configLabel]: "other" }), expected, "bob");
  const by = (field: string) => v.find((x) => x.field === field)?.message ?? "";
  assert.match(by(`metadata.annotations["${STAMP.guardrails}"]`), /^differs from what agentgate computed for this run in tokenBudget \(found 9000000, computed 50000\); .*remove it from your manifest$/);
  assert.match(by(`metadata.annotations["${STAMP.policyRevision}"]`), /^is "default@0" but the loaded policy bundles are at revision "default@1"; /);
  assert.match(by(`metadata.labels["${STAMP.configLabel}"]`), /^is "other" but must be "c" \(the run's spec\.configRef\.name\)/);
  const notJson = checkStampsOnCreate(run(spec, { ...got, [STAMP.guardrails]: "{oops" }, expected.labels), expected, "bob");
  assert.match(notJson.find((x) => x.field.includes("guardrails"))?.message ?? "", /^is "\{oops", which is not JSON; agentgate computed /);
});

test("stamp-integrity on CREATE: with no AgentConfig, every stamp present is refused and nothing else", () => {
  const r = run(spec, { [STAMP.createdBy]: "bob", unrelated: "x" }, { [STAMP.configLabel]: "c" });
  r.metadata = { ...r.metadata, namespace: "qe" };
  const v = checkStampsOnCreate(r, undefined, "bob");
  assert.deepEqual(v.map((x) => x.field), [`metadata.annotations["${STAMP.createdBy}"]`, `metadata.labels["${STAMP.configLabel}"]`]);
  assert.match(v[0]?.message ?? "", /^found "bob"; agentgate stamps nothing on this run because its AgentConfig "qe\/c" does not exist/);
  assert.deepEqual(checkStampsOnCreate(run(spec), undefined, "bob"), []);
});
