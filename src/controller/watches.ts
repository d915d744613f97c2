// The controller's watch caches, started once it leads: AgentRuns (each
// change queues its run, and the CustomRun that made it), the run ledgers
// of the run-time gateway (when runs' calls go through it), and Tekton's
// CustomRuns (waited for when their API is not served yet). "Synced" once
// all have listed: /readyz and the run gauges read it.
import type * as k8s from "@kubernetes/client-node";
import { LEDGER_COMPONENT, ledgerOfConfigMap, type ConfigMapLedgerStore } from "../calls/ledger-configmap.ts";
import { errorMessage } from "../errors.ts";
import { makeResourceInformer, restartOnError, type ObjectInformer } from "../kube/informer.ts";
import { RESOURCES } from "../kube/resources.ts";
import type { Logger } from "../log.ts";
import type { AgentRun } from "../types/agent.ts";
import type { CustomRun } from "../types/tekton.ts";
import { isAgentRunCustomRun } from "./customrun.ts";
import { GVR, statusCode, type Kube } from "./kube.ts";
import type { WorkQueue } from "./queue.ts";
import type { RunReconciler } from "./reconcile-run.ts";
import { ledgerOutlivesRun } from "./run-ledger.ts";

export interface WatchDeps {
  kubeConfig: k8s.KubeConfig;
  kube: Kube;
  log: Logger;
  queue: WorkQueue;
  reconciler: RunReconciler;
  /** the run ledgers in agentgate's namespace, when runs' calls go through the run-time gateway */
  ledgers?: { store: ConfigMapLedgerStore; namespace: string };
  stopping: () => boolean;
}

/** How long a CustomRun API that is not served is left before it is looked for again. */
const ABSENT_API_RETRY_MS = 30_000;

export class ControllerWatches {
  synced = false;
  private runs: ObjectInformer | undefined;
  private customRuns: ObjectInformer | undefined;
  private ledgers: ObjectInformer | undefined;
  private readonly deps: WatchDeps;

  constructor(deps: WatchDeps) {
    this.deps = deps;
  }

  run(namespace: string, name: string): AgentRun | undefined {
    return this.runs?.get(name, namespace) as AgentRun | undefined;
  }

  customRun(namespace: string, name: string): CustomRun | undefined {
    return this.customRuns?.get(name, namespace) as CustomRun | undefined;
  }

  /** Every AgentRun the watch holds; undefined before it started. */
  allRuns(): AgentRun[] | undefined {
    return this.runs?.list() as AgentRun[] | undefined;
  }

  async start(): Promise<void> {
    const { kubeConfig: kc, kube, log, queue, reconciler, stopping } = this.deps;
    const runs = makeResourceInformer(kc, RESOURCES.agentRuns, () => kube.custom.listCustomObjectForAllNamespaces({ ...GVR.agentRuns, resourcePlural: GVR.agentRuns.plural }), {
      onChange: (object) => {
        const run = object as AgentRun;
        reconciler.observe(run);
        queue.add(`run/${run.metadata?.namespace ?? ""}/${run.metadata?.name ?? ""}`);
        const owner = run.metadata?.ownerReferences?.find((o) => o.kind === "CustomRun");
        if (owner) queue.add(`customrun/${run.metadata?.namespace ?? ""}/${owner.name}`);
      },
    });
    this.runs = runs;
    restartOnError(runs, "AgentRun", stopping, log);
    await runs.start();
    if (stopping()) {
      // stopped while the watch was starting: stop() may have come too early
      await runs.stop();
      return;
    }
    if (this.deps.ledgers) await this.watchLedgers(this.deps.ledgers);
    const customRuns = makeResourceInformer(kc, RESOURCES.customRuns, () => kube.custom.listCustomObjectForAllNamespaces({ ...GVR.customRuns, resourcePlural: GVR.customRuns.plural }), {
      onChange: (object) => {
        const cr = object as CustomRun;
        if (isAgentRunCustomRun(cr)) queue.add(`customrun/${cr.metadata?.namespace ?? ""}/${cr.metadata?.name ?? ""}`);
      },
    });
    this.customRuns = customRuns;
    restartOnError(customRuns, "CustomRun", stopping, undefined, (err) => (statusCode(err) === 404 ? ABSENT_API_RETRY_MS : 2000));
    try {
      await customRuns.start();
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      log.info("Tekton CustomRun API not served; CustomRun support waits for it");
    }
    this.synced = true;
  }

  private async watchLedgers(ledgers: { store: ConfigMapLedgerStore; namespace: string }): Promise<void> {
    const { kubeConfig: kc, kube, log, reconciler, stopping } = this.deps;
    const labelSelector = `app.kubernetes.io/component=${LEDGER_COMPONENT}`;
    const informer = makeResourceInformer(kc, RESOURCES.configMaps, () => kube.core.listNamespacedConfigMap({ namespace: ledgers.namespace, labelSelector }), {
      namespace: ledgers.namespace,
      labelSelector,
      onChange: (object) => {
        let state;
        try {
          state = ledgerOfConfigMap(object);
        } catch (err) {
          log.warn("a run ledger cannot be read", { configMap: object.metadata?.name ?? "", error: errorMessage(err) });
          return;
        }
        reconciler.observeLedger(state);
        const run = this.run(state.run.namespace, state.run.name);
        if (ledgerOutlivesRun(state, run, Date.parse(object.metadata?.creationTimestamp?.toString() ?? ""), Date.now())) void ledgers.store.remove(state.run.uid).catch((err: unknown) => { log.warn("cannot delete an ended run's ledger", { run: `${state.run.namespace}/${state.run.name}`, error: errorMessage(err) }); });
      },
    });
    this.ledgers = informer;
    restartOnError(informer, "run ledger", stopping, log);
    await informer.start();
  }

  async stop(): Promise<void> {
    await this.runs?.stop();
    await this.ledgers?.stop().catch(() => undefined);
    await this.customRuns?.stop().catch(() => undefined);
  }
}
