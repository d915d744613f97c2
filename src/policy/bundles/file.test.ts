// The file source: a bundle file replaced in place, a mounted ConfigMap's
// `..data` symlink swap, a directory bundle in a ConfigMap layout, and a
// broken file reported once and picked up again when fixed.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bundleAtRevision } from "../../testing/bundle-revision.ts";
import { readBundleFiles } from "../bundle-archive.ts";
import { FileBundleSource } from "./file.ts";
import type { SourceVersion } from "./source.ts";
import { until } from "../../testing/until.ts";

let dir: string;
let v1: Buffer;
let v2: Buffer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agentgate-file-source-"));
  v1 = await bundleAtRevision("v1");
  v2 = await bundleAtRevision("v2");
});

after(() => rm(dir, { recursive: true, force: true }));

const revisionOf = (v: SourceVersion): string => (JSON.parse((v.files.get(".manifest") as Buffer).toString("utf8")) as { revision: string }).revision;

function recorder(): { delivered: string[]; errors: string[]; deliver: (v: SourceVersion) => Promise<void>; report: (e: Error) => void } {
  const delivered: string[] = [];
  const errors: string[] = [];
  return {
    delivered,
    errors,
    deliver: (v) => { delivered.push(revisionOf(v)); return Promise.resolve(); },
    report: (e) => { errors.push(e.message); },
  };
}

// A poll interval far beyond the test: only the watch can notice changes.
const WATCH_ONLY = { watch: true, pollIntervalMs: 600_000, debounceMs: 20 };

test("a bundle file replaced by rename is delivered once; rewriting the same content is not", async () => {
  const path = join(dir, "plain", "team.tar.gz");
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, v1);
  const r = recorder();
  const source = new FileBundleSource(path, WATCH_ONLY);
  await source.start(r.deliver, r.report);
  try {
    assert.deepEqual(r.delivered, ["v1"]);
    await writeFile(`${path}.new`, v2);
    await rename(`${path}.new`, path);
    await until("v2", () => r.delivered.length === 2);
    await writeFile(path, v2);
    await writeFile(join(dir, "plain", "unrelated.txt"), "x");
    await new Promise((res) => setTimeout(res, 200));
    assert.deepEqual(r.delivered, ["v1", "v2"]);
    assert.deepEqual(r.errors, []);
  } finally {
    source.stop();
  }
});

/** The layout kubelet's atomic writer gives a mounted ConfigMap. */
async function configMapVersion(mount: string, stamp: string, files: Record<string, Buffer>): Promise<void> {
  const real = join(mount, `..${stamp}`);
  await mkdir(real, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(real, name), content);
  await symlink(`..${stamp}`, join(mount, "..data_tmp"));
  await rename(join(mount, "..data_tmp"), join(mount, "..data"));
  for (const name of Object.keys(files)) await symlink(join("..data", name), join(mount, name)).catch(() => undefined);
}

test("a mounted ConfigMap's ..data symlink swap delivers the new bundle", async () => {
  const mount = join(dir, "configmap");
  await mkdir(mount);
  await configMapVersion(mount, "2026_12_01_10_00_00.1", { "bundle.tar.gz": v1 });
  const r = recorder();
  const source = new FileBundleSource(join(mount, "bundle.tar.gz"), WATCH_ONLY);
  await source.start(r.deliver, r.report);
  try {
    assert.deepEqual(r.delivered, ["v1"]);
    await configMapVersion(mount, "2026_12_01_10_05_00.2", { "bundle.tar.gz": v2 });
    await until("v2 after the swap", () => r.delivered.length === 2);
    assert.deepEqual(r.delivered, ["v1", "v2"]);
    assert.deepEqual(r.errors, []);
  } finally {
    source.stop();
  }
});

test("a directory bundle in a ConfigMap layout reads through the symlinks and skips the ..* entries", async () => {
  const mount = join(dir, "dir-configmap");
  await mkdir(mount);
  const unpacked = await readBundleFiles(await writeTemp(v1), "t");
  const flat = Object.fromEntries([...unpacked].filter(([name]) => !name.includes("/")));
  await configMapVersion(mount, "2026_12_01_11_00_00.1", flat);
  const files = await readBundleFiles(mount, "t");
  assert.deepEqual([...files.keys()].sort(), Object.keys(flat).sort());
  const r = recorder();
  const source = new FileBundleSource(mount, WATCH_ONLY);
  await source.start(r.deliver, r.report);
  try {
    assert.deepEqual(r.delivered, ["v1"]);
    const next = await readBundleFiles(await writeTemp(v2), "t");
    await configMapVersion(mount, "2026_12_01_11_05_00.2", Object.fromEntries([...next].filter(([name]) => !name.includes("/"))));
    await until("v2 after the swap", () => r.delivered.length === 2);
  } finally {
    source.stop();
  }
});

async function writeTemp(bytes: Buffer): Promise<string> {
  const path = join(dir, `tmp-${String(Math.random()).slice(2)}.tar.gz`);
  await writeFile(path, bytes);
  return path;
}

test("a broken or missing file is reported once, not on every poll, and a fixed file is delivered", async () => {
  const path = join(dir, "broken", "team.tar.gz");
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, v1);
  const r = recorder();
  const source = new FileBundleSource(path, { watch: true, pollIntervalMs: 30, debounceMs: 10 });
  await source.start(r.deliver, r.report);
  try {
    await writeFile(path, Buffer.from("not a bundle"));
    await until("the error", () => r.errors.length === 1);
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(r.errors.length, 1, "reported once");
    assert.match(r.errors[0] ?? "", /^bundle "team": .*team\.tar\.gz holds no files; expected a \.tar\.gz built by opa build$/);
    await rm(path);
    await until("the missing file", () => r.errors.length === 2);
    assert.match(r.errors[1] ?? "", /^bundle .*team\.tar\.gz: cannot read: ENOENT$/);
    await writeFile(path, v1);
    // The same content as before the breakage still counts: it is back.
    await until("v1 again", () => r.delivered.length === 2);
    assert.deepEqual(r.delivered, ["v1", "v1"]);
  } finally {
    source.stop();
  }
});
