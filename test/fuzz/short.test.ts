// The short seeded fuzz run of `npm test`: every target of fuzz/ replays its
// committed corpus and crash reproducers, then runs a few thousand mutated
// inputs from a fixed seed, and any violated property fails the test. The
// long runs are `npm run fuzz` (fuzz/run.ts). Not coverage-guided: see
// fuzz/engine.ts for why and what guides it instead.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fuzzLoop, runOne, type Failure, type FuzzTarget } from "../../fuzz/engine.ts";
import { loadCorpus, loadCrashes } from "../../fuzz/files.ts";
import { TARGETS, TARGET_NAMES } from "../../fuzz/targets.ts";

/** Mutated inputs per target: a few seconds each on this project's 2-core machines, the whole file well under 30 s. */
const RUNS: Readonly<Record<string, number>> = {
  "admission-review": 2000,
  "bundle-archive": 1000,
  manifests: 300,
  sse: 3000,
  "a2a-stream": 3000,
  "rego-value": 5000,
  "json-scan": 5000,
};

const SEED = 20260115;

function report(failures: readonly Failure[]): string {
  return failures.map((f) => `${f.kind}: ${f.message.split("\n")[0] ?? ""}\n  input (base64): ${f.input.subarray(0, 2048).toString("base64")}\n  ${f.stack.split("\n").slice(0, 6).join("\n  ")}`).join("\n");
}

test("every target has a short-run budget", () => {
  assert.deepEqual(Object.keys(RUNS).sort(), [...TARGET_NAMES].sort());
});

for (const name of TARGET_NAMES) {
  test(`fuzz ${name}: the corpus, the crash reproducers and ${RUNS[name] ?? 0} seeded inputs hold the property`, async () => {
    const factory = TARGETS[name];
    assert.ok(factory);
    const target: FuzzTarget = await factory();
    try {
      const corpus = await loadCorpus(name);
      assert.ok(corpus.length > 0, `fuzz/corpus/${name} has seeds`);
      // Each reproducer once failed; now it must hold, whatever it takes (no length cap).
      const crashes = await loadCrashes(name);
      const replayed: Failure[] = [];
      for (const { input } of [...corpus, ...crashes]) {
        const { failure } = await runOne(target, input);
        if (failure) replayed.push(failure);
      }
      assert.equal(replayed.length, 0, `committed inputs fail:\n${report(replayed)}`);
      const result = await fuzzLoop(target, { seed: SEED, corpus: corpus.map((c) => c.input.subarray(0, target.maxLength)), runs: RUNS[name] ?? 1000 });
      assert.equal(result.failures.length, 0, `run \`npm run fuzz -- --target ${name} --seed ${SEED} --runs ${RUNS[name] ?? 1000}\` to reproduce:\n${report(result.failures)}`);
      assert.ok(result.execs >= (RUNS[name] ?? 1000));
    } finally {
      target.close?.();
    }
  });
}
