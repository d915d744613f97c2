// What agentgate borrows from the opa-wasm SDK, pinned: an SDK upgrade that
// changes its JavaScript builtins or LoadedPolicy's contract fails here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { SDK_BUILTINS } from "./sdk-table.ts";
import { AGENTGATE_BUILTINS, HOST_BUILTINS, SDK_FALLBACK_BUILTINS } from "./index.ts";

const require = createRequire(import.meta.url);

test("the SDK's builtin table holds exactly the names agentgate was checked against", () => {
  assert.deepEqual([...SDK_BUILTINS.keys()].sort(), ["json.is_valid", "regex.split", "sprintf", "yaml.is_valid", "yaml.marshal", "yaml.unmarshal"]);
});

test("agentgate's own builtins win over the SDK's: sprintf is not borrowed", () => {
  assert.ok(AGENTGATE_BUILTINS.has("sprintf"));
  assert.equal(SDK_FALLBACK_BUILTINS.has("sprintf"), false);
  assert.ok(HOST_BUILTINS.has("sprintf") && HOST_BUILTINS.has("units.parse_bytes") && HOST_BUILTINS.has("regex.split"));
  assert.deepEqual([...SDK_FALLBACK_BUILTINS.keys()].sort(), ["json.is_valid", "regex.split"]);
});

test("the SDK still exports LoadedPolicy, constructed from an instance, a memory and the ABI minor version", () => {
  const sdk = require("@open-policy-agent/opa-wasm") as { LoadedPolicy?: unknown };
  assert.equal(typeof sdk.LoadedPolicy, "function");
  assert.equal((sdk.LoadedPolicy as (...args: unknown[]) => unknown).length, 3);
  const proto = (sdk.LoadedPolicy as { prototype: Record<string, unknown> }).prototype;
  assert.equal(typeof proto.evaluate, "function");
  assert.equal(typeof proto.setData, "function");
});
