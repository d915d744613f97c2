import { test } from "node:test";
import assert from "node:assert/strict";
import { nextDriftCheck } from "./config-drift.ts";

test("nextDriftCheck: the first check is due at once, then every period, and a pass between waits only what is left", () => {
  assert.deepEqual(nextDriftCheck(1_000, undefined, 15_000), { due: true });
  assert.deepEqual(nextDriftCheck(10_000, 1_000, 15_000), { due: false, waitMs: 6_000 }, "a reconcile inside the period is requeued for the rest of it, so no check is lost");
  assert.deepEqual(nextDriftCheck(16_000, 1_000, 15_000), { due: true });
  assert.deepEqual(nextDriftCheck(30_000, 1_000, 15_000), { due: true });
});
