// `agentgate bundle check`: load-time checks, and the gateway's answers
// against opa eval's on the Rego a bundle was built from.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli/main.ts";
import { DEFAULT_BUNDLE_PATH } from "../../src/policy/load.ts";
import { buildTestBundle } from "../fixtures/bundles.ts";

const POLICIES = fileURLToPath(new URL("../../policies", import.meta.url));

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await main(args, { out: (s) => lines.push(s), err: (s) => lines.push(s) });
  return { code, out: lines.join("\n") };
}

const rule = (message: string): string => `package agentgate
violations contains {"policy": "p", "field": "spec.x", "message": sprintf("%s: %v", [${JSON.stringify(message)}, {t | some t in input.request.object.spec.tools}]), "action": "deny"} if {
  count(input.request.object.spec.tools) > 0
}
`;

let dir: string;
let input: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agentgate-check-test-"));
  input = join(dir, "input.yaml");
  await writeFile(input, "request:\n  kind: {group: agent.tekton.dev, kind: AgentConfig}\n  operation: CREATE\n  namespace: team-a\n  object:\n    spec:\n      tools: [write, delete, read]\n      tokenBudget: 900000\ncontext: {}\n");
});

test("the default bundle answers every input as opa eval does on policies/", async () => {
  const { code, out } = await run(["bundle", "check", DEFAULT_BUNDLE_PATH, "--source", POLICIES, "-f", input]);
  assert.equal(code, 0, out);
  assert.match(out, /loads; entrypoints agent\/goals\/allow, agent\/goals\/deny, agent\/tools\/deny, agentgate\/defaults, agentgate\/violations; host builtins sprintf, time\.parse_duration_ns/);
  assert.match(out, /1 input\(s\) × 5 entrypoint\(s\): the gateway answers as opa eval/);
});

test("a bundle whose answers differ from its Rego's is reported, difference by difference, with exit 1", async () => {
  const bundle = await buildTestBundle({ "p.rego": rule("built") }, { entrypoints: ["agentgate/violations"] });
  const other = join(dir, "other");
  await mkdir(other);
  await writeFile(join(other, "p.rego"), rule("edited"));
  const { code, out } = await run(["bundle", "check", bundle, "--source", other, "-f", input]);
  assert.equal(code, 1, out);
  assert.match(out, /DIFFERS .*input\.yaml agentgate\/violations:\n {2}gateway: \[\{.*"message":"built: \{\\"delete\\", \\"read\\", \\"write\\"\}".*\n {2}opa: {5}\[\{.*"message":"edited: /);
  assert.match(out, /1 difference\(s\)/);
});

test("sets in messages print as opa prints them, so the same Rego agrees", async () => {
  const src = join(dir, "same");
  await mkdir(src);
  await writeFile(join(src, "p.rego"), rule("same"));
  const bundle = await buildTestBundle({ "p.rego": rule("same") }, { entrypoints: ["agentgate/violations"] });
  const { code, out } = await run(["bundle", "check", bundle, "--source", src, "-f", input]);
  assert.equal(code, 0, out);
});

test("a defaults patch is compared in order: an array the wasm builds in another order than opa is a difference, not hidden by sorting", async () => {
  // A comprehension over a set iterates in the wasm's hash order (README: what still differs).
  const rego = `package agentgate
violations contains {"policy": "p", "field": "", "message": "m", "action": "warn"} if false
defaults := {"spec": {"tools": [t | some t in {"zeta", "alpha", "mid", "beta"}]}}
`;
  const bundle = await buildTestBundle({ "p.rego": rego }, { entrypoints: ["agentgate/violations", "agentgate/defaults"] });
  const src = join(dir, "order");
  await mkdir(src);
  await writeFile(join(src, "p.rego"), rego);
  const { code, out } = await run(["bundle", "check", bundle, "--source", src, "-f", input]);
  assert.equal(code, 1, out);
  assert.match(out, /DIFFERS .*input\.yaml agentgate\/defaults:\n {2}gateway: \{"spec":\{"tools":\["mid","alpha","beta","zeta"\]\}\}\n {2}opa: {5}\{"spec":\{"tools":\["alpha","beta","mid","zeta"\]\}\}/);
  assert.match(out, /1 difference\(s\)/);
});

test("--policy-config is merged into data.agentgate.config for both evaluations", async () => {
  const rule = (message: string): string => `package agentgate
violations contains {"policy": "strict", "field": "spec", "message": ${JSON.stringify(message)}, "action": "deny"} if data.agentgate.config.strict == true
`;
  const files = (message: string): Record<string, string> => ({ "p.rego": rule(message), "agentgate/config/data.json": JSON.stringify({ strict: false }) });
  const bundle = await buildTestBundle(files("built"), { entrypoints: ["agentgate/violations"] });
  const same = join(dir, "cfg-same");
  const edited = join(dir, "cfg-edited");
  await mkdir(same);
  await mkdir(edited);
  await writeFile(join(same, "p.rego"), rule("built"));
  await writeFile(join(edited, "p.rego"), rule("edited"));
  const config = join(dir, "policy-config.yaml");
  await writeFile(config, "strict: true\n");
  // Without it neither side fires; with it both do (the same Rego agrees, an edited message differs).
  assert.equal((await run(["bundle", "check", bundle, "--source", edited, "-f", input])).code, 0);
  const agree = await run(["bundle", "check", bundle, "--source", same, "-f", input, "--policy-config", config]);
  assert.equal(agree.code, 0, agree.out);
  assert.match(agree.out, /data agentgate \(with --policy-config .*policy-config\.yaml\)/);
  const differ = await run(["bundle", "check", bundle, "--source", edited, "-f", input, "--policy-config", config]);
  assert.equal(differ.code, 1, differ.out);
  assert.match(differ.out, /gateway: \[\{"action":"deny","field":"spec","message":"built","policy":"strict"\}\]\n {2}opa: {5}\[\{"action":"deny","field":"spec","message":"edited","policy":"strict"\}\]/);
  const bad = join(dir, "bad-config.yaml");
  await writeFile(bad, "- a list\n");
  const refused = await run(["bundle", "check", bundle, "--policy-config", bad]);
  assert.equal(refused.code, 2);
  assert.match(refused.out, /^agentgate: policy config .*bad-config\.yaml: must be a YAML mapping/m);
});

test("a bundle without the entrypoints the gateway asks for is refused as the gateway refuses it", async () => {
  const bundle = await buildTestBundle({ "p.rego": "package other\n\nx := 1\n" }, { entrypoints: ["other/x"], revision: "r9" });
  const { code, out } = await run(["bundle", "check", bundle]);
  assert.equal(code, 2, out);
  assert.match(out, /^agentgate: bundle "test" \(revision r9\): has none of the entrypoints agentgate\/violations, agent\/goals\/allow, agent\/tools\/deny; build it with -e agentgate\/violations$/m);
});

test("bad input is one line naming the file, exit 2", async () => {
  const bad = join(dir, "bad.yaml");
  await writeFile(bad, "request: [unclosed\n");
  const { code, out } = await run(["bundle", "check", DEFAULT_BUNDLE_PATH, "--source", POLICIES, "-f", bad]);
  assert.equal(code, 2);
  assert.match(out, /^agentgate: input .*bad\.yaml: not valid JSON or YAML: /m);
  const missing = await run(["bundle", "check", DEFAULT_BUNDLE_PATH, "-f", input]);
  assert.equal(missing.code, 2);
  assert.match(missing.out, /needs --source DIR/);
});
