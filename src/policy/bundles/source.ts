// Where a bundle comes from (a file, a directory, an OPA bundle service, an
// OCI registry) and how a source hands new versions to the store. Sources
// only fetch and notice changes; the store verifies, loads and swaps.

/** One version of a bundle as a source delivers it. */
export interface SourceVersion {
  /** the bundle's files by path, as `.tar.gz` unpacks them */
  files: Map<string, Buffer>;
  /** the archive as received, kept as the last good copy on disk */
  archive?: Buffer;
  /** the bundle service's ETag (a registry's manifest digest) for this version */
  etag?: string;
}

/** Verifies, loads and activates a version; rejects when it is refused. */
export type Deliver = (version: SourceVersion) => Promise<void>;

/**
 * A source could not fetch or read a version (any Error), or what it read
 * is not a bundle at all (a BundleError: that version is refused).
 */
export type Report = (error: Error) => void;

export interface BundleSource {
  readonly kind: "file" | "http" | "oci";
  /** the path or URL as given */
  readonly location: string;
  /**
   * Makes the first attempt (delivering or reporting) and resolves after
   * it; then keeps watching or polling until stop().
   */
  start(deliver: Deliver, report: Report): Promise<void>;
  /** The service's ETag (manifest digest) of a version restored from the cache, so a poll need not download it again. */
  resumeFrom?(etag: string): void;
  stop(): void;
}

export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** Spreads replicas' polls apart: value × [1 - spread, 1 + spread). */
export function jitter(ms: number, spread: number, random: () => number = Math.random): number {
  return Math.round(ms * (1 - spread + 2 * spread * random()));
}

export const describeError = (err: unknown): string => (err instanceof Error ? err.message : String(err));
