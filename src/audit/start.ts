// The audit process: `startAudit(config) → RunningAudit`, the one
// constructor `agentgate audit` and the tests share. It loads bundles as
// the gateway does, starts the runner, and then either waits until the
// bundles answered (a scan that runs once has no later chance to pick up a
// bundle service that answers a moment after start) or, long-running,
// serves /metrics, /healthz and /readyz and scans every interval.
import { AgentgateError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { openBundleStore, type BundleSourcing } from "../policy/bundles/open.ts";
import type { BundleStore } from "../policy/bundles/store.ts";
import { listenProbes, type ListenAddress, type ProbeServer } from "../runtime/probe-server.ts";
import { AuditMetrics } from "./metrics.ts";
import { startAuditRunner, type AuditRunner, type AuditRunnerOptions } from "./run.ts";
import type { ScanResult } from "./scanner.ts";

export type AuditMode =
  /** one scan by the caller (runner.scanOnce()); firstVersionsWaitMs: how long to wait for every bundle's first answer */
  | { kind: "once"; firstVersionsWaitMs: number; leaseWaitMs: number }
  /** a scan every intervalMs (± 10%), each result to onScan; probes and metrics on metricsListen */
  | { kind: "loop"; intervalMs: number; metricsListen: ListenAddress; onScan: (result: ScanResult) => void };

export interface AuditConfig extends Omit<AuditRunnerOptions, "engine" | "policyNotReady" | "metrics" | "log" | "leaseWaitMs"> {
  bundles: BundleSourcing;
  mode: AuditMode;
  log: Logger;
}

export interface RunningAudit {
  runner: AuditRunner;
  store: BundleStore;
  metrics: AuditMetrics;
  /** loop mode: the probe and metrics port */
  metricsPort?: number;
  /** stops scanning (handing the Lease back), the probes and the bundles */
  stop(): Promise<void>;
}

/** How long stop() lets a scan in flight end before it returns anyway. */
const LOOP_END_WAIT_MS = 1_000;

export async function startAudit(config: AuditConfig): Promise<RunningAudit> {
  const { log, mode } = config;
  const metrics = new AuditMetrics();
  // Bundles exactly as serve loads them: URLs polled, signatures verified, swaps picked up, last good copy kept.
  const store = await openBundleStore(config.bundles, log, metrics.bundles);
  let runner: AuditRunner;
  try {
    if (mode.kind === "once") {
      await firstVersions(store, mode.firstVersionsWaitMs);
      const why = store.notReady();
      if (why) throw new AgentgateError("input", why, { field: "mode" });
    }
    runner = await startAuditRunner({ ...config, engine: () => store.engine(), policyNotReady: () => store.notReady(), metrics, ...(mode.kind === "once" ? { leaseWaitMs: mode.leaseWaitMs } : {}) });
  } catch (err) {
    store.stop();
    throw err;
  }
  let probes: ProbeServer | undefined;
  let done: Promise<void> | undefined;
  if (mode.kind === "loop") {
    try {
      probes = await listenProbes("metricsListen", mode.metricsListen, { metrics: metrics.registry, health: true, ready: () => runner.notReady() });
    } catch (err) {
      await runner.stop();
      store.stop();
      throw err;
    }
    log.info("audit metrics serving", { listen: `${mode.metricsListen.host}:${String(mode.metricsListen.port)}` });
    done = runner.loop(mode.intervalMs, mode.onScan);
  }
  return {
    runner,
    store,
    metrics,
    ...(probes ? { metricsPort: probes.port } : {}),
    async stop() {
      await runner.stop();
      void probes?.close();
      if (done) await Promise.race([done, new Promise((r) => setTimeout(r, LOOP_END_WAIT_MS).unref())]);
      store.stop();
    },
  };
}

/** Waits until every bundle has answered once (put a version in force, or failed), at most `ms`. */
async function firstVersions(store: BundleStore, ms: number): Promise<void> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    if (store.status().every((s) => s.revision !== undefined || s.lastError !== undefined)) return;
  }
}
