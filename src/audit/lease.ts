// The Lease agentgate-audit: only its holder writes reports and Events, so
// two scanners (a Deployment and a CronJob, a rollout's old and new pod, a
// laptop's `agentgate audit --once`) never write the same report at once.
// The controller's LeaderElector does the electing; this adds what a
// scanner that runs once needs on top: a bounded wait that names the
// holder when it gives up, and a release when done, so the next scanner
// need not wait for the Lease to run out.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import * as k8s from "@kubernetes/client-node";
import { LeaderElector } from "../kube/leader.ts";
import type { Logger } from "../log.ts";
import type { Owner } from "../kube/owner.ts";
import { describeError } from "../kube/errors.ts";
import { AgentgateError } from "../errors.ts";

export const LEASE_NAME = "agentgate-audit";

/** What a wait's message calls the settings that change its outcome: config fields here, flags on the command line. */
export interface LeaseWaitNames {
  leaseWait: string;
  dryRun: string;
}

const FIELD_NAMES: LeaseWaitNames = { leaseWait: "leaseWaitMs", dryRun: "write: false" };

/** The Lease was not taken within the wait (field leaseWaitMs): why, in parts the caller can word. */
export class LeaseWaitError extends AgentgateError {
  readonly lease: string;
  readonly waitedMs: number;
  /** the error reading or taking it (e.g. 403), or who held it */
  readonly reason: { failure: string } | { holder: string; renewedAgo: string };
  constructor(lease: string, waitedMs: number, reason: LeaseWaitError["reason"]) {
    super("unavailable", describeWait(lease, waitedMs, reason, FIELD_NAMES), { field: "leaseWaitMs" });
    this.name = "LeaseWaitError";
    this.lease = lease;
    this.waitedMs = waitedMs;
    this.reason = reason;
  }

  describe(names: LeaseWaitNames): string {
    return describeWait(this.lease, this.waitedMs, this.reason, names);
  }
}

function describeWait(lease: string, waitedMs: number, reason: LeaseWaitError["reason"], names: LeaseWaitNames): string {
  const waited = `waited ${String(Math.round(waitedMs / 1000))}s (${names.leaseWait}) and wrote nothing`;
  if ("failure" in reason) return `Lease ${lease}: ${reason.failure}; ${waited}`;
  return `Lease ${lease} is held by ${reason.holder === "" ? "another scanner" : JSON.stringify(reason.holder)}${reason.renewedAgo}; ${waited}; another scanner is writing the reports (${names.dryRun} evaluates without the Lease)`;
}

/** Another scanner held the Lease for the whole wait. */
export class LeaseHeldError extends LeaseWaitError {
  readonly holder: string;
  constructor(lease: string, waitedMs: number, holder: string, renewedAgo: string) {
    super(lease, waitedMs, { holder, renewedAgo });
    this.name = "LeaseHeldError";
    this.holder = holder;
  }
}

export interface AuditLeaseOptions {
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  log: Logger;
  leaseSeconds?: number;
  /** fires when a held Lease could not be renewed */
  onLost: () => void;
  /** audit's Deployment or CronJob, named in the Lease's ownerReferences (src/kube/owner.ts) */
  owner?: Owner;
}

export class AuditLease {
  /** Unique per scanner, also two in one process (hostname_pid alone is not). */
  readonly identity = `${hostname()}_${process.pid}_${randomBytes(3).toString("hex")}`;
  private readonly api: k8s.CoordinationV1Api;
  private readonly elector: LeaderElector;
  private readonly opts: AuditLeaseOptions;

  constructor(opts: AuditLeaseOptions) {
    this.opts = opts;
    this.api = opts.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
    this.elector = new LeaderElector({
      api: this.api,
      namespace: opts.namespace,
      name: LEASE_NAME,
      identity: this.identity,
      log: opts.log,
      ...(opts.owner ? { owner: opts.owner } : {}),
      ...(opts.leaseSeconds ? { leaseSeconds: opts.leaseSeconds, renewSeconds: Math.max(1, Math.floor(opts.leaseSeconds / 3)) } : {}),
    });
  }

  get isLeader(): boolean {
    return this.elector.isLeader;
  }

  get name(): string {
    return `${this.opts.namespace}/${LEASE_NAME}`;
  }

  /**
   * Resolves once this scanner holds the Lease. With waitMs, rejects with
   * LeaseHeldError (naming the holder) when another scanner held it for
   * that long; without, waits as long as it takes (a standby replica).
   */
  async acquire(waitMs?: number): Promise<void> {
    if (this.elector.isLeader) return;
    const acquiring = this.elector.acquire(this.opts.onLost);
    if (waitMs === undefined) {
      if (await acquiring) return;
      throw new Error(`Lease ${this.name}: the scanner stopped before it took the Lease`);
    }
    let timer: NodeJS.Timeout | undefined;
    const won = await Promise.race([
      acquiring,
      new Promise<"waited">((resolve) => {
        timer = setTimeout(() => resolve("waited"), waitMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (won === true) return;
    // Stopping ends the elector's loop; a write that wins meanwhile is handed back.
    this.elector.stop();
    await acquiring;
    // e.g. 403 without RBAC for Leases: one line saying which Lease and why
    const failure = this.elector.lastError;
    if (failure !== undefined) throw new LeaseWaitError(this.name, waitMs, { failure });
    const holder = await this.holder();
    throw new LeaseHeldError(this.name, waitMs, holder.identity, holder.renewedAgo);
  }

  /** Who holds the Lease now, and how long ago it was renewed (", renewed 3s ago"). */
  async holder(): Promise<{ identity: string; renewedAgo: string }> {
    try {
      const lease = await this.api.readNamespacedLease({ name: LEASE_NAME, namespace: this.opts.namespace });
      const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : NaN;
      return {
        identity: lease.spec?.holderIdentity ?? "",
        renewedAgo: Number.isFinite(renewed) ? `, renewed ${String(Math.max(0, Math.round((Date.now() - renewed) / 1000)))}s ago` : "",
      };
    } catch (err) {
      return { identity: "", renewedAgo: ` (cannot read it: ${describeError(err)})` };
    }
  }

  /** Stops renewing and hands the Lease back, so a waiting scanner takes it at its next try. */
  async release(): Promise<void> {
    try {
      await this.elector.release();
    } catch (err) {
      this.opts.log.warn("could not release the audit lease; it runs out on its own", { lease: this.name, error: describeError(err) });
    }
  }
}
