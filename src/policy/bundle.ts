// Reads standard OPA bundles (a .tar.gz as `opa build` writes it, or a
// directory with the same layout) into memory. Nothing here evaluates.
import { createHash } from "node:crypto";
import { readFile, readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { Parser, type ReadEntry } from "tar";
import { isRecord } from "../types/kube.ts";
import { AgentgateError } from "../errors.ts";

export interface BundleManifest {
  revision?: string;
  roots?: string[];
  wasm?: { entrypoint: string; module: string }[];
  metadata?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface Bundle {
  /** short name used in messages and the policy-revision stamp */
  name: string;
  /** where it came from: a path or URL */
  source: string;
  manifest: BundleManifest;
  revision: string;
  /** every file of the bundle by its path without a leading slash */
  files: ReadonlyMap<string, Buffer>;
  wasm: Buffer;
  data: Record<string, unknown>;
  /** sha256 of the bundle's files (paths and contents), stable across re-packing */
  digest: string;
}

/** A bundle that cannot be used, with what and where. */
export class BundleError extends AgentgateError {
  readonly bundle: string;
  constructor(bundle: string, message: string, options?: { cause?: unknown }) {
    super("policy", `bundle "${bundle}": ${message}`, options);
    this.name = "BundleError";
    this.bundle = bundle;
  }
}

const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

function normalise(path: string): string {
  return path.replace(/^\.?\/+/, "").split(sep).join("/");
}

export async function readTarGz(archive: Buffer, label: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  let total = 0;
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      onReadEntry: (entry: ReadEntry) => {
        if (entry.type !== "File" && entry.type !== "OldFile") {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on("data", (chunk: Buffer) => {
          total += chunk.length;
          if (total > MAX_BUNDLE_BYTES) {
            parser.abort(new Error(`unpacks to more than ${MAX_BUNDLE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        entry.on("end", () => files.set(normalise(entry.path), Buffer.concat(chunks)));
      },
    });
    parser.on("error", reject);
    parser.on("abort", (err: unknown) => { reject(err instanceof Error ? err : new Error(String(err))); });
    parser.on("end", () => { resolve(); });
    parser.end(archive);
  }).catch((err: unknown) => {
    throw new BundleError(label, `not a readable .tar.gz: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  });
  return files;
}

async function readDirectory(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    files.set(normalise(relative(dir, full)), await readFile(full));
  }
  return files;
}

/**
 * An own data property, whatever the key: a bundle's directory or key named
 * `__proto__` is data, as it is to OPA and to JSON.parse. Assigning it
 * (`node[key] = …`, Object.assign) would reach Object.prototype instead:
 * `__proto__/x/data.json` set `x` on every object in the process.
 */
function setOwn(node: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown, label: string): void {
  if (path.length === 0) {
    if (!isRecord(value)) throw new BundleError(label, "root data.json must hold a JSON object");
    for (const [key, v] of Object.entries(value)) setOwn(target, key, v);
    return;
  }
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === undefined) setOwn(node, key, {});
    else if (!isRecord(next)) throw new BundleError(label, `data at ${path.join(".")} conflicts with a non-object`);
    node = node[key] as Record<string, unknown>;
  }
  setOwn(node, path[path.length - 1] as string, value);
}

export function digestFiles(files: ReadonlyMap<string, Buffer>): string {
  const hash = createHash("sha256");
  for (const path of [...files.keys()].sort()) {
    if (path === ".signatures.json") continue;
    hash.update(path).update("\0").update(files.get(path) as Buffer).update("\0");
  }
  return `sha256:${hash.digest("hex")}`;
}

/** Interprets the files of a bundle: manifest, policy.wasm and data files. */
export function bundleFromFiles(name: string, source: string, files: Map<string, Buffer>): Bundle {
  let manifest: BundleManifest = {};
  const rawManifest = files.get(".manifest");
  if (rawManifest) {
    try {
      const parsed: unknown = JSON.parse(rawManifest.toString("utf8"));
      if (!isRecord(parsed)) throw new Error("not a JSON object");
      manifest = parsed;
    } catch (err) {
      throw new BundleError(name, `.manifest is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  // Read as OPA's manifest type reads it: a list of {entrypoint, module} objects, or absent.
  const modules: unknown = manifest.wasm;
  if (modules !== undefined && (!Array.isArray(modules) || !modules.every((m) => isRecord(m) && typeof m.module === "string"))) {
    throw new BundleError(name, `.manifest "wasm" must be a list of {"entrypoint", "module"} objects, got ${JSON.stringify(modules).slice(0, 80)}`);
  }
  const wasmPath = manifest.wasm?.[0]?.module.replace(/^\/+/, "") ?? "policy.wasm";
  const wasm = files.get(wasmPath);
  if (!wasm) {
    const rego = [...files.keys()].filter((f) => f.endsWith(".rego"));
    throw new BundleError(
      name,
      rego.length > 0
        ? `has Rego source but no ${wasmPath}; build it with \`agentgate bundle build\` (opa build -t wasm), the gateway never evaluates Rego at run time`
        : `has no ${wasmPath}`,
    );
  }
  const data: Record<string, unknown> = {};
  for (const [path, content] of files) {
    if (path !== "data.json" && !path.endsWith("/data.json")) continue;
    let value: unknown;
    try {
      value = JSON.parse(content.toString("utf8"));
    } catch (err) {
      throw new BundleError(name, `${path} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    const segments = path.split("/").slice(0, -1);
    setPath(data, segments, value, name);
  }
  return {
    name,
    source,
    manifest,
    revision: typeof manifest.revision === "string" && manifest.revision !== "" ? manifest.revision : "unversioned",
    files,
    wasm,
    data,
    digest: digestFiles(files),
  };
}

/** Name a bundle after its file: /x/team-a.tar.gz → team-a. */
export function bundleNameOf(source: string): string {
  const base = source.split(/[\\/]/).filter(Boolean).pop() ?? source;
  return base.replace(/\.tar\.gz$|\.tgz$/, "") || "bundle";
}

export async function readBundle(source: string, name = bundleNameOf(source)): Promise<Bundle> {
  let info;
  try {
    info = await stat(source);
  } catch (err) {
    throw new BundleError(name, `cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (info.isDirectory()) return bundleFromFiles(name, source, await readDirectory(source));
  if (info.size > MAX_BUNDLE_BYTES) throw new BundleError(name, `${source} is larger than ${MAX_BUNDLE_BYTES} bytes`);
  return bundleFromFiles(name, source, await readTarGzFile(source, name));
}

/**
 * A .tar.gz file's entries. tar's parser skips what it cannot read, so a
 * file that is no archive (a login page saved as .tar.gz) comes back empty:
 * that is said as such rather than as a missing policy.wasm.
 */
export async function readTarGzFile(path: string, label: string): Promise<Map<string, Buffer>> {
  const files = await readTarGz(await readFile(path), label);
  if (files.size === 0) throw new BundleError(label, `${path} holds no files; expected a .tar.gz built by opa build`);
  return files;
}
