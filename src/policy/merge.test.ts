import { test } from "node:test";
import assert from "node:assert/strict";
import { fillDefaults, mergeOverride } from "./merge.ts";

test("fillDefaults fills what is missing and never overwrites what the user set", () => {
  const object = { spec: { tokenBudget: 5, networkPolicy: "permissive" }, metadata: { name: "a" } };
  const out = fillDefaults(object, { spec: { tokenBudget: 100, timeout: "15m", networkPolicy: "strict" } });
  assert.deepEqual(out, { spec: { tokenBudget: 5, networkPolicy: "permissive", timeout: "15m" }, metadata: { name: "a" } });
  assert.deepEqual(object.spec, { tokenBudget: 5, networkPolicy: "permissive" }, "input not mutated");
});

test("fillDefaults creates missing parents and keeps a user's falsy values", () => {
  assert.deepEqual(fillDefaults({ metadata: {} }, { spec: { a: 1 } }), { metadata: {}, spec: { a: 1 } });
  assert.deepEqual(fillDefaults({ spec: { a: 0, b: false, c: "" } }, { spec: { a: 1, b: true, c: "x" } }), { spec: { a: 0, b: false, c: "" } });
});

test("mergeOverride: the override wins, objects merge, lists replace", () => {
  const base = { budgets: { maxTokenBudget: 500000, defaultTimeout: "15m" }, models: { allowed: [{ provider: "A" }, { provider: "B" }] } };
  const out = mergeOverride(base, { budgets: { maxTokenBudget: 1000 }, models: { allowed: [{ provider: "C" }] } });
  assert.deepEqual(out, { budgets: { maxTokenBudget: 1000, defaultTimeout: "15m" }, models: { allowed: [{ provider: "C" }] } });
});
