// What agentgate says it evaluates is what it evaluates: the list of builtins
// the wasm target leaves to the host is re-measured against the real opa, the
// capabilities document makes opa refuse the rest, and a bundle built
// without it is refused at load with the list.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readBundle } from "../../src/policy/bundle.ts";
import { WasmPolicy } from "../../src/policy/wasm-policy.ts";
import { AGENTGATE_BUILTINS } from "../../src/policy/builtins/index.ts";
import { WASM_HOST_CALLED, evaluates, type Capabilities } from "../../src/policy/builtins/capabilities.ts";
import { currentCapabilities } from "../../src/cli/capabilities.ts";
import { runOpa } from "../../src/cli/opa.ts";
import { main } from "../../src/cli/main.ts";
import { hostImports } from "../../src/policy/builtins/dispatch.ts";
import { wasmApi } from "../../src/policy/builtins/wasm-api.ts";

// Planned away or compiled specially: no call to probe.
const NOT_CALLABLE = new Set(["eq", "assign", "equal", "internal.print", "internal.test_case", "internal.template_string", "print", "internal.member_2", "internal.member_3"]);

let dir: string;
let opaCaps: Capabilities;

/** The builtins() table of a built policy.wasm: every builtin it calls out for, provided or not. */
async function builtinTable(bundlePath: string): Promise<string[]> {
  const bundle = await readBundle(bundlePath);
  const memory = new wasmApi.Memory({ initial: 8 });
  const host = hostImports(memory);
  const instance = await wasmApi.instantiate(await wasmApi.compile(bundle.wasm), host.imports);
  return host.bind(instance);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agentgate-caps-"));
  opaCaps = JSON.parse((await runOpa(["capabilities", "--current"])).stdout) as Capabilities;
});

test("the builtins a policy.wasm calls out for are exactly WASM_HOST_CALLED (measured with the real opa)", async () => {
  const calls = (list: Capabilities["builtins"], v0: boolean): string =>
    `package probe\n${list
      .map((b, i) => {
        const args = ((b.decl as { args?: unknown[] } | undefined)?.args ?? []).map((_, k) => `input.a${String(k)}`).join(", ");
        return v0 ? `r${String(i)} = ${b.name}(${args}) { true }` : `r${String(i)} := ${b.name}(${args}) if { true }`;
      })
      .join("\n")}\n`;
  const probed = opaCaps.builtins.filter((b) => !NOT_CALLABLE.has(b.name));
  const current = probed.filter((b) => b.deprecated !== true);
  const deprecated = probed.filter((b) => b.deprecated === true);
  const needed = new Set<string>();
  for (const [text, extra] of [[calls(current, false), []], [calls(deprecated, true), ["--v0-compatible"]]] as const) {
    const src = await mkdtemp(join(dir, "all-"));
    await writeFile(join(src, "p.rego"), text);
    const out = join(src, "b.tar.gz");
    await runOpa(["build", "-t", "wasm", ...extra, "-e", "probe", "-o", out, src]);
    for (const name of await builtinTable(out)) needed.add(name);
  }
  assert.deepEqual([...needed].sort(), [...WASM_HOST_CALLED].filter((n) => probed.some((b) => b.name === n)).sort());
});

test("every builtin agentgate implements is one the wasm target leaves to the host", () => {
  for (const name of AGENTGATE_BUILTINS.keys()) assert.ok(WASM_HOST_CALLED.has(name), name);
});

test("agentgate capabilities: OPA's document less what agentgate cannot evaluate", async () => {
  const lines: string[] = [];
  const code = await main(["capabilities"], { out: (s) => lines.push(s), err: (s) => lines.push(s) });
  assert.equal(code, 0);
  const printed = JSON.parse(lines.join("\n")) as Capabilities;
  assert.deepEqual(printed, await currentCapabilities());
  const names = new Set(printed.builtins.map((b) => b.name));
  for (const name of ["sprintf", "units.parse", "units.parse_bytes", "semver.compare", "time.parse_duration_ns", "count", "glob.match", "json.marshal"]) assert.ok(names.has(name), name);
  for (const name of ["http.send", "net.lookup_ip_addr", "io.jwt.decode", "time.parse_ns"]) assert.equal(names.has(name), false, name);
  for (const b of opaCaps.builtins) assert.equal(names.has(b.name), evaluates(b.name), b.name);
  assert.deepEqual(printed.features, opaCaps.features);
});

test("opa check --capabilities refuses a builtin agentgate cannot evaluate and accepts the ones it does", async () => {
  const caps = join(dir, "caps.json");
  await writeFile(caps, JSON.stringify(await currentCapabilities()));
  const good = join(dir, "good");
  const bad = join(dir, "bad");
  await mkdir(good);
  await mkdir(bad);
  await writeFile(join(good, "p.rego"), `package p\nx := sprintf("%v", [units.parse_bytes("1Gi")])\ny := semver.compare("1.0.0", "2.0.0")\n`);
  await writeFile(join(bad, "p.rego"), `package p\nx := http.send({"method": "get", "url": "http://x"})\n`);
  await runOpa(["check", "--capabilities", caps, good]);
  await assert.rejects(runOpa(["check", "--capabilities", caps, bad]), /undefined function http\.send/);
});

test("a bundle built without agentgate's capabilities is refused at load, listing what is missing", async () => {
  const src = await mkdtemp(join(dir, "nl-"));
  await writeFile(join(src, "p.rego"), `package probe\nx := net.lookup_ip_addr("example.com")\ny := io.jwt.decode("a.b.c")\nz := sprintf("%d", [1])\n`);
  const out = join(src, "needs-net.tar.gz");
  await runOpa(["build", "-t", "wasm", "-e", "probe", "--revision", "7", "-o", out, src]);
  await assert.rejects(
    WasmPolicy.load(await readBundle(out), {}),
    /bundle "needs-net": \(revision 7\) policy\.wasm needs builtins io\.jwt\.decode, net\.lookup_ip_addr, which this gateway does not provide; run `agentgate capabilities`/,
  );
});
