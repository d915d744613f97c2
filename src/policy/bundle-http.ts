// A bundle from an OPA bundle service (any HTTP server that serves the
// .tar.gz): conditional GETs with If-None-Match, 304 means unchanged.
// Polls every interval with ±10 % jitter so replicas do not poll in step;
// after errors it retries sooner, backing off exponentially (with jitter)
// up to four intervals, as OPA's own bundle plugin does.
import { BundleError, bundleNameOf, readTarGz } from "./bundle.ts";
import { describeError, jitter, type BundleSource, type Deliver, type Report } from "./bundle-source.ts";

/** A compressed bundle larger than this is refused before it is unpacked. */
const MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024;

export interface HttpSourceOptions {
  pollIntervalMs: number;
  /** per request; default: the interval, between 5 s and 30 s */
  timeoutMs?: number;
  /** first retry delay after an error; default min(interval, 1 s) */
  minRetryMs?: number;
  random?: () => number;
}

/** The bundle's name from the URL's last path segment (query ignored). */
export function bundleNameOfUrl(location: string): string {
  try {
    return bundleNameOf(new URL(location).pathname);
  } catch {
    return bundleNameOf(location);
  }
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

export class HttpBundleSource implements BundleSource {
  readonly kind = "http";
  readonly location: string;
  private readonly opts: HttpSourceOptions;
  private etag: string | undefined;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight: AbortController | undefined;
  private stopped = false;
  private deliver: Deliver | undefined;
  private report: Report | undefined;

  constructor(location: string, opts: HttpSourceOptions) {
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      throw new Error(`--bundle ${location}: not a valid URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`--bundle ${location}: only http and https URLs are served`);
    this.location = location;
    this.opts = opts;
  }

  resumeFrom(etag: string): void {
    this.etag = etag;
  }

  async start(deliver: Deliver, report: Report): Promise<void> {
    this.deliver = deliver;
    this.report = report;
    await this.pollOnce();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.inflight?.abort();
  }

  /** A method, not the field: stop() can run while a poll awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private nextDelay(): number {
    return pollDelay(this.failures, this.opts.pollIntervalMs, this.opts.minRetryMs ?? Math.min(this.opts.pollIntervalMs, 1000), this.opts.random ?? Math.random);
  }

  private async pollOnce(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.fetchOnce();
      this.failures = 0;
    } catch (err) {
      this.failures++;
      if (!this.isStopped()) this.report?.(new Error(`bundle ${this.location}: ${describeError(err)} (attempt ${this.failures}; retrying)`));
    }
    if (this.isStopped()) return;
    this.timer = setTimeout(() => { void this.pollOnce(); }, this.nextDelay());
    this.timer.unref();
  }

  private async fetchOnce(): Promise<void> {
    const controller = new AbortController();
    this.inflight = controller;
    const timeoutMs = this.opts.timeoutMs ?? Math.min(Math.max(this.opts.pollIntervalMs, 5000), 30_000);
    const timeout = setTimeout(() => { controller.abort(new Error(`no answer within ${timeoutMs} ms`)); }, timeoutMs);
    try {
      const headers: Record<string, string> = { accept: "application/gzip, application/octet-stream;q=0.9, */*;q=0.1" };
      if (this.etag !== undefined) headers["if-none-match"] = this.etag;
      let res: Response;
      try {
        res = await fetch(this.location, { headers, signal: controller.signal, redirect: "follow" });
      } catch (err) {
        const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
        throw new Error(`GET failed: ${controller.signal.aborted ? describeError(controller.signal.reason) : describeError(err)}${cause}`, { cause: err });
      }
      if (res.status === 304) {
        await res.body?.cancel();
        return;
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new Error(`GET answered HTTP ${res.status} ${res.statusText}`.trimEnd());
      }
      const declared = Number(res.headers.get("content-length") ?? "0");
      if (declared > MAX_DOWNLOAD_BYTES) {
        await res.body?.cancel();
        throw new Error(`bundle of ${declared} bytes is over the limit of ${MAX_DOWNLOAD_BYTES} bytes`);
      }
      const archive = Buffer.from(await res.arrayBuffer());
      if (archive.length > MAX_DOWNLOAD_BYTES) throw new Error(`bundle of ${archive.length} bytes is over the limit of ${MAX_DOWNLOAD_BYTES} bytes`);
      const etag = res.headers.get("etag") ?? undefined;
      // A refused version keeps its ETag: it is not downloaded again until
      // the service has something else to offer.
      this.etag = etag;
      let files: Map<string, Buffer>;
      try {
        files = await readTarGz(archive, bundleNameOfUrl(this.location));
        if (files.size === 0) throw new BundleError(bundleNameOfUrl(this.location), `${this.location}: the download holds no files; expected a .tar.gz built by opa build`);
      } catch (err) {
        // The service answered; its content is what is wrong, so no fast retry.
        this.report?.(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      await this.deliver?.({ files, archive, ...(etag !== undefined ? { etag } : {}) }).catch(() => undefined);
    } finally {
      clearTimeout(timeout);
      this.inflight = undefined;
    }
  }
}
