import { test } from "node:test";
import assert from "node:assert/strict";
import { HOST_BUILTINS, VOLATILE_BUILTINS } from "./builtins.ts";

test("every volatile builtin is one the host answers (a renamed one would leave a clock-reading policy memoized)", () => {
  for (const name of VOLATILE_BUILTINS) assert.ok(HOST_BUILTINS.has(name), name);
});

test("the clock is volatile; a pure builtin is not", () => {
  assert.ok(VOLATILE_BUILTINS.has("time.now_ns"));
  assert.ok(!VOLATILE_BUILTINS.has("time.parse_rfc3339_ns"));
});

test("loading the host does not load the SDK's builtin table (its yaml stays out of memory until a policy calls one of its builtins)", async () => {
  const { createRequire } = await import("node:module");
  await import("./index.ts");
  const loaded = Object.keys(createRequire(import.meta.url).cache);
  assert.deepEqual(loaded.filter((file) => file.includes("@open-policy-agent/opa-wasm")), []);
});
