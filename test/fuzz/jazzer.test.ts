// Coverage-guided fuzzing with Jazzer.js end to end (fuzz/jazzer/run.ts):
// a planted violation that only comparison feedback reaches is found and
// written as fuzz/ writes a reproducer, and a real target (json-scan) runs
// through libFuzzer with its property checked, gaining coverage and corpus.
// The addon is built by tools/jazzer/build.sh, opt-in (it needs Jazzer.js's
// sources, which no package registry serves): without it, these skip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ADDON, installAddon, runJazzer } from "../../fuzz/jazzer/run.ts";
import { MAGIC, WORD } from "./jazzer-planted.ts";

const skip = existsSync(ADDON) ? false : "the Jazzer.js addon is not built (.tools/jazzer/fuzzer-linux-x64.node): `npm run fuzz:jazzer` or tools/jazzer/build.sh builds it where Jazzer.js's sources are at hand (see tools/jazzer/build.sh)";

const base = { seed: 1, hangSeconds: 10, maxRssMb: 4096, fresh: true };

test("Jazzer.js finds a planted violation that only comparison feedback reaches", { skip, timeout: 120_000 }, async () => {
  await installAddon();
  const crashDir = await mkdtemp(join(tmpdir(), "agentgate-jazzer-"));
  try {
    const module = fileURLToPath(new URL("./jazzer-planted.ts", import.meta.url));
    const r = await runJazzer({ module, label: "test-planted" }, { ...base, seconds: 60, crashDir }, true);
    assert.equal(r.exitCode, 77, `Jazzer.js reports a finding (exit 77); its output: ${r.log}`);
    assert.equal(r.findings.length, 1, JSON.stringify(r.findings));
    const [finding] = r.findings;
    assert.ok(finding);
    assert.equal(finding.kind, "crash");
    assert.match(finding.message, /PropertyViolation: the planted violation/);
    const input = await readFile(finding.path);
    assert.equal(input.readUInt32LE(0), MAGIC);
    assert.equal(input.toString("latin1", 4, 4 + WORD.length), WORD);
    assert.match(await readFile(`${finding.path}.note.txt`, "utf8"), /jazzer-planted\.ts/);
    assert.ok(r.execs < 5_000_000, `found after ${r.execs} executions`);
  } finally {
    await rm(crashDir, { recursive: true, force: true });
  }
});

test("Jazzer.js fuzzes json-scan with its property checked, gaining coverage and corpus", { skip, timeout: 120_000 }, async () => {
  await installAddon();
  const crashDir = await mkdtemp(join(tmpdir(), "agentgate-jazzer-"));
  try {
    const r = await runJazzer({ name: "json-scan", label: "test-json-scan" }, { ...base, runs: 20_000, crashDir }, true);
    const notes = await Promise.all(r.findings.map(async (f) => readFile(`${f.path}.note.txt`, "utf8")));
    assert.equal(r.findings.length, 0, `json-scan's property failed:\n${notes.join("\n")}`);
    assert.equal(r.exitCode, 0, `Jazzer.js's output: ${r.log}`);
    assert.equal(r.execs, 20_000);
    // Coverage of agentgate's scanner (src/wire/json-scan.ts) and the check's code, and inputs kept for new coverage.
    assert.ok(r.cov > 100, `cov ${r.cov}`);
    assert.ok(r.corpus > r.seeds, `corpus ${r.corpus}, seeds ${r.seeds}`);
  } finally {
    await rm(crashDir, { recursive: true, force: true });
  }
});
