// OPA's own conformance cases, read in place from the opa module in the Go
// module cache (never copied here), compiled to wasm by the real opa with
// agentgate's capabilities and run through the gateway's evaluator: every
// topic of the suite, less the topics of builtins agentgate does not provide
// (EXCLUDED_TOPICS, checked to hold only such cases). Every applicable case
// must answer as OPA says, except the ones listed in EXPECTED_FAILURES with
// their reason and the ones `agentgate capabilities` makes opa refuse (a
// builtin agentgate does not provide, refused before a bundle exists); the
// test fails when an exception starts passing, a new failure appears, or the
// applicable or passing count drops below the measured floor.
//
// An expected error is matched as OPA's own wasm end-to-end test matches it
// (internal/wasm/sdk/test/e2e): a builtin error that needs strict mode is an
// undefined result outside it, as the gateway runs; an evaluation error is
// the wasm's conflict abort. And as far as the case gives it: a host
// builtin's error must be the one the case names, never another failure.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { readBundle } from "../../src/policy/bundle.ts";
import { encodeInput } from "../../src/policy/engine.ts";
import { WasmPolicy } from "../../src/policy/wasm-policy.ts";
import { currentCapabilities } from "../../src/cli/capabilities.ts";
import { findOpa, runOpa } from "../../src/cli/opa.ts";

const OPA_MODULE = "github.com/open-policy-agent/opa@v1.22.2";

/** Measured on the final run (see the diagnostic line); the test fails below them. */
const FLOOR = { applicable: 1904, passed: 1885 };

/** Topics of builtins agentgate does not provide: every case in them calls one. */
const EXCLUDED_TOPICS: Record<string, { builtins: string[]; reason: string }> = {
  graphql: { builtins: ["graphql."], reason: "graphql.* is not provided" },
  jsonschema: { builtins: ["json.match_schema", "json.verify_schema"], reason: "JSON Schema validation is not provided" },
  jwtbuiltins: { builtins: ["io.jwt."], reason: "JWT is not provided" },
  jwtdecodeverify: { builtins: ["io.jwt."], reason: "JWT is not provided" },
  jwtencodesign: { builtins: ["io.jwt."], reason: "JWT is not provided" },
  jwtencodesignheadererrors: { builtins: ["io.jwt."], reason: "JWT is not provided" },
  jwtencodesignpayloaderrors: { builtins: ["io.jwt."], reason: "JWT is not provided" },
  jwtencodesignraw: { builtins: ["io.jwt."], reason: "JWT is not provided" },
  jwtverifyeddsa: { builtins: ["io.jwt."], reason: "JWT is not provided" },
  jwtverifyhs256: { builtins: ["io.jwt."], reason: "JWT is not provided" },
  jwtverifyhs384: { builtins: ["io.jwt."], reason: "JWT is not provided" },
  jwtverifyhs512: { builtins: ["io.jwt."], reason: "JWT is not provided" },
  jwtverifyrsa: { builtins: ["io.jwt."], reason: "JWT is not provided" },
  cryptoparsersaprivatekeys: { builtins: ["crypto.parse_private_keys"], reason: "key parsing is not provided" },
  cryptox509parseandverifycertificates: { builtins: ["crypto.x509."], reason: "x509 is not provided" },
  cryptox509parsecertificaterequest: { builtins: ["crypto.x509."], reason: "x509 is not provided" },
  cryptox509parsecertificates: { builtins: ["crypto.x509."], reason: "x509 is not provided" },
  cryptox509parsekeypair: { builtins: ["crypto.x509."], reason: "x509 is not provided" },
  cryptox509parsersaprivatekey: { builtins: ["crypto.x509."], reason: "x509 is not provided" },
  "providers-aws": { builtins: ["providers.aws.sign_req"], reason: "request signing is not provided" },
  invalidkeyerror: { builtins: ["http.send"], reason: "http.send is not provided (no network calls at admission)" },
  netlookupipaddr: { builtins: ["net.lookup_ip_addr"], reason: "DNS lookups are not provided (no network calls at admission)" },
  rand: { builtins: ["rand.intn"], reason: "rand.intn is not provided (a decision must not depend on chance)" },
  regoparsemodule: { builtins: ["rego.parse_module"], reason: "rego.parse_module is not provided" },
  rendertemplate: { builtins: ["strings.render_template"], reason: "strings.render_template (Go text/template) is not provided" },
  uuid: { builtins: ["uuid."], reason: "uuid.* is not provided" },
  regometadatachain: { builtins: ["rego.metadata.chain"], reason: "answers the package path, which this harness relocates per case" },
};

/** id → why it does not answer as OPA does. */
const EXPECTED_FAILURES: Record<string, string> = {
  "strings/test-strings-format-int-bignum.yaml#0": "format_int is compiled into the wasm (opa_strings_format_int), whose integers stop at 64 bits: it aborts (OPA's own wasm exceptions list it, opa issue 3711)",
  "jsonbuiltins/test-json-unmarshal-number-range.yaml#0": "json.unmarshal is compiled into the wasm, which reads an out-of-range number as null where OPA is undefined (OPA's own wasm exceptions list it)",
  "jsonbuiltins/test-json-unmarshal-number-range.yaml#1": "json.unmarshal is compiled into the wasm, which reads an out-of-range number as null where OPA is undefined (OPA's own wasm exceptions list it)",
  "dataderef/test-data-derefs.yaml#0": "the wasm does not find data[2] under data's key \"2\" where OPA converts the number (OPA's own wasm exceptions list it, opa issue 3711)",
  "dataderef/test-data-derefs.yaml#1": "the wasm does not find data.nested[2] under the key \"2\" where OPA converts the number (OPA's own wasm exceptions list it, opa issue 3711)",
  "jsonbuiltins/test-jsonbuiltins-0928.yaml#0": "yaml.unmarshal of bad YAML is undefined as in OPA, but its (hidden) error text is the JavaScript yaml library's, not Go's yaml.v3's",
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
  strict_error?: boolean;
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

type Outcome =
  | { status: "pass" }
  | { status: "fail"; detail: string }
  | { status: "n/a"; detail: string }
  | { status: "refused"; builtins: string[] };

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

const QUERY = /^data\.([A-Za-z_][\w.]*)\s*=\s*(?!(?:input|data)\b)([A-Za-z_]\w*)$/;

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
    text.replace(/^package\s+/m, `package ${p.pkg}.`).replace(/(?<![.\w])data(?=\.[A-Za-z_]|\[)/g, `data.${p.pkg}`).replace(/^package (\w+)\.data\./m, "package $1."),
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

/** `opa build -t wasm`; the whole of stderr on failure (runOpa keeps only its first lines). */
function opaBuild(args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(findOpa(), ["build", "-t", "wasm", ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve(err ? `${stderr}${stdout}` || err.message : undefined);
    });
  });
}

/** The text of an expected error without the location and code OPA prefixes it with. */
function expectedMessage(c: Case): string | undefined {
  return c.want_error?.replace(/^\S+\.rego:\d+: /, "").replace(/^[a-z_]+_error: /, "");
}

const CONFLICT = /var assignment conflict|object insert conflict|must not produce multiple outputs/;

/** An expected error, judged as the gateway runs (outside strict mode) and as far as the case names it. */
function judgeError(c: Case, got: unknown, error: string | undefined, builtinErrors: readonly string[]): Outcome {
  const want = `${c.want_error_code ?? ""} ${c.want_error ?? ""}`.trim();
  const crash = builtinErrors.find((e) => /not implemented|TypeError|RegoValueError|is not a function|Cannot read/.test(e));
  if (crash !== undefined) return { status: "fail", detail: `want ${want}, a builtin failed otherwise: ${crash}` };
  if (c.strict_error === true) {
    if (error !== undefined) return { status: "fail", detail: `want ${want} (undefined outside strict mode), got error ${error}` };
    if (got !== undefined) return { status: "fail", detail: `want ${want} (undefined outside strict mode), got ${JSON.stringify(got)}` };
    const message = expectedMessage(c);
    // A compiled builtin's error leaves no message; a host builtin's must be the one OPA gives.
    if (message !== undefined && builtinErrors.length > 0 && !builtinErrors.some((e) => e.includes(message))) {
      return { status: "fail", detail: `want ${want}, the host builtin said ${builtinErrors.join("; ")}` };
    }
    return { status: "pass" };
  }
  if (error === undefined) return { status: "fail", detail: `want ${want}, got ${got === undefined ? "undefined" : JSON.stringify(got)}` };
  if (c.want_error_code === "eval_conflict_error" || /conflict/.test(want)) {
    return CONFLICT.test(error) ? { status: "pass" } : { status: "fail", detail: `want ${want}, got error ${error}` };
  }
  return { status: "fail", detail: `want ${want}, got error ${error} (no rule maps this error kind to the wasm's)` };
}

const UNDEFINED_FUNCTION = /undefined function (\S+)/g;

const outcomes = new Map<string, { topic: string; note: string; outcome: Outcome }>();
let root: string | undefined;
let topics: string[] = [];
/** OPA's builtins that agentgate's capabilities leave out */
let notProvided: string[] = [];
/** the builtins of agentgate's capabilities */
let provided: ReadonlySet<string> = new Set();
const evaluates = (name: string): boolean => provided.has(name);

async function buildTopic(topic: string, cases: Prepared[], caps: string, work: string): Promise<void> {
  let remaining = [...cases];
  for (let attempt = 0; remaining.length > 0; attempt++) {
    const dir = join(work, `${topic}-${String(attempt)}`);
    await mkdir(dir, { recursive: true });
    for (const p of remaining) {
      for (const [k, text] of relocate(p).entries()) await writeFile(join(dir, `${p.pkg}_${String(k)}.rego`), text);
    }
    const out = join(dir, "bundle.tar.gz");
    const refusal = await opaBuild(["--capabilities", caps, ...remaining.flatMap((p) => ["-e", p.entrypoint]), "-o", out, dir]);
    if (refusal !== undefined) {
      // The cases opa refuses: with agentgate's capabilities (a builtin agentgate does not provide) or without (OPA refuses them too).
      const failing = new Set([...refusal.matchAll(/(c\d+)_\d+\.rego/g)].map((x) => x[1]));
      const entry = /entrypoint (\S+)/.exec(refusal)?.[1];
      if (entry) for (const p of remaining) if (p.entrypoint === entry.replaceAll(".", "/").replace(/^data\//, "")) failing.add(p.pkg);
      if (failing.size === 0) throw new Error(`opa build refused topic ${topic} without naming a case: ${refusal}`);
      for (const p of remaining.filter((r) => failing.has(r.pkg))) {
        const single = join(dir, `alone-${p.pkg}`);
        await mkdir(single);
        for (const [k, text] of relocate(p).entries()) await writeFile(join(single, `m${String(k)}.rego`), text);
        const alone = await opaBuild(["--capabilities", caps, "-e", p.entrypoint, "-o", join(single, "b.tar.gz"), single]);
        const plain = await opaBuild(["-e", p.entrypoint, "-o", join(single, "plain.tar.gz"), single]);
        let outcome: Outcome;
        if (plain === undefined) {
          // opa names an undefined function, or (a `with` target, a bare reference) another error: the builtins the modules name.
          const text = (p.c.modules ?? []).join("\n");
          const named = [...(alone ?? "").matchAll(UNDEFINED_FUNCTION)].map((x) => x[1] ?? "");
          const builtins = [...new Set([...named, ...notProvided.filter((b) => text.includes(b))])].sort();
          outcome = builtins.length > 0 ? { status: "refused", builtins } : { status: "fail", detail: `refused at build with agentgate's capabilities: ${alone ?? "(built alone)"}` };
        } else {
          const message = expectedMessage(p.c);
          const wanted = p.c.want_error_code?.startsWith("rego_") === true ? plain.includes(p.c.want_error_code) && (message === undefined || plain.includes(message)) : false;
          outcome = wanted ? { status: "pass" } : { status: "fail", detail: `opa build -t wasm refuses it (opa eval does not): ${plain.split("\n").find((l) => l.includes("rego_")) ?? plain}` };
        }
        outcomes.set(p.id, { topic, note: p.c.note, outcome });
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
        got = policy.evaluate(p.entrypoint, p.c.input === undefined ? new ArrayBuffer(0) : encodeInput(p.c.input));
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      let outcome: Outcome;
      if (p.c.want_error !== undefined || p.c.want_error_code !== undefined) {
        outcome = judgeError(p.c, got, error, policy.lastBuiltinErrors);
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

function casesOf(topic: string): { file: string; cases: Case[] }[] {
  const dir = join(root ?? "", topic);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((file) => ({ file, cases: (parseYaml(readFileSync(join(dir, file), "utf8")) as { cases?: Case[] }).cases ?? [] }));
}

before(async () => {
  root = testdataDir();
  if (!root) return;
  topics = readdirSync(root).filter((t) => !(t in EXCLUDED_TOPICS)).sort();
  const work = await mkdtemp(join(tmpdir(), "agentgate-conformance-"));
  const caps = join(work, "capabilities.json");
  const agentgate = await currentCapabilities();
  provided = new Set(agentgate.builtins.map((b) => b.name));
  await writeFile(caps, JSON.stringify(agentgate));
  const opaCaps = JSON.parse((await runOpa(["capabilities", "--current"])).stdout) as { builtins: { name: string }[] };
  notProvided = opaCaps.builtins.map((b) => b.name).filter((name) => !evaluates(name));
  let n = 0;
  for (const topic of topics) {
    const prepared: Prepared[] = [];
    for (const { file, cases } of casesOf(topic)) {
      cases.forEach((c, i) => {
        const p = prepare(topic, file, i, c, n++);
        if ("status" in p) outcomes.set(`${topic}/${file}#${String(i)}`, { topic, note: c.note, outcome: p });
        else prepared.push(p);
      });
    }
    await buildTopic(topic, prepared, caps, work);
  }
});

test("OPA's conformance cases answer in the gateway as in OPA, exceptions listed with reasons", (t) => {
  assert.ok(root, `OPA's conformance cases are not on this machine: ${OPA_MODULE} is not in the Go module cache; run tools/install.sh`);
  const byTopic = new Map<string, { pass: number; applicable: number }>();
  const failing: Record<string, string> = {};
  const refused = new Map<string, number>();
  for (const [id, { topic, note, outcome }] of outcomes) {
    const row = byTopic.get(topic) ?? { pass: 0, applicable: 0 };
    if (outcome.status !== "n/a") row.applicable++;
    if (outcome.status === "pass") row.pass++;
    if (outcome.status === "fail") failing[id] = `${note}: ${outcome.detail}`;
    if (outcome.status === "refused") {
      for (const b of outcome.builtins) refused.set(b, (refused.get(b) ?? 0) + 1);
      // Refused only for a builtin agentgate's capabilities leave out; anything else is a failure.
      const claimed = outcome.builtins.filter((b) => evaluates(b));
      if (claimed.length > 0) failing[id] = `${note}: refused at build for ${claimed.join(", ")}, which agentgate says it evaluates`;
    }
    byTopic.set(topic, row);
  }
  const total = [...byTopic.values()].reduce((a, r) => ({ pass: a.pass + r.pass, applicable: a.applicable + r.applicable }), { pass: 0, applicable: 0 });
  const refusedCases = [...outcomes.values()].filter((o) => o.outcome.status === "refused").length;
  t.diagnostic(
    `conformance: applicable ${String(total.applicable)}, passed ${String(total.pass)}, listed exceptions ${String(Object.keys(EXPECTED_FAILURES).length)}, refused (builtins not provided) ${String(refusedCases)}: ${[...refused].map(([b, k]) => `${b} ${String(k)}`).join(", ")}`,
  );
  t.diagnostic(`per topic: ${[...byTopic].map(([k, r]) => `${k} ${String(r.pass)}/${String(r.applicable)}`).join(", ")}`);
  const unexpected = Object.keys(failing).filter((id) => !(id in EXPECTED_FAILURES));
  const nowPassing = Object.keys(EXPECTED_FAILURES).filter((id) => !(id in failing));
  assert.deepEqual(unexpected.map((id) => `${id} ${failing[id] ?? ""}`), [], "new failures");
  assert.deepEqual(nowPassing, [], "listed as failing but now answering as OPA: remove them from EXPECTED_FAILURES");
  assert.ok(total.applicable >= FLOOR.applicable, `only ${String(total.applicable)} applicable cases (floor ${String(FLOOR.applicable)}): has the harness stopped reading some?`);
  assert.ok(total.pass >= FLOOR.passed, `only ${String(total.pass)} cases pass (floor ${String(FLOOR.passed)})`);
  assert.equal(total.applicable, total.pass + Object.keys(EXPECTED_FAILURES).length + refusedCases, "every applicable case passes, is a listed exception or is refused for a builtin not provided");
});

test("every excluded topic exists and holds only cases that call a builtin agentgate does not provide", (t) => {
  assert.ok(root, `OPA's conformance cases are not on this machine: ${OPA_MODULE} is not in the Go module cache; run tools/install.sh`);
  const available = new Set(readdirSync(root));
  for (const [topic, { builtins, reason }] of Object.entries(EXCLUDED_TOPICS)) {
    assert.ok(available.has(topic), `excluded topic ${topic} is not in the suite`);
    if (topic === "regometadatachain") continue;
    for (const b of builtins.filter((x) => !x.endsWith("."))) assert.equal(evaluates(b), false, `${topic}: ${b} is evaluated by agentgate now (${reason}): run its cases`);
    for (const { file, cases } of casesOf(topic)) {
      cases.forEach((c, i) => {
        const text = (c.modules ?? []).join("\n") + c.query;
        assert.ok(builtins.some((b) => text.includes(b)), `${topic}/${file}#${String(i)} calls none of ${builtins.join(", ")}: it is applicable, do not exclude the topic`);
      });
    }
  }
  t.diagnostic(`excluded topics: ${Object.keys(EXCLUDED_TOPICS).length}`);
});
