// What agentgate says it evaluates is what it evaluates: which builtins the
// wasm target leaves to the host is measured with the real opa, the
// capabilities document makes opa refuse the ones agentgate does not
// implement, and a bundle built without it is refused at load with the list.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readBundle } from "../../src/policy/bundle.ts";
import { WasmPolicy } from "../../src/policy/wasm-policy.ts";
import { AGENTGATE_BUILTINS, HOST_BUILTINS, agentgateCapabilities, type Capabilities } from "@agentgate/opa-host";
import { currentCapabilities, hostCalledBuiltins } from "../../src/cli/capabilities.ts";
import { runOpa } from "../../src/cli/opa.ts";
import { main } from "../../src/cli/main.ts";

let dir: string;
let opaCaps: Capabilities;
let hostCalled: Set<string>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agentgate-caps-"));
  opaCaps = JSON.parse((await runOpa(["capabilities", "--current"])).stdout) as Capabilities;
  hostCalled = await hostCalledBuiltins(opaCaps);
});

test("which builtins the wasm leaves to the host is measured with the real opa, not assumed", () => {
  for (const name of ["sprintf", "units.parse_bytes", "time.parse_duration_ns", "http.send", "io.jwt.decode", "regex.replace", "regex.find_n", "regex.split", "regex.template_match", "regex.globs_match", "trace"]) assert.ok(hostCalled.has(name), `${name} is host-called`);
  for (const name of ["count", "concat", "json.marshal", "glob.match", "regex.match", "regex.is_valid", "regex.find_all_string_submatch_n", "object.get"]) assert.equal(hostCalled.has(name), false, `${name} is compiled into the wasm`);
  for (const name of AGENTGATE_BUILTINS.keys()) assert.ok(hostCalled.has(name), `agentgate implements ${name}, which the wasm never calls the host for`);
});

test("a host builtin agentgate does not implement is left out whatever its name (one a newer opa adds), a compiled one is kept", () => {
  const doc: Capabilities = { builtins: [{ name: "future.host_only" }, { name: "future.compiled" }, { name: "sprintf" }, { name: "http.send" }], features: ["x"] };
  const out = agentgateCapabilities(doc, new Set(["future.host_only", "sprintf", "http.send"]));
  assert.deepEqual(out.builtins.map((b) => b.name), ["future.compiled", "sprintf"]);
  assert.deepEqual(out.features, ["x"]);
  assert.equal(HOST_BUILTINS.has("future.host_only"), false);
});

test("agentgate capabilities: OPA's document less what agentgate cannot evaluate", async () => {
  const lines: string[] = [];
  const code = await main(["capabilities"], { out: (s) => lines.push(s), err: (s) => lines.push(s) });
  assert.equal(code, 0);
  const printed = JSON.parse(lines.join("\n")) as Capabilities;
  assert.deepEqual(printed, await currentCapabilities());
  const names = new Set(printed.builtins.map((b) => b.name));
  for (const name of ["sprintf", "units.parse", "units.parse_bytes", "semver.compare", "time.parse_duration_ns", "count", "glob.match", "json.marshal"]) assert.ok(names.has(name), name);
  // Host-called in the wasm, provided by agentgate (regex.ts, trace.ts); regex.match and its kin are compiled.
  for (const name of ["regex.replace", "regex.find_n", "regex.split", "regex.template_match", "regex.globs_match", "trace", "regex.match", "regex.is_valid", "regex.find_all_string_submatch_n"]) assert.ok(names.has(name), name);
  for (const name of ["http.send", "net.lookup_ip_addr", "io.jwt.decode", "time.parse_ns"]) assert.equal(names.has(name), false, name);
  for (const b of opaCaps.builtins) assert.equal(names.has(b.name), !hostCalled.has(b.name) || HOST_BUILTINS.has(b.name), b.name);
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
