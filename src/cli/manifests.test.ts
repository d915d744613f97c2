// Manifest text that YAML parses but cannot turn into values: what
// fuzz/manifests.fuzz.ts found escaping as the yaml library's ReferenceError.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseManifests } from "./manifests.ts";
import { InputError } from "../errors.ts";

const refused = (text: string, reason: RegExp): void => {
  assert.throws(() => parseManifests(text, "m.yaml"), (err: unknown) => err instanceof InputError && reason.test(err.message) && !err.message.includes("\n"));
};

test("an alias to an anchor set later is an InputError naming the file and document", () => {
  refused("apiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: ConfigMap\ndata: *later\nmore: &later {a: 1}\n", /^m\.yaml: document 2 \(line 4\) is not valid YAML: Unresolved alias/);
});

test("a billion-laughs document is an InputError, not a ReferenceError", () => {
  const laughs = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 9; i++) laughs.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(", ")}]`);
  refused(`apiVersion: v1\nkind: ConfigMap\n${laughs.join("\n")}\n`, /^m\.yaml: document 1 \(line 1\) is not valid YAML: Excessive alias count/);
});

test("text that exhausts the YAML parser's stack is an InputError, not a RangeError", () => {
  // implicit keys chained inside a flow mapping: the parser recurses once per key
  refused(`{"metadata": {\n ${"v2: ".repeat(6000)}x}}\n`, /^m\.yaml: not YAML or JSON this reader can take: Maximum call stack size exceeded/);
  // deep flow nesting the parser already reports as a document error
  refused(`apiVersion: v1\nkind: ConfigMap\ndata: ${"[".repeat(50_000)}${"]".repeat(50_000)}\n`, /^m\.yaml: .*Maximum call stack size exceeded/);
});

test("metadata typed otherwise than ObjectMeta is an InputError (kubectl refuses it too), not a TypeError later", () => {
  const doc = (metadata: string): string => `apiVersion: agent.tekton.dev/v1alpha1\nkind: AgentConfig\nmetadata: ${metadata}\n`;
  refused(doc("{name: a, namespace: [qe, {toString: []}]}"), /^m\.yaml: document 1 \(line 1\): metadata\.namespace is a list, not a string$/);
  refused(doc("{name: {a: 1}}"), /metadata\.name is a mapping, not a string$/);
  refused(doc("[a]"), /: metadata is a list, not a mapping$/);
  refused(doc("{name: a, labels: {team: [x]}}"), /metadata\.labels must map names to strings$/);
  refused(doc("{name: a, annotations: 5}"), /metadata\.annotations must map names to strings$/);
  // a run's owners are read as a list (checkRunOwners): "owners.find is not a function" before
  refused("apiVersion: agent.tekton.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: r, ownerReferences: {kind: CustomRun}}\nspec: {configRef: {name: c}, goal: g}\n", /metadata\.ownerReferences must be a list of mappings$/);
  refused(doc("{name: a, finalizers: [1]}"), /metadata\.finalizers must be a list of strings$/);
  assert.equal(parseManifests(doc("{name: a, namespace: qe, labels: {t: x}, annotations: {}}"), "m.yaml").length, 1);
});

test("anchors and aliases used as YAML means them still read", () => {
  const [m] = parseManifests("apiVersion: agent.tekton.dev/v1alpha1\nkind: AgentConfig\nspec:\n  list: &l [1, {a: 2}]\n  again: *l\n", "m.yaml");
  assert.deepEqual(m?.object.spec, { list: [1, { a: 2 }], again: [1, { a: 2 }] });
});
