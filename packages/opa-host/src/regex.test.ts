// The compiled-pattern cache of regex.ts: bounded, least recently used out
// first, and an invalid pattern stays an error when it comes from the cache.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CACHE_SIZE, REDIRECTED_REGEX_BUILTINS, REGEX_BUILTINS, cachedPatterns } from "./regex.ts";

const match = REDIRECTED_REGEX_BUILTINS["regex.match"];
const split = REGEX_BUILTINS["regex.split"];

test("at most CACHE_SIZE patterns are kept, the least recently used dropped first", () => {
  assert.ok(match && split);
  for (let i = 0; i < CACHE_SIZE; i++) match(`^p${String(i)}$`, "p1");
  // A hit makes p0 the most recently used; the next miss drops p1, not p0.
  assert.deepEqual(split("^p0$", "p0"), ["", ""]);
  match("^new$", "x");
  const kept = cachedPatterns();
  assert.equal(kept.length, CACHE_SIZE);
  assert.ok(kept.includes("^p0$") && kept.includes("^new$"));
  assert.equal(kept.includes("^p1$"), false);
  assert.equal(kept.at(-1), "^new$");
  for (let i = 0; i < 3 * CACHE_SIZE; i++) match(`^q${String(i)}$`, "q");
  assert.equal(cachedPatterns().length, CACHE_SIZE);
});

test("an invalid pattern is Go's error on every call, the cached one included", () => {
  assert.ok(match);
  for (let i = 0; i < 2; i++) assert.throws(() => match("a[", "x"), /^BuiltinError: regex\.match: error parsing regexp: missing closing \]: `\[`$/);
  assert.ok(cachedPatterns().includes("a["));
});
