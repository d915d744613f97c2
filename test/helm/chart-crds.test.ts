// Upgrades and removal, as the chart renders them (the real helm): the
// AgentConfig and AgentRun CRDs are templates, so helm upgrade updates them
// (Helm never upgrades crds/), kept on uninstall unless crds.keep=false; and
// each process the chart runs is told its own Deployment (or CronJob) as
// --owner and may read it, so what it creates at run time goes with helm
// uninstall. test/e2e/helm-upgrade.test.ts does both against an API server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDocument, stringify } from "yaml";
import { parseOwnerFlag } from "../../src/cli/owner-flag.ts";
import { helmIn, type ChartObject } from "../support/helm.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHART = join(ROOT, "charts/agentgate");
const CRD_DIR = join(CHART, "files/crds");
const WORK = mkdtempSync(join(tmpdir(), "agentgate-chart-crds-"));
const NS = "agentgate-system";

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
type Obj = ChartObject & { metadata: Meta };
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface PodSpec {
  serviceAccountName: string;
  containers: { args: string[] }[];
}

const { run: helm, render } = helmIn(WORK);

const crdFile = (name: string): Obj & { spec: unknown } => parseDocument(readFileSync(join(CRD_DIR, name), "utf8")).toJS() as Obj & { spec: unknown };
const agentCrds = (objects: Obj[]): (Obj & { spec: unknown })[] =>
  objects.filter((o): o is Obj & { spec: unknown } => o.kind === "CustomResourceDefinition" && o.metadata.name.endsWith(".agent.tekton.dev"));

test("the AgentConfig and AgentRun CRDs are templates, rendered exactly as files/crds/ holds them, owned by the release and kept by default", async () => {
  assert.ok(!existsSync(join(CHART, "crds")), "no crds/ directory: Helm would install it before the templates, never upgrade it, and the templates could not adopt what it made");
  const files = readdirSync(CRD_DIR).sort();
  assert.deepEqual(files, ["agent.tekton.dev_agentconfigs.yaml", "agent.tekton.dev_agentruns.yaml"]);
  const rendered = agentCrds(await render({}));
  assert.deepEqual(rendered.map((o) => o.metadata.name).sort(), files.map((f) => crdFile(f).metadata.name).sort());
  for (const f of files) {
    const want = crdFile(f);
    const got = rendered.find((o) => o.metadata.name === want.metadata.name);
    assert.ok(got);
    // Through fromYaml and toYaml: a number or a string could change on the way.
    assert.deepEqual(got.spec, want.spec, `${f}: rendered as written`);
    assert.equal(got.metadata.annotations?.["helm.sh/resource-policy"], "keep", "helm uninstall leaves the CRDs, so every AgentConfig and AgentRun in the cluster survives it");
    assert.equal(got.metadata.labels?.["app.kubernetes.io/managed-by"], "Helm");
    assert.equal(got.metadata.labels?.["app.kubernetes.io/part-of"], "agentgate");
    assert.equal(got.metadata.namespace, undefined, "cluster-scoped");
  }
});

test("crds.keep=false lets helm uninstall delete them; crds.install=false renders none; the schema refuses a misspelt key", async () => {
  const unkept = agentCrds(await render({ crds: { keep: false } }));
  assert.equal(unkept.length, 2);
  for (const o of unkept) assert.equal(o.metadata.annotations?.["helm.sh/resource-policy"], undefined, o.metadata.name);
  assert.deepEqual(agentCrds(await render({ crds: { install: false } })), []);
  const file = join(WORK, "misspelt.yaml");
  writeFileSync(file, stringify({ crds: { instal: false } }));
  const r = await helm(["template", "agentgate", CHART, "--namespace", NS, "-f", file]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /instal/);
});

/** What the ServiceAccount may do: the rules of every Role and ClusterRole bound to it in the render. */
function rulesOf(objects: Obj[], serviceAccount: string): Rule[] {
  const rules: Rule[] = [];
  for (const b of objects.filter((o) => o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding")) {
    const binding = b as unknown as { metadata: Meta; roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace?: string }[] };
    if (!binding.subjects.some((s) => s.kind === "ServiceAccount" && s.name === serviceAccount && s.namespace === NS)) continue;
    const role = objects.find((o) => o.kind === binding.roleRef.kind && o.metadata.name === binding.roleRef.name && (o.kind === "ClusterRole" || o.metadata.namespace === binding.metadata.namespace));
    // A ClusterRoleBinding grants everywhere; a RoleBinding only in its namespace, which must be the owner's.
    if (role && (b.kind === "ClusterRoleBinding" || binding.metadata.namespace === NS)) rules.push(...(role as unknown as { rules: Rule[] }).rules);
  }
  return rules;
}

const allows = (rules: Rule[], group: string, resource: string, verb: string, name: string): boolean =>
  rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb) && (r.resourceNames === undefined || r.resourceNames.includes(name)));

const OWNER_KINDS = { deployment: { kind: "Deployment", group: "apps", resource: "deployments" }, cronjob: { kind: "CronJob", group: "batch", resource: "cronjobs" } } as const;

test("every process names its own Deployment (a scheduled audit its CronJob) as --owner, never a pod or ReplicaSet, and may read it", async () => {
  const podOf = (o: Obj): PodSpec =>
    o.kind === "CronJob"
      ? (o as unknown as { spec: { jobTemplate: { spec: { template: { spec: PodSpec } } } } }).spec.jobTemplate.spec.template.spec
      : (o as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
  const cases: { values: Record<string, unknown>; workloads: [string, string][] }[] = [
    { values: { audit: { enabled: true } }, workloads: [["Deployment", "agentgate-gateway"], ["Deployment", "agentgate-controller"], ["Deployment", "agentgate-audit"]] },
    { values: { audit: { enabled: true, schedule: "@hourly" }, gateway: { calls: { enabled: true } } }, workloads: [["Deployment", "agentgate-gateway"], ["Deployment", "agentgate-controller"], ["CronJob", "agentgate-audit"]] },
  ];
  for (const c of cases) {
    const objects = await render(c.values);
    for (const [kind, name] of c.workloads) {
      const workload = objects.find((o) => o.kind === kind && o.metadata.name === name);
      assert.ok(workload, `${kind} ${name} rendered`);
      const pod = podOf(workload);
      const flags = (pod.containers[0]?.args ?? []).filter((a) => a.startsWith("--owner="));
      assert.equal(flags.length, 1, `${kind} ${name}: one --owner`);
      const owner = parseOwnerFlag(flags[0]?.slice("--owner=".length) ?? "");
      const k = OWNER_KINDS[owner.kind];
      assert.deepEqual([k.kind, owner.name], [kind, name], `${kind} ${name} names itself: its pods and ReplicaSets come and go with every rollout, it stays`);
      assert.equal(workload.metadata.namespace, NS, "in the release namespace, where what it creates is");
      assert.ok(allows(rulesOf(objects, pod.serviceAccountName), k.group, k.resource, "get", name), `${pod.serviceAccountName} may get ${k.resource}.${k.group} ${name}`);
    }
  }
});
