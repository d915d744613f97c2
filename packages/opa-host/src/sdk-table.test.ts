// What agentgate borrows from the opa-wasm SDK (its JavaScript builtins for
// the names agentgate has no own version of), pinned: an SDK upgrade that
// changes them fails here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SDK_BUILTIN_NAMES, sdkBuiltins } from "./sdk-table.ts";
import { AGENTGATE_BUILTINS, HOST_BUILTINS, SDK_FALLBACK_NAMES, sdkFallback } from "./builtins.ts";

test("the SDK's builtin table holds exactly the names agentgate was checked against", () => {
  assert.deepEqual([...sdkBuiltins().keys()].sort(), [...SDK_BUILTIN_NAMES].sort());
  assert.deepEqual([...SDK_BUILTIN_NAMES].sort(), ["json.is_valid", "regex.split", "sprintf", "yaml.is_valid", "yaml.marshal", "yaml.unmarshal"]);
});

test("agentgate's own builtins win over the SDK's: sprintf and regex.split (JavaScript's RegExp there) are not borrowed", () => {
  for (const name of ["sprintf", "regex.split"]) {
    assert.ok(AGENTGATE_BUILTINS.has(name), name);
    assert.equal(SDK_FALLBACK_NAMES.has(name), false, name);
    assert.equal(sdkFallback(name), undefined, name);
  }
  assert.ok(HOST_BUILTINS.has("sprintf") && HOST_BUILTINS.has("units.parse_bytes") && HOST_BUILTINS.has("regex.split"));
  assert.deepEqual([...SDK_FALLBACK_NAMES].sort(), ["json.is_valid"]);
  assert.equal(sdkFallback("json.is_valid"), sdkBuiltins().get("json.is_valid"));
});
