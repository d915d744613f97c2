// The scanner walks its lists namespace by namespace on a real
// kube-apiserver: without keepObjects it holds a few namespaces' findings,
// never the cluster's (at 50,000 objects, holding them all took audit past
// the chart's memory limit), and what it writes is what a scan that keeps
// every object writes. A lister that breaks the API server's order is
// caught and the namespaces it scrambled are judged again.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { ClusterLookup } from "../../src/context/cluster-lookup.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import { exemptNamespaces } from "../../src/gateway/exemptions.ts";
import { makeIdentity } from "../../src/guardrails/identity.ts";
import { logger } from "../../src/log.ts";
import { loadEngine } from "../../src/policy/load.ts";
import type { PolicyEngine } from "../../src/policy/engine.ts";
import { staticKeyring } from "../../src/signing/keyring.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { AuditApi, type Page } from "../../src/audit/kube.ts";
import type { Gvr } from "../../src/kube/resources.ts";
import { AuditMetrics } from "../../src/audit/metrics.ts";
import { AuditScanner, type ScanResult, type ScannerOptions } from "../../src/audit/scanner.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NAMESPACES = 9;
const PER_NAMESPACE = 4;

let cp: ControlPlane;
let lookup: ClusterLookup;
let engine: PolicyEngine;

before(async () => {
  cp = await startControlPlane({
    crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds"), join(ROOT, "charts/agentgate/files/report-crds/wgpolicyk8s.io_policyreports.yaml"), join(ROOT, "charts/agentgate/files/report-crds/wgpolicyk8s.io_clusterpolicyreports.yaml")],
  });
  // Namespace "a" and "a-b": the API server lists "a-b/..." before "a/...", which a walk comparing bare names would take for disorder.
  const names = ["a", "a-b", ...Array.from({ length: NAMESPACES - 2 }, (_, i) => `ns-${String(i)}`)];
  const docs = names.flatMap((ns) => [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
    ...Array.from({ length: PER_NAMESPACE }, (_, j) => ({
      apiVersion: "kagent.dev/v1alpha2",
      kind: "ModelConfig",
      metadata: { name: `m-${String(j)}`, namespace: ns },
      // every other one fails the default bundle (TLS verification off)
      spec: { provider: "OpenAI", model: "gpt-4o-mini", apiKeySecret: "openai", apiKeySecretKey: "key", ...(j % 2 === 1 ? { tls: { disableVerify: true } } : {}) },
    })),
  ]);
  await cp.applyYaml(docs.map((d) => stringify(d)).join("---\n"));
  lookup = new ClusterLookup(kubeApiOf(cp.kubeConfig), logger);
  await lookup.start();
  engine = await loadEngine([]);
});

after(async () => {
  await lookup.stop();
  await cp.stop();
});

function scanner(api: AuditApi, opts: Partial<ScannerOptions> = {}): AuditScanner {
  return new AuditScanner({
    api,
    deps: { engine: () => engine, lookup, identity: makeIdentity(["system:serviceaccount:agentgate-system:agentgate"]), exemptNamespaces: exemptNamespaces("agentgate-system"), keyring: staticKeyring(undefined) },
    log: logger,
    metrics: new AuditMetrics(false),
    // pages that end in the middle of a namespace
    pageSize: 3,
    ...opts,
  });
}

/** Every stored PolicyReport: namespace → its summary and results without timestamps. */
async function storedReports(): Promise<Map<string, unknown>> {
  const custom = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const list = (await custom.listCustomObjectForAllNamespaces({ group: "wgpolicyk8s.io", version: "v1alpha2", resourcePlural: "policyreports" })) as { items: { metadata: { namespace: string }; summary: unknown; results: { timestamp?: unknown }[] }[] };
  return new Map(list.items.map((r) => [r.metadata.namespace, { summary: r.summary, results: r.results.map(({ timestamp: _t, ...rest }) => rest) }]));
}

const totals = (r: ScanResult) => ({ objects: r.objectCount, namespaces: r.namespaces, summary: r.summary, byKind: r.byKind, violations: [...r.violations].sort((a, b) => a.policy.localeCompare(b.policy) || a.action.localeCompare(b.action)) });

test("without keepObjects a scan holds a few namespaces' findings, not the cluster's, and writes what a scan keeping them all writes", async () => {
  const api = new AuditApi(cp.kubeConfig);
  try {
    const kept = await scanner(api).scan();
    assert.equal(kept.objectCount, NAMESPACES * PER_NAMESPACE);
    assert.equal(kept.heldObjects, NAMESPACES * PER_NAMESPACE, "keepObjects (the default) holds every object");
    assert.deepEqual(kept.reports.policyreport, { created: NAMESPACES, updated: 0, deleted: 0, unchanged: 0, failed: 0 });
    const written = await storedReports();

    const lines: string[] = [];
    const streamed = await scanner(api, { keepObjects: false, concurrency: 1, onNamespace: (ns, objects) => lines.push(...objects.map((o) => `${ns}/${o.ref.name}`)) }).scan();
    assert.deepEqual(streamed.objects, [], "nothing kept");
    // one namespace gathered while the one before it is written
    assert.ok(streamed.heldObjects <= 2 * PER_NAMESPACE, `held ${String(streamed.heldObjects)} objects' findings at once`);
    assert.deepEqual(totals(streamed), totals(kept));
    assert.deepEqual(streamed.reports.policyreport, { created: 0, updated: 0, deleted: 0, unchanged: NAMESPACES, failed: 0 }, "an unchanged cluster: nothing rewritten");
    assert.deepEqual(await storedReports(), written);
    // handed over a namespace at a time, in the API server's order, each namespace's objects sorted
    assert.deepEqual(lines, kept.objects.map((o) => `${o.ref.namespace}/${o.ref.name}`).sort((x, y) => (x.replace(/\/.*/, "/") < y.replace(/\/.*/, "/") ? -1 : x.replace(/\/.*/, "/") > y.replace(/\/.*/, "/") ? 1 : x.localeCompare(y))));
    assert.equal(lines.length, NAMESPACES * PER_NAMESPACE);
  } finally {
    await api.close();
  }
});

/** An API server that lists each page backwards: out of the order the walk relies on. */
class BackwardsApi extends AuditApi {
  override async listPage(gvr: Gvr, opts: Parameters<AuditApi["listPage"]>[1]): Promise<Page> {
    const page = await super.listPage(gvr, opts);
    return { ...page, items: [...page.items].reverse() };
  }
}

test("a lister out of order is caught: the namespaces it scrambled are judged again from their own lists, and the reports come out the same", async () => {
  const plain = new AuditApi(cp.kubeConfig);
  const backwards = new BackwardsApi(cp.kubeConfig);
  try {
    const reference = await scanner(plain).scan();
    const written = await storedReports();
    const scrambled = await scanner(backwards, { keepObjects: false }).scan();
    assert.deepEqual(totals(scrambled), totals(reference), "each namespace counted once");
    assert.deepEqual(await storedReports(), written, "the same reports");
    // a scan keeping its objects keeps each once, in order
    const keptScrambled = await scanner(backwards).scan();
    assert.deepEqual(keptScrambled.objects.map((o) => o.ref.uid), reference.objects.map((o) => o.ref.uid));
  } finally {
    await Promise.all([plain.close(), backwards.close()]);
  }
});
