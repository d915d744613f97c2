// Fault injection on the local control plane (issue 18, item 2): kube-apiserver
// killed and restarted, then etcd, while the gateway serves, the controller
// drives runs and audit scans. Across each fault:
//  - the gateway never admits a reference it cannot confirm exists: a
//    ModelConfig deleted before its watch cache caught up is missing, one
//    that exists (or was made after the fault) is found;
//  - each run ends exactly once ("run finished" once, one terminal Event, an
//    outcome never rewritten) and its goal reached kagent once, the
//    controller restarted as its Deployment would when it lost the Lease;
//  - audit converges on what a fresh scan says, nothing duplicated.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import winston from "winston";
import { stringify } from "yaml";
import { AuditMetrics } from "../../src/audit/metrics.ts";
import type { ReportObject } from "../../src/audit/report.ts";
import { startAuditRunner, type AuditRunner } from "../../src/audit/run.ts";
import type { ScanResult } from "../../src/audit/scanner.ts";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { ClusterLookup } from "../../src/context/cluster-lookup.ts";
import { A2ADriver } from "../../src/controller/a2a-driver.ts";
import { startController, type RunningController } from "../../src/controller/controller.ts";
import { ProvenanceSigner } from "../../src/controller/provenance-recorder.ts";
import { exemptNamespaces } from "../../src/gateway/exemptions.ts";
import { webhookConfigurations } from "../../src/gateway/webhooks.ts";
import { makeIdentity } from "../../src/guardrails/identity.ts";
import { logger } from "../../src/log.ts";
import { loadEngine } from "../../src/policy/load.ts";
import { PublishedKeys } from "../../src/signing/cluster-keyring.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import type { AgentRun } from "../../src/types/agent.ts";
import { startFakeKagent, type FakeKagent } from "../support/a2a-server.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";
import { captureLogs, playKagentController, type CapturedLogs } from "../support/fault-kit.ts";
import { until } from "../support/until.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NS = "faults";
const GW_NS = "agentgate-system";
const CONTROLLER_USER = `system:serviceaccount:${GW_NS}:agentgate-controller`;
const SIGNING = { namespace: GW_NS, name: "agentgate-signing" };
const TERMINAL = new Set(["Succeeded", "Failed"]);

let cp: ControlPlane;
let custom: k8s.CustomObjectsApi;
let gateway: RunningGateway;
let kagent: FakeKagent;
let published: PublishedKeys;
let controller: RunningController;
let controllerKc: k8s.KubeConfig;
let logs: CapturedLogs;
let player: { stop(): Promise<void> };
let audit: AuditRunner;
let auditLoop: Promise<void>;
/** scans that finished, in order, with when they started */
const scans: ScanResult[] = [];
/** set to make the audit's next list call start a fault (the scan is then under way) */
let onAuditList: (() => void) | undefined;
let shuttingDown = false;
/** controllers started after one lost the Lease */
let controllerRestarts = 0;

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");
const modelConfig = (name: string) => ({ apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name, namespace: NS }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet", apiKeySecret: "k", apiKeySecretKey: "k" } });
const agentConfig = (name: string, model: string) => ({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name, namespace: NS }, spec: { modelConfigRef: { name: model }, systemPrompt: "You write tests." } });
const agentRun = (name: string) => ({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name, namespace: NS }, spec: { configRef: { name: "plain" }, goal: `goal of ${name}` } });

/** What the API server (and so the webhook) answers to an AgentConfig naming `model`: nothing is stored (server-side dry run). */
async function admitConfig(name: string, model: string): Promise<{ allowed: boolean; stderr: string }> {
  const r = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { stdin: yaml(agentConfig(name, model)), allowFail: true });
  return { allowed: r.code === 0, stderr: r.stderr };
}

async function getRun(name: string): Promise<AgentRun> {
  return (await custom.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: NS, plural: "agentruns", name })) as AgentRun;
}

async function terminalEvents(name: string): Promise<string[]> {
  const out = await cp.kubectl(["get", "events", "-n", NS, "--field-selector", `involvedObject.name=${name},involvedObject.kind=AgentRun`, "-o", "json"]);
  const items = (JSON.parse(out.stdout) as { items: { reason: string; count?: number }[] }).items;
  const terminal = new Set(["Succeeded", "AgentFailed", "Cancelled", "TimedOut", "BudgetExceeded", "ConfigNotFound", "ConfigChanged", "AgentRefused", "ScopeConflict", "KagentNotInstalled", "KagentUnsupported"]);
  return items.filter((e) => terminal.has(e.reason)).flatMap((e) => Array.from({ length: e.count ?? 1 }, () => e.reason));
}

/** kube-apiserver's count of webhook calls that failed (no answer, or not one it could read): requests the gateway lost */
function webhookCallsFailed(): number {
  return (readFileSync(join(cp.dir, "kube-apiserver.log"), "utf8").match(/Failed calling webhook, failing (closed|open)/g) ?? []).length;
}

function startTheController(): Promise<RunningController> {
  return startController({
    kubeConfig: controllerKc,
    keyring: published,
    exemptNamespaces: exemptNamespaces(GW_NS),
    kagentUrl: kagent.url,
    driver: new A2ADriver(kagent.url, logger),
    provenance: new ProvenanceSigner(),
    log: logger,
    leaderElect: true,
    leaseNamespace: GW_NS,
    // The same identity after a restart, as a restarted pod has: it takes its own Lease back at once.
    identity: "controller-0",
    agentReadyTimeoutMs: 30_000,
    changeCheckMs: 1000,
    capabilitiesIntervalMs: 60_000,
  });
}

/** As the controller's Deployment would: a controller that lost the Lease exits and is started again. */
function supervise(c: RunningController): void {
  void c.lost.then(async () => {
    if (shuttingDown) return;
    controllerRestarts++;
    controller = await startTheController();
    supervise(controller);
  });
}

before(async () => {
  logs = captureLogs(logger);
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds"), join(ROOT, "charts/agentgate/files/report-crds")], serverSideCrds: [tektonCrdDir()] });
  custom = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  controllerKc = new k8s.KubeConfig();
  controllerKc.loadFromFile(await cp.kubeconfigFor(CONTROLLER_USER, ["system:masters"]));
  gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [], kubeconfig: cp.kubeconfigPath, offline: false, namespace: GW_NS, serviceAccount: `system:serviceaccount:${GW_NS}:agentgate`, trustedUser: [CONTROLLER_USER], drainSeconds: 0, signingKeys: `${SIGNING.namespace}/${SIGNING.name}` });
  const hooks = webhookConfigurations({ name: "agentgate", target: { url: `https://127.0.0.1:${gateway.port}`, caBundle: gateway.caCert ?? "" }, exemptNamespaces: ["kube-system", GW_NS], timeoutSeconds: 10 });
  kagent = await startFakeKagent({ defaultScript: { llmCalls: 4, stepDelayMs: 1500, toolCallsPerCall: 0, resultText: "done" } });
  const ns = (name: string) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  await cp.applyYaml(yaml(hooks.validating, hooks.mutating, ns(NS), ns(GW_NS), ...["keep", "doomed-apiserver", "doomed-etcd", "gone"].map(modelConfig)));
  // Until the webhook answers, anything applied could slip past it.
  await until("the webhook to answer", async () => /\[model-allowlist\]/.test((await admitConfig("probe", "nope")).stderr));
  await cp.applyYaml(yaml(agentConfig("plain", "keep"), ...[1, 2, 3].map((i) => agentConfig(`audited-${i}`, "gone")), agentConfig("fine", "keep")));
  // The audited configs lose their ModelConfig: audit reports them failing, the webhook no longer admits them.
  await cp.kubectl(["delete", "modelconfig", "gone", "-n", NS]);

  published = new PublishedKeys(kubeApiOf(controllerKc), SIGNING, logger, 1000);
  await published.start();
  await until("the gateway to publish its signing keys", async () => (published.notReady() === undefined ? true : (await published.read().catch(() => undefined), undefined)));
  player = playKagentController(cp.kubeConfig, NS);
  controller = await startTheController();
  supervise(controller);

  const engine = await loadEngine([]);
  audit = await startAuditRunner({ kubeConfig: cp.kubeConfig, engine: () => engine, identity: makeIdentity([`system:serviceaccount:${GW_NS}:agentgate`]), namespace: GW_NS, scope: NS, log: logger, metrics: new AuditMetrics(false), pageSize: 1, leaderElect: false, leaseNamespace: GW_NS });
  audit.api.onCall = (verb) => {
    const fault = onAuditList;
    if (verb !== "list" || !fault) return;
    onAuditList = undefined;
    fault();
  };
  auditLoop = audit.loop(1000, (r) => scans.push(r));

  await until("the gateway to be ready", async () => (await fetchReadyz()).status === 200);
});

after(async () => {
  shuttingDown = true;
  await controller.stop();
  await audit.stop();
  await auditLoop;
  await player.stop();
  published.stop();
  await gateway.close();
  await kagent.close();
  await cp.stop();
  logs.stop();
});

function fetchReadyz(): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: gateway.port, path: "/readyz", ca: gateway.caCert, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => { resolve({ status: res.statusCode ?? 0, body }); });
    });
    req.on("error", reject);
    req.end();
  });
}

interface Fault {
  name: string;
  /** the ModelConfig deleted right after the fault */
  doomed: string;
  /** the runs acting through the fault */
  runs: string[];
  /** starts the fault; resolves once the API server is ready again */
  inject: (since: number) => Promise<void>;
  /**
   * The API server's watches to its clients stay open through the fault:
   * etcd restarted under a running kube-apiserver, whose own etcd watch
   * reconnects and then delivers what happened meanwhile. Until it does,
   * every informer, ours too, lags without any sign (README "Fault
   * injection"); the test waits for that delivery before the deletion.
   */
  watchesStayOpen?: boolean;
}

/**
 * Holds kube-apiserver down until the watch caches back off (the 4th retry
 * waits 8 s): a cache still trusted after the fault would then answer from
 * before it for seconds.
 */
const backedOff = (since: number) => async (): Promise<void> => {
  await until("the watch caches to back off", () => logs.find("watch cache failing; retrying", { kind: "ModelConfig" }).some((e) => typeof e.retryInMs === "number" && e.retryInMs >= 8000 && Date.parse(String(e.timestamp)) >= since));
};

const FAULTS: Fault[] = [
  { name: "kube-apiserver killed and restarted", doomed: "doomed-apiserver", runs: ["api-1", "api-2", "api-3"], inject: (since) => cp.restartApiServer({ signal: "SIGKILL", whileDown: backedOff(since) }) },
  { name: "etcd killed and restarted", doomed: "doomed-etcd", runs: ["etcd-1", "etcd-2", "etcd-3"], inject: () => cp.restartEtcd({ signal: "SIGKILL" }), watchesStayOpen: true },
];

for (const fault of FAULTS) {
  describe(fault.name, () => {
    /** what the gateway answered right after the fault */
    const answers = new Map<string, { allowed: boolean; stderr: string }>();
    const lookedUp = new Map<string, boolean>();
    let restartsBefore = 0;
    let scansBefore = 0;
    let scanFailuresBefore = 0;
    /** webhook calls kube-apiserver made and got no answer to, over the fault and the runs' ends */
    let unanswered = 0;
    /** each run's outcome when first seen terminal */
    const firstOutcome = new Map<string, string>();
    /** a watch cache of the test's own, retrying only after ten minutes: what a cache still trusted after the fault would hold */
    let slowLookup: ClusterLookup;

    after(() => slowLookup.stop());

    before(async () => {
      restartsBefore = controllerRestarts;
      scanFailuresBefore = logs.find("audit scan failed; retrying at the next interval").length;
      const unansweredBefore = webhookCallsFailed();
      slowLookup = new ClusterLookup(kubeApiOf(cp.kubeConfig), winston.createLogger({ silent: true }), undefined, { retryBaseMs: 600_000, retryMaxMs: 600_000 });
      await slowLookup.start();
      assert.equal(slowLookup.notSynced(), undefined);
      // Both references resolve before the fault, the doomed one from the caches.
      assert.equal((await admitConfig("before", fault.doomed)).allowed, true);
      assert.ok(await slowLookup.get("ModelConfig", NS, fault.doomed), "the slow cache holds the doomed ModelConfig");
      await cp.applyYaml(yaml(...fault.runs.map(agentRun)));
      await until(`${fault.runs.join(", ")} to act`, async () => {
        for (const name of fault.runs) if (!(await getRun(name)).status?.taskId) return undefined;
        return true;
      });
      scansBefore = scans.length;
      // The fault starts when the audit's next scan makes a list call: a scan is under way.
      let injected: Promise<void> | undefined;
      onAuditList = () => { injected = fault.inject(Date.now()); };
      await until("the audit's next scan to start the fault", () => injected !== undefined);
      await injected;
      if (fault.watchesStayOpen) {
        // A canary made after the fault, seen by the slow cache from its watch (no confirming read): the watches deliver again.
        const canary = `canary-${fault.doomed}`;
        await cp.applyYaml(yaml(modelConfig(canary)));
        await until("the API server's watches to deliver again after the fault", async () => {
          const reads = slowLookup.confirmations;
          const seen = await slowLookup.get("ModelConfig", NS, canary);
          return seen !== null && slowLookup.confirmations === reads ? true : undefined;
        });
      }
      // Right after: the doomed ModelConfig goes, before any cache could have seen it go.
      await cp.kubectl(["delete", "modelconfig", fault.doomed, "-n", NS]);
      lookedUp.set("doomed", (await slowLookup.get("ModelConfig", NS, fault.doomed)) !== null);
      answers.set("doomed", await admitConfig(`after-${fault.doomed}`, fault.doomed));
      answers.set("keep", await admitConfig("after-keep", "keep"));
      const fresh = `fresh-${fault.doomed}`;
      await cp.applyYaml(yaml(modelConfig(fresh)));
      lookedUp.set("fresh", (await slowLookup.get("ModelConfig", NS, fresh)) !== null);
      answers.set("fresh", await admitConfig(`after-${fresh}`, fresh));
      // Sample the outcomes while they settle: an outcome rewritten later would differ from the first seen.
      await until(`${fault.runs.join(", ")} to end`, async () => {
        for (const name of fault.runs) {
          const r = await getRun(name);
          const c = r.status?.conditions?.find((x) => x.type === "Succeeded");
          if (TERMINAL.has(r.status?.phase ?? "") && !firstOutcome.has(name)) firstOutcome.set(name, `${r.status?.phase ?? ""} ${c?.reason ?? ""} ${r.status?.completionTime ?? ""}`);
        }
        return firstOutcome.size === fault.runs.length ? true : undefined;
      }, { timeoutMs: 90_000 });
      unanswered = webhookCallsFailed() - unansweredBefore;
    });

    test("the watch cache is not trusted until it watches again: a ModelConfig deleted meanwhile is missing, one made meanwhile is found", () => {
      assert.equal(lookedUp.get("doomed"), false, "the deleted ModelConfig was answered from the cache of before the fault");
      assert.equal(lookedUp.get("fresh"), true);
    });

    test("the gateway denies an AgentConfig naming the deleted ModelConfig and admits those naming existing ones, each answered (no request lost)", () => {
      const doomed = answers.get("doomed");
      assert.equal(doomed?.allowed, false, "admitted from a stale cache");
      assert.match(doomed.stderr, new RegExp(`\\[model-allowlist\\] spec\\.modelConfigRef[^\\n]*${fault.doomed}`));
      for (const which of ["keep", "fresh"]) {
        const a = answers.get(which);
        assert.equal(a?.allowed, true, `${which}: ${a?.stderr ?? ""}`);
      }
      for (const a of answers.values()) assert.doesNotMatch(a.stderr, /gateway-error|context deadline|Internal error/);
      assert.equal(unanswered, 0, "kube-apiserver called the webhook and got no answer");
    });

    test("each run ends exactly once and its goal reached kagent once", async () => {
      for (const name of fault.runs) {
        const r = await getRun(name);
        const c = r.status?.conditions?.find((x) => x.type === "Succeeded");
        assert.equal(`${r.status?.phase ?? ""} ${c?.reason ?? ""} ${r.status?.completionTime ?? ""}`, firstOutcome.get(name), `${name}: the outcome was rewritten`);
        assert.equal(c?.reason, "Succeeded", `${name}: ${c?.message ?? ""}`);
        assert.equal(logs.find(/^run finished\b/, { run: `${NS}/${name}` }).length, 1, `${name}: "run finished" logged once`);
        assert.deepEqual(await until(`${name}'s terminal Event`, async () => { const e = await terminalEvents(name); return e.length > 0 ? e : undefined; }), ["Succeeded"], `${name}: one terminal Event`);
        assert.equal(kagent.sendCount(`${r.metadata?.uid ?? ""}-attempt-1`), 1, `${name}: the goal reached kagent once`);
        assert.equal(r.status?.usage?.totalTokens, 4 * 120, `${name}: each LLM call counted once`);
      }
      process.stdout.write(`# ${fault.name}: controller restarts (Lease lost) ${String(controllerRestarts - restartsBefore)}\n`);
    });

    test("audit converges on what a fresh scan says, one result per object and policy, one report", async () => {
      // A scan that started after the runs ended and the fault was over.
      const settledAt = Date.now();
      await until("a scan after the fault", () => scans.slice(scansBefore).some((s) => s.startedAt > settledAt));
      const failed = logs.find("audit scan failed; retrying at the next interval").length - scanFailuresBefore;
      const reports = (await custom.listNamespacedCustomObject({ group: "wgpolicyk8s.io", version: "v1alpha2", namespace: NS, plural: "policyreports" })) as { items: ReportObject[] };
      assert.deepEqual(reports.items.map((r) => r.metadata.name), ["agentgate"], "one report");
      const stored = (reports.items[0]?.results ?? []).map((x) => `${x.resources[0]?.kind ?? ""}/${x.resources[0]?.name ?? ""} ${x.policy} ${x.result}`);
      assert.equal(new Set(stored).size, stored.length, `duplicated results:\n${stored.join("\n")}`);
      const engine = await loadEngine([]);
      const check = await startAuditRunner({ kubeConfig: cp.kubeConfig, engine: () => engine, identity: makeIdentity([`system:serviceaccount:${GW_NS}:agentgate`]), namespace: GW_NS, scope: NS, log: winston.createLogger({ silent: true }), metrics: new AuditMetrics(false), leaderElect: false, leaseNamespace: GW_NS, write: false });
      let want: string[];
      try {
        want = (await check.scanOnce()).objects.flatMap((o) => o.results.map((x) => `${x.resources[0]?.kind ?? ""}/${x.resources[0]?.name ?? ""} ${x.policy} ${x.result}`));
      } finally {
        await check.stop();
      }
      assert.deepEqual([...stored].sort(), [...want].sort());
      assert.ok(stored.some((l) => /^AgentConfig\/audited-1 model-allowlist fail$/.test(l)), stored.join("\n"));
      const events = await cp.kubectl(["get", "events", "-n", NS, "--field-selector", "reason=PolicyViolation", "-o", "json"]);
      const violations = (JSON.parse(events.stdout) as { items: { involvedObject: { name: string }; message: string; count?: number }[] }).items;
      const seen = violations.map((e) => `${e.involvedObject.name}: ${e.message}`);
      assert.equal(new Set(seen).size, seen.length, `an Event written twice:\n${seen.join("\n")}`);
      assert.ok(violations.every((e) => (e.count ?? 1) === 1), "no Event repeated");
      process.stdout.write(`# ${fault.name}: audit scans failed during the fault (retried) ${String(failed)}\n`);
    });
  });
}
