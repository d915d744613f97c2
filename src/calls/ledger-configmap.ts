// Run ledgers as ConfigMaps in agentgate's own namespace: out of reach of
// the namespace editors whose runs they count (a counter in the run's
// namespace could be reset by its editor), and shared by every gateway
// replica through the API server's optimistic concurrency: a write that
// lost a race (409) re-reads and re-applies the change.
import * as k8s from "@kubernetes/client-node";
import { statusCode } from "../api-errors.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../types/agent.ts";
import { CallRefused } from "./caller.ts";
import type { LedgerState, LedgerStore, LedgerUpdate } from "./ledger.ts";

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

export class ConfigMapLedgerStore implements LedgerStore {
  private readonly api: k8s.CoreV1Api;
  private readonly namespace: string;

  constructor(kc: k8s.KubeConfig, namespace: string) {
    this.api = kc.makeApiClient(k8s.CoreV1Api);
    this.namespace = namespace;
  }

  async read(uid: string): Promise<LedgerState | undefined> {
    const name = ledgerName(uid);
    try {
      return parse(await this.api.readNamespacedConfigMap({ name, namespace: this.namespace }), name);
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  async update(uid: string, change: LedgerUpdate): Promise<LedgerState> {
    const name = ledgerName(uid);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      let current: k8s.V1ConfigMap | undefined;
      try {
        current = await this.api.readNamespacedConfigMap({ name, namespace: this.namespace });
      } catch (err) {
        if (statusCode(err) !== 404) throw unavailable(name, err);
      }
      const next = change(current ? parse(current, name) : undefined);
      const body: k8s.V1ConfigMap = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name,
          namespace: this.namespace,
          labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, "app.kubernetes.io/component": LEDGER_COMPONENT },
          annotations: { [LEDGER_RUN_ANNOTATION]: `${next.run.namespace}/${next.run.name}` },
          ...(current?.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
        },
        data: { [DATA_KEY]: JSON.stringify(next) },
      };
      try {
        if (current) await this.api.replaceNamespacedConfigMap({ name, namespace: this.namespace, body });
        else await this.api.createNamespacedConfigMap({ namespace: this.namespace, body });
        return next;
      } catch (err) {
        const code = statusCode(err);
        // Another replica wrote first (409 on replace, or on create when it created it).
        if (code === 409) continue;
        throw unavailable(name, err);
      }
    }
    throw new CallRefused(503, `the run ledger ConfigMap ${name} changed ${MAX_ATTEMPTS} times while this call tried to write it; retry`);
  }

  async remove(uid: string): Promise<void> {
    try {
      await this.api.deleteNamespacedConfigMap({ name: ledgerName(uid), namespace: this.namespace });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  }
}

function unavailable(name: string, err: unknown): CallRefused {
  if (err instanceof CallRefused) return err;
  return new CallRefused(503, `cannot write the run ledger ConfigMap ${name} (${err instanceof Error ? err.message : String(err)}); retry`);
}
