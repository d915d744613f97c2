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
import { LeaderElector } from "../controller/leader.ts";
import type { Logger } from "../log.ts";
import { describeError, statusCode } from "./kube.ts";

export const LEASE_NAME = "agentgate-audit";

/** Another scanner held the Lease for the whole wait. */
export class LeaseHeldError extends Error {
  readonly holder: string;
  constructor(message: string, holder: string) {
    super(message);
    this.name = "LeaseHeldError";
    this.holder = holder;
  }
}

/** Thrown into LeaderElector's acquire loop once the wait is over; the loop does not catch it, so it ends. */
class WaitOver extends Error {}

export interface AuditLeaseOptions {
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  log: Logger;
  leaseSeconds?: number;
  /** fires when a held Lease could not be renewed */
  onLost: () => void;
}

/** MicroTime, as the Lease API wants it: RFC 3339 with exactly six fractional digits. */
const microNow = (): Date => new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date;

export class AuditLease {
  /** Unique per scanner, also two in one process (hostname_pid alone is not). */
  readonly identity = `${hostname()}_${process.pid}_${randomBytes(3).toString("hex")}`;
  private readonly api: k8s.CoordinationV1Api;
  private readonly elector: LeaderElector;
  private readonly opts: AuditLeaseOptions;
  private gaveUp = false;

  constructor(opts: AuditLeaseOptions) {
    this.opts = opts;
    this.api = opts.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
    // LeaderElector.acquire has no way to stop waiting. Its calls go through
    // this gate, which refuses them once a bounded wait is over, unless it
    // has become leader meanwhile (then its renewals must go on).
    const gated = new Proxy(this.api, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]): unknown => {
          if (this.gaveUp && !this.elector.isLeader) return Promise.reject(new WaitOver("gave up waiting for the Lease"));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    this.elector = new LeaderElector({
      api: gated,
      namespace: opts.namespace,
      name: LEASE_NAME,
      identity: this.identity,
      log: opts.log,
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
    this.gaveUp = false;
    const acquiring = this.elector.acquire(this.opts.onLost).catch((err: unknown) => {
      if (err instanceof WaitOver) throw err;
      // e.g. 403 without RBAC for Leases: one line saying which Lease
      throw new Error(`Lease ${this.name}: ${describeError(err)}`, { cause: err });
    });
    if (waitMs === undefined) return acquiring;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      acquiring.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), waitMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (!timedOut) return;
    this.gaveUp = true;
    try {
      // Settles at the elector's next attempt: refused by the gate, or won by a request already in flight.
      await acquiring;
      return;
    } catch (err) {
      if (!(err instanceof WaitOver)) throw err;
    }
    const holder = await this.holder();
    throw new LeaseHeldError(
      `Lease ${this.name} is held by ${holder.identity === "" ? "another scanner" : JSON.stringify(holder.identity)}${holder.renewedAgo}; waited ${String(Math.round(waitMs / 1000))}s (--lease-wait) and wrote nothing; another scanner is writing the reports (--dry-run evaluates without the Lease)`,
      holder.identity,
    );
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

  /**
   * Stops renewing and, when this scanner holds the Lease, hands it back as
   * client-go's ReleaseOnCancel does: no holder, and a duration that has
   * run out, so a waiting scanner takes it at its next try.
   */
  async release(): Promise<void> {
    const leading = this.elector.isLeader;
    this.gaveUp = true;
    this.elector.stop();
    if (!leading) return;
    try {
      const lease = await this.api.readNamespacedLease({ name: LEASE_NAME, namespace: this.opts.namespace });
      if (lease.spec?.holderIdentity !== this.identity) return;
      await this.api.replaceNamespacedLease({
        name: LEASE_NAME,
        namespace: this.opts.namespace,
        body: {
          metadata: { name: LEASE_NAME, namespace: this.opts.namespace, resourceVersion: lease.metadata?.resourceVersion },
          spec: { leaseDurationSeconds: 1, renewTime: microNow(), leaseTransitions: lease.spec.leaseTransitions ?? 0 },
        },
      });
      this.opts.log.info("audit released the lease", { lease: this.name, identity: this.identity });
    } catch (err) {
      // 409: taken over meanwhile. Otherwise it runs out on its own.
      if (statusCode(err) !== 409) this.opts.log.warn("could not release the audit lease; it runs out on its own", { lease: this.name, error: describeError(err) });
    }
  }
}
