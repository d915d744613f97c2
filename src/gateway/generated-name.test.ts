import { test } from "node:test";
import assert from "node:assert/strict";
import { generatedName, withGeneratedName } from "./generated-name.ts";

test("a generateName object gets the prefix and five characters of the API server's alphabet", () => {
  const named = withGeneratedName({ apiVersion: "v1", kind: "X", metadata: { generateName: "nightly-" } });
  assert.match(named.metadata?.name ?? "", /^nightly-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  assert.equal(named.metadata?.generateName, "nightly-", "generateName is kept; the API server ignores it once a name is set");
});

test("an object with a name keeps it", () => {
  const object = { apiVersion: "v1", kind: "X", metadata: { name: "mine", generateName: "nightly-" } };
  assert.equal(withGeneratedName(object), object);
});

test("a long prefix is cut so the name stays within 63 characters", () => {
  const name = generatedName("a".repeat(80), () => 0);
  assert.equal(name.length, 63);
  assert.equal(name, `${"a".repeat(58)}bbbbb`);
});
