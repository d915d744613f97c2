// Run ledgers as ConfigMaps in agentgate's own namespace: out of reach of
// the namespace editors whose runs they count (a counter in the run's
// namespace could be reset by its editor), and shared by every gateway
// replica through the API server's optimistic concurrency: a write that
// lost a race (409) re-reads and re-applies the change. The controller
// opens a run's ledger before its agent starts and deletes it after the run
// ended; the gateway only ever changes one that exists.
import type * as k8s from "@kubernetes/client-node";
import type { KubeApi } from "../kube/api.ts";
import { statusCode } from "../kube/errors.ts";
import { listPath, RESOURCES } from "../kube/resources.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../types/agent.ts";
import { withOwner, type Owner } from "../kube/owner.ts";
import { CallRefused } from "./caller.ts";
import { noLedger, type LedgerState, type LedgerStore, type LedgerUpdate } from "./ledger.ts";

const DATA_KEY = "ledger.json";
const MAX_ATTEMPTS = 20;

export const LEDGER_COMPONENT = "run-ledger";

/** The ConfigMap holding a run's ledger, named by the run's uid (a name could be reused by a later run). */
export const ledgerName = (uid: string): string => `agentgate-calls-${uid}`;

/** A ledger ConfigMap's run: its annotation, "<namespace>/<name>". */
export const LEDGER_RUN_ANNOTATION = "agent.tekton.dev/run";

/** The ledger a ConfigMap holds; throws CallRefused (503) when it cannot be read. */
export function ledgerOfConfigMap(cm: k8s.V1ConfigMap): LedgerState {
  return parse(cm, cm.metadata?.name ?? "");
}

function parse(cm: k8s.V1ConfigMap, name: string): LedgerState {
  const text = cm.data?.[DATA_KEY];
  try {
    const v = JSON.parse(text ?? "") as LedgerState;
    if (typeof v.budget !== "number" || typeof v.used !== "number" || typeof v.reserved !== "number" || !Array.isArray(v.trace)) throw new Error("fields missing");
    return v;
  } catch (err) {
    throw new CallRefused(503, `the run ledger ConfigMap ${name} cannot be read (${err instanceof Error ? err.message : String(err)}); calls are refused until it is fixed or deleted`);
  }
}

/** Ledgers whose last write this replica remembers; beyond it the oldest are forgotten (and read again when next written). */
const REMEMBERED = 1000;

interface Pending {
  change: LedgerUpdate;
  resolve: (state: LedgerState) => void;
  reject: (err: unknown) => void;
}

export class ConfigMapLedgerStore implements LedgerStore {
  private readonly api: KubeApi;
  private readonly namespace: string;
  /** the ConfigMaps of `namespace`, as a path */
  private readonly collection: string;
  /**
   * What this replica last wrote or read of each ledger, with its
   * resourceVersion: the next write goes out on it without reading first
   * (one API call, not two). The compare-and-swap still holds: if another
   * replica wrote since, the API server answers 409 and the ledger is read
   * again.
   */
  private readonly last = new Map<string, k8s.V1ConfigMap>();
  /**
   * Changes waiting for a ledger's write in flight. Calls of one run on one
   * replica never race each other: the changes that arrive while a write is
   * out go together in the next one (each call still gets the state its own
   * change made), so a busy run costs one write per round trip, not one
   * conflict per call.
   */
  private readonly queues = new Map<string, Pending[]>();

  /**
   * The controller's Deployment, named by the ledgers it opens: one left
   * behind (a run that ended while no controller ran) goes with helm
   * uninstall (src/kube/owner.ts). The gateway, which only changes ledgers,
   * passes none and keeps the owners a ledger has.
   */
  private readonly owner: Owner | undefined;

  constructor(api: KubeApi, namespace: string, owner?: Owner) {
    this.api = api;
    this.namespace = namespace;
    this.collection = listPath(RESOURCES.configMaps, encodeURIComponent(namespace));
    this.owner = owner;
  }

  private path(name: string): string {
    return `${this.collection}/${encodeURIComponent(name)}`;
  }

  private remember(name: string, cm: k8s.V1ConfigMap): void {
    this.last.delete(name);
    if (this.last.size >= REMEMBERED) this.last.delete(this.last.keys().next().value ?? "");
    this.last.set(name, cm);
  }

  /** The ConfigMap of `state`: a new one, or `current` changed (its resourceVersion and owners kept). */
  private body(state: LedgerState, current?: k8s.V1ConfigMap): k8s.V1ConfigMap {
    const name = ledgerName(state.run.uid);
    const resourceVersion = current?.metadata?.resourceVersion;
    const ownerReferences = withOwner(current?.metadata?.ownerReferences, this.owner, this.namespace);
    return {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name,
        namespace: this.namespace,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, "app.kubernetes.io/component": LEDGER_COMPONENT },
        annotations: { [LEDGER_RUN_ANNOTATION]: `${state.run.namespace}/${state.run.name}` },
        ...(resourceVersion ? { resourceVersion } : {}),
        ...(ownerReferences ? { ownerReferences } : {}),
      },
      data: { [DATA_KEY]: JSON.stringify(state) },
    };
  }

  async open(state: LedgerState): Promise<void> {
    try {
      await this.api.create(this.collection, this.body(state));
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
  }

  async read(uid: string): Promise<LedgerState | undefined> {
    const name = ledgerName(uid);
    try {
      const cm = await this.api.get<k8s.V1ConfigMap>(this.path(name));
      this.remember(name, cm);
      return parse(cm, name);
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  update(uid: string, change: LedgerUpdate): Promise<LedgerState> {
    const name = ledgerName(uid);
    return new Promise<LedgerState>((resolve, reject) => {
      const queue = this.queues.get(name);
      if (queue) {
        queue.push({ change, resolve, reject });
        return;
      }
      this.queues.set(name, [{ change, resolve, reject }]);
      void this.drain(name);
    });
  }

  private async drain(name: string): Promise<void> {
    for (;;) {
      const batch = this.queues.get(name) ?? [];
      if (batch.length === 0) {
        this.queues.delete(name);
        return;
      }
      this.queues.set(name, []);
      try {
        const outcomes = await this.write(name, batch);
        outcomes.forEach((o, i) => { if ("state" in o) batch[i]?.resolve(o.state); else batch[i]?.reject(o.error); });
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
  }

  /** One compare-and-swap of the whole batch, re-read and re-applied when another replica wrote first. */
  private async write(name: string, batch: readonly Pending[]): Promise<({ state: LedgerState } | { error: unknown })[]> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      let current: k8s.V1ConfigMap | undefined = attempt === 1 ? this.last.get(name) : undefined;
      const remembered = current !== undefined;
      if (!current) {
        try {
          current = await this.api.get<k8s.V1ConfigMap>(this.path(name));
        } catch (err) {
          if (statusCode(err) === 404) throw noLedger(name.replace(/^agentgate-calls-/, ""));
          throw unavailable(name, err);
        }
      }
      let state = parse(current, name);
      const outcomes = batch.map((p) => {
        try {
          state = p.change(state);
          return { state };
        } catch (error) {
          return { error };
        }
      });
      if (!outcomes.some((o) => "state" in o)) {
        // Refused on what this replica remembered: another may have written since (settled, or removed the ledger). Read and judge again.
        if (remembered) {
          this.last.delete(name);
          continue;
        }
        return outcomes;
      }
      try {
        this.remember(name, await this.api.replace<k8s.V1ConfigMap>(this.path(name), this.body(state, current)));
        return outcomes;
      } catch (err) {
        this.last.delete(name);
        const code = statusCode(err);
        // Another replica wrote first (409), or what this replica remembered is gone (404): read it again.
        if (code === 409 || code === 404) {
          // Spread the replicas that lost the race, so they do not collide again in step.
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * attempt)));
          continue;
        }
        throw unavailable(name, err);
      }
    }
    throw new CallRefused(503, `the run ledger ConfigMap ${name} changed ${MAX_ATTEMPTS} times while this call tried to write it; retry`);
  }

  async remove(uid: string): Promise<void> {
    this.last.delete(ledgerName(uid));
    try {
      await this.api.delete(this.path(ledgerName(uid)));
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  }
}

function unavailable(name: string, err: unknown): CallRefused {
  if (err instanceof CallRefused) return err;
  return new CallRefused(503, `cannot write the run ledger ConfigMap ${name} (${err instanceof Error ? err.message : String(err)}); retry`);
}
