// A bundle's raw files in and out: read from a .tar.gz or a directory
// without interpreting them (what signing and verification see), and
// written back as a .tar.gz laid out as `opa build` writes it.
import { mkdtemp, mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, sep } from "node:path";
import { create as createTar } from "tar";
import { BundleError, readTarGzFile } from "./bundle.ts";

export async function readBundleFiles(path: string, label: string): Promise<Map<string, Buffer>> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new BundleError(label, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!info.isDirectory()) return readTarGzFile(path, label);
  const files = new Map<string, Buffer>();
  await readTree(path, "", files);
  return files;
}

/**
 * A directory's files through symlinks, skipping the `..data` /
 * `..<timestamp>` entries Kubernetes' atomic writer puts in a mounted
 * ConfigMap (the visible names are symlinks into them).
 */
async function readTree(root: string, prefix: string, files: Map<string, Buffer>): Promise<void> {
  for (const name of (await readdir(join(root, prefix))).sort()) {
    if (name.startsWith("..")) continue;
    const rel = prefix === "" ? name : `${prefix}/${name}`;
    const full = join(root, rel);
    const info = await stat(full);
    if (info.isDirectory()) await readTree(root, rel, files);
    else if (info.isFile()) files.set(rel.split(sep).join("/"), await readFile(full));
  }
}

/** Writes files as a .tar.gz with OPA's absolute entry names; atomic (rename). */
export async function writeBundleArchive(files: ReadonlyMap<string, Buffer>, output: string): Promise<void> {
  const staging = await mkdtemp(join(tmpdir(), "agentgate-pack-"));
  try {
    const names = [...files.keys()].sort();
    for (const name of names) {
      if (name.split("/").includes("..")) throw new BundleError(output, `refusing to pack a path outside the bundle: ${name}`);
      await mkdir(dirname(join(staging, "root", name)), { recursive: true });
      await writeFile(join(staging, "root", name), files.get(name) as Buffer);
    }
    const packed = join(staging, "bundle.tar.gz");
    // portable + fixed mtime: the same files always pack to the same archive.
    await createTar({ gzip: true, cwd: join(staging, "root"), file: packed, portable: true, prefix: "/", preservePaths: true, mtime: new Date(0) }, names);
    const tmpOut = `${output}.tmp-${process.pid}`;
    await writeFile(tmpOut, await readFile(packed));
    await rename(tmpOut, output);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
