// A bundle on disk (a .tar.gz or a directory), watched for changes. A
// mounted ConfigMap changes by an atomic swap of the `..data` symlink in the
// mount directory, so the directory is watched, not the file; a slow poll
// of the content catches what inotify misses (network filesystems, events
// lost under load). Only content that differs from the last seen is
// delivered, so a refused version is not retried until it changes.
import { createHash } from "node:crypto";
import { watch, type FSWatcher } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { readBundleFiles } from "../bundle-archive.ts";
import { BundleError, bundleNameOf, readTarGz } from "../bundle.ts";
import { describeError, type BundleSource, type Deliver, type Report, type SourceVersion } from "./source.ts";

export interface FileSourceOptions {
  /** false for bundles that cannot change (the embedded default) */
  watch: boolean;
  /** the fallback content poll */
  pollIntervalMs: number;
  /** events within this window coalesce into one read (a swap is several events) */
  debounceMs?: number;
}

function contentHash(files: ReadonlyMap<string, Buffer>): string {
  const hash = createHash("sha256");
  for (const path of [...files.keys()].sort()) hash.update(path).update("\0").update(files.get(path) as Buffer).update("\0");
  return hash.digest("hex");
}

export class FileBundleSource implements BundleSource {
  readonly kind = "file";
  readonly location: string;
  private readonly opts: FileSourceOptions;
  private deliver: Deliver | undefined;
  private report: Report | undefined;
  private lastSeen: string | undefined;
  private lastError: string | undefined;
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private checking: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(location: string, opts: FileSourceOptions) {
    this.location = location;
    this.opts = opts;
  }

  async start(deliver: Deliver, report: Report): Promise<void> {
    this.deliver = deliver;
    this.report = report;
    await this.check();
    if (!this.opts.watch || this.stopped) return;
    await this.startWatching();
    this.poller = setInterval(() => { this.schedule(0); }, this.opts.pollIntervalMs);
    this.poller.unref();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    clearInterval(this.poller);
    clearTimeout(this.debounce);
  }

  private async startWatching(): Promise<void> {
    let target = this.location;
    try {
      // A directory bundle is its own mount point; a file's mount is its parent.
      if (!(await stat(this.location)).isDirectory()) target = dirname(this.location);
    } catch {
      target = dirname(this.location);
    }
    try {
      this.watcher = watch(target, { persistent: false, recursive: target === this.location }, () => { this.schedule(this.opts.debounceMs ?? 100); });
      this.watcher.on("error", (err) => { this.fail(new Error(`bundle ${this.location}: watching ${target} failed (polling continues): ${err.message}`)); });
    } catch (err) {
      this.fail(new Error(`bundle ${this.location}: cannot watch ${target} (polling every ${this.opts.pollIntervalMs} ms instead): ${describeError(err)}`));
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => { void this.check(); }, delayMs);
  }

  /** One read at a time: a check queued behind a running one sees its result. */
  private check(): Promise<void> {
    this.checking = this.checking.then(() => this.checkNow());
    return this.checking;
  }

  private async checkNow(): Promise<void> {
    if (this.stopped) return;
    let version: SourceVersion;
    let seen: string;
    try {
      const name = bundleNameOf(this.location);
      if ((await stat(this.location)).isDirectory()) {
        const files = await readBundleFiles(this.location, name);
        seen = contentHash(files);
        if (seen === this.lastSeen) return;
        version = { files };
      } else {
        const archive = await readFile(this.location);
        seen = createHash("sha256").update(archive).digest("hex");
        if (seen === this.lastSeen) return;
        const files = await readTarGz(archive, name);
        if (files.size === 0) throw new BundleError(name, `${this.location} holds no files; expected a .tar.gz built by opa build`);
        version = { files, archive };
      }
    } catch (err) {
      this.fail(err instanceof BundleError ? err : new Error(`bundle ${this.location}: cannot read: ${(err as NodeJS.ErrnoException).code ?? describeError(err)}`));
      return;
    }
    this.lastError = undefined;
    this.lastSeen = seen;
    // A refused version was reported by the store; remembering it avoids refusing it again every poll.
    await this.deliver?.(version).catch(() => undefined);
  }

  /** The same failure is reported once, not on every poll. */
  private fail(err: Error): void {
    if (err.message === this.lastError) return;
    this.lastError = err.message;
    this.lastSeen = undefined;
    this.report?.(err);
  }
}
