// npm run fuzz -- [--target NAME]... [--seconds N | --runs N] [--seed N]
//                 [--jobs N] [--hang-seconds N] [--max-rss-mb N] [--list]
//
// Runs each target (all by default) for the time or number of executions
// given, in a worker thread watched for hangs and memory, and prints the
// executions and executions per second of each. Every distinct failure is
// written to fuzz/crashes/<target>/ as it is found (the input, and a
// .note.txt saying what it did) and the run exits 1. Ctrl-C stops each
// target after its current input and still prints the summary. Not
// coverage-guided (see fuzz/engine.ts); npm run fuzz:jazzer is.
import { writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Worker } from "node:worker_threads";
import { inputId, type Failure, type FailureKind } from "./engine.ts";
import { FUZZ_DIR, saveFailure } from "./files.ts";
import { flagsOrExit, readFuzzFlags, type FuzzFlags } from "./flags.ts";
import { TARGET_NAMES } from "./targets.ts";
import { COUNTERS, HEADER_BYTES, STARTED_AT, type WorkerData, type WorkerFailure, type WorkerReport } from "./protocol.ts";

interface Options extends FuzzFlags {
  jobs: number;
}

const USAGE = `usage: npm run fuzz -- [--target NAME]... [--seconds N | --runs N] [--seed N] [--jobs N] [--hang-seconds N] [--max-rss-mb N] [--list]
targets: ${TARGET_NAMES.join(", ")}`;

function parseArgs(argv: readonly string[]): Options {
  return flagsOrExit("fuzz", USAGE, () => {
    let jobs = 1;
    const flags = readFuzzFlags(argv, (flag, read) => {
      if (flag !== "--jobs") return false;
      jobs = Math.floor(read.positive());
      return true;
    });
    if ("print" in flags) return flags;
    if (flags.targets.length === 0) flags.targets = [...TARGET_NAMES];
    return { ...flags, jobs };
  });
}

interface TargetResult {
  target: string;
  report?: WorkerReport;
  /** what stopped the worker before it reported: a hang, the memory limit, an error it let out */
  stopped?: Failure;
  /** executions and time when it stopped without a report */
  execs: number;
  elapsedMs: number;
  /** every distinct failure, each saved as it came */
  failures: { failure: Failure; path: string }[];
}

const SHARED_INPUT_BYTES = 1024 * 1024;
const SLOW_MS = 250;
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

/** The stop flags of the workers running; Ctrl-C sets them, and each ends after its current input and reports. */
const running = new Set<Int32Array>();
let interrupted = false;

async function save(target: string, failure: Failure): Promise<string> {
  const path = await saveFailure(target, failure);
  process.stdout.write(`  ${target}: ${failure.kind}: ${failure.message.split("\n")[0] ?? ""}\n    reproducer: ${relative(process.cwd(), path) || relative(FUZZ_DIR, path)}\n`);
  return path;
}

function runTarget(target: string, opts: Options): Promise<TargetResult> {
  const shared = new SharedArrayBuffer(HEADER_BYTES + SHARED_INPUT_BYTES);
  const counters = new Int32Array(shared, 0, COUNTERS);
  const started = new Float64Array(shared, STARTED_AT, 1);
  const bytes = new Uint8Array(shared, HEADER_BYTES);
  const data: WorkerData = { target, seed: opts.seed, shared, ...(opts.runs !== undefined ? { runs: opts.runs } : {}), ...(opts.seconds !== undefined ? { seconds: opts.seconds } : {}) };
  // The V8 heap is capped here; wasm memory and buffers are not, and the RSS check below covers them.
  const worker = new Worker(new URL("./worker.ts", import.meta.url), { workerData: data, resourceLimits: { maxOldGenerationSizeMb: 4096 } });
  running.add(counters);
  const current = (): Buffer => Buffer.from(bytes.subarray(0, counters[1] ?? 0));
  const t0 = Date.now();
  const failures: TargetResult["failures"] = [];
  let saving = Promise.resolve();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: Omit<TargetResult, "failures" | "execs" | "elapsedMs">): void => {
      if (settled) return;
      settled = true;
      clearInterval(watch);
      running.delete(counters);
      const execs = counters[0] ?? 0;
      const elapsedMs = Date.now() - t0;
      void saving.then(async () => {
        if (result.stopped) failures.push({ failure: result.stopped, path: await save(target, result.stopped) });
        resolve({ ...result, execs, elapsedMs, failures });
      });
    };
    const stop = (kind: FailureKind, message: string): void => {
      const input = current();
      void worker.terminate();
      finish({ target, stopped: { kind, message, stack: message, input, signature: `${kind} ${inputId(input)}` } });
    };
    let lastReport = Date.now();
    let lastExecs = -1;
    let lastProgress = Date.now();
    const watch = setInterval(() => {
      const since = started[0] ?? 0;
      if ((counters[0] ?? 0) !== lastExecs) {
        lastExecs = counters[0] ?? 0;
        lastProgress = Date.now();
      } else if (since === 0 && Date.now() - lastProgress > opts.hangSeconds * 6000) {
        // Stuck between inputs: the fuzzer's own mutator, not the code under test; no reproducer to keep.
        process.stdout.write(`  ${target}: no input ran for ${opts.hangSeconds * 6} s (a mutator stalled); stopped\n`);
        void worker.terminate();
        finish({ target });
        return;
      }
      if (since > 0 && Date.now() - since > opts.hangSeconds * 1000) {
        stop("hang", `an input ran for more than ${opts.hangSeconds} s without finishing`);
        return;
      }
      const rss = process.memoryUsage.rss() / (1024 * 1024);
      if (rss > opts.maxRssMb) {
        stop("memory", `the process grew to ${fmt(rss)} MB resident, over the limit of ${fmt(opts.maxRssMb)} MB`);
        return;
      }
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        const execs = counters[0] ?? 0;
        process.stdout.write(`  ${target}: ${fmt(execs)} execs, ${fmt(execs / ((Date.now() - t0) / 1000))}/s, rss ${fmt(rss)} MB\n`);
      }
    }, 250);
    worker.on("message", (message: WorkerReport | WorkerFailure) => {
      if (message.type === "failure") {
        const failure: Failure = { ...message, input: Buffer.from(message.input) };
        saving = saving.then(async () => { failures.push({ failure, path: await save(target, failure) }); });
        return;
      }
      finish({ target, report: message });
    });
    worker.on("error", (err: Error & { code?: string }) => {
      const memory = err.code === "ERR_WORKER_OUT_OF_MEMORY";
      const input = current();
      finish({ target, stopped: { kind: memory ? "memory" : "crash", message: `${err.name}: ${err.message}`, stack: err.stack ?? err.message, input, signature: `${memory ? "memory" : "crash"} ${inputId(input)}` } });
    });
    worker.on("exit", (code) => {
      if (!settled) {
        const input = current();
        finish({ target, stopped: { kind: "crash", message: `the worker exited with code ${code} before it reported`, stack: "", input, signature: `exit ${inputId(input)}` } });
      }
    });
  });
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const budget = opts.runs !== undefined ? `${fmt(opts.runs)} runs` : `${opts.seconds ?? 0} s`;
  process.stdout.write(`fuzzing ${opts.targets.join(", ")}: ${budget} each, seed ${opts.seed}, ${opts.jobs} at a time (${cpus().length} CPUs); seeded mutation, not coverage-guided (npm run fuzz:jazzer is)\n`);
  const queue = [...opts.targets];
  process.on("SIGINT", () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    queue.length = 0;
    process.stdout.write("\nstopping after the current inputs (Ctrl-C again to quit at once)\n");
    for (const counters of running) Atomics.store(counters, 2, 1);
  });
  const results: TargetResult[] = [];
  const lane = async (): Promise<void> => {
    for (let target = queue.shift(); target !== undefined; target = queue.shift()) results.push(await runTarget(target, opts));
  };
  await Promise.all(Array.from({ length: Math.min(opts.jobs, opts.targets.length) }, lane));
  process.stdout.write("\n");
  let failed = 0;
  for (const name of opts.targets) {
    const r = results.find((x) => x.target === name);
    if (!r) {
      process.stdout.write(`${name}: not run\n`);
      continue;
    }
    failed += r.failures.length;
    const verdict = r.failures.length === 0 ? "no failures" : `${r.failures.length} failure(s) in fuzz/crashes/${name}/`;
    if (r.report) {
      const { execs, elapsedMs, seeds, corpusSize, outcomes, slowestMs } = r.report;
      process.stdout.write(
        `${name}: ${fmt(execs)} execs in ${(elapsedMs / 1000).toFixed(1)} s, ${fmt(execs / (elapsedMs / 1000))} execs/s; corpus ${seeds} seeds + ${corpusSize - seeds} by new outcome (${outcomes} outcomes); slowest input ${slowestMs.toFixed(1)} ms; ${verdict}\n`,
      );
      if (r.report.slowestInput && slowestMs >= SLOW_MS) {
        // Not a failure (a hang is), but worth a look: superlinear work shows here first.
        const path = join(tmpdir(), `agentgate-fuzz-slowest-${name}`);
        await writeFile(path, r.report.slowestInput);
        process.stdout.write(`  slowest input (${slowestMs.toFixed(0)} ms) written to ${path}\n`);
      }
    } else {
      process.stdout.write(`${name}: stopped after ${fmt(r.execs)} execs in ${(r.elapsedMs / 1000).toFixed(1)} s (${fmt(r.execs / (r.elapsedMs / 1000))} execs/s): ${r.stopped?.message ?? "no report"}; ${verdict}\n`);
    }
  }
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
