// OPA's own conformance cases for the builtins agentgate answers for, read in
// place from the opa module in the Go module cache (never copied here),
// compiled to wasm by the real opa with agentgate's capabilities and run
// through the gateway's evaluator. Every case must answer as OPA says, except
// the ones listed in EXPECTED_FAILURES with their reason; the test fails when
// an exception starts passing or a new failure appears.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { readBundle } from "../../src/policy/bundle.ts";
import { encodeInput } from "../../src/policy/engine.ts";
import { WasmPolicy } from "../../src/policy/wasm-policy.ts";
import { currentCapabilities } from "../../src/cli/capabilities.ts";
import { runOpa } from "../../src/cli/opa.ts";

const OPA_MODULE = "github.com/open-policy-agent/opa@v1.22.2";
/** The topics of the builtins agentgate implements or borrows from the SDK. */
const TOPICS = [
  "sprintf", "strings", "units", "semvercompare", "semverisvalid", "time", "jsonbuiltins", "regexsplit",
  "subset", "cryptomd5", "cryptosha1", "cryptosha256", "cryptohmacmd5", "cryptohmacsha1", "cryptohmacsha256", "cryptohmacsha512", "cryptohmacequal",
  "hexbuiltins", "base64urlbuiltins", "netcidrisvalid", "numbersrangestep", "globquotemeta",
];

/** id → why it does not answer as OPA does. */
const EXPECTED_FAILURES: Record<string, string> = {
  "strings/test-strings-format-int-bignum.yaml#0": "format_int is compiled into the wasm (opa_strings_format_int), whose integers stop at 64 bits: it aborts; no host builtin can replace it",
  "jsonbuiltins/test-json-unmarshal-number-range.yaml#0": "json.unmarshal is compiled into the wasm, which reads an out-of-range number as null where OPA is undefined",
  "jsonbuiltins/test-json-unmarshal-number-range.yaml#1": "json.unmarshal is compiled into the wasm, which reads an out-of-range number as null where OPA is undefined",
  "time/test-time-0948.yaml#0": "time.parse_ns (Go layouts) is not implemented: agentgate capabilities leave it out, so opa refuses it at build",
  "time/test-time-0948.yaml#1": "time.parse_ns (Go layouts) is not implemented: agentgate capabilities leave it out, so opa refuses it at build",
  "time/test-time-0948.yaml#2": "time.parse_ns (Go layouts) is not implemented: agentgate capabilities leave it out, so opa refuses it at build",
  "time/test-time-0971.yaml#1": "time.format (Go layouts) is not implemented: agentgate capabilities leave it out, so opa refuses it at build",
};

interface Case {
  note: string;
  query: string;
  modules?: string[];
  data?: Record<string, unknown>;
  input?: unknown;
  input_term?: string;
  want_result?: Record<string, unknown>[];
  want_error?: string;
  want_error_code?: string;
  sort_bindings?: boolean;
}

interface Prepared {
  id: string;
  topic: string;
  c: Case;
  pkg: string;
  entrypoint: string;
  binding: string;
}

type Outcome = { status: "pass" } | { status: "fail"; detail: string } | { status: "n/a"; detail: string };

function testdataDir(): string | undefined {
  let cache = process.env.GOMODCACHE;
  if (!cache) {
    try {
      cache = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8", env: { ...process.env, PATH: `${process.env.PATH ?? ""}:/usr/local/go/bin` } }).trim();
    } catch {
      cache = join(homedir(), "go", "pkg", "mod");
    }
  }
  const dir = join(cache, OPA_MODULE, "v1", "test", "cases", "testdata", "v1");
  return existsSync(dir) ? dir : undefined;
}

const QUERY = /^data\.([A-Za-z_][\w.]*)\s*=\s*([A-Za-z_]\w*)$/;

function prepare(topic: string, file: string, index: number, c: Case, n: number): Prepared | Outcome {
  const m = QUERY.exec(c.query.trim());
  if (!m) return { status: "n/a", detail: `query ${c.query} is not data.<rule> = <var>` };
  if (c.input_term !== undefined) return { status: "n/a", detail: "input_term (a Rego term as input) cannot be given to a wasm evaluation" };
  if ((c.modules ?? []).some((text) => text.includes("test.sleep"))) return { status: "n/a", detail: "uses test.sleep, a builtin of OPA's own test runner" };
  if (c.want_result && c.want_result.length > 1) return { status: "n/a", detail: "more than one result: a wasm entrypoint has one value" };
  const pkg = `c${String(n)}`;
  return { id: `${topic}/${file}#${String(index)}`, topic, c, pkg, entrypoint: `${pkg}/${(m[1] ?? "").replaceAll(".", "/")}`, binding: m[2] ?? "x" };
}

/** Moves a case's modules under its own root package so that every case of a topic builds into one wasm. */
function relocate(p: Prepared): string[] {
  return (p.c.modules ?? []).map((text) =>
    text.replace(/^package\s+/m, `package ${p.pkg}.`).replace(/\bdata\.(?=[A-Za-z_])/g, `data.${p.pkg}.`).replace(/^package (\w+)\.data\./m, "package $1."),
  );
}

function canonical(v: unknown, sortArrays: boolean): unknown {
  if (Array.isArray(v)) {
    const items = v.map((x) => canonical(x, sortArrays));
    return sortArrays ? items.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) : items;
  }
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, canonical(x, sortArrays)]));
  return v;
}

const outcomes = new Map<string, { topic: string; note: string; outcome: Outcome }>();
let root: string | undefined;

async function buildTopic(topic: string, cases: Prepared[], caps: string, work: string): Promise<void> {
  let remaining = [...cases];
  for (let attempt = 0; remaining.length > 0 && attempt < 6; attempt++) {
    const dir = join(work, `${topic}-${String(attempt)}`);
    await mkdir(dir, { recursive: true });
    for (const p of remaining) {
      for (const [k, text] of relocate(p).entries()) await writeFile(join(dir, `${p.pkg}_${String(k)}.rego`), text);
    }
    const out = join(dir, "bundle.tar.gz");
    try {
      await runOpa(["build", "-t", "wasm", "--capabilities", caps, ...remaining.flatMap((p) => ["-e", p.entrypoint]), "-o", out, dir]);
    } catch (err) {
      // Cases whose modules opa refuses: with the capabilities (a builtin agentgate does not evaluate) or without (OPA refuses them too).
      const message = err instanceof Error ? err.message : String(err);
      const failing = new Set([...message.matchAll(/(c\d+)_\d+\.rego/g)].map((x) => x[1]));
      const entry = /entrypoint (\S+)/.exec(message)?.[1];
      if (entry) for (const p of remaining) if (p.entrypoint === entry.replaceAll(".", "/").replace(/^data\//, "")) failing.add(p.pkg);
      if (failing.size === 0) throw err;
      for (const p of remaining.filter((r) => failing.has(r.pkg))) {
        const single = join(dir, `alone-${p.pkg}`);
        await mkdir(single);
        for (const [k, text] of relocate(p).entries()) await writeFile(join(single, `m${String(k)}.rego`), text);
        const opaRefuses = await runOpa(["build", "-t", "wasm", "-e", p.entrypoint, "-o", join(single, "b.tar.gz"), single]).then(() => false, () => true);
        const refusedBy = opaRefuses ? "opa" : "agentgate capabilities";
        const ok = opaRefuses && (p.c.want_error !== undefined || p.c.want_error_code !== undefined);
        outcomes.set(p.id, { topic, note: p.c.note, outcome: ok ? { status: "pass" } : { status: "fail", detail: `refused at build by ${refusedBy}: ${message.split(" | ").find((l) => l.includes(p.pkg)) ?? message}` } });
      }
      remaining = remaining.filter((r) => !failing.has(r.pkg));
      continue;
    }
    const bundle = await readBundle(out);
    const data: Record<string, unknown> = {};
    for (const p of remaining) if (p.c.data) data[p.pkg] = p.c.data;
    const policy = await WasmPolicy.load(bundle, data);
    for (const p of remaining) {
      let got: unknown;
      let error: string | undefined;
      try {
        got = policy.evaluate(p.entrypoint, encodeInput(p.c.input ?? null));
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      let outcome: Outcome;
      if (p.c.want_error !== undefined || p.c.want_error_code !== undefined) {
        // OPA outside strict mode, as the gateway runs, makes a builtin error undefined.
        outcome = got === undefined ? { status: "pass" } : { status: "fail", detail: `want error ${p.c.want_error ?? p.c.want_error_code ?? ""}, got ${JSON.stringify(got)}` };
      } else {
        const want = p.c.want_result?.[0]?.[p.binding];
        const sort = p.c.sort_bindings === true;
        outcome =
          error === undefined && JSON.stringify(canonical(got, sort)) === JSON.stringify(canonical(want, sort))
            ? { status: "pass" }
            : { status: "fail", detail: error !== undefined ? `error ${error}` : `want ${JSON.stringify(want)}, got ${JSON.stringify(got)}` };
      }
      outcomes.set(p.id, { topic, note: p.c.note, outcome });
    }
    remaining = [];
  }
}

before(async () => {
  root = testdataDir();
  if (!root) return;
  const work = await mkdtemp(join(tmpdir(), "agentgate-conformance-"));
  const caps = join(work, "capabilities.json");
  await writeFile(caps, JSON.stringify(await currentCapabilities()));
  let n = 0;
  for (const topic of TOPICS) {
    const prepared: Prepared[] = [];
    for (const file of readdirSync(join(root, topic)).filter((f) => f.endsWith(".yaml")).sort()) {
      const doc = parseYaml(readFileSync(join(root, topic, file), "utf8")) as { cases?: Case[] };
      (doc.cases ?? []).forEach((c, i) => {
        const p = prepare(topic, file, i, c, n++);
        if ("status" in p) outcomes.set(`${topic}/${file}#${String(i)}`, { topic, note: c.note, outcome: p });
        else prepared.push(p);
      });
    }
    await buildTopic(topic, prepared, caps, work);
  }
});

test("OPA's conformance cases answer in the gateway as in OPA, exceptions listed with reasons", (t) => {
  if (!root) {
    t.skip(`OPA's conformance cases are not on this machine: ${OPA_MODULE} is not in the Go module cache (run tools/install.sh)`);
    return;
  }
  const byTopic = new Map<string, { pass: number; applicable: number }>();
  const failing: Record<string, string> = {};
  for (const [id, { topic, note, outcome }] of outcomes) {
    const row = byTopic.get(topic) ?? { pass: 0, applicable: 0 };
    if (outcome.status !== "n/a") row.applicable++;
    if (outcome.status === "pass") row.pass++;
    if (outcome.status === "fail") failing[id] = `${note}: ${outcome.detail}`;
    byTopic.set(topic, row);
  }
  const total = [...byTopic.values()].reduce((a, r) => ({ pass: a.pass + r.pass, applicable: a.applicable + r.applicable }), { pass: 0, applicable: 0 });
  t.diagnostic(`conformance: ${String(total.pass)}/${String(total.applicable)} — ${[...byTopic].map(([k, r]) => `${k} ${String(r.pass)}/${String(r.applicable)}`).join(", ")}`);
  const unexpected = Object.keys(failing).filter((id) => !(id in EXPECTED_FAILURES));
  const nowPassing = Object.keys(EXPECTED_FAILURES).filter((id) => !(id in failing));
  assert.deepEqual(unexpected.map((id) => `${id} ${failing[id] ?? ""}`), [], "new failures");
  assert.deepEqual(nowPassing, [], "listed as failing but now answering as OPA: remove them from EXPECTED_FAILURES");
});
