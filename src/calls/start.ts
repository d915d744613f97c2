// The run-time gateway's start inside `agentgate serve --calls-listen`: it
// shares the webhook's bundles, watch caches and verification keys, and
// adds TokenReview, the runs, provider keys and the ledger.
import type { Server } from "node:http";
import * as k8s from "@kubernetes/client-node";
import { statusCode } from "../kube/errors.ts";
import type { ObjectLookup } from "../context/lookup.ts";
import type { Logger } from "../log.ts";
import type { PolicyEngine } from "../policy/engine.ts";
import type { KeyResolver } from "../signing/detached.ts";
import type { AgentRun } from "../types/agent.ts";
import { gvrOf, RESOURCES } from "../kube/resources.ts";
import { cachedPodCheck, cachedTokenReview, clusterPodCheck, clusterTokenReview } from "./caller.ts";
import { ConfigMapLedgerStore } from "./ledger-configmap.ts";
import { guardedFetch } from "./egress.ts";
import { Ledger } from "./ledger.ts";
import { RunRecords } from "./run-record.ts";
import { createCallServer } from "./server.ts";

export interface CallGatewayConfig {
  host: string;
  port: number;
  /** where run ledgers live: agentgate's own namespace */
  ledgerNamespace: string;
}

export interface RunningCallGateway {
  port: number;
  close(): Promise<void>;
}

export async function startCallGateway(config: CallGatewayConfig, kc: k8s.KubeConfig, engine: () => PolicyEngine, lookup: ObjectLookup, resolve: KeyResolver, log: Logger): Promise<RunningCallGateway> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const readRun = async (namespace: string, name: string): Promise<AgentRun | null> => {
    try {
      return (await custom.getNamespacedCustomObject({ ...gvrOf(RESOURCES.agentRuns), namespace, name })) as AgentRun;
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw err;
    }
  };
  const upstreams = guardedFetch();
  const server: Server = createCallServer({
    engine,
    review: cachedTokenReview(clusterTokenReview(kc)),
    pods: cachedPodCheck(clusterPodCheck(kc)),
    runs: new RunRecords(readRun, resolve),
    ledger: new Ledger(new ConfigMapLedgerStore(kc, config.ledgerNamespace)),
    lookup,
    secret: async (namespace, name, key) => {
      const s = await core.readNamespacedSecret({ name, namespace });
      const v = s.data?.[key];
      return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
    },
    configMap: async (namespace, name, key) => {
      try {
        return (await core.readNamespacedConfigMap({ name, namespace })).data?.[key];
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }
    },
    fetch: upstreams,
    log,
    now: Date.now,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, resolve);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  log.info("run-time gateway serving", { listen: `${config.host}:${port}`, ledgerNamespace: config.ledgerNamespace });
  return {
    port,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await upstreams.close();
    },
  };
}
