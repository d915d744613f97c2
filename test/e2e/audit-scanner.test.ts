// The scanner on a real kube-apiserver: a report may hold up to 1 MiB, so
// stored reports are listed a few per page and memory stays bounded however
// many namespaces there are; and one scan is judged by one engine.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { makeIdentity } from "../../src/guardrails/identity.ts";
import { logger } from "../../src/log.ts";
import { loadEngine } from "../../src/policy/load.ts";
import type { PolicyEngine } from "../../src/policy/engine.ts";
import { buildTestBundle } from "../fixtures/bundles.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { AuditMetrics } from "../../src/audit/metrics.ts";
import { startAuditRunner, type AuditRunnerOptions } from "../../src/audit/run.ts";
import { AUDITED_RESOURCES, type ScanResult } from "../../src/audit/scanner.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NAMESPACES = 12;

let cp: ControlPlane;

before(async () => {
  cp = await startControlPlane({
    crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds"), join(ROOT, "charts/agentgate/files/report-crds/wgpolicyk8s.io_policyreports.yaml"), join(ROOT, "charts/agentgate/files/report-crds/wgpolicyk8s.io_clusterpolicyreports.yaml")],
  });
  const docs = Array.from({ length: NAMESPACES }, (_, i) => [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: `ns-${String(i)}` } },
    { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: `ns-${String(i)}` }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022", apiKeySecret: "anthropic", apiKeySecretKey: "key" } },
  ]).flat();
  await cp.applyYaml(docs.map((d) => stringify(d)).join("---\n"));
});

after(async () => {
  await cp.stop();
});

/** The audit runner as `agentgate audit` starts it in agentgate-system, alone (no Lease). */
const runnerOptions = (engine: () => PolicyEngine): AuditRunnerOptions => ({
  kubeConfig: cp.kubeConfig,
  engine,
  identity: makeIdentity(["system:serviceaccount:agentgate-system:agentgate"]),
  namespace: "agentgate-system",
  log: logger,
  metrics: new AuditMetrics(false),
  leaderElect: false,
  leaseNamespace: "agentgate-system",
});

async function scan(): Promise<ScanResult> {
  const engine = await loadEngine([]);
  const runner = await startAuditRunner(runnerOptions(() => engine));
  try {
    return await runner.scanOnce();
  } finally {
    await runner.stop();
  }
}

test("stored reports are listed five per page: 12 namespaces' PolicyReports in 3 pages", async () => {
  const first = await scan();
  assert.deepEqual(first.reports.policyreport, { created: NAMESPACES, updated: 0, deleted: 0, unchanged: 0, failed: 0 });
  const second = await scan();
  assert.deepEqual(second.reports.policyreport, { created: 0, updated: 0, deleted: 0, unchanged: NAMESPACES, failed: 0 });
  // one page per audited kind, then the namespaced reports 5 at a time, then the cluster-wide one
  assert.equal(second.apiCalls.list, AUDITED_RESOURCES.length + Math.ceil(NAMESPACES / 5) + 1);
});

test("a scan reads the engine once, at its start: a bundle swapped mid-scan judges the next scan, never half of this one", async () => {
  const first = await loadEngine([]);
  const second = await loadEngine([await buildTestBundle({ "p.rego": "package agentgate\nviolations := set()\n" }, { entrypoints: ["agentgate/violations"], name: "next", revision: "n1" })]);
  assert.notEqual(first.revision, second.revision);
  // As a bundle store would answer if a swap landed right after the scan began.
  let reads = 0;
  const runner = await startAuditRunner({ ...runnerOptions(() => (reads++ === 0 ? first : second)), write: false });
  try {
    const one = await runner.scanOnce();
    assert.equal(one.revision, first.revision);
    assert.equal(one.objects.length, NAMESPACES);
    const revisions = new Set(one.objects.flatMap((o) => o.results.map((r) => r.properties.revision)));
    assert.deepEqual([...revisions], [first.revision], "every object of the scan judged by the engine in force at its start");
    const two = await runner.scanOnce();
    assert.equal(two.revision, second.revision, "the next scan takes the new engine");
    assert.ok(two.objects.every((o) => o.results.every((r) => r.properties.revision === second.revision)));
  } finally {
    await runner.stop();
  }
});
