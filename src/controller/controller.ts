// The thin controller's process: `startController(config) → RunningController`,
// the one constructor the CLI and the tests share. It wires the work queue
// to the reconcilers, the watches (src/controller/watches.ts) to the queue,
// and serves health and metrics; with leader election it acts only while it
// holds the Lease, and stops acting when another replica takes it.
import type * as k8s from "@kubernetes/client-node";
import { ConfigMapLedgerStore } from "../calls/ledger-configmap.ts";
import { errorMessage } from "../errors.ts";
import { kubeApiOf } from "../kube/from-kubeconfig.ts";
import { LeaderElector } from "../kube/leader.ts";
import type { Owner } from "../kube/owner.ts";
import type { Logger } from "../log.ts";
import type { ProvenanceRecorder } from "../provenance/facts.ts";
import { listenProbes, type ListenAddress, type ProbeServer } from "../runtime/probe-server.ts";
import type { Keyring } from "../signing/keyring.ts";
import { ClusterFacts } from "./cluster-facts.ts";
import { CustomRunReconciler } from "./customrun.ts";
import type { AgentDriver } from "./driver.ts";
import type { KagentRuntime } from "./kagent-agent.ts";
import { Kube } from "./kube.ts";
import { ControllerMetrics } from "./metrics.ts";
import { WorkQueue, type Reconcile } from "./queue.ts";
import { RunReconciler } from "./reconcile-run.ts";
import { kagentEndpoint, peerEndpoint, servicesToResolve } from "./scope.ts";
import { ServiceResolver } from "./services.ts";
import { ControllerWatches } from "./watches.ts";

/** The Lease the controllers elect their leader with, in leaseNamespace. */
export const CONTROLLER_LEASE = "agentgate-controller";

export interface ControllerOptions {
  kubeConfig: k8s.KubeConfig;
  /** where kagent's controller is, for the runs' NetworkPolicies */
  kagentUrl: string;
  driver: AgentDriver;
  provenance: ProvenanceRecorder;
  log: Logger;
  leaderElect: boolean;
  leaseNamespace: string;
  /** /healthz and /readyz */
  healthListen?: ListenAddress;
  /** /metrics */
  metricsListen?: ListenAddress;
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
   * agentgate's run-time gateway as the agents' pods reach it.
   * Runs' model and tool calls then go through it, and their ledgers are
   * read from ledgerNamespace (agentgate's own).
   */
  calls?: { url: string; ledgerNamespace: string };
  /** the controller's Deployment: its Lease and the run ledgers it opens name it as their owner (src/kube/owner.ts) */
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

export async function startController(opts: ControllerOptions): Promise<RunningController> {
  const { log } = opts;
  const metrics = new ControllerMetrics();
  const kube = new Kube(opts.kubeConfig, (verb, resource) => { metrics.apiRequests.inc({ verb, resource }); });
  const facts = new ClusterFacts(opts.kubeConfig, kube, log);
  const ledgers = opts.calls ? { store: new ConfigMapLedgerStore(kubeApiOf(opts.kubeConfig), opts.calls.ledgerNamespace, opts.owner), namespace: opts.calls.ledgerNamespace } : undefined;
  const reconciler: RunReconciler = new RunReconciler(reconcilerDeps(opts, kube, facts, ledgers?.store, (k) => queue.add(`run/${k}`)));
  const customRunReconciler = new CustomRunReconciler(kube, log);
  const queue: WorkQueue = new WorkQueue((key) => reconcileKey(key, watches, reconciler, customRunReconciler, metrics), log);
  let elector: LeaderElector | undefined;
  let stopping = false;
  const watches: ControllerWatches = new ControllerWatches({ kubeConfig: opts.kubeConfig, kube, log, queue, reconciler, ...(ledgers ? { ledgers } : {}), stopping: () => stopping });
  // A standby replica is ready: it serves health and waits for the Lease.
  const probes = await listenEndpoints(opts, metrics, () => (!opts.leaderElect || watches.synced || !elector?.isLeader ? undefined : "watches not synced"));
  // After the endpoints listen: an address in use is the one line a bad start prints.
  await facts.start(opts.capabilitiesIntervalMs ?? 5 * 60_000);
  // The run gauges describe the cluster only from a leader whose watch has synced.
  metrics.readRunsFrom(() => (watches.synced && !stopping ? watches.allRuns() : undefined));
  let stopped: Promise<void> | undefined;
  const stopAll = (release: boolean): Promise<void> =>
    (stopped ??= (async () => {
      stopping = true;
      facts.stop();
      // No new passes, no new actors; running actors stop following now (a
      // lost Lease means another replica may already be resuming their runs).
      const passes = queue.stop();
      const actors = reconciler.shutdown();
      await passes;
      await actors;
      // a pass that was under way may have started an actor before the shutdown
      await reconciler.shutdown();
      await watches.stop();
      if (release) await elector?.release().catch((err: unknown) => { log.warn("cannot release the Lease; it expires on its own", { error: errorMessage(err) }); });
      else elector?.stop();
      metrics.leader.set(0);
      await Promise.all(probes.map((p) => p.server.close()));
    })());
  let onLost: () => void = () => undefined;
  const lost = new Promise<void>((resolve) => { onLost = resolve; });
  const lead = async (): Promise<void> => {
    metrics.leader.set(1);
    // Shares are swept from the start of leading, not from the first run's reconcile: a leader with no AgentRuns still deletes orphan shares.
    void reconciler.resumeShares();
    await watches.start();
  };
  if (opts.leaderElect) {
    elector = new LeaderElector({ api: kube.coordination, namespace: opts.leaseNamespace, name: CONTROLLER_LEASE, log, ...(opts.identity ? { identity: opts.identity } : {}), ...(opts.owner ? { owner: opts.owner } : {}) });
    const onLeaseLost = () => {
      // Another replica leads now: stop acting rather than race it.
      log.error("lost the Lease agentgate-controller; stopping", { lease: `${opts.leaseNamespace}/${CONTROLLER_LEASE}` });
      void stopAll(false).then(onLost);
    };
    void elector.acquire(onLeaseLost).then((leading) => (leading && !stopping ? lead() : undefined)).catch((err: unknown) => { log.error("leader election failed", { error: errorMessage(err) }); });
  } else {
    await lead();
  }
  const [healthPort, metricsPort] = [probes.find((p) => p.field === "healthListen")?.server.port, probes.find((p) => p.field === "metricsListen")?.server.port];
  return { kube, reconciler, ...(elector ? { elector } : {}), ...(healthPort !== undefined ? { healthPort } : {}), ...(metricsPort !== undefined ? { metricsPort } : {}), stop: () => stopAll(true), lost };
}

function reconcilerDeps(opts: ControllerOptions, kube: Kube, facts: ClusterFacts, ledgers: ConfigMapLedgerStore | undefined, requeue: (key: string) => void): ConstructorParameters<typeof RunReconciler>[0] {
  const { log } = opts;
  const kagent = kagentEndpoint(opts.kagentUrl);
  if (kagent.kind === "unknown") log.warn("strict NetworkPolicies will not let kagent's controller reach the agents", { reason: kagent.why });
  const calls = opts.calls ? peerEndpoint("calls.url", opts.calls.url) : undefined;
  if (calls?.kind === "unknown") log.warn("strict NetworkPolicies will not let the agents reach agentgate's run-time gateway", { reason: calls.why });
  const services = new ServiceResolver(kube.core, log);
  return {
    kube,
    driver: opts.driver,
    provenance: opts.provenance,
    log,
    requeue,
    keyring: opts.keyring,
    exemptNamespaces: opts.exemptNamespaces,
    ...(opts.kagentRuntime ? { kagentRuntime: opts.kagentRuntime } : {}),
    kagentSupport: () => facts.kagentSupport,
    scopeEnvironment: async (guardrails) => ({ apiServer: await facts.apiServer(), kagent, calls, services: await services.resolve(servicesToResolve(guardrails, kagent, calls)), fqdn: facts.fqdn }),
    ...(opts.calls && ledgers ? { calls: { baseUrl: opts.calls.url, ledgers } } : {}),
    ...(opts.agentReadyTimeoutMs !== undefined ? { agentReadyTimeoutMs: opts.agentReadyTimeoutMs } : {}),
    ...(opts.changeCheckMs !== undefined ? { changeCheckMs: opts.changeCheckMs } : {}),
  };
}

/** One queue key, "run/<ns>/<name>" or "customrun/<ns>/<name>", reconciled from the watch's copy. */
async function reconcileKey(key: string, watches: ControllerWatches, runs: RunReconciler, customRuns: CustomRunReconciler, metrics: ControllerMetrics): ReturnType<Reconcile> {
  const [kind, ns = "", name = ""] = key.split("/");
  try {
    if (kind === "run") {
      const run = watches.run(ns, name);
      if (!run) return undefined;
      const result = await runs.reconcile(run);
      metrics.reconciles.inc({ kind: "AgentRun", outcome: "ok" });
      metrics.runsActing.set(runs.running);
      return result;
    }
    const cr = watches.customRun(ns, name);
    const result = cr ? await customRuns.reconcile(cr) : undefined;
    metrics.reconciles.inc({ kind: "CustomRun", outcome: "ok" });
    return result;
  } catch (err) {
    metrics.reconciles.inc({ kind: kind === "run" ? "AgentRun" : "CustomRun", outcome: "error" });
    throw err;
  }
}

/** The health and metrics endpoints; one that cannot listen closes the other, so a failed start leaves nothing holding the process up. */
async function listenEndpoints(opts: ControllerOptions, metrics: ControllerMetrics, notReady: () => string | undefined): Promise<{ field: string; server: ProbeServer }[]> {
  const listening: { field: string; server: ProbeServer }[] = [];
  try {
    if (opts.healthListen) listening.push({ field: "healthListen", server: await listenProbes("healthListen", opts.healthListen, { health: true, ready: notReady }) });
    if (opts.metricsListen) listening.push({ field: "metricsListen", server: await listenProbes("metricsListen", opts.metricsListen, { metrics: metrics.registry }) });
  } catch (err) {
    await Promise.all(listening.map((l) => l.server.close()));
    throw err;
  }
  return listening;
}
