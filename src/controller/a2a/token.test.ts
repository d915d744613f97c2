import assert from "node:assert/strict";
import { mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { tokenFromFile } from "./token.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "a2a-token-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("tokenFromFile: the file's token, trimmed", async () => {
  const path = join(dir, "plain");
  await writeFile(path, "  abc.def.ghi\n");
  assert.equal(await tokenFromFile(path)(), "abc.def.ghi");
});

test("tokenFromFile: a projected token swapped the kubelet's way (..data symlink to a new directory) is read again", async () => {
  // kubelet's AtomicWriter: token -> ..data/token, ..data -> ..<timestamp>/
  const first = join(dir, "..2026_01_01");
  const second = join(dir, "..2026_01_02");
  const { mkdir } = await import("node:fs/promises");
  await mkdir(first);
  await mkdir(second);
  await writeFile(join(first, "token"), "one.one.one");
  await writeFile(join(second, "token"), "two.two.two");
  await symlink(first, join(dir, "..data"));
  await symlink(join("..data", "token"), join(dir, "token"));
  const source = tokenFromFile(join(dir, "token"));
  assert.equal(await source(), "one.one.one");
  await symlink(second, join(dir, "..data_tmp"));
  await rename(join(dir, "..data_tmp"), join(dir, "..data"));
  assert.equal(await source(), "two.two.two");
});

test("tokenFromFile: an unchanged file is not read again until maxAgeMs passed", async () => {
  const path = join(dir, "cached");
  await writeFile(path, "a.a.a");
  let clock = 0;
  const source = tokenFromFile(path, { maxAgeMs: 1000, now: () => clock });
  assert.equal(await source(), "a.a.a");
  // same size, same mtime: only the age tells
  const { utimes, stat } = await import("node:fs/promises");
  const before = await stat(path);
  await writeFile(path, "b.b.b");
  await utimes(path, before.atime, before.mtime);
  const after = await stat(path);
  if (after.mtimeMs === before.mtimeMs && after.ino === before.ino) {
    assert.equal(await source(), "a.a.a", "cached");
  }
  clock = 1000;
  assert.equal(await source(), "b.b.b");
});

test("tokenFromFile: a missing or empty file is an error naming the file", async () => {
  const missing = join(dir, "missing");
  await assert.rejects(tokenFromFile(missing)(), (err: unknown) => err instanceof Error && err.message.startsWith(`bearer token file ${missing}:`));
  const empty = join(dir, "empty");
  await writeFile(empty, "\n");
  await assert.rejects(tokenFromFile(empty)(), { message: `bearer token file ${empty} is empty` });
});
