import { test } from "node:test";
import assert from "node:assert/strict";
import { runTimeoutMs, waitRequeueMs } from "./reconcile-run.ts";

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

test("waitRequeueMs: a wait longer than setTimeout can hold is capped, not fired at once", () => {
  const now = 1_000_000;
  assert.equal(waitRequeueMs(now + 30 * 24 * HOUR, now), 2 ** 31 - 1);
  assert.equal(waitRequeueMs(now + 5000, now), 5000);
  assert.equal(waitRequeueMs(now - 5000, now), 1000);
});
