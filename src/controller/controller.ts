// The thin controller's process: leader election, watches on AgentRuns and
// CustomRuns, the work queue, health and metrics endpoints.
import { createServer, type Server } from "node:http";
import * as k8s from "@kubernetes/client-node";
import type { AgentRun } from "../types/agent.ts";
import type { CustomRun } from "../types/tekton.ts";
import type { Logger } from "../log.ts";
import { CustomRunReconciler, isAgentRunCustomRun } from "./customrun.ts";
import type { AgentDriver, ProvenanceRecorder } from "./driver.ts";
import { GVR, Kube, statusCode } from "./kube.ts";
import { LeaderElector } from "./leader.ts";
import { ControllerMetrics } from "./metrics.ts";
import { WorkQueue } from "./queue.ts";
import { RunReconciler } from "./reconcile-run.ts";
import { kagentEndpoint, servicesToResolve, type ApiServerEndpoint } from "./scope.ts";
import { ServiceResolver } from "./services.ts";
import type { Keyring } from "../signing/keyring.ts";
import type { KagentRuntime } from "./kagent-agent.ts";
import { readKagentSupport, type KagentSupport } from "./kagent-version.ts";
import { ConfigMapLedgerStore, LEDGER_COMPONENT, ledgerOfConfigMap } from "../calls/ledger-configmap.ts";
import { ledgerOutlivesRun } from "./run-ledger.ts";
import { peerEndpoint } from "./scope.ts";
import type { Owner } from "../owner.ts";

/** The Lease the controllers elect their leader with, in --lease-namespace. */
export const CONTROLLER_LEASE = "agentgate-controller";

export interface ControllerOptions {
  kubeConfig: k8s.KubeConfig;
  /** --kagent-url: where kagent's controller is, for the runs' NetworkPolicies */
  kagentUrl: string;
  driver: AgentDriver;
  provenance: ProvenanceRecorder;
  log: Logger;
  leaderElect: boolean;
  leaseNamespace: string;
  healthListen?: { host: string; port: number };
  metricsListen?: { host: string; port: number };
  identity?: string;
  /** how long kagent may take to report an Agent Ready (default 10 minutes) */
  agentReadyTimeoutMs?: number;
  /** how often a running agent's ModelConfig and tool servers are compared with its snapshot (default 15 s) */
  changeCheckMs?: number;
  /** how often discovery is read again for kagent's version and Cilium (default 5 minutes) */
  capabilitiesIntervalMs?: number;
  /** verifies the decisions and approvals the gateway signed */
  keyring: Keyring;
  /** namespaces the webhooks never see: their runs are never acted on */
  exemptNamespaces: ReadonlySet<string>;
  /** the runtime runs' Agents ask kagent for (default go) */
  kagentRuntime?: KagentRuntime;
  /**
   * --calls-url: agentgate's run-time gateway as the agents' pods reach it.
   * Runs' model and tool calls then go through it, and their ledgers are
   * read from ledgerNamespace (agentgate's own).
   */
  calls?: { url: string; ledgerNamespace: string };
  /** the controller's Deployment: its Lease and the run ledgers it opens name it as their owner (src/owner.ts) */
  owner?: Owner;
}



export interface RunningController {
  kube: Kube;
  reconciler: RunReconciler;
  elector?: LeaderElector;
  healthPort?: number;
  metricsPort?: number;
  /**
   * Stops acting and resolves once nothing more will be written: the queue's
   * passes ended, every actor stopped following its task (the task keeps
   * running in kagent for the next leader to resume), the watches closed; the
   * Lease is then handed back so a standby takes over at once.
   */
  stop(): Promise<void>;
  /** Resolves when another replica took the Lease and this one stopped acting; the process should then exit. */
  lost: Promise<void>;
}

/** The health or metrics endpoint could not listen (address in use, not local): nothing was started. */
export class ListenError extends Error {
  readonly endpoint: "health" | "metrics";
  constructor(endpoint: "health" | "metrics", message: string) {
    super(message);
    this.name = "ListenError";
    this.endpoint = endpoint;
  }
}

type ObjectInformer<T extends k8s.KubernetesObject> = k8s.Informer<T> & k8s.ObjectCache<T>;

export async function startController(opts: ControllerOptions): Promise<RunningController> {
  const { log } = opts;
  const metrics = new ControllerMetrics();
  const { registry, reconciles, leader: leaderGauge, runsActing: runningGauge } = metrics;
  const kube = new Kube(opts.kubeConfig, (verb, resource) => { metrics.apiRequests.inc({ verb, resource }); });

  let runs: ObjectInformer<k8s.KubernetesObject> | undefined;
  let customRuns: ObjectInformer<k8s.KubernetesObject> | undefined;
  let ledgerWatch: ObjectInformer<k8s.KubernetesObject> | undefined;
  let synced = false;
  let apiServerCache: { at: number; value: ApiServerEndpoint | undefined } | undefined;

  const queue: WorkQueue = new WorkQueue(async (key) => {
    const [kind, ns = "", name = ""] = key.split("/");
    try {
      if (kind === "run") {
        const run = runs?.get(name, ns) as AgentRun | undefined;
        if (!run) return undefined;
        const result = await reconciler.reconcile(run);
        reconciles.inc({ kind: "AgentRun", outcome: "ok" });
        runningGauge.set(reconciler.running);
        return result;
      }
      const cr = customRuns?.get(name, ns) as CustomRun | undefined;
      const result = cr ? await customRunReconciler.reconcile(cr) : undefined;
      reconciles.inc({ kind: "CustomRun", outcome: "ok" });
      return result;
    } catch (err) {
      reconciles.inc({ kind: kind === "run" ? "AgentRun" : "CustomRun", outcome: "error" });
      throw err;
    }
  }, log);

  // What kagent this cluster runs, from discovery: read at start and now and
  // then, so a kagent upgraded to its main branch (which no longer runs
  // v1alpha2 Agents) fails runs fast instead of leaving them waiting.
  let kagentSupportNow: KagentSupport | undefined;
  const readSupport = async () => {
    try {
      const next = await readKagentSupport(opts.kubeConfig);
      if (next.state !== kagentSupportNow?.state) log[next.state === "supported" ? "info" : "warn"]("kagent on this cluster", { state: next.state, message: next.message });
      kagentSupportNow = next;
    } catch (err) {
      log.warn("cannot read kagent's API versions from discovery", { error: err instanceof Error ? err.message : String(err) });
    }
  };
  // Cilium's CiliumNetworkPolicy, when served, lets a run's public hosts be allowed by name.
  let fqdn = false;
  const readCilium = async () => {
    try {
      const list = await kube.custom.getAPIResources({ group: "cilium.io", version: "v2" });
      const served = list.resources.some((r) => r.name === "ciliumnetworkpolicies");
      if (served !== fqdn) log.info("Cilium network policies", { served, effect: served ? "public hosts allowed by name (toFQDNs)" : "public hosts allowed as any public address on their port" });
      fqdn = served;
    } catch {
      fqdn = false;
    }
  };

  const kagent = kagentEndpoint(opts.kagentUrl);
  if (kagent.kind === "unknown") log.warn("strict NetworkPolicies will not let kagent's controller reach the agents", { reason: kagent.why });
  const services = new ServiceResolver(kube.core, log);
  const calls = opts.calls ? peerEndpoint("--calls-url", opts.calls.url) : undefined;
  if (calls?.kind === "unknown") log.warn("strict NetworkPolicies will not let the agents reach agentgate's run-time gateway", { reason: calls.why });
  const ledgers = opts.calls ? new ConfigMapLedgerStore(opts.kubeConfig, opts.calls.ledgerNamespace, opts.owner) : undefined;
  const apiServer = async (): Promise<ApiServerEndpoint | undefined> => {
    if (apiServerCache && Date.now() - apiServerCache.at < 60_000) return apiServerCache.value;
    let value: ApiServerEndpoint | undefined;
    try {
      const ep = await kube.core.readNamespacedEndpoints({ name: "kubernetes", namespace: "default" });
      const subset = ep.subsets?.[0];
      value = { ips: (subset?.addresses ?? []).map((a) => a.ip), port: subset?.ports?.[0]?.port ?? 443 };
    } catch {
      value = undefined;
    }
    apiServerCache = { at: Date.now(), value };
    return value;
  };
  const reconciler: RunReconciler = new RunReconciler({
    kube,
    driver: opts.driver,
    provenance: opts.provenance,
    log,
    requeue: (k) => queue.add(`run/${k}`),
    keyring: opts.keyring,
    exemptNamespaces: opts.exemptNamespaces,
    ...(opts.kagentRuntime ? { kagentRuntime: opts.kagentRuntime } : {}),
    kagentSupport: () => kagentSupportNow,
    scopeEnvironment: async (guardrails) => ({ apiServer: await apiServer(), kagent, calls, services: await services.resolve(servicesToResolve(guardrails, kagent, calls)), fqdn }),
    ...(opts.calls && ledgers ? { calls: { baseUrl: opts.calls.url, ledgers } } : {}),
    ...(opts.agentReadyTimeoutMs !== undefined ? { agentReadyTimeoutMs: opts.agentReadyTimeoutMs } : {}),
    ...(opts.changeCheckMs !== undefined ? { changeCheckMs: opts.changeCheckMs } : {}),
  });
  const customRunReconciler = new CustomRunReconciler(kube, log);

  const servers: Server[] = [];
  async function listen(endpoint: ListenError["endpoint"], addr: { host: string; port: number } | undefined, handler: Parameters<typeof createServer>[1]): Promise<number | undefined> {
    if (!addr) return undefined;
    const server = createServer(handler);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(addr.port, addr.host, resolve);
      });
    } catch (err) {
      // Close what already listens, so a failed start leaves nothing holding the process up.
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      throw new ListenError(endpoint, err instanceof Error ? err.message : String(err));
    }
    servers.push(server);
    const a = server.address();
    return typeof a === "object" && a ? a.port : undefined;
  }
  const healthPort = await listen("health", opts.healthListen, (req, res) => {
    if (req.url === "/healthz") return void res.end("ok\n");
    if (req.url === "/readyz") {
      // A standby replica is ready: it serves health and waits for the lease.
      const ok = !opts.leaderElect || synced || !elector?.isLeader;
      res.statusCode = ok ? 200 : 503;
      return void res.end(ok ? "ok\n" : "not ready: watches not synced\n");
    }
    res.statusCode = 404;
    res.end();
  });
  const metricsPort = await listen("metrics", opts.metricsListen, (_req, res) => {
    registry.metrics().then((text) => {
      res.setHeader("content-type", registry.contentType);
      res.end(text);
    }, () => { res.statusCode = 500; res.end(); });
  });

  // After the endpoints listen: an address in use is the one line a bad start prints.
  await Promise.all([readSupport(), readCilium()]);
  const supportTimer = setInterval(() => { void readSupport(); void readCilium(); }, opts.capabilitiesIntervalMs ?? 5 * 60_000);
  supportTimer.unref();

  /** A watch that fails is started again, unless the controller is stopping. */
  function restartOnError(informer: ObjectInformer<k8s.KubernetesObject>, what: string): void {
    informer.on("error", (err: unknown) => {
      if (stopping) return;
      log.warn(`${what} watch failed; restarting`, { error: err instanceof Error ? err.message : String(err) });
      setTimeout(() => { if (!stopping) void informer.start(); }, 2000).unref();
    });
  }

  async function startWatches(): Promise<void> {
    runs = k8s.makeInformer(opts.kubeConfig, "/apis/agent.tekton.dev/v1alpha1/agentruns", async () => (await kube.custom.listCustomObjectForAllNamespaces({ ...GVR.agentRuns, resourcePlural: GVR.agentRuns.plural })) as k8s.KubernetesListObject<k8s.KubernetesObject>);
    const onRun = (object: k8s.KubernetesObject) => {
      const run = object as AgentRun;
      reconciler.observe(run);
      queue.add(`run/${run.metadata?.namespace ?? ""}/${run.metadata?.name ?? ""}`);
      const owner = run.metadata?.ownerReferences?.find((o) => o.kind === "CustomRun");
      if (owner) queue.add(`customrun/${run.metadata?.namespace ?? ""}/${owner.name}`);
    };
    runs.on("add", onRun);
    runs.on("update", onRun);
    restartOnError(runs, "AgentRun");
    await runs.start();
    if (stopping) {
      // stopped while the watch was starting: stopAll's stop may have come too early
      await runs.stop();
      return;
    }

    if (opts.calls && ledgers) {
      const ledgerNs = opts.calls.ledgerNamespace;
      const selector = `app.kubernetes.io/component=${LEDGER_COMPONENT}`;
      ledgerWatch = k8s.makeInformer(opts.kubeConfig, `/api/v1/namespaces/${ledgerNs}/configmaps`, async () => (await kube.core.listNamespacedConfigMap({ namespace: ledgerNs, labelSelector: selector })) as k8s.KubernetesListObject<k8s.KubernetesObject>, selector);
      const onLedger = (object: k8s.KubernetesObject) => {
        let state;
        try {
          state = ledgerOfConfigMap(object);
        } catch (err) {
          log.warn("a run ledger cannot be read", { configMap: object.metadata?.name ?? "", error: err instanceof Error ? err.message : String(err) });
          return;
        }
        reconciler.observeLedger(state);
        const run = runs?.get(state.run.name, state.run.namespace) as AgentRun | undefined;
        if (ledgerOutlivesRun(state, run, Date.parse(object.metadata?.creationTimestamp?.toString() ?? ""), Date.now())) void ledgers.remove(state.run.uid).catch((err: unknown) => { log.warn("cannot delete an ended run's ledger", { run: `${state.run.namespace}/${state.run.name}`, error: err instanceof Error ? err.message : String(err) }); });
      };
      ledgerWatch.on("add", onLedger);
      ledgerWatch.on("update", onLedger);
      restartOnError(ledgerWatch, "run ledger");
      await ledgerWatch.start();
    }

    customRuns = k8s.makeInformer(opts.kubeConfig, "/apis/tekton.dev/v1beta1/customruns", async () => (await kube.custom.listCustomObjectForAllNamespaces({ ...GVR.customRuns, resourcePlural: GVR.customRuns.plural })) as k8s.KubernetesListObject<k8s.KubernetesObject>);
    const onCustomRun = (object: k8s.KubernetesObject) => {
      const cr = object as CustomRun;
      if (isAgentRunCustomRun(cr)) queue.add(`customrun/${cr.metadata?.namespace ?? ""}/${cr.metadata?.name ?? ""}`);
    };
    customRuns.on("add", onCustomRun);
    customRuns.on("update", onCustomRun);
    customRuns.on("error", (err: unknown) => {
      setTimeout(() => { if (!stopping) void customRuns?.start().catch(() => undefined); }, statusCode(err) === 404 ? 30_000 : 2000).unref();
    });
    try {
      await customRuns.start();
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      log.info("Tekton CustomRun API not served; CustomRun support waits for it");
    }
    synced = true;
  }

  let elector: LeaderElector | undefined;
  let stopping = false;
  let stopped: Promise<void> | undefined;
  // The run gauges describe the cluster only from a leader whose watch has synced.
  metrics.readRunsFrom(() => (synced && !stopping ? (runs?.list() as AgentRun[] | undefined) : undefined));
  const stopAll = (release: boolean): Promise<void> =>
    (stopped ??= (async () => {
      stopping = true;
      clearInterval(supportTimer);
      // No new passes, no new actors; running actors stop following now (a
      // lost Lease means another replica may already be resuming their runs).
      const passes = queue.stop();
      const actors = reconciler.shutdown();
      await passes;
      await actors;
      // a pass that was under way may have started an actor before the shutdown
      await reconciler.shutdown();
      await runs?.stop();
      await ledgerWatch?.stop().catch(() => undefined);
      await customRuns?.stop().catch(() => undefined);
      if (release) await elector?.release().catch((err: unknown) => { log.warn("cannot release the Lease; it expires on its own", { error: err instanceof Error ? err.message : String(err) }); });
      else elector?.stop();
      leaderGauge.set(0);
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    })());
  let onLost: () => void = () => undefined;
  const lost = new Promise<void>((resolve) => { onLost = resolve; });
  if (opts.leaderElect) {
    elector = new LeaderElector({ api: kube.coordination, namespace: opts.leaseNamespace, name: CONTROLLER_LEASE, log, ...(opts.identity ? { identity: opts.identity } : {}), ...(opts.owner ? { owner: opts.owner } : {}) });
    void elector
      .acquire(() => {
        // Another replica leads now: stop acting rather than race it.
        log.error("lost the Lease agentgate-controller; stopping", { lease: `${opts.leaseNamespace}/agentgate-controller` });
        void stopAll(false).then(onLost);
      })
      .then(async (leading) => {
        if (!leading || stopping) return;
        leaderGauge.set(1);
        await startWatches();
      })
      .catch((err: unknown) => { log.error("leader election failed", { error: err instanceof Error ? err.message : String(err) }); });
  } else {
    leaderGauge.set(1);
    await startWatches();
  }

  return {
    kube,
    reconciler,
    ...(elector ? { elector } : {}),
    ...(healthPort !== undefined ? { healthPort } : {}),
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    stop: () => stopAll(true),
    lost,
  };
}
