// Signing and verifying a bundle on disk (what `agentgate bundle sign` and
// `bundle verify` do): read its files, sign or check them, write it back.
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readBundleFiles, writeBundleArchive } from "./bundle-archive.ts";
import { bundleNameOf } from "./bundle.ts";
import { SIGNATURES_FILE, signBundleFiles, verifyBundleFiles, type SignatureKey, type VerifiedSignature } from "./signatures.ts";

export interface SignedBundle {
  output: string;
  files: number;
}

/**
 * Signs every file of the bundle (an existing signature is replaced). A
 * .tar.gz is rewritten at `output` (default: in place); a directory without
 * `output` gets its .signatures.json written into it.
 */
export async function signBundleAt(path: string, key: SignatureKey, output?: string): Promise<SignedBundle> {
  const files = await readBundleFiles(path, bundleNameOf(path));
  files.delete(SIGNATURES_FILE);
  const signatures = await signBundleFiles(files, key);
  const isDirectory = (await stat(path)).isDirectory();
  if (isDirectory && output === undefined) {
    await writeFile(join(path, SIGNATURES_FILE), signatures);
    return { output: join(path, SIGNATURES_FILE), files: files.size };
  }
  files.set(SIGNATURES_FILE, signatures);
  const target = output ?? path;
  await writeBundleArchive(files, target);
  return { output: target, files: files.size - 1 };
}

export async function verifyBundleAt(path: string, key: SignatureKey): Promise<VerifiedSignature> {
  const name = bundleNameOf(path);
  return verifyBundleFiles(name, await readBundleFiles(path, name), key);
}
