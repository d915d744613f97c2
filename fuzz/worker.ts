// One target's fuzzing loop, in a worker thread so that the runner can stop
// an input that hangs (a loop that never yields) or that exhausts the heap,
// and still know which input it was: each input is copied into memory the
// runner shares before it runs.
import { parentPort, workerData } from "node:worker_threads";
import { fuzzLoop } from "./engine.ts";
import { loadCorpus } from "./files.ts";
import { COUNTERS, HEADER_BYTES, STARTED_AT, type WorkerData, type WorkerFailure, type WorkerReport } from "./protocol.ts";
import { TARGETS } from "./targets.ts";

async function main(): Promise<void> {
  const data = workerData as WorkerData;
  const factory = TARGETS[data.target];
  if (!factory) throw new Error(`no fuzz target ${data.target}`);
  const target = await factory();
  const seeds = (await loadCorpus(target.name)).map((c) => c.input.subarray(0, target.maxLength));
  // [execs, input length, stop]: the runner sets stop on Ctrl-C, and the loop ends after the input it is on.
  const counters = new Int32Array(data.shared, 0, COUNTERS);
  const started = new Float64Array(data.shared, STARTED_AT, 1);
  const bytes = new Uint8Array(data.shared, HEADER_BYTES);
  const result = await fuzzLoop(target, {
    seed: data.seed,
    corpus: seeds,
    ...(data.runs !== undefined ? { runs: data.runs } : {}),
    ...(data.seconds !== undefined ? { deadline: performance.now() + data.seconds * 1000 } : {}),
    onInput: (input) => {
      const n = Math.min(input.length, bytes.length);
      bytes.set(input.subarray(0, n));
      counters[1] = n;
      started[0] = Date.now();
    },
    onDone: (execs) => {
      counters[0] = execs;
      started[0] = 0;
    },
    onFailure: (f) => {
      const posted: WorkerFailure = { type: "failure", kind: f.kind, message: f.message, stack: f.stack, signature: f.signature, input: new Uint8Array(f.input) };
      parentPort?.postMessage(posted);
    },
    stopped: () => Atomics.load(counters, 2) !== 0,
  });
  target.close?.();
  const report: WorkerReport = {
    type: "done",
    execs: result.execs,
    elapsedMs: result.elapsedMs,
    corpusSize: result.corpusSize,
    seeds: seeds.length,
    outcomes: result.outcomes,
    slowestMs: result.slowestMs,
    ...(result.slowestInput ? { slowestInput: new Uint8Array(result.slowestInput) } : {}),
    failures: result.failures.length,
  };
  parentPort?.postMessage(report);
}

await main();
