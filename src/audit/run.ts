// The audit process around the scanner: the webhook's dependencies (same
// bundles, same watch caches, same exemptions), the agentgate-audit Lease
// held while writing, and the interval loop with jitter.
import * as k8s from "@kubernetes/client-node";
import { ClusterLookup } from "../context/cluster-lookup.ts";
import { LeaderElector } from "../controller/leader.ts";
import type { GatewayDeps } from "../gateway/admit.ts";
import type { Identity } from "../guardrails/identity.ts";
import type { Logger } from "../log.ts";
import type { PolicyEngine } from "../policy/engine.ts";
import type { UserInfo } from "../types/admission.ts";
import { AuditApi, PooledKubeConfig, describeError } from "./kube.ts";
import type { AuditMetrics } from "./metrics.ts";
import { AuditScanner, type ScanResult } from "./scanner.ts";

export const LEASE_NAME = "agentgate-audit";

export interface AuditRunnerOptions {
  kubeConfig: k8s.KubeConfig;
  engine: PolicyEngine;
  identity: Identity;
  /** agentgate's own namespace: exempt, as for the webhook (kube-system always is) */
  namespace: string;
  log: Logger;
  metrics: AuditMetrics;
  pageSize?: number;
  user?: UserInfo;
  /** write reports and events (false: evaluate only) */
  write?: boolean;
  /** hold Lease agentgate-audit while writing */
  leaderElect: boolean;
  leaseNamespace: string;
  leaseSeconds?: number;
  maxReportBytes?: number;
}

export interface AuditRunner {
  readonly scanner: AuditScanner;
  readonly api: AuditApi;
  readonly lookup: ClusterLookup;
  /** why it is not ready, or undefined */
  notReady(): string | undefined;
  /** one scan, holding the Lease first when leader election is on */
  scanOnce(): Promise<ScanResult>;
  /** scans every interval (± 10% jitter) until stop(); each result goes to onScan */
  loop(intervalMs: number, onScan: (result: ScanResult) => void): Promise<void>;
  stop(): Promise<void>;
}

/** interval ± 10%, so that scanners started together drift apart */
export function jittered(intervalMs: number, random: () => number = Math.random): number {
  return Math.round(intervalMs * (0.9 + 0.2 * random()));
}

export async function startAuditRunner(opts: AuditRunnerOptions): Promise<AuditRunner> {
  const { log, metrics } = opts;
  const api = new AuditApi(opts.kubeConfig);
  api.onCall = (verb) => metrics.apiCalls.inc({ verb });
  // Its reads that confirm a cache miss (one per dangling reference) share a connection pool too.
  const lookupConfig = new PooledKubeConfig(opts.kubeConfig);
  const lookup = new ClusterLookup(lookupConfig, log);
  const deps: GatewayDeps = {
    engine: () => opts.engine,
    lookup,
    identity: opts.identity,
    exemptNamespaces: new Set([opts.namespace, "kube-system"]),
  };
  let elector: LeaderElector | undefined;
  if (opts.leaderElect) {
    elector = new LeaderElector({
      api: opts.kubeConfig.makeApiClient(k8s.CoordinationV1Api),
      namespace: opts.leaseNamespace,
      name: LEASE_NAME,
      log,
      ...(opts.leaseSeconds ? { leaseSeconds: opts.leaseSeconds, renewSeconds: Math.max(1, Math.floor(opts.leaseSeconds / 3)) } : {}),
    });
  } else {
    metrics.leader.set(1);
  }
  const scanner = new AuditScanner({
    api,
    deps,
    log,
    metrics,
    ...(opts.pageSize ? { pageSize: opts.pageSize } : {}),
    ...(opts.user ? { user: opts.user } : {}),
    ...(opts.maxReportBytes ? { maxReportBytes: opts.maxReportBytes } : {}),
    write: opts.write ?? true,
    mayWrite: () => !elector || elector.isLeader,
  });

  await lookup.start();

  let stopped = false;
  // read through a function: the loop's awaits let stop() change it
  const isStopped = () => stopped;
  let wake: (() => void) | undefined;
  const lead = async () => {
    if (!elector || elector.isLeader || opts.write === false) return;
    await elector.acquire(() => {
      metrics.leader.set(0);
      log.warn("audit lost the agentgate-audit lease; not writing until it holds it again");
    });
    metrics.leader.set(1);
  };
  const scan = async () => {
    try {
      return await scanner.scan();
    } catch (err) {
      metrics.scans.inc({ outcome: "error" });
      throw err;
    }
  };

  return {
    scanner,
    api,
    lookup,
    notReady: () => lookup.notSynced(),
    async scanOnce() {
      await lead();
      return scan();
    },
    async loop(intervalMs, onScan) {
      while (!isStopped()) {
        await lead();
        if (isStopped()) break;
        try {
          onScan(await scan());
        } catch (err) {
          log.error("audit scan failed; retrying at the next interval", { error: describeError(err) });
        }
        if (isStopped()) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, jittered(intervalMs));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    },
    async stop() {
      stopped = true;
      wake?.();
      elector?.stop();
      metrics.leader.set(0);
      await lookup.stop();
      await Promise.all([api.close(), lookupConfig.closePool()]);
    },
  };
}
