// `agentgate audit`: what existing objects violate the loaded bundles, as
// PolicyReports / OpenReports Reports (whichever CRDs are installed),
// metrics and Events. Long-running with --interval, or one scan with --once.
// Its flags are registered in audit-command.ts.
import * as k8s from "@kubernetes/client-node";
import { LeaseWaitError } from "../audit/run.ts";
import { startAudit, type AuditConfig, type RunningAudit } from "../audit/start.ts";
import { LEASE_NAME as AUDIT_LEASE } from "../audit/lease.ts";
import { CONTROLLER_LEASE } from "../controller/controller.ts";
import type { AuditedObject, ScanResult } from "../audit/scanner.ts";
import { makeIdentity } from "../guardrails/identity.ts";
import { verificationKeyring, type SigningFlags } from "./signing-flags.ts";
import { logger } from "../log.ts";
import { DurationError, parseDurationNs } from "../duration.ts";
import { bundleSourcing, type BundleFlags } from "./bundle-flags.ts";
import { exemptNamespaces } from "../gateway/exemptions.ts";
import { AgentgateError, InputError } from "../errors.ts";
import { ListenError } from "../runtime/probe-server.ts";
import { runUntilSignal } from "../runtime/signals.ts";
import type { Io } from "./review.ts";
import { parseOwnerFlag, resolveOwnerFlag } from "./owner-flag.ts";
import { parseListen } from "./environment.ts";
import { loadKubeConfig } from "./client-node-config.ts";
import { kubeApiOf } from "../kube/from-kubeconfig.ts";

/** How long --once waits for every bundle's first answer (a bundle service's request timeout is at most 30 s). */
const FIRST_VERSIONS_WAIT_MS = 35_000;

/** The same --bundle / --bundle-* / --policy-config flags as serve (BundleFlags), and audit's own. */
export interface AuditCliOptions extends BundleFlags, SigningFlags {
  kubeconfig?: string;
  context?: string;
  /** -n: scan only this namespace, as kubectl's --namespace scopes what it reads */
  namespace?: string;
  /** agentgate's own namespace: exempt, and where the Lease is */
  agentgateNamespace: string;
  serviceAccount: string;
  trustedUser: string[];
  once: boolean;
  interval: string;
  output?: "text" | "json";
  /** undefined: on whenever it writes (off with --dry-run) */
  leaderElect?: boolean;
  leaseNamespace?: string;
  /** with --once: how long to wait for a Lease another scanner holds */
  leaseWait: string;
  metricsListen: string;
  pageSize: number;
  dryRun: boolean;
  exitCode: boolean;
  /** deployment/NAME or cronjob/NAME in agentgate's own namespace: owner of the Lease (src/kube/owner.ts) */
  owner?: string;
}

function parseDurationMs(flag: string, value: string, minMs: number): number {
  let ns: bigint;
  try {
    ns = parseDurationNs(value);
  } catch (err) {
    throw new InputError(`${flag} ${JSON.stringify(value)}: ${err instanceof DurationError ? err.message : "not a duration"}; e.g. 10m, 30s, 1h`);
  }
  const ms = Number(ns / 1_000_000n);
  if (ms < minMs) throw new InputError(`${flag} ${JSON.stringify(value)}: must be at least ${minMs >= 1000 ? `${String(minMs / 1000)}s` : `${String(minMs)}ms`}`);
  return ms;
}

export const parseInterval = (value: string): number => parseDurationMs("--interval", value, 1000);

/** The -o json document: every scanned object with its findings and report results. */
export function scanJson(result: ScanResult): unknown {
  return {
    revision: result.revision,
    timestamp: new Date(result.startedAt).toISOString(),
    durationMs: Math.round(result.durationMs),
    summary: result.summary,
    objects: result.objects.map((o: AuditedObject) => ({
      ...o.ref,
      allowed: o.allowed,
      violations: o.violations,
      results: o.results.map((r) => ({ policy: r.policy, result: r.result, ...(r.message ? { message: r.message } : {}), properties: r.properties })),
    })),
  };
}

/** -o text: one line per finding that is not a pass. */
export function findingLines(objects: readonly AuditedObject[]): string[] {
  const lines: string[] = [];
  for (const o of objects) {
    for (const r of o.results) {
      if (r.result === "pass" || r.result === "skip") continue;
      const note = r.properties.action === "dryrun" ? " (dryrun, not enforced)" : "";
      for (const line of (r.message ?? `[${r.policy}]`).split("\n")) lines.push(`${o.ref.namespace}\t${o.ref.kind}/${o.ref.name}\t${r.result}${note}\t${line}`);
    }
  }
  return lines;
}

/** -o text: the totals, after the findings. */
export function summaryLine(result: ScanResult): string {
  const s = result.summary;
  return `audit: ${result.objectCount} objects in ${result.namespaces} namespace${result.namespaces === 1 ? "" : "s"} under ${result.revision}: ${s.pass} pass, ${s.fail} fail, ${s.warn} warn, ${s.error} error`;
}

/** -o text of a scan that kept its objects: the findings, then the totals. */
export function scanText(result: ScanResult): string[] {
  return [...findingLines(result.objects), summaryLine(result)];
}

/**
 * Until this release audit's --namespace named agentgate's own namespace.
 * A script still passing it would now scan that namespace alone, find
 * nothing and pass: a namespace holding agentgate's Leases is refused. A
 * Lease that cannot be read (403) is no answer, and the scan goes on.
 */
async function refuseAgentgateNamespace(kubeConfig: k8s.KubeConfig, namespace: string): Promise<void> {
  const leases = kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  for (const name of [AUDIT_LEASE, CONTROLLER_LEASE]) {
    try {
      await leases.readNamespacedLease({ name, namespace });
    } catch {
      continue;
    }
    throw new InputError(`--namespace ${namespace}: agentgate runs there (Lease ${name}) and judges nothing there; --namespace scopes the scan, agentgate's own namespace is --agentgate-namespace`);
  }
}

export async function runAudit(opts: AuditCliOptions, io: Io): Promise<number> {
  // Every flag is checked before anything starts, so a typo is the only line printed.
  const intervalMs = parseInterval(opts.interval);
  const leaseWaitMs = parseDurationMs("--lease-wait", opts.leaseWait, 0);
  if (opts.namespace !== undefined && exemptNamespaces(opts.agentgateNamespace).has(opts.namespace)) {
    // Before this flag scoped the scan it named agentgate's own namespace: an empty scan must not read as a clean one.
    throw new InputError(`--namespace ${opts.namespace}: agentgate judges nothing there (it is exempt); --namespace scopes the scan, agentgate's own namespace is --agentgate-namespace`);
  }
  const metricsListen = opts.once ? undefined : parseListen(opts.metricsListen, "--metrics-listen");
  const bundles = bundleSourcing(opts);
  const ownerFlag = opts.owner !== undefined ? parseOwnerFlag(opts.owner) : undefined;
  const kubeConfig = loadKubeConfig(opts);
  if (opts.namespace !== undefined) await refuseAgentgateNamespace(kubeConfig, opts.namespace);
  const keyring = await verificationKeyring(opts, kubeApiOf(kubeConfig), logger, false);
  // Said once, where an operator reads: without keys a forged run reports pass.
  if (!keyring) logger.warn("no --signing-keys or --signing-public-key-file: runs' stamps are not verified (stamp-integrity and stamp-current are skipped)");
  const owner = ownerFlag ? await resolveOwnerFlag(kubeApiOf(kubeConfig), opts.agentgateNamespace, ownerFlag) : undefined;
  // Whoever writes holds the Lease, also a scan that runs once; --dry-run writes nothing and needs none.
  const leaderElect = opts.dryRun ? false : (opts.leaderElect ?? true);
  // -o json prints every object in one document, so the scan keeps them; text is printed a namespace at a
  // time as the scan goes, and without output nothing is kept: memory stays bounded (bench/audit-scale.ts).
  const json = opts.output === "json";
  const text = !json && (opts.output === "text" || opts.once);
  const print = (result: ScanResult) => {
    if (json) io.out(JSON.stringify(scanJson(result), null, opts.once ? 2 : undefined));
    else if (text) io.out(summaryLine(result));
  };
  const config: AuditConfig = {
    kubeConfig,
    bundles,
    identity: makeIdentity([opts.serviceAccount, ...opts.trustedUser]),
    ...(keyring ? { keyring } : {}),
    namespace: opts.agentgateNamespace,
    ...(opts.namespace !== undefined ? { scope: opts.namespace } : {}),
    log: logger,
    pageSize: opts.pageSize,
    keepObjects: json,
    ...(text ? { onNamespace: (_ns: string, objects: readonly AuditedObject[]) => { for (const line of findingLines(objects)) io.out(line); } } : {}),
    write: !opts.dryRun,
    leaderElect,
    leaseNamespace: opts.leaseNamespace ?? opts.agentgateNamespace,
    ...(owner ? { owner } : {}),
    mode: metricsListen ? { kind: "loop", intervalMs, metricsListen, onScan: print } : { kind: "once", firstVersionsWaitMs: FIRST_VERSIONS_WAIT_MS, leaseWaitMs },
  };
  try {
    const audit = await startAuditByFlags(config, opts);
    if (!opts.once) return await runUntilSignal({ stop: () => audit.stop() }, { log: logger, message: "audit shutting down", graceMs: 5_000 }).then(() => 0);
    try {
      const result = await audit.runner.scanOnce();
      print(result);
      return opts.exitCode && (result.summary.fail > 0 || result.summary.error > 0) ? 1 : 0;
    } catch (err) {
      // The Lease's errors name the Lease and how long was waited; a list call that failed names only the resource: say which cluster.
      if (err instanceof LeaseWaitError) throw new AgentgateError(err.kind, err.describe({ leaseWait: "--lease-wait", dryRun: "--dry-run" }), { cause: err });
      if (err instanceof InputError || (err instanceof Error && err.message.startsWith("Lease "))) throw err;
      throw new InputError(`audit --once against ${kubeConfig.getCurrentCluster()?.server ?? "the cluster"}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      await audit.stop();
    }
  } finally {
    keyring?.stop();
  }
}

/** start(), its errors worded by the flags that set the fields they name. */
async function startAuditByFlags(config: AuditConfig, opts: AuditCliOptions): Promise<RunningAudit> {
  logger.info("agentgate audit starting", { once: opts.once, interval: opts.interval, leaderElect: config.leaderElect, dryRun: opts.dryRun });
  try {
    return await startAudit(config);
  } catch (err) {
    if (err instanceof ListenError) throw new InputError(`--metrics-listen ${opts.metricsListen}: ${err.message}`, { cause: err });
    if (err instanceof AgentgateError && err.field === "mode") throw new InputError(`audit --once: ${err.message}`, { cause: err });
    throw err;
  }
}
