// Self-managed certificates for one gateway replica: makes sure the Secret
// holds a CA and a serving certificate (creating it if absent, renewing it
// when due, whichever replica gets there first), keeps the webhook
// configurations' caBundle in line with it, and hands every new serving
// certificate to the server without a restart. Every replica runs one; they
// coordinate only through the Secret's resourceVersion.
import type * as k8s from "@kubernetes/client-node";
import type { KubeApi } from "../kube/api.ts";
import type { Logger } from "../log.ts";
import { CaBundleSync, describe, type WebhookConfigRef } from "./ca-bundle.ts";
import { fingerprint, type CertificateMaterial, type KeyPairPem } from "./material.ts";
import { nextCheckAt, plan, type RotationPolicy } from "./rotate.ts";
import { CertificateSecretStore, decodeSecret, type SecretRef, type StoredSecret } from "./secret-store.ts";
import type { Owner } from "../kube/owner.ts";
import { SecretWatch } from "./secret-watch.ts";
import { validityOf } from "./schedule.ts";

export interface CertificateManagerOptions {
  api: KubeApi;
  secret: SecretRef;
  policy: RotationPolicy;
  webhookConfigs: readonly WebhookConfigRef[];
  log: Logger;
  /** called with each serving certificate the replica should serve from now on */
  onCertificate: (pair: KeyPairPem) => void;
  /** the longest wait between two looks at the Secret and the webhook configurations */
  resyncMs?: number;
  /** the first wait after a failed attempt (doubles up to resyncMs) */
  retryMs?: number;
  /** named in the Secret's ownerReferences (src/kube/owner.ts) */
  owner?: Owner;
}

const MAX_ROUNDS = 5;

export class CertificateManager {
  /** serving certificates handed to the server (the first load included) */
  loads = 0;
  /** Secret writes this replica won (creations and renewals) */
  writes = 0;
  /** writes this replica lost to another (create races, outdated resourceVersion) */
  conflicts = 0;
  private current: KeyPairPem | undefined;
  private material: CertificateMaterial | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rerun = false;
  private failures = 0;
  private stopped = false;
  private readonly store: CertificateSecretStore;
  private readonly caBundle: CaBundleSync;
  private readonly watch: SecretWatch;
  private readonly opts: CertificateManagerOptions;
  private readonly resyncMs: number;
  private readonly retryMs: number;
  private readonly waiters: (() => void)[] = [];

  constructor(opts: CertificateManagerOptions) {
    this.opts = opts;
    this.resyncMs = opts.resyncMs ?? 60_000;
    this.retryMs = opts.retryMs ?? 1000;
    this.store = new CertificateSecretStore(opts.api, opts.secret, opts.owner);
    this.caBundle = new CaBundleSync(opts.api, opts.webhookConfigs, opts.log);
    this.watch = new SecretWatch(opts.api, opts.secret, (type, secret) => { this.onSecretEvent(type, secret); }, opts.log);
  }

  private get secretName(): string {
    return `${this.opts.secret.namespace}/${this.opts.secret.name}`;
  }

  start(): void {
    this.watch.start();
    this.trigger();
  }

  /** why the replica cannot serve yet, or undefined once it has a certificate from the Secret */
  notReady(): string | undefined {
    return this.current ? undefined : `no serving certificate from Secret ${this.secretName} yet`;
  }

  /** Resolves once a serving certificate from the Secret is loaded. */
  ready(): Promise<void> {
    if (this.current) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The CAs the Secret says to trust, as last seen. */
  trusted(): readonly string[] {
    return this.material?.trusted ?? [];
  }

  private adopt(m: CertificateMaterial): void {
    this.material = m;
    const pair = m.serving;
    if (this.current && this.current.cert === pair.cert && this.current.key === pair.key) return;
    this.opts.onCertificate(pair);
    this.current = pair;
    this.loads++;
    const v = validityOf(pair.cert);
    this.opts.log.info("serving certificate loaded from the Secret", { secret: this.secretName, fingerprint: fingerprint(pair.cert), notAfter: v.notAfter.toISOString() });
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private onSecretEvent(type: string, secret: k8s.V1Secret): void {
    if (this.stopped) return;
    if (type !== "DELETED") {
      const stored = decodeSecret(secret);
      // Adopted at once: the reload should not wait for the round below.
      if (stored.material) this.adopt(stored.material);
    }
    this.trigger();
  }

  /** Runs a round now, or right after the one in progress. */
  private trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.rerun = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.round()
      .then(
        () => {
          const due = this.untilNextCheck();
          if (due > 0) {
            this.failures = 0;
            this.schedule(due);
            return;
          }
          // Still due after a round: something is blocked (the caBundle cannot
          // be written, so the next CA may not sign yet). Back off instead of
          // asking the API server again at once.
          this.failures++;
          this.schedule(this.backoff());
        },
        (err: unknown) => {
          this.failures++;
          const wait = this.backoff();
          this.opts.log.warn("certificate management failed; retrying", { secret: this.secretName, error: describe(err), retryInMs: wait });
          this.schedule(wait);
        },
      )
      .finally(() => {
        this.running = undefined;
        if (this.rerun) {
          this.rerun = false;
          this.trigger();
        }
      });
  }

  private backoff(): number {
    return Math.min(this.resyncMs, this.retryMs * 2 ** Math.min(this.failures - 1, 16));
  }

  /** ms until plan() may have something to do (0 when overdue), at most resyncMs. */
  private untilNextCheck(): number {
    if (!this.material) return 0;
    // A little after the moment itself, so the clock has certainly passed it.
    const due = nextCheckAt(this.material).getTime() - Date.now() + 50;
    return Math.max(0, Math.min(this.resyncMs, due));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.trigger(); }, ms);
    this.timer.unref();
  }

  /** One look: read the Secret, sync the caBundle, write a renewal if one is due. */
  private async round(): Promise<void> {
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      if (this.stopped) return;
      const stored = await this.store.read();
      if (stored?.problem) this.opts.log.warn("certificate Secret is unusable; replacing its certificates", { secret: this.secretName, problem: stored.problem });
      let mayPromote = true;
      if (stored?.material) {
        this.adopt(stored.material);
        const synced = await this.caBundle.sync(stored.material.trusted);
        // The next CA signs only once every webhook configuration trusts it.
        mayPromote = synced.complete;
      }
      const now = new Date();
      const next = plan(stored?.material, this.opts.policy, now, { mayPromote });
      if (!next) {
        // A Secret an earlier version made names no owner: name the Deployment
        // now, so helm uninstall takes it. A lost race is seen next round.
        if (stored?.material && this.store.unowned(stored)) await this.store.replace(stored.material, stored);
        return;
      }
      const written = await this.write(next.material, stored);
      if (written === "conflict") {
        this.conflicts++;
        // Another replica wrote first: read its certificates and look again.
        this.opts.log.info("certificate Secret changed by another replica; re-reading", { secret: this.secretName });
        continue;
      }
      this.writes++;
      this.opts.log.info(stored ? "certificate Secret updated" : "certificate Secret created", { secret: this.secretName, reasons: next.reasons });
      if (written.material) {
        this.adopt(written.material);
        await this.caBundle.sync(written.material.trusted);
      }
      return;
    }
    throw new Error(`certificate Secret ${this.secretName} kept changing under ${String(MAX_ROUNDS)} attempts to update it`);
  }

  private write(m: CertificateMaterial, stored: StoredSecret | undefined): Promise<StoredSecret | "conflict"> {
    return stored ? this.store.replace(m, stored) : this.store.create(m);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watch.stop();
  }
}
