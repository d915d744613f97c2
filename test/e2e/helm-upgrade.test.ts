// Upgrades and removal against a real API server and garbage collector
// (kube-controller-manager): a release whose chart installed the agent CRDs
// from crds/ (as charts before templates/crds.yaml did) adopts them through
// the README's kubectl commands; helm upgrade then changes a CRD and the API
// server serves the change; helm uninstall keeps the CRDs (crds.keep), and
// everything the gateway, the controller and audit created at run time goes
// with their Deployments. The three processes run on this host with the
// chart's own arguments, as their ServiceAccounts (no kubelet runs pods
// here), against the Deployments helm created.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, parseDocument, stringify } from "yaml";
import { ConfigMapLedgerStore, ledgerName } from "../../src/calls/ledger-configmap.ts";
import { emptyLedger } from "../../src/calls/ledger.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import { resolveOwner } from "../../src/kube/owner.ts";
import { startControlPlane, toolPath, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";
import { until } from "../support/until.ts";
import { freePort } from "../../src/testing/free-port.ts";
import { helmIn } from "../support/helm.ts";
import { stopChildren } from "../support/children.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHART = join(ROOT, "charts/agentgate");
const WORK = mkdtempSync(join(tmpdir(), "agentgate-helm-upgrade-"));
// The README's commands name this release and namespace: they run here as written.
const NS = "agentgate-system";
const RELEASE = "agentgate";
const CRDS = ["agentconfigs.agent.tekton.dev", "agentruns.agent.tekton.dev"];

let cp: ControlPlane;
const children: ChildProcess[] = [];

// cp is started in before(); helm reads its kubeconfig when it runs.
const { run: helm, valuesFile } = helmIn(WORK, { kubeconfig: () => cp.kubeconfigPath });
const VALUES = { audit: { enabled: true } };

/** A copy of the chart as charts before templates/crds.yaml were: the CRDs in crds/, which Helm installs once and never upgrades. */
function oldChart(): string {
  const dir = join(WORK, "old-chart");
  cpSync(CHART, dir, { recursive: true });
  mkdirSync(join(dir, "crds"));
  for (const f of readdirSync(join(dir, "files/crds"))) renameSync(join(dir, "files/crds", f), join(dir, "crds", f));
  rmSync(join(dir, "templates/crds.yaml"));
  return dir;
}

/** A copy of the chart whose AgentConfig CRD has a new field, spec.upgradeProbe, and a printer column showing it. */
function changedChart(): string {
  const dir = join(WORK, "changed-chart");
  cpSync(CHART, dir, { recursive: true });
  const file = join(dir, "files/crds/agent.tekton.dev_agentconfigs.yaml");
  const crd = parseDocument(readFileSync(file, "utf8")).toJS() as { spec: { versions: { additionalPrinterColumns?: unknown[]; schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, unknown> } } } } }[] } };
  for (const v of crd.spec.versions) {
    v.additionalPrinterColumns = [...(v.additionalPrinterColumns ?? []), { name: "Probe", type: "string", description: "added by an upgrade", jsonPath: ".spec.upgradeProbe" }];
    v.schema.openAPIV3Schema.properties.spec.properties.upgradeProbe = { type: "string", description: "A field a later chart version adds." };
  }
  writeFileSync(file, stringify(crd));
  return dir;
}


const kubectlJson = async <T>(args: string[]): Promise<T> => JSON.parse((await cp.kubectl([...args, "-o", "json"])).stdout) as T;

interface Meta {
  uid: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
}

/** The README's one-time adoption, exactly as written there, run by bash with this cluster's kubectl. */
async function readmeAdoption(): Promise<{ code: number; stderr: string }> {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const snippet = /```sh\n(# once, before the first helm upgrade[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(snippet, "README has the one-time adoption of the CRDs");
  return new Promise((resolve) => {
    execFile("bash", ["-euo", "pipefail", "-c", snippet], { env: { ...process.env, KUBECONFIG: cp.kubeconfigPath, PATH: `${toolPath("kubectl").replace(/\/kubectl$/, "")}:${process.env.PATH ?? ""}` } }, (err, _stdout, stderr) => resolve({ code: err ? 1 : 0, stderr }));
  });
}

before(async () => {
  // kagent's and Tekton's CRDs: the gateway's and audit's watch caches list them.
  cp = await startControlPlane({ controllerManager: true, crds: [join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  await cp.applyYaml(stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }));
});

after(async () => {
  await stopChildren(children, "SIGKILL");
  await cp.stop();
});

describe("from crds/ to templated CRDs, upgraded, uninstalled", { concurrency: false }, () => {
  const owned: { kind: string; name: string; owner: string }[] = [
    { kind: "secret", name: "agentgate-tls", owner: "agentgate-gateway" },
    { kind: "lease", name: "agentgate-controller", owner: "agentgate-controller" },
    { kind: "lease", name: "agentgate-audit", owner: "agentgate-audit" },
  ];
  const ledger = ledgerName("0b1c2d3e-upgrade-test");
  const deploymentUids = new Map<string, string>();
  const COMPONENTS = ["agentgate-gateway", "agentgate-controller", "agentgate-audit"];
  /** Each component's command line: the chart's arguments, its ServiceAccount's kubeconfig. */
  const commands = new Map<string, string[]>();
  const running = new Map<string, ChildProcess>();
  const start = (name: string): void => {
    const log = openSync(join(WORK, `${name}.log`), "a");
    const child = spawn(process.execPath, [join(ROOT, "bin/agentgate.js"), ...(commands.get(name) ?? [])], { stdio: ["ignore", log, log], env: { ...process.env, POD_NAMESPACE: NS } });
    closeSync(log);
    children.push(child);
    running.set(name, child);
  };
  const stop = async (name: string): Promise<void> => {
    const child = running.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };
  const logs = (): string => COMPONENTS.map((name) => `${name}:\n${readFileSync(join(WORK, `${name}.log`), "utf8").split("\n").slice(-8).join("\n")}`).join("\n");
  /** Waits until every object of `owned` names exactly its Deployment as owner. */
  const ownedByTheirDeployments = async (what: string): Promise<void> => {
    for (const o of owned) {
      let refs: Meta["ownerReferences"];
      await until(`${o.kind}/${o.name} ${what}`, async () => {
        const r = await cp.kubectl(["get", o.kind, o.name, "-n", NS, "-o", "jsonpath={.metadata.ownerReferences}"], { allowFail: true });
        refs = r.code === 0 && r.stdout !== "" ? (JSON.parse(r.stdout) as Meta["ownerReferences"]) : undefined;
        return refs !== undefined;
      }).catch((err: unknown) => { assert.fail(`${err instanceof Error ? err.message : String(err)}\n${logs()}`); });
      assert.deepEqual(refs, [{ apiVersion: "apps/v1", kind: "Deployment", name: o.owner, uid: deploymentUids.get(o.owner) }], `${o.kind}/${o.name}`);
    }
  };

  test("an install whose chart had the CRDs in crds/ cannot be upgraded until the README's kubectl commands hand the CRDs to the release", async () => {
    const old = await helm(["install", RELEASE, oldChart(), "--namespace", NS, "-f", valuesFile(VALUES)]);
    assert.equal(old.code, 0, old.stderr);
    for (const crd of CRDS) {
      const meta = (await kubectlJson<{ metadata: Meta }>(["get", "crd", crd])).metadata;
      assert.equal(meta.annotations?.["meta.helm.sh/release-name"], undefined, `${crd}: Helm does not own what it installed from crds/`);
    }
    const refused = await helm(["upgrade", RELEASE, CHART, "--namespace", NS, "-f", valuesFile(VALUES)]);
    assert.notEqual(refused.code, 0, "Helm does not take over an object it did not make");
    assert.match(refused.stderr, /CustomResourceDefinition "agent(configs|runs)\.agent\.tekton\.dev".*exists and cannot be imported into the current release/);
    const adopted = await readmeAdoption();
    assert.equal(adopted.code, 0, adopted.stderr);
    const upgrade = await helm(["upgrade", RELEASE, CHART, "--namespace", NS, "-f", valuesFile(VALUES)]);
    assert.equal(upgrade.code, 0, upgrade.stderr);
    for (const crd of CRDS) {
      const meta = (await kubectlJson<{ metadata: Meta }>(["get", "crd", crd])).metadata;
      assert.equal(meta.annotations?.["meta.helm.sh/release-name"], RELEASE, crd);
      assert.equal(meta.annotations?.["helm.sh/resource-policy"], "keep", `${crd}: kept on uninstall`);
      assert.equal(meta.labels?.["app.kubernetes.io/managed-by"], "Helm", crd);
    }
  });

  test("what the gateway, the controller and audit create at run time names their Deployment as owner, not a pod or ReplicaSet", async () => {
    for (const name of COMPONENTS) {
      deploymentUids.set(name, (await kubectlJson<{ metadata: Meta }>(["get", "deployment", name, "-n", NS])).metadata.uid);
    }
    const manifest = parseAllDocuments((await helm(["get", "manifest", RELEASE, "--namespace", NS])).stdout).map((d) => d.toJS() as { kind?: string; metadata?: { name?: string }; data?: Record<string, string>; spec?: { template: { spec: { serviceAccountName: string; containers: { args: string[] }[] } } } } | null);
    const token = manifest.find((o) => o?.kind === "Secret" && o.metadata?.name === "agentgate-webhook-path")?.data?.token;
    assert.ok(token, "the webhook path token the chart made");
    writeFileSync(join(WORK, "webhook-path-token"), Buffer.from(token, "base64"));
    // The chart's arguments, but for where each listens and reads the mounted
    // token, and no drain (no endpoints here to leave).
    const local = async (a: string): Promise<string> =>
      a.startsWith("--webhook-path-token-file=") ? `--webhook-path-token-file=${join(WORK, "webhook-path-token")}`
        : /^--(listen|health-listen|metrics-listen)=/.test(a) ? `${a.split("=")[0] ?? ""}=127.0.0.1:${String(await freePort())}`
          : a.startsWith("--drain-seconds=") ? "--drain-seconds=0"
            : a;
    for (const name of COMPONENTS) {
      const pod = manifest.find((o) => o?.kind === "Deployment" && o.metadata?.name === name)?.spec?.template.spec;
      assert.ok(pod, name);
      const args = await Promise.all((pod.containers[0]?.args ?? []).map(local));
      assert.ok(args.includes(`--owner=deployment/${name}`), `${name}: ${args.join(" ")}`);
      const user = `system:serviceaccount:${NS}:${pod.serviceAccountName}`;
      const kubeconfig = await cp.kubeconfigFor(user, ["system:serviceaccounts", `system:serviceaccounts:${NS}`, "system:authenticated"]);
      commands.set(name, [...args, `--kubeconfig=${kubeconfig}`]);
      start(name);
    }
    await ownedByTheirDeployments("created with an owner");
    // A run ledger as the controller opens it; the gateway, changing it, keeps the owner.
    const controller = await resolveOwner(kubeApiOf(cp.kubeConfig), NS, { kind: "deployment", name: "agentgate-controller" });
    await new ConfigMapLedgerStore(kubeApiOf(cp.kubeConfig), NS, controller).open(emptyLedger({ namespace: "team-a", name: "run-1", uid: "0b1c2d3e-upgrade-test" }, 1000));
    await new ConfigMapLedgerStore(kubeApiOf(cp.kubeConfig), NS).update("0b1c2d3e-upgrade-test", (s) => ({ ...s, used: 10 }));
    const cm = await kubectlJson<{ metadata: Meta; data: Record<string, string> }>(["get", "configmap", ledger, "-n", NS]);
    assert.equal((JSON.parse(cm.data["ledger.json"] ?? "{}") as { used?: number }).used, 10, "the gateway's write landed");
    assert.deepEqual(cm.metadata.ownerReferences?.map((r) => r.uid), [deploymentUids.get("agentgate-controller")]);
    owned.push({ kind: "configmap", name: ledger, owner: "agentgate-controller" });
  });

  test("objects without an owner, as an earlier version made them, are adopted: the gateway's as it starts, the Leases as they are renewed", async () => {
    for (const o of owned) {
      const r = await cp.kubectl(["patch", o.kind, o.name, "-n", NS, "--type=json", "-p", '[{"op":"remove","path":"/metadata/ownerReferences"}]'], { allowFail: true });
      assert.equal(r.code, 0, `${o.kind}/${o.name}: ${r.stderr}`);
    }
    // The ledger is per run, closed and deleted by the controller: nobody adopts it; put its owner back.
    await cp.kubectl(["patch", "configmap", ledger, "-n", NS, "--type=merge", "-p", JSON.stringify({ metadata: { ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "agentgate-controller", uid: deploymentUids.get("agentgate-controller") }] } })]);
    // A new gateway version starts: its pods are new processes.
    await stop("agentgate-gateway");
    start("agentgate-gateway");
    await ownedByTheirDeployments("adopted");
  });

  test("helm upgrade with a changed AgentConfig CRD: the API server serves the new field and printer column; a rollout deletes nothing the Deployments own", async () => {
    const probe = stringify({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "probe", namespace: NS }, spec: { modelConfigRef: { name: "claude" }, upgradeProbe: "served" } });
    const before = await cp.kubectl(["apply", "-f", "-"], { stdin: probe, allowFail: true });
    assert.notEqual(before.code, 0, "the field is unknown before the upgrade");
    assert.match(before.stderr, /upgradeProbe/);
    // A new pod template too (a rollout: new ReplicaSet, new pods, the same Deployment).
    const upgrade = await helm(["upgrade", RELEASE, changedChart(), "--namespace", NS, "-f", valuesFile({ ...VALUES, gateway: { podAnnotations: { rolled: "1" } }, controller: { podAnnotations: { rolled: "1" } } })]);
    assert.equal(upgrade.code, 0, upgrade.stderr);
    const columns = (await cp.kubectl(["get", "crd", CRDS[0] ?? "", "-o", "jsonpath={.spec.versions[0].additionalPrinterColumns[*].name}"])).stdout.split(" ");
    assert.ok(columns.includes("Probe"), `the CRD is updated: ${columns.join(",")}`);
    await until("the API server to accept spec.upgradeProbe", async () => (await cp.kubectl(["apply", "-f", "-"], { stdin: probe, allowFail: true })).code === 0);
    const listed = await until("the Probe column", async () => {
      const out = (await cp.kubectl(["get", "agentconfigs", "-n", NS])).stdout;
      return /\bPROBE\b/.test(out) && /\bserved\b/.test(out) ? out : undefined;
    });
    process.stdout.write(`# kubectl get agentconfigs after helm upgrade\n${listed}`);
    for (const [name, uid] of deploymentUids) assert.equal((await kubectlJson<{ metadata: Meta }>(["get", "deployment", name, "-n", NS])).metadata.uid, uid, `${name}: the same Deployment`);
    // The garbage collector runs: give it time to act on anything it would delete.
    await new Promise((r) => setTimeout(r, 2000));
    for (const o of owned) {
      const r = await cp.kubectl(["get", o.kind, o.name, "-n", NS, "-o", "name"], { allowFail: true });
      assert.equal(r.code, 0, `${o.kind}/${o.name} survives the upgrade: ${r.stderr}`);
    }
  });

  test("helm uninstall keeps the CRDs and the AgentConfigs (crds.keep); the garbage collector deletes everything the processes created", async () => {
    // The pods would be terminated with their Deployments; here the processes stop first.
    for (const name of COMPONENTS) await stop(name);
    const u = await helm(["uninstall", RELEASE, "--namespace", NS]);
    assert.equal(u.code, 0, u.stderr);
    process.stdout.write(`# helm uninstall\n${u.stdout}${u.stderr}`);
    for (const crd of CRDS) assert.match(`${u.stdout}${u.stderr}`, new RegExp(`kept due to the resource policy[\\s\\S]*${crd.replace(/\./g, "\\.")}`), crd);
    let left: string[] = [];
    await until("the release namespace to hold nothing agentgate made but its signing keys", async () => {
      const r = await cp.kubectl(["get", "secrets,configmaps,leases", "-n", NS, "-o", "name"]);
      left = r.stdout.split("\n").filter((l) => l !== "" && l !== "configmap/kube-root-ca.crt");
      return left.length === 2;
    }, { timeoutMs: 60_000 }).catch(() => undefined);
    // The signing keys alone stay: the kept AgentRuns' decisions and their provenance verify with them.
    assert.deepEqual(left.sort(), ["configmap/agentgate-signing", "secret/agentgate-signing"], "left behind in the release namespace (no owner, or an owner the garbage collector did not find gone)");
    for (const crd of CRDS) assert.equal((await cp.kubectl(["get", "crd", crd, "-o", "name"], { allowFail: true })).code, 0, `${crd} kept`);
    assert.equal((await cp.kubectl(["get", "agentconfig", "probe", "-n", NS, "-o", "jsonpath={.spec.upgradeProbe}"])).stdout, "served", "the AgentConfig survives the uninstall");
  });

  test("installed again with crds.keep=false, the release takes the kept CRDs back, and helm uninstall then deletes them with every AgentConfig", async () => {
    const install = await helm(["install", RELEASE, CHART, "--namespace", NS, "-f", valuesFile({ crds: { keep: false } })]);
    assert.equal(install.code, 0, install.stderr);
    for (const crd of CRDS) assert.equal((await kubectlJson<{ metadata: Meta }>(["get", "crd", crd])).metadata.annotations?.["helm.sh/resource-policy"], undefined, crd);
    assert.equal((await cp.kubectl(["get", "agentconfig", "probe", "-n", NS, "-o", "name"], { allowFail: true })).code, 0, "taking the CRDs back keeps what they hold");
    const u = await helm(["uninstall", RELEASE, "--namespace", NS]);
    assert.equal(u.code, 0, u.stderr);
    for (const crd of CRDS) await until(`${crd} deleted`, async () => (await cp.kubectl(["get", "crd", crd], { allowFail: true })).code !== 0);
  });
});
