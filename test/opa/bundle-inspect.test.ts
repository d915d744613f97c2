// `agentgate bundle inspect`: what a platform team reads before shipping a
// bundle (revision, digest, entrypoints, the builtins the wasm leaves to the
// host, data roots, files), from a bundle the real opa built; bad input is
// one line naming the file, exit 2.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { main } from "../../src/cli/main.ts";
import { readBundle } from "../../src/policy/bundle.ts";
import { buildTestBundle } from "../fixtures/bundles.ts";

const REGO = `package agentgate
violations contains {"policy": "limit", "field": "spec.tokenBudget", "message": sprintf("%d is over %d", [input.request.object.spec.tokenBudget, data.agentgate.config.limit]), "action": "deny"} if {
  input.request.object.spec.tokenBudget > data.agentgate.config.limit
}
defaults := {"spec": {"tokenBudget": data.agentgate.config.limit}}
`;

let path = "";
let dir = "";

before(async () => {
  path = await buildTestBundle(
    { "p.rego": REGO, "data.json": JSON.stringify({ agentgate: { config: { limit: 3 } }, teams: { qe: {} } }) },
    { entrypoints: ["agentgate/violations", "agentgate/defaults"], revision: "r-7", name: "team-a" },
  );
  dir = await mkdtemp(join(tmpdir(), "agentgate-inspect-"));
});

after(async () => {
  await rm(dirname(path), { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number; out: string; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join("\n"), err };
}

test("bundle inspect prints the bundle's name, revision, digest, roots, entrypoints, host builtins, data keys and files as JSON", async () => {
  const r = await run(["bundle", "inspect", path]);
  assert.equal(r.code, 0, r.err.join("\n"));
  const report = JSON.parse(r.out) as Record<string, unknown>;
  const bundle = await readBundle(path);
  assert.match(String(report.digest), /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(report, {
    name: "team-a",
    revision: "r-7",
    digest: bundle.digest,
    roots: [""],
    entrypoints: ["agentgate/defaults", "agentgate/violations"],
    // opa's wasm leaves sprintf to the host: the gateway must provide it.
    hostBuiltins: ["sprintf"],
    dataKeys: ["agentgate", "teams"],
    files: [...bundle.files.keys()].sort(),
  });
  const files = report.files;
  for (const f of [".manifest", "data.json", "policy.wasm"]) assert.ok(files.some((p) => p.replace(/^\//, "") === f), `lists ${f}: ${files.join(", ")}`);
});

test("bundle inspect: gzip that is not a tar archive is one line saying so, exit 2", async () => {
  const file = join(dir, "noise.tar.gz");
  await writeFile(file, gzipSync(Buffer.from("just text, no tar headers ".repeat(40))));
  const r = await run(["bundle", "inspect", file]);
  assert.equal(r.code, 2);
  assert.equal(r.err.length, 1);
  assert.match(r.err[0] ?? "", /^agentgate: bundle "noise": \S+noise\.tar\.gz holds no files; expected a \.tar\.gz built by opa build$/);
});

test("bundle inspect: a missing file or one that is not a bundle is one line naming it, exit 2", async () => {
  const missing = join(dir, "missing.tar.gz");
  const notBundle = join(dir, "login-page.tar.gz");
  await writeFile(notBundle, "<html>login</html>");
  for (const file of [missing, notBundle]) {
    const r = await run(["bundle", "inspect", file]);
    assert.equal(r.code, 2, file);
    assert.equal(r.out, "");
    assert.equal(r.err.length, 1, r.err.join("\n"));
    assert.match(r.err[0] ?? "", /^agentgate: bundle "(missing|login-page)": /);
    assert.match(r.err[0] ?? "", file === missing ? /cannot read .*missing\.tar\.gz: ENOENT/ : /login-page\.tar\.gz holds no files; expected a \.tar\.gz built by opa build$/);
  }
});
