// Audit end to end on a real kube-apiserver: objects admitted by the real
// webhook under a gentle bundle (warn and dryrun rules only), scanned under
// that bundle and under a stricter one; PolicyReports and OpenReports
// written only when their CRDs exist; converging, deleting, Events, Lease,
// and the CLI.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { AuditMetrics } from "../../src/audit/metrics.ts";
import type { ReportObject, ReportResult } from "../../src/audit/report.ts";
import { LEASE_NAME, startAuditRunner } from "../../src/audit/run.ts";
import type { ScanResult } from "../../src/audit/scanner.ts";
import { main } from "../../src/cli/main.ts";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { webhookConfigurations } from "../../src/gateway/webhooks.ts";
import { makeIdentity } from "../../src/guardrails/identity.ts";
import { logger } from "../../src/log.ts";
import { loadEngine } from "../../src/policy/load.ts";
import { buildTestBundle } from "../fixtures/bundles.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const REPORT_CRDS = join(ROOT, "test/support/crds-reports");
const GW_NS = "agentgate-system";

const GENTLE = `package agentgate
import rego.v1
violations contains {"policy": "soft-budget", "field": "spec.tokenBudget", "message": sprintf("%d is over the soft limit of 500", [input.request.object.spec.tokenBudget]), "action": "warn"} if {
  input.request.kind.kind == "AgentConfig"
  input.request.object.spec.tokenBudget > 500
}
violations contains {"policy": "future-budget", "field": "spec.tokenBudget", "message": sprintf("%d is over the coming limit of 100", [input.request.object.spec.tokenBudget]), "action": "dryrun"} if {
  input.request.kind.kind == "AgentConfig"
  input.request.object.spec.tokenBudget > 100
}
`;
const STRICT_RULE = `package agentgate
import rego.v1
violations contains {"policy": "budget", "field": "spec.tokenBudget", "message": sprintf("%d is over the limit of 1000; lower it", [input.request.object.spec.tokenBudget]), "action": "deny"} if {
  input.request.kind.kind == "AgentConfig"
  input.request.object.spec.tokenBudget > 1000
}
`;
const CATALOG = JSON.stringify({ agentgate: { catalog: { AgentConfig: ["budget", "future-budget", "soft-budget"] } } });

let cp: ControlPlane;
let gateway: RunningGateway;
let custom: k8s.CustomObjectsApi;
let gentle: string;
let strict: string;

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");
const ns = (name: string) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
const agentConfig = (name: string, namespace: string, tokenBudget: number) => ({
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentConfig",
  metadata: { name, namespace },
  spec: { modelConfigRef: { name: "claude" }, tokenBudget },
});
const modelConfig = (name: string, namespace: string) => ({
  apiVersion: "kagent.dev/v1alpha2",
  kind: "ModelConfig",
  metadata: { name, namespace },
  spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022" },
});

async function apply(...docs: unknown[]) {
  return cp.kubectl(["apply", "-f", "-"], { stdin: yaml(...docs), allowFail: true });
}

async function scan(bundle: string, opts: { leaderElect?: boolean; write?: boolean } = {}): Promise<ScanResult> {
  const runner = await startAuditRunner({
    kubeConfig: cp.kubeConfig,
    engine: await loadEngine([bundle]),
    identity: makeIdentity([`system:serviceaccount:${GW_NS}:agentgate`]),
    namespace: GW_NS,
    log: logger,
    metrics: new AuditMetrics(false),
    pageSize: 2,
    leaderElect: opts.leaderElect ?? false,
    leaseNamespace: GW_NS,
    ...(opts.write === undefined ? {} : { write: opts.write }),
  });
  try {
    return await runner.scanOnce();
  } finally {
    await runner.stop();
  }
}

const POLR = { group: "wgpolicyk8s.io", version: "v1alpha2", plural: "policyreports" };
const REPS = { group: "openreports.io", version: "v1alpha1", plural: "reports" };

async function report(api: { group: string; version: string; plural: string }, namespace: string): Promise<(ReportObject & { metadata: { resourceVersion: string } }) | undefined> {
  try {
    return (await custom.getNamespacedCustomObject({ ...api, namespace, name: "agentgate" })) as ReportObject & { metadata: { resourceVersion: string } };
  } catch (err) {
    if (err instanceof k8s.ApiException && err.code === 404) return undefined;
    throw err;
  }
}

/** "kind/name policy result" for each result of a report */
const lines = (r: { results: ReportResult[] } | undefined) => (r?.results ?? []).map((x) => `${x.resources[0]?.kind}/${x.resources[0]?.name} ${x.policy} ${x.result}`);
const resultOf = (r: { results: ReportResult[] } | undefined, name: string, policy: string) => r?.results.find((x) => x.resources[0]?.name === name && x.policy === policy);

before(async () => {
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/crds"), join(ROOT, "test/support/crds")] });
  custom = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  gentle = await buildTestBundle({ "gentle.rego": GENTLE, "data.json": CATALOG }, { entrypoints: ["agentgate/violations"], name: "gentle", revision: "g1" });
  strict = await buildTestBundle({ "gentle.rego": GENTLE, "strict.rego": STRICT_RULE, "data.json": CATALOG }, { entrypoints: ["agentgate/violations"], name: "strict", revision: "s1" });
  gateway = await startGateway({
    listen: "127.0.0.1:0",
    bundle: [gentle],
    kubeconfig: cp.kubeconfigPath,
    offline: false,
    namespace: GW_NS,
    serviceAccount: `system:serviceaccount:${GW_NS}:agentgate`,
    trustedUser: [],
    drainSeconds: 0,
  });
  const { validating, mutating } = webhookConfigurations({
    name: "agentgate",
    target: { url: `https://127.0.0.1:${gateway.port}`, caBundle: gateway.caCert ?? "" },
    exemptNamespaces: ["kube-system", GW_NS],
    timeoutSeconds: 5,
  });
  const setup = await apply(validating, mutating, ns("team-a"), ns("team-b"), ns("models"), ns(GW_NS));
  assert.equal(setup.code, 0, setup.stderr);
});

after(async () => {
  await gateway.close();
  await cp.stop();
});

describe("audit", () => {
  test("warn and dryrun rules do not block admission; the webhook warns only for warn", async () => {
    const r = await apply(agentConfig("big", "team-a", 2000), agentConfig("medium", "team-a", 300), agentConfig("small", "team-a", 50), agentConfig("other", "team-b", 50), modelConfig("claude", "models"), agentConfig("own", GW_NS, 99999));
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.split("\n").filter((l) => l.startsWith("Warning:"));
    assert.deepEqual(warnings, ["Warning: [soft-budget] spec.tokenBudget: 2000 is over the soft limit of 500"]);
  });

  test("without report CRDs a scan evaluates everything and skips writing cleanly", async () => {
    const result = await scan(gentle);
    assert.deepEqual(result.skippedApis, ["PolicyReport.wgpolicyk8s.io/v1alpha2", "Report.openreports.io/v1alpha1"]);
    assert.deepEqual(result.reports, {});
    assert.equal(result.apiCalls.create + result.apiCalls.update + result.apiCalls.delete, 0);
    assert.deepEqual(result.objects.map((o) => `${o.ref.namespace}/${o.ref.kind}/${o.ref.name}`), ["models/ModelConfig/claude", "team-a/AgentConfig/big", "team-a/AgentConfig/medium", "team-a/AgentConfig/small", "team-b/AgentConfig/other"], "agentgate's own namespace is exempt");
    assert.ok(result.apiCalls.list >= 5 + 2, "lists are paged (page size 2 over 4 AgentConfigs)");
  });

  test("the webhook and audit agree on a real UPDATE of each object to itself", async () => {
    const result = await scan(gentle, { write: false });
    for (const o of result.objects) {
      const stored = await cp.kubectl(["get", `${o.ref.kind.toLowerCase()}s.${o.ref.apiVersion.split("/")[0] ?? ""}`, o.ref.name, "-n", o.ref.namespace, "-o", "json"]);
      const replaced = await cp.kubectl(["replace", "--dry-run=server", "-f", "-"], { stdin: stored.stdout, allowFail: true });
      assert.equal(replaced.code === 0, o.allowed, `${o.ref.name}: ${replaced.stderr}`);
      const webhookWarnings = replaced.stderr.split("\n").filter((l) => l.startsWith("Warning: [")).map((l) => l.slice("Warning: ".length));
      const auditWarnings = o.violations.filter((v) => v.action === "warn").map((v) => `[${v.policy}] ${v.field}: ${v.message}`);
      assert.deepEqual(webhookWarnings, auditWarnings, o.ref.name);
    }
  });

  test("with the PolicyReport CRDs installed, one PolicyReport per namespace; OpenReports still skipped", async () => {
    await cp.installCRDs([join(REPORT_CRDS, "wgpolicyk8s.io_policyreports.yaml"), join(REPORT_CRDS, "wgpolicyk8s.io_clusterpolicyreports.yaml")]);
    const result = await scan(gentle);
    assert.deepEqual(result.skippedApis, ["Report.openreports.io/v1alpha1"]);
    assert.deepEqual(result.reports.policyreport, { created: 3, updated: 0, deleted: 0, unchanged: 0, failed: 0 });
    const a = await report(POLR, "team-a");
    assert.ok(a);
    assert.equal(a.metadata.labels["app.kubernetes.io/managed-by"], "agentgate");
    assert.deepEqual(lines(a), [
      "AgentConfig/big budget pass",
      "AgentConfig/big future-budget fail",
      "AgentConfig/big soft-budget warn",
      "AgentConfig/medium budget pass",
      "AgentConfig/medium future-budget fail",
      "AgentConfig/medium soft-budget pass",
      "AgentConfig/small budget pass",
      "AgentConfig/small future-budget pass",
      "AgentConfig/small soft-budget pass",
    ]);
    assert.deepEqual(a.summary, { pass: 6, fail: 2, warn: 1, error: 0, skip: 0 });
    const dry = resultOf(a, "medium", "future-budget");
    assert.equal(dry?.message, "[future-budget] spec.tokenBudget: 300 is over the coming limit of 100");
    assert.deepEqual(dry?.properties, { action: "dryrun", enforced: "false", revision: "gentle@g1" });
    assert.equal(dry?.source, "agentgate");
    const uid = (await cp.kubectl(["get", "agentconfig", "medium", "-n", "team-a", "-o", "jsonpath={.metadata.uid}"])).stdout;
    assert.deepEqual(dry?.resources, [{ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", name: "medium", namespace: "team-a", uid }]);
    assert.equal(typeof dry?.timestamp.seconds, "number");
    assert.equal(resultOf(a, "big", "soft-budget")?.properties.action, "warn");
    assert.deepEqual(lines(await report(POLR, "models")), ["ModelConfig/claude agentgate pass"], "no catalog entry for the kind: one agentgate pass");
    assert.equal(await report(POLR, GW_NS), undefined);
    const listed = await cp.kubectl(["get", "policyreports", "-A", "--no-headers"]);
    assert.equal(listed.stdout.trim().split("\n").length, 3);
  });

  test("a repeated scan with nothing changed writes nothing", async () => {
    const before = await report(POLR, "team-a");
    const result = await scan(gentle);
    assert.deepEqual(result.reports.policyreport, { created: 0, updated: 0, deleted: 0, unchanged: 3, failed: 0 });
    assert.equal(result.apiCalls.create + result.apiCalls.update + result.apiCalls.delete + result.apiCalls.event, 0);
    assert.equal((await report(POLR, "team-a"))?.metadata.resourceVersion, before?.metadata.resourceVersion);
  });

  test("OpenReports CRDs installed: both APIs are written, with the same results", async () => {
    await cp.installCRDs([join(REPORT_CRDS, "openreports.io_reports.yaml"), join(REPORT_CRDS, "openreports.io_clusterreports.yaml")]);
    const result = await scan(gentle);
    assert.deepEqual(result.skippedApis, []);
    assert.deepEqual(result.reports.openreports, { created: 3, updated: 0, deleted: 0, unchanged: 0, failed: 0 });
    assert.deepEqual(result.reports.policyreport?.unchanged, 3);
    const rep = await report(REPS, "team-a");
    assert.equal(rep?.apiVersion, "openreports.io/v1alpha1");
    assert.equal(rep?.kind, "Report");
    assert.equal(rep?.source, "agentgate");
    assert.deepEqual(lines(rep), lines(await report(POLR, "team-a")));
    const listed = await cp.kubectl(["get", "reports.openreports.io", "-A", "--no-headers"]);
    assert.equal(listed.stdout.trim().split("\n").length, 3);
  });

  test("a stricter bundle turns admitted objects to fail, with an Event on each newly failing object", async () => {
    const result = await scan(strict);
    // Every report records the revision it was evaluated under, so a new bundle rewrites each one once.
    assert.deepEqual(result.reports.policyreport, { created: 0, updated: 3, deleted: 0, unchanged: 0, failed: 0 });
    assert.ok((await report(POLR, "team-b"))?.results.every((r) => r.properties.revision === "strict@s1"), "team-b's report names the new revision");
    const a = await report(POLR, "team-a");
    const deny = resultOf(a, "big", "budget");
    assert.equal(deny?.result, "fail");
    assert.deepEqual(deny?.properties, { action: "deny", enforced: "true", revision: "strict@s1" });
    assert.equal(deny?.message, "[budget] spec.tokenBudget: 2000 is over the limit of 1000; lower it");
    assert.equal(resultOf(await report(REPS, "team-a"), "big", "budget")?.result, "fail");
    assert.equal(result.events, 1, "only big newly fails");
    const events = await cp.kubectl(["get", "events", "-n", "team-a", "--field-selector", "involvedObject.name=big,reason=PolicyViolation", "-o", "jsonpath={.items[*].message}"]);
    assert.match(events.stdout, /agentgate audit: \[budget\] spec\.tokenBudget: 2000 is over the limit of 1000; lower it/);
  });

  test("a fixed object passes again; a deleted one leaves the reports; an emptied namespace loses its report", async () => {
    const fixed = await apply(agentConfig("big", "team-a", 50));
    assert.equal(fixed.code, 0, fixed.stderr);
    const gone = await cp.kubectl(["delete", "agentconfig", "medium", "-n", "team-a"]);
    assert.equal(gone.code, 0);
    await cp.kubectl(["delete", "agentconfig", "other", "-n", "team-b"]);
    const result = await scan(strict);
    assert.deepEqual(result.reports.policyreport, { created: 0, updated: 1, deleted: 1, unchanged: 1, failed: 0 });
    assert.deepEqual(result.reports.openreports, { created: 0, updated: 1, deleted: 1, unchanged: 1, failed: 0 });
    assert.equal(result.events, 0);
    for (const api of [POLR, REPS]) {
      const a = await report(api, "team-a");
      assert.deepEqual(lines(a), ["AgentConfig/big budget pass", "AgentConfig/big future-budget pass", "AgentConfig/big soft-budget pass", "AgentConfig/small budget pass", "AgentConfig/small future-budget pass", "AgentConfig/small soft-budget pass"]);
      assert.deepEqual(a?.summary, { pass: 6, fail: 0, warn: 0, error: 0, skip: 0 });
      assert.equal(await report(api, "team-b"), undefined);
    }
  });

  test("with leader election the scan holds Lease agentgate-audit while writing", async () => {
    const result = await scan(strict, { leaderElect: true });
    assert.equal(result.wrote, true);
    const lease = await cp.kubectl(["get", "lease", LEASE_NAME, "-n", GW_NS, "-o", "jsonpath={.spec.holderIdentity}"]);
    assert.notEqual(lease.stdout, "");
  });

  test("agentgate audit --once -o json prints every object's results", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["audit", "--once", "--dry-run", "-o", "json", "--kubeconfig", cp.kubeconfigPath, "--bundle", strict, "--namespace", GW_NS, "--exit-code"], { out: (s) => out.push(s), err: (s) => err.push(s) });
    assert.equal(code, 0, err.join("\n"));
    const doc = JSON.parse(out.join("\n")) as { revision: string; summary: Record<string, number>; objects: { kind: string; name: string; results: { policy: string; result: string }[] }[] };
    assert.equal(doc.revision, "strict@s1");
    assert.deepEqual(doc.objects.map((o) => `${o.kind}/${o.name}`), ["ModelConfig/claude", "AgentConfig/big", "AgentConfig/small"]);
    assert.deepEqual(doc.summary, { pass: 7, fail: 0, warn: 0, error: 0, skip: 0 });
    const big = await apply(agentConfig("big", "team-a", 5000));
    assert.equal(big.code, 0, big.stderr);
    const failing = await main(["audit", "--once", "--dry-run", "--kubeconfig", cp.kubeconfigPath, "--bundle", strict, "--namespace", GW_NS, "--exit-code"], { out: (s) => out.push(s), err: (s) => err.push(s) });
    assert.equal(failing, 1, "--exit-code: 1 when something fails");
    assert.ok(out.some((l) => /^team-a\tAgentConfig\/big\tfail\t\[budget\] spec\.tokenBudget: 5000/.test(l)), out.join("\n"));
  });
});
