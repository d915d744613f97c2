// The bundles in force and their replacement. Each bundle location is a
// slot fed by a source; a new version is verified (when a key is configured), loaded
// into a complete new PolicyEngine and only then swapped in with one
// assignment. Requests read the engine once when they start (deps.engine()),
// so a request in flight finishes on the engine it began with. A version
// that fails any step is refused and the slot keeps its last good one,
// which is also kept on disk so a restart with the service unreachable
// starts from it.
import { createHash, randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../log.ts";
import type { BundleMetrics } from "./metrics.ts";
import { isRecord } from "../../types/kube.ts";
import { AgentgateError } from "../../errors.ts";
import { BundleError, bundleFromFiles, bundleNameOf, readTarGz, type Bundle } from "../bundle.ts";
import { FileBundleSource, type FileSourceOptions } from "./file.ts";
import { HttpBundleSource, bundleNameOfUrl, type HttpSourceOptions } from "./http.ts";
import { OciBundleSource } from "./oci.ts";
import type { PollOptions } from "./poller.ts";
import { describeError, isUrl, type BundleSource, type SourceVersion } from "./source.ts";
import type { RemoteClient } from "./transport.ts";
import { bundleNameOfOci, isOciLocation } from "./oci-reference.ts";
import type { RegistryCredentials } from "./registry-auth.ts";
import { hasConfig, hasConfigSchema, PolicyConfigError } from "../config-schema.ts";
import { PolicyEngine, withConfig } from "../engine.ts";
import { checkStackedOnDefault, DEFAULT_BUNDLE_PATH } from "../load.ts";
import { verifyBundleFiles, type SignatureKey } from "../signatures.ts";


/** config: the version loads, but the policy config does not match its data.agentgate.config_schema */
export type FailureStage = "fetch" | "signature" | "load" | "config";

export interface BundleStoreOptions {
  /** the bundle locations in force (src/policy/bundles/open.ts stacks them on the default); none means the embedded default bundle */
  sources: readonly string[];
  /** merged into every bundle's data.agentgate.config */
  policyConfig?: Record<string, unknown>;
  /** when set, every bundle but the embedded default must carry a valid signature by this key */
  verification?: SignatureKey;
  /** where last good versions are kept; undefined: not kept */
  cacheDir?: string;
  pollIntervalMs: number;
  log: Logger;
  metrics?: BundleMetrics;
  http?: Partial<HttpSourceOptions>;
  /** how registries are polled (tests) */
  oci?: Partial<PollOptions>;
  file?: Partial<FileSourceOptions>;
  /** TLS settings and the bearer token of every http(s) and oci:// source */
  remote?: RemoteClient;
  /** basic credentials of registries, from a docker config.json */
  registryCredentials?: RegistryCredentials;
  /** registries reached over plain http */
  insecureRegistries?: readonly string[];
}

export interface SlotStatus {
  name: string;
  location: string;
  revision?: string;
  digest?: string;
  origin?: string;
  lastError?: string;
}

interface Slot {
  name: string;
  source: BundleSource;
  /** the embedded default: trusted as shipped, never verified, watched or cached */
  embedded: boolean;
  bundle?: Bundle;
  origin?: string;
  /** hash of every file (signature included) of the version in force */
  contentHash?: string;
  lastError?: string;
  /** where the last error came from: a failing source, or a version refused */
  lastStage?: FailureStage;
}

interface CacheMeta {
  source: string;
  etag?: string;
  revision: string;
  digest: string;
  savedAt: string;
}

/** How long start() waits for a bundle service's (or registry's) first answer before serving (not ready) without it. */
const HTTP_START_GRACE_MS = 3000;

/** $XDG_CACHE_HOME/agentgate/bundles, else <tmp>/agentgate-bundles (writable with a read-only root filesystem and an emptyDir /tmp). */
export function defaultCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return xdg ? join(xdg, "agentgate", "bundles") : join(tmpdir(), "agentgate-bundles");
}

function hashFiles(files: ReadonlyMap<string, Buffer>): string {
  const hash = createHash("sha256");
  for (const path of [...files.keys()].sort()) hash.update(path).update("\0").update(files.get(path) as Buffer).update("\0");
  return hash.digest("hex");
}

export class BundleStore {
  private current: PolicyEngine | undefined;
  private readonly slots: Slot[];
  private readonly opts: BundleStoreOptions;
  /** activations run one at a time, so two sources changing at once cannot lose a version */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: BundleStoreOptions) {
    this.opts = opts;
    const list = opts.sources.length > 0 ? opts.sources : [DEFAULT_BUNDLE_PATH];
    const names = new Set<string>();
    this.slots = list.map((location) => {
      // The shipped default, alone or under teams' bundles (stackedSources).
      const embedded = location === DEFAULT_BUNDLE_PATH;
      const base = embedded ? "default" : isUrl(location) ? bundleNameOfUrl(location) : isOciLocation(location) ? bundleNameOfOci(location) : bundleNameOf(location);
      let name = base;
      for (let i = 2; names.has(name); i++) name = `${base}-${i}`;
      names.add(name);
      const remote = opts.remote ? { client: opts.remote } : {};
      const source: BundleSource = isUrl(location)
        ? new HttpBundleSource(location, { pollIntervalMs: opts.pollIntervalMs, ...remote, ...opts.http })
        : isOciLocation(location)
          ? new OciBundleSource(location, {
              pollIntervalMs: opts.pollIntervalMs,
              ...remote,
              ...(opts.registryCredentials ? { credentials: opts.registryCredentials } : {}),
              ...(opts.insecureRegistries ? { insecureRegistries: opts.insecureRegistries } : {}),
              ...opts.oci,
            })
          : new FileBundleSource(location, { watch: !embedded, pollIntervalMs: opts.pollIntervalMs, ...opts.file });
      return { name, source, embedded };
    });
  }

  /** The engine in force; read once per request. */
  engine(): PolicyEngine {
    if (!this.current) throw new AgentgateError("unavailable", this.notReady() ?? "no policy bundle is in force yet");
    return this.current;
  }

  /** Why the gateway cannot decide yet, or undefined once every bundle is in force. */
  notReady(): string | undefined {
    if (this.current) return undefined;
    const waiting = this.slots
      .filter((s) => !s.bundle)
      .map((s) => `${s.name} (${s.source.location}): ${s.lastError ?? "waiting for a first version"}`);
    return `no policy bundle in force yet; ${waiting.join("; ")}`;
  }

  /**
   * What readiness should say while the gateway stays ready: a slot whose
   * newer version was refused, or whose source fails, while its last good
   * version is in force. Empty when every slot's latest version is in force.
   */
  degraded(): string[] {
    return this.slots
      .filter((s) => s.bundle && s.lastError !== undefined)
      .map((s) => {
        const kept = `revision ${s.bundle?.revision ?? ""} stays in force`;
        return s.lastStage === "fetch"
          ? `bundle "${s.name}" (${s.source.location}): its source fails: ${s.lastError ?? ""}; ${kept}`
          : `bundle "${s.name}" (${s.source.location}): a newer version was refused (${s.lastStage ?? "load"}): ${s.lastError ?? ""}; ${kept}`;
      });
  }

  status(): SlotStatus[] {
    return this.slots.map((s) => ({
      name: s.name,
      location: s.source.location,
      ...(s.bundle ? { revision: s.bundle.revision, digest: s.bundle.digest } : {}),
      ...(s.origin ? { origin: s.origin } : {}),
      ...(s.lastError ? { lastError: s.lastError } : {}),
    }));
  }

  /**
   * First versions of every slot. A bundle service that cannot be reached
   * leaves the gateway running but not ready while it keeps polling; a
   * local file that cannot be loaded (and has no last good copy) is a
   * configuration error and fails the start. A policy config its schema
   * refuses leaves the gateway running but not ready, /readyz saying why.
   */
  async start(): Promise<void> {
    await Promise.all(this.slots.map((slot) => this.startSlot(slot)));
    const broken = this.slots.find((s) => !s.bundle && s.source.kind === "file" && s.lastStage !== "config");
    if (broken) {
      this.stop();
      throw new AgentgateError("policy", broken.lastError ?? `bundle "${broken.name}": ${broken.source.location} could not be loaded`, { field: "bundles" });
    }
  }

  stop(): void {
    for (const slot of this.slots) slot.source.stop();
    void this.opts.remote?.close().catch(() => undefined);
  }

  private async startSlot(slot: Slot): Promise<void> {
    // A service's last good copy comes first, so the gateway is ready even if the service is down.
    if (slot.source.kind !== "file") await this.restore(slot);
    const first = slot.source.start(
      (version) => this.offer(slot, version, slot.source.kind),
      // An archive that is not a bundle is a version refused for its content
      // (BundleError); anything else is the source failing to deliver one.
      (err) => { this.failed(slot, err instanceof BundleError ? "load" : "fetch", err); },
    );
    if (slot.source.kind !== "file") {
      // A slow service must not keep the server from listening (and /healthz
      // from answering) for a whole request timeout; readiness says the rest.
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([first, new Promise<void>((resolve) => { grace = setTimeout(resolve, HTTP_START_GRACE_MS); })]);
      clearTimeout(grace);
    } else {
      await first;
    }
    if (!slot.bundle && slot.source.kind === "file" && !slot.embedded) await this.restore(slot);
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Verify → load → swap; rejects (after reporting) when the version is refused. */
  private offer(slot: Slot, version: SourceVersion, origin: string): Promise<void> {
    return this.enqueue(async () => {
      const contentHash = hashFiles(version.files);
      if (contentHash === slot.contentHash) return;
      if (this.opts.verification && !slot.embedded) {
        try {
          await verifyBundleFiles(slot.name, version.files, this.opts.verification);
        } catch (err) {
          this.failed(slot, "signature", err);
          throw err;
        }
      }
      let bundle: Bundle;
      let engine: PolicyEngine | undefined;
      try {
        bundle = bundleFromFiles(slot.name, slot.source.location, version.files);
        if (!slot.embedded && this.slots.some((s) => s.embedded)) checkStackedOnDefault(bundle, this.opts.remote?.names.defaultOff);
        const next = this.slots.map((s) => (s === slot ? bundle : s.bundle));
        if (next.every((b): b is Bundle => b !== undefined)) engine = await PolicyEngine.load(next, this.opts.policyConfig);
        // Until every slot has a version there is no engine to build; check this bundle loads on its own.
        else await PolicyEngine.load([bundle], this.opts.policyConfig);
      } catch (err) {
        this.failed(slot, err instanceof PolicyConfigError ? "config" : "load", err);
        throw err;
      }
      const previous = slot.bundle?.revision;
      slot.bundle = bundle;
      slot.origin = origin;
      slot.contentHash = contentHash;
      delete slot.lastError;
      delete slot.lastStage;
      if (engine) {
        this.current = engine;
        this.opts.metrics?.setBundles(engine.bundles.map((b) => b.bundle));
      }
      this.opts.metrics?.bundleActivations.inc({ bundle: slot.name, origin });
      this.opts.metrics?.bundleLastActivation.set({ bundle: slot.name }, Date.now() / 1000);
      this.opts.log.info("bundle activated", {
        bundle: slot.name,
        revision: bundle.revision,
        previousRevision: previous,
        digest: bundle.digest,
        source: slot.source.location,
        origin,
        verified: this.opts.verification !== undefined && !slot.embedded,
        inForce: engine ? engine.revision : undefined,
      });
      const data = withConfig(bundle.data, this.opts.policyConfig);
      if (hasConfig(data) && !hasConfigSchema(data)) {
        this.opts.log.info("policy config not validated: the bundle ships no data.agentgate.config_schema", { bundle: slot.name, revision: bundle.revision });
      }
      if (origin !== "cache" && version.archive && this.opts.cacheDir && !slot.embedded) {
        await this.persist(slot, bundle, version).catch(async (err: unknown) => {
          // A copy saved earlier is now older than what is in force: a
          // restart must not start from it (policy rolled back), so it goes.
          const paths = this.cachePaths(slot);
          const removed = paths ? (await Promise.all([removeCopy(paths.meta), removeCopy(paths.archive)])).every(Boolean) : true;
          this.opts.log.warn(removed ? "could not keep the bundle's last good copy on disk; a restart will need its source" : "could not keep the bundle's last good copy on disk, nor remove the older copy there; a restart with its source down would start from that older version", { bundle: slot.name, cacheDir: this.opts.cacheDir, error: describeError(err) });
        });
      }
    });
  }

  private failed(slot: Slot, stage: FailureStage, err: unknown): void {
    const message = describeError(err);
    slot.lastError = message;
    slot.lastStage = stage;
    this.opts.metrics?.bundleFailures.inc({ bundle: slot.name, stage });
    this.opts.metrics?.bundleLastFailure.set({ bundle: slot.name }, Date.now() / 1000);
    const inForce = slot.bundle?.revision;
    this.opts.log.error(
      stage === "fetch"
        ? inForce ? "bundle source failed; the last good version stays in force" : "bundle source failed; no version in force yet"
        : stage === "config"
          ? inForce ? "policy config refused by the bundle's schema; the last good version stays in force" : "policy config refused by the bundle's schema; not ready"
          : inForce ? "bundle version refused; the last good version stays in force" : "bundle version refused; no version in force yet",
      { bundle: slot.name, source: slot.source.location, stage, error: message, revisionInForce: inForce },
    );
  }

  private cachePaths(slot: Slot): { archive: string; meta: string } | undefined {
    const dir = this.opts.cacheDir;
    if (!dir || slot.embedded) return undefined;
    const key = `${slot.name}-${createHash("sha256").update(slot.source.location).digest("hex").slice(0, 12)}`;
    return { archive: join(dir, `${key}.tar.gz`), meta: join(dir, `${key}.json`) };
  }

  private async persist(slot: Slot, bundle: Bundle, version: SourceVersion): Promise<void> {
    const paths = this.cachePaths(slot);
    if (!paths || !version.archive) return;
    await mkdir(this.opts.cacheDir as string, { recursive: true, mode: 0o700 });
    const meta: CacheMeta = { source: slot.source.location, revision: bundle.revision, digest: bundle.digest, savedAt: new Date().toISOString(), ...(version.etag !== undefined ? { etag: version.etag } : {}) };
    // Replicas may share the directory (a ReadWriteMany claim), each as pid 1:
    // every writer needs its own temporary name, and rename() makes each
    // file whole for readers.
    const suffix = `.tmp-${process.pid}-${randomUUID()}`;
    await writeFile(paths.archive + suffix, version.archive);
    await writeFile(paths.meta + suffix, `${JSON.stringify(meta)}\n`);
    await rename(paths.archive + suffix, paths.archive);
    await rename(paths.meta + suffix, paths.meta);
  }

  /** Puts the last good copy in force, verified again (the disk is not trusted more than the source). */
  private async restore(slot: Slot): Promise<void> {
    const paths = this.cachePaths(slot);
    if (!paths) return;
    let meta: CacheMeta;
    let archive: Buffer;
    try {
      const parsed: unknown = JSON.parse(await readFile(paths.meta, "utf8"));
      if (!isRecord(parsed) || parsed.source !== slot.source.location) return;
      meta = parsed as unknown as CacheMeta;
      archive = await readFile(paths.archive);
    } catch {
      return;
    }
    try {
      await this.offer(slot, { files: await readTarGz(archive, slot.name) }, "cache");
    } catch (err) {
      this.opts.log.warn("the bundle's last good copy on disk could not be used", { bundle: slot.name, file: paths.archive, error: describeError(err) });
      return;
    }
    // Another replica may have replaced the archive after this meta was read:
    // resume from the ETag only when it describes the version now in force.
    if (meta.etag !== undefined && slot.bundle?.digest === meta.digest) slot.source.resumeFrom?.(meta.etag);
    this.opts.log.warn("bundle restored from its last good copy on disk", { bundle: slot.name, source: slot.source.location, revision: meta.revision, savedAt: meta.savedAt });
  }
}

/** Deletes a cached file; true when none is left (also when there never was one, or its directory is not one). */
async function removeCopy(path: string): Promise<boolean> {
  try {
    await rm(path, { force: true });
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOTDIR";
  }
}
