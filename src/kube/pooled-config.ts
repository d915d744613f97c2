// One connection pool per KubeConfig, for every process that talks to the API.
import * as k8s from "@kubernetes/client-node";

/** How long one connection pool serves before TLS material (a rotated CA or client certificate) is read again. */
const POOL_MAX_AGE_MS = 5 * 60_000;

/**
 * A KubeConfig whose API clients share one connection pool. client-node
 * builds a new undici Agent for every request, so every request opens its
 * own TLS connection and the idle ones linger: at 5,000 objects the Events
 * and report writes of one scan took the process from ~250 MB to ~550 MB
 * peak RSS (measured by bench/audit-scale.ts), and cost a TLS handshake
 * each. Reusing the first Agent keeps connections alive across requests.
 */
export class PooledKubeConfig extends k8s.KubeConfig {
  private pooled: { dispatcher: NonNullable<ReturnType<k8s.RequestContext["getDispatcher"]>>; since: number } | undefined;

  constructor(from: k8s.KubeConfig) {
    super();
    this.loadFromOptions({ clusters: from.clusters, contexts: from.contexts, users: from.users, currentContext: from.currentContext });
  }

  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (!fresh) return;
    const now = Date.now();
    if (!this.pooled || now - this.pooled.since > POOL_MAX_AGE_MS) {
      // close() lets requests already on the old pool finish
      const old = this.pooled?.dispatcher;
      this.pooled = { dispatcher: fresh, since: now };
      if (old) void old.close().catch(() => undefined);
      return;
    }
    context.setDispatcher(this.pooled.dispatcher);
  }

  /** Closes the pooled connections (at the end of a run). */
  async closePool(): Promise<void> {
    const old = this.pooled?.dispatcher;
    this.pooled = undefined;
    await old?.close().catch(() => undefined);
  }
}
