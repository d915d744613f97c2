// A keyed work queue: one reconcile per key at a time, repeated events for a
// busy key collapse into one more pass, retries back off.
import type { Logger } from "../log.ts";

export type Reconcile = (key: string) => Promise<{ requeueAfterMs?: number } | undefined>;

export class WorkQueue {
  private readonly busy = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly reconcile: Reconcile;
  private readonly log: Logger;

  constructor(reconcile: Reconcile, log: Logger) {
    this.reconcile = reconcile;
    this.log = log;
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.busy.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.busy.add(key);
    const pass = this.run(key);
    this.inFlight.add(pass);
    void pass.finally(() => this.inFlight.delete(pass));
  }

  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timers.get(key));
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, timer);
  }

  private async run(key: string): Promise<void> {
    try {
      const result = await this.reconcile(key);
      this.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = Math.min(30_000, 250 * 2 ** Math.min(n, 7));
      this.log.warn("reconcile failed; retrying", { key, attempt: n, retryInMs: delay, error: err instanceof Error ? err.message : String(err) });
      this.addAfter(key, delay);
    } finally {
      this.busy.delete(key);
      if (this.dirty.delete(key)) this.add(key);
    }
  }

  /** Takes no more keys; resolves once the passes under way have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }
}
