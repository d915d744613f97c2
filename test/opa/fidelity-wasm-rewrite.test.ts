// The redirect of compiled builtins to the host (wasm-rewrite.ts) holds for
// the wasm the real opa writes, refuses a wasm whose shape it was not checked
// against, and leaves everything else alone. And the one order difference it
// cannot remove (iteration over a set or an object in a comprehension) is
// still there, as the README says: if it ever goes, this test says so.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readBundle } from "../../src/policy/bundle.ts";
import { encodeInput } from "../../src/policy/engine.ts";
import { WasmPolicy } from "../../src/policy/wasm-policy.ts";
import { REDIRECTED_BUILTINS, REDIRECTS, WasmShapeError, redirectCompiledBuiltins, wasmApi } from "@agentgate/opa-host";
import { runOpa } from "../../src/cli/opa.ts";

let dir: string;

async function build(name: string, rego: string): Promise<string> {
  const src = join(dir, `${name}.rego`);
  await writeFile(src, `package t\n\n${rego}\n`);
  const out = join(dir, `${name}.tar.gz`);
  await runOpa(["build", "-t", "wasm", "-e", "t", "-o", out, src]);
  return out;
}

async function opaEval(name: string): Promise<unknown> {
  const { stdout } = await runOpa(["eval", "-f", "json", "-d", join(dir, `${name}.rego`), "data.t"]);
  return (JSON.parse(stdout) as { result: [{ expressions: [{ value: unknown }] }] }).result[0].expressions[0].value;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agentgate-rewrite-"));
});

test("every compiled function REDIRECTS names is found and redirected in a wasm the real opa builds", async () => {
  const bundle = await readBundle(
    await build(
      "all",
      `a := json.marshal({"b": 1, "a": 2})\nb := $"{ {"z", "a"} }"\nc := concat(",", {"z", "a"})\nd := [p | walk({"b": 1, "a": 2}, p)]\ne := regex.match("(?<n>x)", "x")\nf := regex.is_valid("\\\\C")\ng := regex.find_all_string_submatch_n("a", "aa", -2)`,
    ),
  );
  const policy = await WasmPolicy.load(bundle, {});
  assert.deepEqual([...policy.redirectedBuiltins], REDIRECTS.map((r) => r.builtin).sort(), "a redirected builtin's compiled function was not found: has opa renamed it?");
  assert.deepEqual(policy.evaluate("t", encodeInput(null)), await opaEval("all"));
  for (const r of REDIRECTS) assert.ok(REDIRECTED_BUILTINS.has(r.builtin), `${r.builtin} has no host implementation`);
  assert.equal(new Set(REDIRECTS.map((r) => r.id)).size, REDIRECTS.length, "two redirects share a builtin id");
});

test("concat goes to the host only over a set; over an array the compiled code answers", async () => {
  const path = await build("concat", `s := concat(",", {x | some x in json.unmarshal("[1, \\"a\\"]")})\na := concat(",", json.unmarshal("[1, \\"a\\"]"))`);
  const policy = await WasmPolicy.load(await readBundle(path), {});
  // Both are undefined (a number is no string); only the host's answer leaves a builtin error behind.
  // The whole package is evaluated once: both rules are undefined (a number is no string); only the host's answer leaves a builtin error behind.
  assert.deepEqual(policy.evaluate("t", encodeInput(null)), {});
  assert.deepEqual(policy.lastBuiltinErrors, ["concat: operand 2 must be string but got number"]);
});

test("a wasm that calls none of them is left byte for byte as it is", async () => {
  const bundle = await readBundle(await build("none", `a := upper("x")`));
  const out = redirectCompiledBuiltins(bundle.wasm);
  assert.equal(out.wasm, bundle.wasm);
  assert.deepEqual(out.redirected, []);
});

/** A minimal module: env.opa_builtin1 imported, one function of the given params named `name`. */
function module(name: string, params: number): Uint8Array {
  const u = (n: number): number[] => (n < 128 ? [n] : [(n & 0x7f) | 0x80, n >> 7]);
  const str = (s: string): number[] => [...u(s.length), ...Buffer.from(s)];
  const sec = (id: number, body: number[]): number[] => [id, ...u(body.length), ...body];
  const i32 = 0x7f;
  const types = [2, 0x60, 3, i32, i32, i32, 1, i32, 0x60, ...u(params), ...Array<number>(params).fill(i32), 1, i32];
  const names = [...str("name"), 1, ...u([1, 1, ...str(name)].length), 1, 1, ...str(name)];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...sec(1, types),
    ...sec(2, [1, ...str("env"), ...str("opa_builtin1"), 0, 0]),
    ...sec(3, [1, 1]),
    ...sec(10, [1, 4, 0, 0x41, 0, 0x0b]),
    ...sec(0, names),
  ]);
}

test("a compiled function of another signature than the one checked refuses the wasm, naming it", async () => {
  const wrong = module("opa_json_marshal", 3);
  await wasmApi.compile(wrong);
  assert.throws(() => redirectCompiledBuiltins(wrong), (err: unknown) => {
    assert.ok(err instanceof WasmShapeError);
    assert.match(err.message, /^compiled json\.marshal \(opa_json_marshal\) is \(i32, i32, i32\) -> \(i32\), not the \(i32\) -> \(i32\) agentgate redirects to its own json\.marshal/);
    return true;
  });
  const right = module("opa_json_marshal", 1);
  const out = redirectCompiledBuiltins(right);
  assert.deepEqual(out.redirected, ["json.marshal"]);
  await wasmApi.compile(out.wasm);
});

test("still differs, as the README says: a comprehension over a set or an object iterates in the wasm's hash order", async () => {
  const path = await build("order", `s := {"zeta", "alpha", "mid", "beta"}\narr := [x | some x in s]\nkeys := [k | some k, _ in {"q": 1, "b": 2, "z": 3, "c": 4}]\nsorted := concat(", ", sort([x | some x in s]))`);
  const got = (await WasmPolicy.load(await readBundle(path), {})).evaluate("t", encodeInput(null)) as Record<string, unknown>;
  const want = (await opaEval("order")) as Record<string, unknown>;
  assert.deepEqual(want.arr, ["alpha", "beta", "mid", "zeta"]);
  assert.notDeepEqual(got.arr, want.arr, "comprehensions over sets now iterate as OPA does: update the README's \"what still differs\" and this test");
  assert.notDeepEqual(got.keys, want.keys, "comprehensions over objects now iterate as OPA does: update the README's \"what still differs\" and this test");
  assert.deepEqual(got.sorted, want.sorted, "the README's advice (sort before rendering) holds");
});
