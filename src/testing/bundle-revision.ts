// A real bundle archive under a revision of the test's choosing, made
// in-process: tests of how bundles travel (a file, an HTTP service, an OCI
// registry) need distinct, loadable archives, not Rego of their own, so they
// need no opa build. The committed default bundle's files are repacked with
// the revision in .manifest; the bytes differ with the revision.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readBundleFiles, writeBundleArchive } from "../policy/bundle-archive.ts";
import { DEFAULT_BUNDLE_PATH } from "../policy/load.ts";

export async function bundleAtRevision(revision: string): Promise<Buffer> {
  const files = await readBundleFiles(DEFAULT_BUNDLE_PATH, "default");
  const manifest = JSON.parse((files.get(".manifest") as Buffer).toString("utf8")) as Record<string, unknown>;
  files.set(".manifest", Buffer.from(JSON.stringify({ ...manifest, revision })));
  const dir = await mkdtemp(join(tmpdir(), "agentgate-bundle-revision-"));
  try {
    await writeBundleArchive(files, join(dir, "bundle.tar.gz"));
    return await readFile(join(dir, "bundle.tar.gz"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
