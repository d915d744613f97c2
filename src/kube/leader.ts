// Lease-based leader election (coordination.k8s.io/v1): two controller
// replicas never both act on runs, two scanners never both write reports
// (src/audit/lease.ts adds the bounded wait a scan that runs once needs).
import { hostname } from "node:os";
import type * as k8s from "@kubernetes/client-node";
import type { Logger } from "../log.ts";
import { describeError, statusCode } from "./errors.ts";
import { withOwner, type Owner } from "./owner.ts";

export interface LeaderOptions {
  api: k8s.CoordinationV1Api;
  namespace: string;
  name: string;
  identity?: string;
  leaseSeconds?: number;
  renewSeconds?: number;
  log: Logger;
  /**
   * Named in the Lease's ownerReferences, so helm uninstall takes it
   * (src/kube/owner.ts). Every write keeps the owners the Lease has: a write
   * without them would drop them.
   */
  owner?: Owner;
}

export class LeaderElector {
  readonly identity: string;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;
  private wake: (() => void) | undefined;
  private failure: string | undefined;
  private readonly opts: LeaderOptions;

  constructor(opts: LeaderOptions) {
    this.opts = opts;
    this.identity = opts.identity ?? `${hostname()}_${process.pid}`;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Why the last attempt to read or take the Lease failed (e.g. 403), until one succeeds. */
  get lastError(): string | undefined {
    return this.failure;
  }

  /**
   * Resolves true once this process leads, then renews until stop(); false
   * when stopped before it led. onLost fires if it stops leading.
   */
  async acquire(onLost: () => void): Promise<boolean> {
    const leaseSeconds = this.opts.leaseSeconds ?? 15;
    const renewMs = (this.opts.renewSeconds ?? 5) * 1000;
    for (;;) {
      if (this.stopped) return false;
      const won = await this.tryAcquireOrRenew(leaseSeconds).then(
        (ok) => {
          this.failure = undefined;
          return ok;
        },
        (err: unknown) => {
          this.failure = describeError(err);
          this.opts.log.warn("cannot read or take the Lease", { lease: `${this.opts.namespace}/${this.opts.name}`, error: this.failure });
          return false;
        },
      );
      if (won) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, renewMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (this.isStopped()) {
      // stopped while the winning write was in flight: hand the Lease back
      await this.release().catch(() => undefined);
      return false;
    }
    this.leading = true;
    this.opts.log.info("became leader", { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.identity });
    const renew = async () => {
      const ok = await this.tryAcquireOrRenew(leaseSeconds).catch(() => false);
      if (this.isStopped()) return;
      if (!ok) {
        this.leading = false;
        this.opts.log.warn("lost leadership", { identity: this.identity });
        onLost();
        return;
      }
      this.timer = setTimeout(() => void renew(), renewMs);
    };
    this.timer = setTimeout(() => void renew(), renewMs);
    return true;
  }

  private async tryAcquireOrRenew(leaseSeconds: number): Promise<boolean> {
    const { api, namespace, name } = this.opts;
    const nowDate = new Date();
    // Lease times are MicroTime: RFC 3339 with exactly six fractional digits.
    const now = nowDate.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date;
    let lease: k8s.V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      try {
        await api.createNamespacedLease({
          namespace,
          body: { metadata: { name, namespace, ownerReferences: withOwner(undefined, this.opts.owner, namespace) }, spec: { holderIdentity: this.identity, leaseDurationSeconds: leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } },
        });
        return true;
      } catch (createErr) {
        if (statusCode(createErr) === 409) return false;
        throw createErr;
      }
    }
    const spec = lease.spec ?? {};
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? leaseSeconds) * 1000 < nowDate.getTime();
    // An empty holder is a Lease its last holder released (see release()).
    if (spec.holderIdentity && spec.holderIdentity !== this.identity && !expired) return false;
    const transitions = (spec.leaseTransitions ?? 0) + (spec.holderIdentity === this.identity ? 0 : 1);
    try {
      // resourceVersion makes the update conditional: two candidates cannot both win.
      await api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          metadata: { name, namespace, resourceVersion: lease.metadata?.resourceVersion, ownerReferences: withOwner(lease.metadata?.ownerReferences, this.opts.owner, namespace) },
          spec: {
            holderIdentity: this.identity,
            leaseDurationSeconds: leaseSeconds,
            acquireTime: (spec.holderIdentity === this.identity ? spec.acquireTime : now) as Date,
            renewTime: now,
            leaseTransitions: transitions,
          },
        },
      });
      return true;
    } catch (err) {
      if (statusCode(err) === 409) return false;
      throw err;
    }
  }

  /** Read through a method: stop() may flip it while acquire() awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  /** Stops renewing (and trying); the Lease then expires after its duration. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    this.leading = false;
  }

  /**
   * Stops and hands the Lease back, as client-go's ReleaseOnCancel does (no
   * holder, a one-second duration), so a standby takes over at its next try
   * instead of waiting for the Lease to expire.
   */
  async release(): Promise<void> {
    this.stop();
    const { api, namespace, name } = this.opts;
    let lease: k8s.V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (statusCode(err) === 404) return;
      throw err;
    }
    if (lease.spec?.holderIdentity !== this.identity) return;
    const now = new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date;
    try {
      await api.replaceNamespacedLease({
        name,
        namespace,
        body: { metadata: { name, namespace, resourceVersion: lease.metadata?.resourceVersion, ownerReferences: withOwner(lease.metadata?.ownerReferences, this.opts.owner, namespace) }, spec: { leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: lease.spec.leaseTransitions ?? 0 } },
      });
      this.opts.log.info("released the Lease", { lease: `${namespace}/${name}`, identity: this.identity });
    } catch (err) {
      // someone took it meanwhile: nothing to hand back
      if (statusCode(err) !== 409) throw err;
    }
  }
}
