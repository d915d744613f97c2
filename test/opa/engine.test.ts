// PolicyEngine against bundles built by the real opa: entrypoints, several
// bundles, builtin refusal at load, fail-closed evaluation errors.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readBundle } from "../../src/policy/bundle.ts";
import { PolicyEngine, encodeInput } from "../../src/policy/engine.ts";
import { buildTestBundle } from "../fixtures/bundles.ts";

const violationRule = (policy: string, cond: string, action = "deny") => `package agentgate
violations contains {"policy": "${policy}", "field": "spec.x", "message": "found", "action": "${action}"} if { ${cond} }
defaults := {"spec": {"x": 1}}
`;

let teamA: string;
let teamB: string;
before(async () => {
  teamA = await buildTestBundle({ "a.rego": violationRule("a-rule", "input.request.object.spec.x > 1") }, { name: "team-a", revision: "7" });
  teamB = await buildTestBundle({ "b.rego": violationRule("b-rule", "input.request.object.spec.x > 2", "warn") }, { name: "team-b", revision: "9" });
});

const input = (x: unknown) => encodeInput({ request: { object: { spec: { x } } }, context: {} });

test("every bundle is evaluated and their findings add up", async () => {
  const engine = await PolicyEngine.load([await readBundle(teamA), await readBundle(teamB)]);
  assert.equal(engine.revision, "team-a@7,team-b@9");
  const { violations, failures } = engine.violations(input(3));
  assert.deepEqual(failures, []);
  assert.deepEqual(violations.map((v) => `${v.policy}:${v.action}`).sort(), ["a-rule:deny", "b-rule:warn"]);
  assert.deepEqual(engine.violations(input(0)).violations, []);
});

test("defaults come back per bundle", async () => {
  const engine = await PolicyEngine.load([await readBundle(teamA)]);
  assert.deepEqual(engine.defaults(input(0)).defaults, [{ spec: { x: 1 } }]);
});

test("a bundle needing a builtin nobody provides is refused when built, naming it", async () => {
  const path = await buildTestBundle(
    { "p.rego": `package agentgate\nviolations contains {"policy": "p", "field": "", "message": "m", "action": "deny"} if { net.lookup_ip_addr("example.com") }\n` },
    { name: "needs-net", entrypoints: ["agentgate/violations"] },
  ).catch((err: unknown) => err);
  // `bundle build` checks against agentgate's capabilities; the refusal at load is in fidelity-capabilities.test.ts.
  assert.ok(path instanceof Error);
  assert.match(path.message, /rego_type_error: undefined function net\.lookup_ip_addr/);
});

test("a malformed violation is an evaluation failure (fail closed), not a pass", async () => {
  const path = await buildTestBundle({ "p.rego": `package agentgate\nviolations contains {"policy": 1} if { true }\n` }, { entrypoints: ["agentgate/violations"] });
  const engine = await PolicyEngine.load([await readBundle(path)]);
  const { violations, failures } = engine.violations(input(0));
  assert.deepEqual(violations, []);
  assert.equal(failures.length, 1);
  assert.match(failures[0]?.error ?? "", /lacks a string "policy" or "message"/);
});

test("policy config overrides reach data.agentgate.config", async () => {
  const path = await buildTestBundle({
    "p.rego": `package agentgate\nviolations contains {"policy": "max", "field": "spec.x", "message": "m", "action": "deny"} if { input.request.object.spec.x > data.agentgate.config.max }\n`,
    "data.json": JSON.stringify({ agentgate: { config: { max: 10, other: "kept" } } }),
  }, { entrypoints: ["agentgate/violations"] });
  const engine = await PolicyEngine.load([await readBundle(path)], { max: 2 });
  assert.deepEqual(engine.policyConfig, { max: 2, other: "kept" });
  assert.equal(engine.violations(input(5)).violations.length, 1);
  assert.equal(engine.violations(input(1)).violations.length, 0);
});

test("each violation entry is read field by field: no action is a deny, no field is \"\", an unknown action or a non-set is a failure", async () => {
  const path = await buildTestBundle({
    "p.rego": `package agentgate
violations contains {"policy": "no-action", "field": "spec.x", "message": "m"} if input.request.object.spec.x == "no-action"
violations contains {"policy": "no-field", "message": "m", "action": "warn"} if input.request.object.spec.x == "no-field"
violations contains {"policy": "bad-action", "field": "", "message": "m", "action": "block"} if input.request.object.spec.x == "bad-action"
`,
  }, { name: "shapes", entrypoints: ["agentgate/violations"] });
  const engine = await PolicyEngine.load([await readBundle(path)]);
  assert.deepEqual(engine.violations(input("no-action")), { violations: [{ policy: "no-action", field: "spec.x", message: "m", action: "deny" }], failures: [] });
  assert.deepEqual(engine.violations(input("no-field")), { violations: [{ policy: "no-field", field: "", message: "m", action: "warn" }], failures: [] });
  const bad = engine.violations(input("bad-action"));
  assert.deepEqual(bad.violations, []);
  assert.deepEqual(bad.failures.map((f) => f.error), ['agentgate/violations entry for policy "bad-action" has action "block"; allowed: deny, warn, dryrun']);
  const notSet = await buildTestBundle({ "p.rego": `package agentgate\nviolations := {"policy": "p"}\n` }, { name: "not-a-set", entrypoints: ["agentgate/violations"] });
  const failures = (await PolicyEngine.load([await readBundle(notSet)])).violations(input(0)).failures;
  assert.deepEqual(failures.map((f) => [f.bundle, f.error]), [["not-a-set", "agentgate/violations must be a set, got object"]]);
});

test("defaults that are not an object are a failure of that bundle, not a merge", async () => {
  const path = await buildTestBundle({ "p.rego": `package agentgate\nviolations contains {"policy": "p", "field": "", "message": "m"} if false\ndefaults := ["spec"]\n` }, { name: "list-defaults", revision: "3", entrypoints: ["agentgate/violations", "agentgate/defaults"] });
  const outcome = (await PolicyEngine.load([await readBundle(path)])).defaults(input(0));
  assert.deepEqual(outcome, { defaults: [], failures: [{ bundle: "list-defaults", revision: "3", error: "agentgate/defaults must be an object, got array" }] });
});

test("the gateway's own checks read the policy config of the first bundle that carries one", async () => {
  const withConfig = (max: number) => ({
    "p.rego": `package agentgate\nviolations contains {"policy": "p", "field": "", "message": "m"} if false\n`,
    "data.json": JSON.stringify({ agentgate: { config: { max } } }),
  });
  const first = await buildTestBundle(withConfig(1), { name: "first", entrypoints: ["agentgate/violations"] });
  const second = await buildTestBundle(withConfig(2), { name: "second", entrypoints: ["agentgate/violations"] });
  const engine = await PolicyEngine.load([await readBundle(teamA), await readBundle(first), await readBundle(second)]);
  assert.deepEqual(engine.policyConfig, { max: 1 });
});

const stored = (x: unknown) => ({ request: { uid: "", object: { spec: { x } } }, context: {} });

test("an object as stored is judged once per input text: the same text is answered from the memo, another is evaluated", async () => {
  const engine = await PolicyEngine.load([await readBundle(teamA)]);
  const first = engine.storedViolations(stored(3));
  assert.deepEqual(first.violations.map((v) => v.policy), ["a-rule"]);
  assert.deepEqual(engine.storedViolations(stored(3)), first);
  assert.deepEqual(engine.storedViolations(stored(0)).violations, []);
  assert.deepEqual(engine.storedMemoStats, { hits: 1, misses: 2, size: 2 });
  // What the memo answers is a copy: a caller changing it changes no later answer.
  const answer = engine.storedViolations(stored(3));
  answer.violations.length = 0;
  assert.deepEqual(engine.storedViolations(stored(3)).violations.map((v) => v.policy), ["a-rule"]);
});

test("a bundle that reads the clock (time.now_ns) is judged afresh every time: no memo", async () => {
  const path = await buildTestBundle(
    { "p.rego": `package agentgate\nviolations contains {"policy": "clock", "field": "", "message": sprintf("%d", [time.now_ns()]), "action": "deny"} if { true }\n` },
    { entrypoints: ["agentgate/violations"] },
  );
  const engine = await PolicyEngine.load([await readBundle(path)]);
  assert.equal(engine.storedMemoStats, undefined);
  const a = engine.storedViolations(stored(1)).violations[0]?.message;
  await new Promise((r) => setTimeout(r, 2));
  const b = engine.storedViolations(stored(1)).violations[0]?.message;
  assert.ok(a !== undefined && b !== undefined && a !== b, `two judgments a moment apart read two times (${String(a)}, ${String(b)})`);
});

test("an outcome with a bundle failure is not kept: the next judgment evaluates again", async () => {
  const path = await buildTestBundle({ "p.rego": `package agentgate\nviolations contains {"policy": 1} if { input.request.object.spec.x > 0 }\n` }, { entrypoints: ["agentgate/violations"] });
  const engine = await PolicyEngine.load([await readBundle(path)]);
  assert.equal(engine.storedViolations(stored(1)).failures.length, 1);
  assert.equal(engine.storedViolations(stored(1)).failures.length, 1);
  assert.deepEqual(engine.storedMemoStats, { hits: 0, misses: 2, size: 0 });
});

test("an outcome in which a builtin failed is not kept: the builtin may answer next time", async () => {
  const path = await buildTestBundle(
    { "p.rego": `package agentgate\nviolations contains {"policy": "d", "field": "", "message": "long", "action": "deny"} if { time.parse_duration_ns(input.request.object.spec.x) > 1000 }\n` },
    { entrypoints: ["agentgate/violations"] },
  );
  const engine = await PolicyEngine.load([await readBundle(path)]);
  assert.deepEqual(engine.storedViolations(stored("not a duration")).violations, []);
  assert.equal(engine.storedMemoStats?.size, 0);
  assert.deepEqual(engine.storedViolations(stored("1h")).violations.map((v) => v.policy), ["d"]);
  assert.equal(engine.storedMemoStats?.size, 1);
});
