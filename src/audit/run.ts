// The audit process around the scanner: the webhook's dependencies (same
// bundles, same watch caches, same exemptions), the agentgate-audit Lease
// held while writing, and the interval loop with jitter. Any process can
// start it (the CLI does; so could a controller's leader): give it a
// kubeconfig, the engine in force and an identity, then scanOnce() or loop().
import { staticKeyring, type Keyring } from "../signing/keyring.ts";
import type * as k8s from "@kubernetes/client-node";
import { ClusterLookup } from "../context/cluster-lookup.ts";
import type { GatewayDeps } from "../gateway/admit.ts";
import type { Identity } from "../guardrails/identity.ts";
import type { Logger } from "../log.ts";
import type { Owner } from "../kube/owner.ts";
import type { PolicyEngine } from "../policy/engine.ts";
import type { UserInfo } from "../types/admission.ts";
import { AuditApi } from "./kube.ts";
import { describeError } from "../kube/errors.ts";
import { kubeApiOf } from "../kube/from-kubeconfig.ts";
import { exemptNamespaces } from "../gateway/exemptions.ts";
import { AuditLease, LEASE_NAME, LeaseHeldError, LeaseWaitError } from "./lease.ts";
import type { AuditMetrics } from "./metrics.ts";
import { AuditScanner, type ScanResult, type ScannerOptions } from "./scanner.ts";

export { LEASE_NAME, LeaseHeldError, LeaseWaitError };

/** How soon the loop tries again while no bundle is in force or the Lease cannot be read. */
const RETRY_MS = 5_000;

export interface AuditRunnerOptions {
  kubeConfig: k8s.KubeConfig;
  /** the engine in force, read once at the start of each scan (a bundle swapped meanwhile takes over at the next) */
  engine: () => PolicyEngine;
  /** why no engine is in force yet (a bundle service not answered, a refused signature), or undefined */
  policyNotReady?: () => string | undefined;
  identity: Identity;
  /** agentgate's own namespace: exempt, as for the webhook (kube-system always is) */
  namespace: string;
  /** scan only this namespace (audit -n) */
  scope?: string;
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
  /** scanOnce(): how long to wait for a Lease another scanner holds before giving up (LeaseHeldError); undefined waits as long as it takes */
  leaseWaitMs?: number;
  /** audit's Deployment or CronJob: the Lease names it as its owner (src/kube/owner.ts) */
  owner?: Owner;
  maxReportBytes?: number;
  /** keep every object's findings in each ScanResult (default true; off: a scan's memory stays bounded, see ScannerOptions) */
  keepObjects?: boolean;
  /** each namespace's judged objects, as the scan goes */
  onNamespace?: ScannerOptions["onNamespace"];
  /** verifies runs' signed decisions; without it every run is reported as unverifiable */
  keyring?: Keyring;
}

export interface AuditRunner {
  readonly scanner: AuditScanner;
  readonly api: AuditApi;
  readonly lookup: ClusterLookup;
  /** why it is not ready, or undefined */
  notReady(): string | undefined;
  /** one scan, holding the Lease first when leader election is on (LeaseHeldError when leaseWaitMs runs out) */
  scanOnce(): Promise<ScanResult>;
  /** scans every interval (± 10% jitter) until stop(), waiting for the Lease as a standby; each result goes to onScan */
  loop(intervalMs: number, onScan: (result: ScanResult) => void): Promise<void>;
  /** stops, and hands the Lease back when it holds it */
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
  // Its reads that confirm a cache miss (one per dangling reference) share a connection pool too: a client of its own, closed on stop.
  const lookupApi = kubeApiOf(opts.kubeConfig, {});
  const lookup = new ClusterLookup(lookupApi, log);
  const deps: GatewayDeps = {
    engine: opts.engine,
    lookup,
    identity: opts.identity,
    exemptNamespaces: exemptNamespaces(opts.namespace),
    keyring: opts.keyring ?? staticKeyring(undefined),
  };
  let lease: AuditLease | undefined;
  if (opts.leaderElect) {
    lease = new AuditLease({
      kubeConfig: opts.kubeConfig,
      namespace: opts.leaseNamespace,
      log,
      ...(opts.leaseSeconds ? { leaseSeconds: opts.leaseSeconds } : {}),
      ...(opts.owner ? { owner: opts.owner } : {}),
      onLost: () => {
        metrics.leader.set(0);
        log.warn("audit lost the agentgate-audit lease; not writing until it holds it again");
      },
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
    ...(opts.scope !== undefined ? { scope: opts.scope } : {}),
    ...(opts.user ? { user: opts.user } : {}),
    ...(opts.maxReportBytes ? { maxReportBytes: opts.maxReportBytes } : {}),
    ...(opts.keepObjects !== undefined ? { keepObjects: opts.keepObjects } : {}),
    ...(opts.onNamespace ? { onNamespace: opts.onNamespace } : {}),
    write: opts.write ?? true,
    mayWrite: () => !lease || lease.isLeader,
  });

  await lookup.start();

  let stopped = false;
  // read through a function: the loop's awaits let stop() change it
  const isStopped = () => stopped;
  let wake: (() => void) | undefined;
  const lead = async (waitMs?: number) => {
    if (!lease || lease.isLeader || opts.write === false) return;
    await lease.acquire(waitMs);
    metrics.leader.set(1);
  };
  const scan = async () => {
    // Checked here, not left to engine(): the reason is the bundle store's, not a failed scan's.
    const why = opts.policyNotReady?.();
    if (why) throw new Error(`audit cannot scan: ${why}`);
    try {
      return await scanner.scan();
    } catch (err) {
      metrics.scans.inc({ outcome: "error" });
      throw err;
    }
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      wake = undefined;
    });

  return {
    scanner,
    api,
    lookup,
    notReady: () => opts.policyNotReady?.() ?? lookup.notSynced(),
    async scanOnce() {
      await lead(opts.leaseWaitMs);
      return scan();
    },
    async loop(intervalMs, onScan) {
      while (!isStopped()) {
        let delay = jittered(intervalMs);
        try {
          await lead();
          if (isStopped()) break;
          const why = opts.policyNotReady?.();
          if (why) {
            // No bundle in force (a bundle service not answered yet, a refused signature): nothing to judge by.
            log.warn("audit scan skipped: no policy bundle in force; retrying", { why, retryMs: Math.min(intervalMs, RETRY_MS) });
            delay = Math.min(intervalMs, RETRY_MS);
          } else {
            onScan(await scan());
          }
        } catch (err) {
          // stop() ends a standby's wait for the Lease by refusing its next try
          if (isStopped()) break;
          log.error("audit scan failed; retrying at the next interval", { error: describeError(err) });
          if (lease && !lease.isLeader) delay = Math.min(intervalMs, RETRY_MS);
        }
        if (isStopped()) break;
        await sleep(delay);
      }
    },
    async stop() {
      stopped = true;
      wake?.();
      await lease?.release();
      metrics.leader.set(0);
      await lookup.stop();
      lookupApi.close();
      await api.close();
    },
  };
}
