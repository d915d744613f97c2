// A bundle from an OPA bundle service (any HTTP server that serves the
// .tar.gz): conditional GETs with If-None-Match, 304 means unchanged;
// polled as poller.ts says, reached as transport.ts says
// (TLS settings, the bearer token, redirects).
import { BundleError, bundleNameOf, readTarGz } from "../bundle.ts";
import { PollingSource, type PollOptions } from "./poller.ts";
import { RemoteClient, readLimited } from "./transport.ts";
import { UsageError } from "../../errors.ts";

/** A compressed bundle larger than this is refused before it is unpacked. */
export const MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024;

export interface HttpSourceOptions extends PollOptions {
  /** TLS settings and the bearer token; default: none */
  client?: RemoteClient;
}

export { pollDelay } from "./poller.ts";

/** The bundle's name from the URL's last path segment (query ignored). */
export function bundleNameOfUrl(location: string): string {
  try {
    return bundleNameOf(new URL(location).pathname);
  } catch {
    return bundleNameOf(location);
  }
}

export class HttpBundleSource extends PollingSource {
  readonly kind = "http";
  private readonly url: URL;
  private readonly client: RemoteClient;
  private etag: string | undefined;

  constructor(location: string, opts: HttpSourceOptions) {
    super(location, opts);
    this.client = opts.client ?? RemoteClient.plain();
    const name = this.client.names.bundle;
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      throw new UsageError(`${name} ${location}: not a valid URL`, { field: "bundles" });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`${name} ${location}: only http and https URLs are served`, { field: "bundles" });
    this.url = url;
  }

  resumeFrom(etag: string): void {
    this.etag = etag;
  }

  protected async fetchOnce(signal: AbortSignal): Promise<void> {
    const client = this.client;
    const headers: Record<string, string> = { accept: "application/gzip, application/octet-stream;q=0.9, */*;q=0.1" };
    if (this.etag !== undefined) headers["if-none-match"] = this.etag;
    const authorization = await client.bearerAuthorization(this.url);
    const res = await client.get(this.url, { headers, signal, ...(authorization !== undefined ? { authorization } : {}) });
    if (res.status === 304) {
      await res.body?.cancel();
      return;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`GET answered HTTP ${res.status} ${res.statusText}`.trimEnd());
    }
    const archive = await readLimited(res, MAX_DOWNLOAD_BYTES, "bundle");
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
  }
}
