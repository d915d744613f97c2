// The run-time gateway's start inside `agentgate serve --calls-listen`: it
// shares the webhook's bundles, watch caches and verification keys, and
// adds TokenReview, the runs, provider keys and the ledger.
import type { Server } from "node:http";
import type * as k8s from "@kubernetes/client-node";
import type { KubeApi } from "../kube/api.ts";
import { statusCode } from "../kube/errors.ts";
import type { ObjectLookup } from "../context/lookup.ts";
import type { Logger } from "../log.ts";
import type { PolicyEngine } from "../policy/engine.ts";
import type { KeyResolver } from "../signing/detached.ts";
import type { AgentRun } from "../types/agent.ts";
import { listPath, RESOURCES, type KubeResource } from "../kube/resources.ts";
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

/** The path of one object of a namespaced resource. */
const objectPath = (resource: KubeResource, namespace: string, name: string): string => `${listPath(resource, encodeURIComponent(namespace))}/${encodeURIComponent(name)}`;

export async function startCallGateway(config: CallGatewayConfig, api: KubeApi, engine: () => PolicyEngine, lookup: ObjectLookup, resolve: KeyResolver, log: Logger): Promise<RunningCallGateway> {
  const readRun = async (namespace: string, name: string): Promise<AgentRun | null> => {
    try {
      return await api.get<AgentRun>(objectPath(RESOURCES.agentRuns, namespace, name));
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw err;
    }
  };
  const upstreams = guardedFetch();
  const server: Server = createCallServer({
    engine,
    review: cachedTokenReview(clusterTokenReview(api)),
    pods: cachedPodCheck(clusterPodCheck(api)),
    runs: new RunRecords(readRun, resolve),
    ledger: new Ledger(new ConfigMapLedgerStore(api, config.ledgerNamespace)),
    lookup,
    secret: async (namespace, name, key) => {
      const s = await api.get<k8s.V1Secret>(objectPath(RESOURCES.secrets, namespace, name));
      const v = s.data?.[key];
      return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
    },
    configMap: async (namespace, name, key) => {
      try {
        return (await api.get<k8s.V1ConfigMap>(objectPath(RESOURCES.configMaps, namespace, name))).data?.[key];
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
