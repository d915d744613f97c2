import { test } from "node:test";
import assert from "node:assert/strict";
import { generateSigningKey, type SigningKey } from "./keys.ts";
import { newestKey, planKeys } from "./rotation.ts";

const DAY = 86_400_000;
const policy = { rotateAfterMs: 30 * DAY, retainMs: 90 * DAY };
let made = 0;
const make = (now: number): SigningKey => ({ ...generateSigningKey(now), kid: `k${String(++made)}` });
const at = (day: number): SigningKey => ({ ...generateSigningKey(day * DAY), kid: `d${String(day)}` });

test("no key: one is made", () => {
  const { keys, changed } = planKeys([], 5 * DAY, policy, make);
  assert.equal(changed, true);
  assert.equal(keys.length, 1);
  assert.equal(keys[0]?.createdAt, 5 * DAY);
});

test("a young key is kept as it is", () => {
  const k = at(0);
  assert.deepEqual(planKeys([k], 29 * DAY, policy, make), { keys: [k], changed: false });
});

test("a key as old as rotateAfter is replaced, and still verifies", () => {
  const k = at(0);
  const { keys, changed } = planKeys([k], 30 * DAY, policy, make);
  assert.equal(changed, true);
  assert.equal(newestKey(keys)?.createdAt, 30 * DAY);
  assert.ok(keys.includes(k), "the replaced key stays for verification");
});

test("a replaced key goes retainMs after its successor was made, not after its own birth", () => {
  const slow = { rotateAfterMs: 1000 * DAY, retainMs: 90 * DAY };
  const old = at(0);
  const next = at(60);
  assert.deepEqual(planKeys([old, next], 149 * DAY, slow, make), { keys: [next, old], changed: false });
  const later = planKeys([old, next], 150 * DAY, slow, make);
  assert.equal(later.changed, true);
  assert.ok(!later.keys.includes(old));
});

test("the newest key is never dropped, however old", () => {
  const { keys } = planKeys([at(0)], 1000 * DAY, policy, make);
  assert.equal(keys.length, 2);
  assert.equal(newestKey(keys)?.createdAt, 1000 * DAY);
});
