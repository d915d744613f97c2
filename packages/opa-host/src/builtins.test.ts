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

// Every host builtin, reviewed as a function of its operands alone. A new
// one fails here until it is classified: into VOLATILE_BUILTINS if its
// answer can change between two evaluations of one input (a clock, a
// random number, a network), else into this list. The engine reuses
// outcomes of bundles that call none of the volatile ones.
const REVIEWED_PURE = [
  "base64url.encode_no_pad", "crypto.hmac.equal", "crypto.hmac.md5", "crypto.hmac.sha1", "crypto.hmac.sha256", "crypto.hmac.sha512", "crypto.md5", "crypto.sha1", "crypto.sha256",
  "glob.quote_meta", "hex.decode", "hex.encode", "indexof_n", "json.is_valid", "json.marshal_with_options",
  "net.cidr_contains_matches", "net.cidr_expand", "net.cidr_is_valid", "net.cidr_merge", "numbers.range_step", "object.subset",
  "regex.find_n", "regex.globs_match", "regex.replace", "regex.split", "regex.template_match", "semver.compare", "semver.is_valid", "sprintf",
  "strings.any_prefix_match", "strings.any_suffix_match", "strings.count", "strings.split_n",
  "time.add_date", "time.clock", "time.date", "time.diff", "time.format", "time.parse_duration_ns", "time.parse_rfc3339_ns", "time.weekday",
  "trace", "units.parse", "units.parse_bytes", "uri.is_valid", "uri.parse", "urlquery.decode", "urlquery.decode_object", "urlquery.encode", "urlquery.encode_object",
  "yaml.is_valid", "yaml.marshal", "yaml.unmarshal",
];

test("every host builtin is classified: volatile, or reviewed as pure", () => {
  const unclassified = [...HOST_BUILTINS].filter((name) => !VOLATILE_BUILTINS.has(name) && !REVIEWED_PURE.includes(name)).sort();
  assert.deepEqual(unclassified, [], "classify each: VOLATILE_BUILTINS if its answer can change between two evaluations of one input, else REVIEWED_PURE here");
  for (const name of REVIEWED_PURE) assert.ok(HOST_BUILTINS.has(name) && !VOLATILE_BUILTINS.has(name), name);
});
