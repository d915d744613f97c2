// watchFiles on a real directory: a mounted Secret's symlink swap is noticed, and stop() stops it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logger } from "../../src/log.ts";
import { until } from "../support/until.ts";
import { watchFiles } from "../../src/server/file-watch.ts";

test("a file swapped in the way a mounted Secret is (a new symlink renamed over it) is noticed, once for a burst of changes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agentgate-watch-"));
  writeFileSync(join(dir, "v1"), "one");
  symlinkSync(join(dir, "v1"), join(dir, "token"));
  let changes = 0;
  const w = watchFiles([join(dir, "token")], () => changes++, logger, "a test file", 60_000);
  try {
    writeFileSync(join(dir, "v2"), "two");
    symlinkSync(join(dir, "v2"), join(dir, "token.tmp"));
    renameSync(join(dir, "token.tmp"), join(dir, "token"));
    await until("the change to be noticed", () => Promise.resolve(changes > 0 ? true : undefined));
    assert.equal(changes, 1, "the writes of one swap are one change");
  } finally {
    w.stop();
  }
});

test("after stop, nothing is noticed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agentgate-watch-"));
  writeFileSync(join(dir, "f"), "one");
  let changes = 0;
  const w = watchFiles([join(dir, "f")], () => changes++, logger, "a test file", 20, 10);
  w.stop();
  writeFileSync(join(dir, "f"), "two");
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(changes, 0);
});
