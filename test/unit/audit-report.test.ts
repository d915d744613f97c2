// Audit's pure report logic: results per object × policy id, actions to
// results, catalogs, size limits, change detection, events' baseline.
import { test } from "node:test";
import assert from "node:assert/strict";
import { catalogOf } from "../../src/audit/catalog.ts";
import {
  ANNOTATION,
  OPEN_REPORTS,
  POLICY_REPORT,
  baselineOf,
  buildReport,
  carryTimestamps,
  failureMessage,
  findingResults,
  fitResults,
  newFailures,
  reportChanged,
  sortResults,
  storedResults,
  timestampOf,
  type Finding,
  type ObjectRef,
  type ReportResult,
} from "../../src/audit/report.ts";
import type { Violation } from "../../src/types/policy.ts";

const ref = (name: string, kind = "AgentConfig", namespace = "qe"): ObjectRef => ({ apiVersion: "agent.tekton.dev/v1alpha1", kind, name, namespace, uid: `uid-${kind}-${name}` });
const v = (policy: string, action: Violation["action"], field = "spec.x", message = "found"): Violation => ({ policy, field, message, action });
const T1 = timestampOf(1_700_000_000_123);
const T2 = timestampOf(1_700_000_600_456);
const catalog = catalogOf([{ agentgate: { catalog: { AgentConfig: ["token-budget", "model-allowlist", "run-timeout"], ModelConfig: ["model-endpoint"] } } }]);
const finding = (name: string, violations: Violation[], kind = "AgentConfig"): Finding => ({ ref: ref(name, kind), violations, revision: "default@r1" });

test("timestamps are {seconds, nanos}", () => {
  assert.deepEqual(T1, { seconds: 1_700_000_000, nanos: 123_000_000 });
});

test("catalogOf merges every bundle's catalog, sorted and unique; none without any", () => {
  const merged = catalogOf([{ agentgate: { catalog: { Agent: ["b", "a"] } } }, { other: 1 }, { agentgate: { catalog: { Agent: ["a", "c"], ModelConfig: ["m"] } } }]);
  assert.deepEqual(merged && Object.fromEntries(merged), { Agent: ["a", "b", "c"], ModelConfig: ["m"] });
  assert.equal(catalogOf([{ agentgate: { config: {} } }, {}]), undefined);
});

test("deny fails (enforced), warn warns, dryrun fails marked not enforced; catalog ids without findings pass", () => {
  const results = findingResults(finding("a", [v("token-budget", "deny"), v("model-allowlist", "dryrun", "spec.modelConfigRef", "not allowed"), v("extra-policy", "warn")]), catalog, T1);
  assert.deepEqual(
    results.map((r) => [r.policy, r.result, r.properties.action, r.properties.enforced]),
    [
      ["extra-policy", "warn", "warn", "false"],
      ["model-allowlist", "fail", "dryrun", "false"],
      ["run-timeout", "pass", undefined, undefined],
      ["token-budget", "fail", "deny", "true"],
    ],
  );
  const dry = results.find((r) => r.policy === "model-allowlist");
  assert.equal(dry?.message, "[model-allowlist] spec.modelConfigRef: not allowed");
  assert.equal(dry?.properties.revision, "default@r1");
  assert.deepEqual(dry?.resources, [ref("a")]);
  assert.deepEqual(dry?.timestamp, T1);
  assert.equal(dry?.source, "agentgate");
});

test("several findings of one policy make one result: the worst action decides, every line is in the message", () => {
  const [r] = findingResults(finding("a", [v("token-budget", "warn", "spec.a", "one"), v("token-budget", "deny", "spec.b", "two")]), undefined, T1);
  assert.equal(r?.result, "fail");
  assert.equal(r?.properties.action, "deny");
  assert.equal(r?.message, "[token-budget] spec.a: one\n[token-budget] spec.b: two");
});

test("without a catalog a clean object has one agentgate pass; a failing one only its failures", () => {
  assert.deepEqual(findingResults(finding("clean", []), undefined, T1).map((r) => `${r.policy}:${r.result}`), ["agentgate:pass"]);
  assert.deepEqual(findingResults(finding("bad", [v("p", "deny")]), undefined, T1).map((r) => `${r.policy}:${r.result}`), ["p:fail"]);
  assert.deepEqual(findingResults(finding("x", [], "Agent"), catalog, T1).map((r) => `${r.policy}:${r.result}`), ["agentgate:pass"], "nor for a kind the catalog does not list");
});

test("a bundle that failed to evaluate is an error result", () => {
  const [r] = findingResults(finding("a", [v("policy-evaluation", "deny", 'bundle "b"', "boom")]), undefined, T1);
  assert.equal(r?.result, "error");
});

test("buildReport: both APIs, namespaced and cluster-wide, with summary and labels", () => {
  const results = sortResults([...findingResults(finding("b", [v("token-budget", "deny")]), catalog, T1), ...findingResults(finding("a", []), catalog, T1)]);
  const polr = buildReport(POLICY_REPORT, "qe", results);
  assert.equal(polr.apiVersion, "wgpolicyk8s.io/v1alpha2");
  assert.equal(polr.kind, "PolicyReport");
  assert.deepEqual(polr.metadata, { name: "agentgate", namespace: "qe", labels: { "app.kubernetes.io/managed-by": "agentgate" } });
  assert.deepEqual(polr.summary, { pass: 5, fail: 1, warn: 0, error: 0, skip: 0 });
  assert.equal(polr.source, undefined);
  assert.deepEqual(polr.results.map((r) => `${r.resources[0]?.name}/${r.policy}`), ["a/model-allowlist", "a/run-timeout", "a/token-budget", "b/model-allowlist", "b/run-timeout", "b/token-budget"]);
  const rep = buildReport(OPEN_REPORTS, "", results);
  assert.equal(rep.apiVersion, "openreports.io/v1alpha1");
  assert.equal(rep.kind, "ClusterReport");
  assert.equal(rep.metadata.namespace, undefined);
  assert.equal(rep.source, "agentgate");
});

test("an oversized report drops pass results first, then the last failures, and says so; the summary counts all", () => {
  const many = sortResults(Array.from({ length: 40 }, (_, i) => findingResults(finding(`o${String(i).padStart(2, "0")}`, i < 10 ? [v("token-budget", "deny")] : []), catalog, T1)).flat());
  const all = JSON.stringify(many).length;
  const failuresOnly = JSON.stringify(many.filter((r) => r.result !== "pass")).length;
  assert.equal(fitResults(many, all + 100).results.length, many.length);
  const noPass = buildReport(POLICY_REPORT, "qe", many, { maxBytes: failuresOnly + 100 });
  assert.equal(noPass.results.length, 10);
  assert.equal(noPass.metadata.annotations?.[ANNOTATION.passOmitted], String(many.length - 10));
  assert.equal(noPass.summary.pass, many.length - 10);
  const truncated = buildReport(POLICY_REPORT, "qe", many, { maxBytes: Math.floor(failuresOnly / 2) });
  assert.ok(truncated.results.length < 10 && truncated.results.length > 0);
  assert.equal(truncated.metadata.annotations?.[ANNOTATION.truncated], String(10 - truncated.results.length));
  assert.equal(truncated.summary.fail, 10);
});

test("reportChanged ignores timestamps, resourceVersion and fields the server adds; sees any other change", () => {
  const results = sortResults(findingResults(finding("a", [v("token-budget", "deny")]), catalog, T1));
  const stored = { ...buildReport(POLICY_REPORT, "qe", results), metadata: { name: "agentgate", namespace: "qe", labels: { "app.kubernetes.io/managed-by": "agentgate" }, resourceVersion: "7", uid: "x", creationTimestamp: "t" } };
  const later = buildReport(POLICY_REPORT, "qe", sortResults(findingResults(finding("a", [v("token-budget", "deny")]), catalog, T2)));
  assert.equal(reportChanged(stored, later), false);
  assert.equal(reportChanged(JSON.parse(JSON.stringify(stored)), later), false, "as read back from the API server");
  const fixed = buildReport(POLICY_REPORT, "qe", sortResults(findingResults(finding("a", []), catalog, T2)));
  assert.equal(reportChanged(stored, fixed), true);
  const reworded = buildReport(POLICY_REPORT, "qe", sortResults(findingResults(finding("a", [v("token-budget", "deny", "spec.x", "other")]), catalog, T2)));
  assert.equal(reportChanged(stored, reworded), true);
  assert.equal(reportChanged(stored, buildReport(POLICY_REPORT, "qe", [])), true);
  assert.equal(reportChanged(undefined, later), true);
});

test("carryTimestamps keeps when an unchanged result was first found, and stamps changed ones anew", () => {
  const before = findingResults(finding("a", [v("token-budget", "deny")]), catalog, T1);
  const now = findingResults(finding("a", [v("token-budget", "deny"), v("run-timeout", "warn")]), catalog, T2);
  const carried = carryTimestamps(now, before);
  const at = (p: string) => carried.find((r) => r.policy === p)?.timestamp;
  assert.deepEqual(at("token-budget"), T1);
  assert.deepEqual(at("model-allowlist"), T1);
  assert.deepEqual(at("run-timeout"), T2);
});

test("newFailures: objects whose result got worse; one per object; errors and improvements earn none", () => {
  const before: ReportResult[] = [
    ...findingResults(finding("was-warn", [v("token-budget", "warn")]), catalog, T1),
    ...findingResults(finding("still-bad", [v("token-budget", "deny")]), catalog, T1),
    ...findingResults(finding("fixed", [v("token-budget", "deny")]), catalog, T1),
  ];
  const now: ReportResult[] = [
    ...findingResults(finding("was-warn", [v("token-budget", "deny")]), catalog, T2),
    ...findingResults(finding("still-bad", [v("token-budget", "deny")]), catalog, T2),
    ...findingResults(finding("fixed", []), catalog, T2),
    ...findingResults(finding("new", [v("token-budget", "dryrun"), v("run-timeout", "warn")]), catalog, T2),
    ...findingResults(finding("broken", [v("policy-evaluation", "deny")]), catalog, T2),
  ];
  const failures = newFailures(now, baselineOf(before));
  assert.deepEqual(failures.map((f) => `${f.ref.name}:${f.results.map((r) => r.policy).join(",")}`).sort(), ["new:run-timeout,token-budget", "was-warn:token-budget"]);
  const msg = failureMessage(failures.find((f) => f.ref.name === "new") ?? failures[0] ?? { ref: ref("x"), results: [] });
  assert.match(msg, /^agentgate audit: \[run-timeout\] spec\.x: found \(warn\); \[token-budget\] spec\.x: found \(dryrun: not enforced\)$/);
  assert.equal(newFailures(now, baselineOf(now)).length, 0, "nothing new against itself");
});

test("reportChanged sees what another writer changed besides the results: summary, source, agentgate's annotations", () => {
  const results = sortResults(findingResults(finding("a", [v("token-budget", "deny")]), catalog, T1));
  for (const api of [POLICY_REPORT, OPEN_REPORTS]) {
    const desired = buildReport(api, "qe", results);
    const stored = (): Record<string, unknown> => JSON.parse(JSON.stringify(desired)) as Record<string, unknown>;
    assert.equal(reportChanged(stored(), desired), false, `${api.name}: unchanged`);
    assert.equal(reportChanged({ ...stored(), summary: { ...desired.summary, pass: 99 } }, desired), true, `${api.name}: summary`);
    assert.equal(reportChanged({ ...stored(), source: api.reportSource ? "kyverno" : "agentgate" }, desired), true, `${api.name}: source`);
    assert.equal(reportChanged({ ...stored(), metadata: { ...desired.metadata, annotations: { [ANNOTATION.truncated]: "3" } } }, desired), true, `${api.name}: annotations`);
    assert.equal(reportChanged({ ...stored(), metadata: { ...desired.metadata, annotations: { "someone.else/note": "x" } } }, desired), false, `${api.name}: annotations that are not agentgate's`);
  }
});

test("storedResults keeps only well-formed results of what is stored, so a foreign entry cannot break the comparison", () => {
  const good = findingResults(finding("a", [v("token-budget", "deny")]), catalog, T1);
  assert.deepEqual(storedResults({ results: ["junk", 7, null, { policy: "x" }, ...good] }), good);
  assert.deepEqual(storedResults({ results: "junk" }), []);
  assert.deepEqual(storedResults(null), []);
  const carried = carryTimestamps(findingResults(finding("a", [v("token-budget", "deny")]), catalog, T2), storedResults({ results: ["junk", ...good] }));
  assert.deepEqual(carried.find((r) => r.policy === "token-budget")?.timestamp, T1);
});

test("an Event message is cut at 1024 characters", () => {
  const many = findingResults(finding("a", Array.from({ length: 40 }, (_, i) => v(`policy-${String(i).padStart(2, "0")}`, "deny", "spec.x", "x".repeat(40)))), undefined, T1);
  const msg = failureMessage({ ref: ref("a"), results: many });
  assert.equal(msg.length, 1024);
  assert.ok(msg.startsWith("agentgate audit: [policy-00] spec.x: xxxx"));
});

test("the two report APIs, as the resource registry gives them, are the ones Kyverno and OpenReports serve", () => {
  assert.deepEqual(POLICY_REPORT, { name: "policyreport", group: "wgpolicyk8s.io", version: "v1alpha2", kind: "PolicyReport", plural: "policyreports", clusterKind: "ClusterPolicyReport", clusterPlural: "clusterpolicyreports", reportSource: false });
  assert.deepEqual(OPEN_REPORTS, { name: "openreports", group: "openreports.io", version: "v1alpha1", kind: "Report", plural: "reports", clusterKind: "ClusterReport", clusterPlural: "clusterreports", reportSource: true });
});
