import { test } from "node:test";
import assert from "node:assert/strict";
import { runDeadline, runTimeoutMs } from "./reconcile-run.ts";

const HOUR = 3_600_000;

// The webhook's policy admits timeouts through OPA's time.parse_duration_ns,
// which knows d, w and y; the controller must read them the same way.
for (const [timeout, ms] of [
  ["15m", 15 * 60_000],
  ["1h30m", 1.5 * HOUR],
  ["1d", 24 * HOUR],
  ["2w", 14 * 24 * HOUR],
  ["1y", 365 * 24 * HOUR],
  ["1d12h", 36 * HOUR],
  ["1.5d", 36 * HOUR],
] as const) {
  test(`runTimeoutMs: ${timeout} is ${String(ms)} ms, as the policy read it`, () => assert.equal(runTimeoutMs(timeout), ms));
}

test("runTimeoutMs: a timeout neither parser reads falls back to 15 minutes", () => {
  assert.equal(runTimeoutMs("soon"), 15 * 60_000);
  assert.equal(runTimeoutMs(""), 15 * 60_000);
});

test("runDeadline: the timeout counts from startTime, and a run without one (waiting for approval) has no deadline yet", () => {
  assert.equal(runDeadline({ phase: "WaitingForApproval" }, "15m"), undefined);
  assert.equal(runDeadline(undefined, "15m"), undefined);
  assert.equal(runDeadline({ phase: "Acting", startTime: "2026-11-25T10:00:00Z" }, "1h"), Date.parse("2026-11-25T11:00:00Z"));
});
