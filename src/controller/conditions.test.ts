// The run's Succeeded condition and phase: which reasons end a run how, and
// when lastTransitionTime moves.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Condition } from "../types/kube.ts";
import { isTerminal, phaseFor, succeededCondition, type RunReason } from "./conditions.ts";

const FAILING: RunReason[] = ["PolicyDenied", "KagentNotInstalled", "ConfigNotFound", "PreHookFailed", "PostHookFailed", "TimedOut", "Cancelled", "BudgetExceeded", "AgentFailed"];

test("phaseFor: Succeeded succeeds, every failing reason fails", () => {
  assert.equal(phaseFor("Succeeded"), "Succeeded");
  for (const reason of FAILING) assert.equal(phaseFor(reason), "Failed", reason);
});

test("isTerminal: Succeeded and Failed only", () => {
  assert.equal(isTerminal({ phase: "Succeeded" }), true);
  assert.equal(isTerminal({ phase: "Failed" }), true);
  for (const phase of ["Pending", "WaitingForApproval", "PreHooks", "Acting", "PostHooks"] as const) assert.equal(isTerminal({ phase }), false, phase);
  assert.equal(isTerminal(undefined), false);
});

test("succeededCondition: other conditions are kept; the time moves only when status or reason changes", () => {
  const other: Condition = { type: "Ready", status: "True", reason: "X", message: "m", lastTransitionTime: "2020-01-01T00:00:00Z" };
  const old: Condition = { type: "Succeeded", status: "Unknown", reason: "Running", message: "acting", lastTransitionTime: "2020-01-01T00:00:00Z" };
  const same = succeededCondition("Unknown", "Running", "acting, 2 calls", [other, old]);
  assert.deepEqual(same, [other, { type: "Succeeded", status: "Unknown", reason: "Running", message: "acting, 2 calls", lastTransitionTime: "2020-01-01T00:00:00Z" }]);
  const before = Date.now();
  for (const [status, reason] of [["False", "Running"], ["Unknown", "WaitingForApproval"]] as const) {
    const moved = succeededCondition(status, reason, "m", [other, old]).find((c) => c.type === "Succeeded");
    assert.ok(Date.parse(moved?.lastTransitionTime ?? "") >= before - 1000 && moved?.lastTransitionTime !== old.lastTransitionTime, `${status}/${reason}`);
  }
  const first = succeededCondition("Unknown", "Pending", "m");
  assert.equal(first.length, 1);
  assert.ok(!Number.isNaN(Date.parse(first[0]?.lastTransitionTime ?? "")));
});
