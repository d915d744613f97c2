// Audit end to end on a real kube-apiserver: objects admitted by the real
// webhook under a gentle bundle (warn and dryrun rules only), scanned under
// that bundle and under a stricter one; PolicyReports and OpenReports
// written only when their CRDs exist; converging, deleting, Events, metrics,
// the Lease between two scanners, bundles from a bundle service (signed, and
// swapped under a running scanner), and the CLI. The gateway takes its
// bundle from the same bundle service, so the webhook and audit can be
// compared under a bundle that denies objects admitted before it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
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
import { signBundleAt } from "../../src/policy/bundle-signing.ts";
import { loadEngine } from "../../src/policy/load.ts";
import { signingKeyFrom } from "../../src/policy/signatures.ts";
import { buildTestBundle } from "../fixtures/bundles.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";
import { until } from "../support/until.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
// The chart's own copies (audit.reportCRDs), so tests and installs share one source.
const REPORT_CRDS = join(ROOT, "charts/agentgate/files/report-crds");
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
let work: string;

/** An OPA bundle service (ETags, 304) serving whatever `served` maps each path to. */
let service: Server;
let serviceBase = "";
const served = new Map<string, Buffer>();
/** The gateway's bundle, from the service: what the webhook decides by. */
const GATEWAY_BUNDLE = "/gateway/policy.tar.gz";

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

async function scan(bundle: string, opts: { leaderElect?: boolean; write?: boolean; metrics?: AuditMetrics; scope?: string } = {}): Promise<ScanResult> {
  const engine = await loadEngine([bundle]);
  const runner = await startAuditRunner({
    kubeConfig: cp.kubeConfig,
    engine: () => engine,
    identity: makeIdentity([`system:serviceaccount:${GW_NS}:agentgate`]),
    namespace: GW_NS,
    log: logger,
    metrics: opts.metrics ?? new AuditMetrics(false),
    pageSize: 2,
    leaderElect: opts.leaderElect ?? false,
    leaseNamespace: GW_NS,
    ...(opts.write === undefined ? {} : { write: opts.write }),
    ...(opts.scope === undefined ? {} : { scope: opts.scope }),
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

/** The gateway's /metrics text. */
function gatewayMetrics(): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: gateway.port, path: "/metrics", ca: gateway.caCert }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Serves `bundle` to the gateway and waits until the gateway has put that revision in force. */
async function gatewayServes(bundle: string, revision: string): Promise<void> {
  served.set(GATEWAY_BUNDLE, await readFile(bundle));
  await until(`the gateway to put revision ${revision} in force`, async () => (await gatewayMetrics()).includes(`revision="${revision}"`));
}

/** The bundles a test names are judged alone, not stacked on the default bundle. */
const alone = (args: readonly string[]): string[] => (args.includes("--bundle") ? ["--no-default-bundle"] : []);

/** `agentgate audit ARGS` in this process against the test cluster: exit code and what it printed. */
async function cli(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  // A test that scans as another user passes its own --kubeconfig (a flag given twice is refused).
  const kubeconfig = args.includes("--kubeconfig") ? [] : ["--kubeconfig", cp.kubeconfigPath];
  const code = await main(["audit", ...kubeconfig, "--agentgate-namespace", GW_NS, "--bundle-cache-dir", "", ...alone(args), ...args], { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out, err };
}

/** `agentgate audit ARGS` as its own process (the real binary); its log (and, unless piped, its output) to `log`. */
function spawnAudit(args: string[], log: string, pipeStdout = false): ChildProcess {
  const fd = openSync(log, "a");
  const child = spawn(process.execPath, [join(ROOT, "bin/agentgate.js"), "audit", "--kubeconfig", cp.kubeconfigPath, "--agentgate-namespace", GW_NS, "--bundle-cache-dir", "", ...alone(args), ...args], {
    stdio: ["ignore", pipeStdout ? "pipe" : fd, fd],
  });
  closeSync(fd);
  return child;
}

before(async () => {
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  custom = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  work = await mkdtemp(join(tmpdir(), "agentgate-audit-e2e-"));
  gentle = await buildTestBundle({ "gentle.rego": GENTLE, "data.json": CATALOG }, { entrypoints: ["agentgate/violations"], name: "gentle", revision: "g1" });
  strict = await buildTestBundle({ "gentle.rego": GENTLE, "strict.rego": STRICT_RULE, "data.json": CATALOG }, { entrypoints: ["agentgate/violations"], name: "strict", revision: "s1" });
  service = createServer((req, res) => {
    const bytes = served.get(req.url?.split("?")[0] ?? "");
    if (!bytes) return void res.writeHead(404).end("no such bundle");
    const etag = `"${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}"`;
    if (req.headers["if-none-match"] === etag) return void res.writeHead(304, { etag }).end();
    res.writeHead(200, { etag, "content-type": "application/gzip" }).end(bytes);
  });
  await new Promise<void>((r) => service.listen(0, "127.0.0.1", r));
  const address = service.address();
  serviceBase = `http://127.0.0.1:${String(typeof address === "object" && address ? address.port : 0)}`;
  served.set(GATEWAY_BUNDLE, await readFile(gentle));
  gateway = await startGateway({
    listen: "127.0.0.1:0",
    bundle: [`${serviceBase}${GATEWAY_BUNDLE}`],
    // The bundles under test alone, as audit's below: the gateway and audit must agree on exactly these.
    defaultBundle: false,
    bundlePollInterval: "100ms",
    bundleCacheDir: "",
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
  service.closeAllConnections();
  await new Promise<void>((r) => service.close(() => r()));
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

  test("-n team-a scans team-a alone: its objects, its reports; the other namespaces' reports are left as they are", async () => {
    const models = await report(POLR, "models");
    const result = await scan(gentle, { scope: "team-a" });
    assert.deepEqual([...new Set(result.objects.map((o) => o.ref.namespace))], ["team-a"]);
    assert.deepEqual(result.reports.policyreport, { created: 0, updated: 0, deleted: 0, unchanged: 1, failed: 0 });
    assert.deepEqual(result.reports.openreports, { created: 0, updated: 0, deleted: 0, unchanged: 1, failed: 0 });
    assert.equal((await report(POLR, "models"))?.metadata.resourceVersion, models?.metadata.resourceVersion, "not deleted for holding nothing of this scan");
  });

  test("-n of a namespace where agentgate runs (its Lease is there) is refused: an old script's --namespace must not scan nothing and pass", async () => {
    await cp.kubectl(["create", "namespace", "agentgate-old"]);
    await cp.applyYaml(stringify({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "agentgate-controller", namespace: "agentgate-old" }, spec: {} }));
    const r = await cli("--once", "--dry-run", "-n", "agentgate-old");
    assert.equal(r.code, 2, r.out.join("\n"));
    assert.deepEqual(r.err, ["agentgate: --namespace agentgate-old: agentgate runs there (Lease agentgate-controller) and judges nothing there; --namespace scopes the scan, agentgate's own namespace is --agentgate-namespace"]);
  });

  test("a stricter bundle turns admitted objects to fail, with an Event on each newly failing object", async () => {
    const metrics = new AuditMetrics(false);
    const startedS = Date.now() / 1000;
    const result = await scan(strict, { metrics });
    const finishedS = Date.now() / 1000;
    // What the scan's metrics say: objects by kind, findings by policy id and action, its duration, when it last succeeded.
    const json = await metrics.registry.getMetricsAsJSON();
    const values = (name: string) => Object.fromEntries((json.find((m) => m.name === name)?.values ?? []).map((v) => [Object.entries(v.labels).map(([k, x]) => `${k}=${String(x)}`).sort().join(","), v.value]));
    assert.deepEqual(values("agentgate_audit_objects_scanned_total"), { "kind=AgentConfig": 4, "kind=ModelConfig": 1 });
    assert.deepEqual(values("agentgate_audit_violations"), { "action=deny,policy=budget": 1, "action=dryrun,policy=future-budget": 2, "action=warn,policy=soft-budget": 1 });
    // A histogram's values carry the series they belong to (_bucket, _sum, _count) as metricName.
    const histogram = (json.find((m) => m.name === "agentgate_audit_scan_duration_seconds")?.values ?? []) as { metricName?: string; value: number }[];
    const count = histogram.find((v) => v.metricName === "agentgate_audit_scan_duration_seconds_count")?.value;
    const sum = histogram.find((v) => v.metricName === "agentgate_audit_scan_duration_seconds_sum")?.value ?? -1;
    assert.equal(count, 1);
    assert.ok(Math.abs(sum - result.durationMs / 1000) < 1e-6, `the scan's duration ${String(sum)} s is the one it measured (${String(result.durationMs)} ms)`);
    const lastSuccess = values("agentgate_audit_last_success_timestamp_seconds")[""] ?? 0;
    assert.ok(lastSuccess >= startedS && lastSuccess <= finishedS, `last success ${String(lastSuccess)} within the scan (${String(startedS)}..${String(finishedS)})`);
    assert.deepEqual(values("agentgate_audit_scans_total"), { "outcome=success": 1 });
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

  test("under a bundle that denies objects admitted before it, the webhook and audit agree per object and policy id", async () => {
    // The gateway now decides by the strict bundle too; "big" was admitted under the gentle one.
    await gatewayServes(strict, "s1");
    try {
      const result = await scan(strict, { write: false });
      const denied = result.objects.filter((o) => !o.allowed).map((o) => o.ref.name);
      assert.deepEqual(denied, ["big"], "the comparison covers a denied object");
      assert.ok(result.objects.some((o) => o.allowed), "and admitted ones");
      for (const o of result.objects) {
        // An UPDATE of the stored object to itself through the API server and the registered webhook.
        const stored = await cp.kubectl(["get", `${o.ref.kind.toLowerCase()}s.${o.ref.apiVersion.split("/")[0] ?? ""}`, o.ref.name, "-n", o.ref.namespace, "-o", "json"]);
        const replaced = await cp.kubectl(["replace", "--dry-run=server", "-f", "-"], { stdin: stored.stdout, allowFail: true });
        assert.equal(replaced.code === 0, o.allowed, `${o.ref.name}: webhook ${replaced.code === 0 ? "admits" : "denies"}, audit says allowed=${String(o.allowed)}: ${replaced.stderr}`);
        if (!o.allowed) assert.match(replaced.stderr, /admission webhook "validate\.agent\.tekton\.dev" denied the request/, o.ref.name);
        // "[policy-id] field: message" lines, per policy id, on both sides.
        const findings = (text: string) => [...text.matchAll(/\[([a-z0-9-]+)\] ([^\n]*)/g)].map((m) => `${m[1] ?? ""} ${m[2] ?? ""}`).sort();
        const deniedBy = replaced.code === 0 ? [] : findings(replaced.stderr.split("\n").filter((l) => !l.startsWith("Warning:")).join("\n"));
        const warnedBy = findings(replaced.stderr.split("\n").filter((l) => l.startsWith("Warning:")).join("\n"));
        const audited = (action: string) => o.violations.filter((v) => v.action === action).map((v) => `${v.policy} ${v.field}: ${v.message}`).sort();
        assert.deepEqual(deniedBy, audited("deny"), `${o.ref.name}: denials`);
        assert.deepEqual(warnedBy, audited("warn"), `${o.ref.name}: warnings`);
        const failing = o.results.filter((r) => r.result === "fail" && r.properties.action === "deny").map((r) => r.policy).sort();
        assert.deepEqual(failing, [...new Set(audited("deny").map((l) => l.split(" ")[0]))].sort(), `${o.ref.name}: the report fails exactly the policy ids the webhook denies by`);
      }
    } finally {
      await gatewayServes(gentle, "g1");
    }
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

  test("with leader election a scan takes Lease agentgate-audit and hands it back when done", async () => {
    const result = await scan(strict, { leaderElect: true });
    assert.equal(result.wrote, true);
    const lease = await cp.kubectl(["get", "lease", LEASE_NAME, "-n", GW_NS, "-o", "json"]);
    const spec = (JSON.parse(lease.stdout) as { spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string } }).spec;
    assert.equal(spec.holderIdentity, undefined, "released: the next scanner need not wait for it to run out");
    assert.equal(spec.leaseDurationSeconds, 1);
    assert.ok(spec.renewTime, "it was held (and renewed) before");
  });

  test("two scanners never both write: --once waits --lease-wait behind the holder, writes nothing, exits 2 naming it; once the holder stops, it writes", async () => {
    const log = join(work, "scanner-a.log");
    const a = spawnAudit(["--interval", "1h", "--bundle", strict, "--metrics-listen", "127.0.0.1:0"], log);
    try {
      await until("scanner A to take the Lease and finish a scan", async () => (await readFile(log, "utf8").catch(() => "")).includes('"audit scan finished"'));
      const holder = (await cp.kubectl(["get", "lease", LEASE_NAME, "-n", GW_NS, "-o", "jsonpath={.spec.holderIdentity}"])).stdout;
      assert.notEqual(holder, "", "A holds the Lease between its scans");
      // Something scanner B would write if it could: an object that appeared after A's scan.
      const late = await apply(agentConfig("late", "team-b", 5000));
      assert.equal(late.code, 0, late.stderr);
      const before = await report(POLR, "team-b");
      const b = await cli("--once", "--lease-wait", "2s", "--bundle", strict);
      assert.equal(b.code, 2, b.err.join("\n"));
      assert.equal(b.err.length, 1, "one line");
      assert.match(b.err[0] ?? "", new RegExp(`^agentgate: Lease ${GW_NS}/agentgate-audit is held by "${holder}", renewed \\d+s ago; waited 2s \\(--lease-wait\\) and wrote nothing`));
      assert.deepEqual(b.out, [], "B printed no results: it did not scan");
      assert.equal((await report(POLR, "team-b"))?.metadata.resourceVersion, before?.metadata.resourceVersion, "B wrote no report");
    } finally {
      const exited = new Promise((r) => a.once("exit", r));
      a.kill("SIGTERM");
      await exited;
    }
    assert.match(await readFile(log, "utf8"), /agentgate-audit[^\n]*"released the Lease"|"released the Lease"[^\n]*agentgate-audit/, "A hands the Lease back when it stops");
    const b = await cli("--once", "--lease-wait", "30s", "--bundle", strict);
    assert.equal(b.code, 0, b.err.join("\n"));
    assert.ok(lines(await report(POLR, "team-b")).includes("AgentConfig/late budget fail"), "B wrote once A was gone");
    await cp.kubectl(["delete", "agentconfig", "late", "-n", "team-b"]);
  });

  test("a scanner that may not take the Lease (403) says so in one line naming the Lease, and writes nothing", async () => {
    const rbac = [
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "audit-no-lease" }, rules: [{ apiGroups: ["", "agent.tekton.dev", "kagent.dev", "wgpolicyk8s.io", "openreports.io"], resources: ["*"], verbs: ["get", "list", "watch"] }] },
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "audit-no-lease" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "audit-no-lease" }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "no-lease" }] },
    ];
    assert.equal((await apply(...rbac)).code, 0);
    const kubeconfig = await cp.kubeconfigFor("no-lease");
    const r = await cli("--once", "--lease-wait", "1s", "--bundle", strict, "--kubeconfig", kubeconfig);
    assert.equal(r.code, 2, r.err.join("\n"));
    assert.equal(r.err.length, 1, r.err.join("\n"));
    assert.match(r.err[0] ?? "", new RegExp(`^agentgate: Lease ${GW_NS}/agentgate-audit: .*forbidden.*; waited 1s \\(--lease-wait\\) and wrote nothing$`));
    assert.deepEqual(r.out, []);
  });

  test("audit takes its bundles as serve does: from a bundle service, and signed bundles only with the right key", async () => {
    served.set("/audit/strict.tar.gz", await readFile(strict));
    const plain = await cli("--once", "--dry-run", "-o", "json", "--bundle", `${serviceBase}/audit/strict.tar.gz`);
    assert.equal(plain.code, 0, plain.err.join("\n"));
    assert.equal((JSON.parse(plain.out.join("\n")) as { revision: string }).revision, "strict@s1");

    const signer = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const stranger = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const signed = join(work, "signed.tar.gz");
    await signBundleAt(strict, signingKeyFrom(Buffer.from(signer.privateKey.export({ type: "pkcs8", format: "pem" })), "test signing key"), signed);
    served.set("/audit/signed.tar.gz", await readFile(signed));
    const rightKey = join(work, "signer.pub.pem");
    const wrongKey = join(work, "stranger.pub.pem");
    await writeFile(rightKey, signer.publicKey.export({ type: "spki", format: "pem" }));
    await writeFile(wrongKey, stranger.publicKey.export({ type: "spki", format: "pem" }));
    const url = `${serviceBase}/audit/signed.tar.gz`;

    const right = await cli("--once", "--dry-run", "-o", "json", "--bundle", url, "--bundle-verification-key", rightKey);
    assert.equal(right.code, 0, right.err.join("\n"));
    assert.equal((JSON.parse(right.out.join("\n")) as { revision: string }).revision, "signed@s1");
    for (const bundle of [url, signed]) {
      const wrong = await cli("--once", "--dry-run", "-o", "json", "--bundle", bundle, "--bundle-verification-key", wrongKey);
      assert.equal(wrong.code, 2, `${bundle}: refused`);
      assert.deepEqual(wrong.out, [], `${bundle}: nothing evaluated`);
      assert.equal(wrong.err.length, 1, `${bundle}: one line: ${wrong.err.join("\n")}`);
      assert.match(wrong.err[0] ?? "", /^agentgate: .*bundle "signed".*the JWT does not verify with verification key .*stranger\.pub\.pem/, bundle);
    }
    const unsigned = await cli("--once", "--dry-run", "--bundle", `${serviceBase}/audit/strict.tar.gz`, "--bundle-verification-key", rightKey);
    assert.equal(unsigned.code, 2);
    assert.match(unsigned.err[0] ?? "", /the bundle is unsigned/);
  });

  test("a long-running scanner judges each scan by the bundle in force when it starts: a bundle swapped at the service takes over at the next scan", async () => {
    const path = "/audit/swap.tar.gz";
    served.set(path, await readFile(gentle));
    const child = spawnAudit(["--interval", "1s", "--dry-run", "-o", "json", "--bundle", `${serviceBase}${path}`, "--bundle-poll-interval", "100ms", "--metrics-listen", "127.0.0.1:0"], join(work, "swap.log"), true);
    const scans: { revision: string; objects: { name: string; results: { properties: { revision?: string } }[] }[] }[] = [];
    let buffered = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      buffered += d;
      const complete = buffered.split("\n");
      buffered = complete.pop() ?? "";
      for (const line of complete) if (line.startsWith("{")) scans.push(JSON.parse(line) as (typeof scans)[number]);
    });
    try {
      await until("a scan under the gentle bundle", () => Promise.resolve(scans.some((d) => d.revision === "swap@g1")));
      served.set(path, await readFile(strict));
      await until("a scan under the swapped-in strict bundle", () => Promise.resolve(scans.some((d) => d.revision === "swap@s1")));
    } finally {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    for (const d of scans) {
      const revisions = new Set(d.objects.flatMap((o) => o.results.map((r) => r.properties.revision)));
      assert.deepEqual([...revisions], [d.revision], "every result of one scan is judged by the one engine it started with");
    }
    const big = scans.find((d) => d.revision === "swap@s1")?.objects.find((o) => o.name === "big");
    assert.ok(big, "the strict scan saw big");
  });

  test("agentgate audit --once -o json prints every object's results", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["audit", "--once", "--dry-run", "-o", "json", "--kubeconfig", cp.kubeconfigPath, "--bundle", strict, "--no-default-bundle", "--agentgate-namespace", GW_NS, "--exit-code"], { out: (s) => out.push(s), err: (s) => err.push(s) });
    assert.equal(code, 0, err.join("\n"));
    const doc = JSON.parse(out.join("\n")) as { revision: string; summary: Record<string, number>; objects: { kind: string; name: string; results: { policy: string; result: string }[] }[] };
    assert.equal(doc.revision, "strict@s1");
    assert.deepEqual(doc.objects.map((o) => `${o.kind}/${o.name}`), ["ModelConfig/claude", "AgentConfig/big", "AgentConfig/small"]);
    assert.deepEqual(doc.summary, { pass: 7, fail: 0, warn: 0, error: 0, skip: 0 });
    const big = await apply(agentConfig("big", "team-a", 5000));
    assert.equal(big.code, 0, big.stderr);
    const failing = await main(["audit", "--once", "--dry-run", "--kubeconfig", cp.kubeconfigPath, "--bundle", strict, "--no-default-bundle", "--agentgate-namespace", GW_NS, "--exit-code"], { out: (s) => out.push(s), err: (s) => err.push(s) });
    assert.equal(failing, 1, "--exit-code: 1 when something fails");
    assert.ok(out.some((l) => /^team-a\tAgentConfig\/big\tfail\t\[budget\] spec\.tokenBudget: 5000/.test(l)), out.join("\n"));
  });
});
