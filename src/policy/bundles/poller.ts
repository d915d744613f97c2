// The poll loop of a remote bundle source (a bundle service, a registry):
// every interval ±10 % so replicas do not poll in step; after errors
// sooner, backing off exponentially (with jitter) up to four intervals, as
// OPA's own bundle plugin does. A subclass makes one attempt per poll.
import { describeError, jitter, type BundleSource, type Deliver, type Report } from "./source.ts";

export interface PollOptions {
  pollIntervalMs: number;
  /** per attempt; default: the interval, between 5 s and 30 s */
  timeoutMs?: number;
  /** first retry delay after an error; default min(interval, 1 s) */
  minRetryMs?: number;
  random?: () => number;
}

/**
 * The delay before the next poll: the interval ±10 % while the service
 * answers; after `failures` consecutive errors, minRetry doubling per error
 * up to four intervals, with "equal jitter" (at least half the backoff, so
 * retries of many replicas spread out but never bunch at zero).
 */
export function pollDelay(failures: number, intervalMs: number, minRetryMs: number, random: () => number = Math.random): number {
  if (failures === 0) return jitter(intervalMs, 0.1, random);
  const capped = Math.min(minRetryMs * 2 ** (failures - 1), 4 * intervalMs);
  return Math.round(capped / 2 + (capped / 2) * random());
}

export abstract class PollingSource implements BundleSource {
  abstract readonly kind: BundleSource["kind"];
  readonly location: string;
  protected readonly poll: PollOptions;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight: AbortController | undefined;
  private stopped = false;
  protected deliver: Deliver | undefined;
  protected report: Report | undefined;

  protected constructor(location: string, poll: PollOptions) {
    this.location = location;
    this.poll = poll;
  }

  /** One attempt: deliver a new version, report a refused one, return quietly when nothing changed; throw when the source failed. */
  protected abstract fetchOnce(signal: AbortSignal): Promise<void>;

  abstract resumeFrom(etag: string): void;

  async start(deliver: Deliver, report: Report): Promise<void> {
    this.deliver = deliver;
    this.report = report;
    await this.pollOnce();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.inflight?.abort(new Error("stopped"));
  }

  /** A method, not the field: stop() can run while a poll awaits. */
  protected isStopped(): boolean {
    return this.stopped;
  }

  private nextDelay(): number {
    return pollDelay(this.failures, this.poll.pollIntervalMs, this.poll.minRetryMs ?? Math.min(this.poll.pollIntervalMs, 1000), this.poll.random ?? Math.random);
  }

  private async pollOnce(): Promise<void> {
    if (this.stopped) return;
    const controller = new AbortController();
    this.inflight = controller;
    const timeoutMs = this.poll.timeoutMs ?? Math.min(Math.max(this.poll.pollIntervalMs, 5000), 30_000);
    const timeout = setTimeout(() => { controller.abort(new Error(`no answer within ${timeoutMs} ms`)); }, timeoutMs);
    try {
      await this.fetchOnce(controller.signal);
      this.failures = 0;
    } catch (err) {
      this.failures++;
      if (!this.isStopped()) this.report?.(new Error(`bundle ${this.location}: ${describeError(err)} (attempt ${this.failures}; retrying)`));
    } finally {
      clearTimeout(timeout);
      this.inflight = undefined;
    }
    if (this.isStopped()) return;
    this.timer = setTimeout(() => { void this.pollOnce(); }, this.nextDelay());
    this.timer.unref();
  }
}
