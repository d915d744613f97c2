// npm run fuzz:jazzer -- [--target NAME]... [--seconds N | --runs N] [--seed N]
//                        [--hang-seconds N] [--max-rss-mb N] [--fresh] [--list]
//
// Coverage-guided fuzzing of fuzz/'s targets with Jazzer.js (libFuzzer): the
// same targets and property checks as `npm run fuzz` (fuzz/run.ts), with
// agentgate's code instrumented for edge coverage and comparison feedback.
// Each target runs in its own process, one after another (all targets by
// default, 60 s each); the summary gives executions, executions per second
// and coverage (libFuzzer's cov: edges, ft: features). A failed property is
// a finding: it is written to fuzz/crashes/<target>/ as fuzz/ writes it (the
// input and a .note.txt), libFuzzer stops that target, and the run exits 1;
// an input that runs past --hang-seconds or the memory limit is written
// there too, as a hang or memory failure. Seeds are fuzz/corpus/<target>/;
// what libFuzzer adds to them is kept in .tools/jazzer/runs/<target>/corpus
// (git-ignored) for the next run (--fresh starts without it).
//
// The native addon is built by tools/jazzer/build.sh on first use (a no-op
// once built) and copied over the npm package's prebuild, which does not
// load on Debian 12, before each run: `npm ci` puts the prebuild back.
//
// For test/fuzz/jazzer.test.ts: --module PATH fuzzes a module exporting
// create() instead of a named target, --crash-dir DIR puts its findings there.
import { spawn, spawnSync } from "node:child_process";
import { copyFile, mkdir, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { inputId, type Failure, type FailureKind } from "../engine.ts";
import { corpusDir, crashDir } from "../files.ts";
import { FuzzFlagError, flagsOrExit, readFuzzFlags, type FuzzFlags } from "../flags.ts";
import { TARGET_NAMES } from "../targets.ts";
import type { ChildOptions } from "./child.ts";
import { ENV_CRASH_DIR, ENV_OPTIONS, ENV_SPEC, loadTarget, saveFinding, type TargetSpec } from "./target.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const ADDON = join(ROOT, ".tools/jazzer/fuzzer-linux-x64.node");
const RUNS_DIR = join(ROOT, ".tools/jazzer/runs");

interface Options extends FuzzFlags {
  module?: string;
  crashDir?: string;
  fresh: boolean;
}

const USAGE = `usage: npm run fuzz:jazzer -- [--target NAME]... [--seconds N | --runs N] [--seed N] [--hang-seconds N] [--max-rss-mb N] [--fresh] [--list]
targets: ${TARGET_NAMES.join(", ")}`;

function parseArgs(argv: readonly string[]): Options {
  return flagsOrExit("fuzz:jazzer", USAGE, () => {
    const own: { module?: string; crashDir?: string; fresh: boolean } = { fresh: false };
    const flags = readFuzzFlags(argv, (flag, read) => {
      if (flag === "--module") own.module = resolve(read.value());
      else if (flag === "--crash-dir") own.crashDir = resolve(read.value());
      else if (flag === "--fresh") own.fresh = true;
      else return false;
      return true;
    });
    if ("print" in flags) return flags;
    // libFuzzer reads -seed=0 as "pick one", which would make a run unrepeatable
    if (flags.seed <= 0) throw new FuzzFlagError("--seed needs a positive number");
    // libFuzzer counts whole seconds
    if (flags.seconds !== undefined) flags.seconds = Math.ceil(flags.seconds);
    if (own.module !== undefined && flags.targets.length > 0) throw new FuzzFlagError("give --target or --module, not both");
    if (own.module === undefined && flags.targets.length === 0) flags.targets = [...TARGET_NAMES];
    return { ...flags, ...own };
  });
}

/** Builds the addon if it is missing or stale; false when its sources are not on this machine. */
export function buildAddon(stdio: "inherit" | "pipe" = "inherit"): { built: boolean; message: string } {
  const r = spawnSync("bash", [join(ROOT, "tools/jazzer/build.sh")], { stdio: ["ignore", stdio, stdio], encoding: "utf8" });
  const message = typeof r.stderr === "string" ? r.stderr.trim() : "";
  if (r.status === 0) return { built: true, message };
  if (r.status === 3) return { built: false, message };
  throw new Error(`tools/jazzer/build.sh failed (exit ${String(r.status ?? r.signal)})${message ? `:\n${message}` : ""}`);
}

/** Puts the built addon where @jazzer.js/fuzzer loads it from (dist/addon.js: prebuilds/fuzzer-<platform>-<arch>.node). */
export async function installAddon(): Promise<void> {
  if (process.platform !== "linux" || process.arch !== "x64") throw new Error(`the addon is built for linux-x64, not ${process.platform}-${process.arch}`);
  const pkg = dirname(createRequire(import.meta.url).resolve("@jazzer.js/fuzzer/package.json"));
  const dest = join(pkg, "prebuilds", "fuzzer-linux-x64.node");
  const built = await readFile(ADDON);
  const current = await readFile(dest).catch(() => undefined);
  if (current?.equals(built) === true) return;
  await mkdir(dirname(dest), { recursive: true });
  await copyFile(ADDON, `${dest}.tmp`);
  await rm(dest, { force: true });
  await copyFile(`${dest}.tmp`, dest);
  await rm(`${dest}.tmp`);
}

/** A libFuzzer dictionary: every entry's UTF-8 bytes, escaped. */
function dictionaryFile(entries: readonly string[]): string {
  return entries.filter((e) => e !== "").map((e) => `"${[...Buffer.from(e)].map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("")}"\n`).join("");
}

export interface JazzerResult {
  target: string;
  exitCode: number;
  execs: number;
  elapsedMs: number;
  /** libFuzzer's edge coverage and features at the end */
  cov: number;
  ft: number;
  corpus: number;
  seeds: number;
  /** reproducers written, with what they did */
  findings: { kind: FailureKind; message: string; path: string }[];
  log: string;
}

const STATUS = /^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+)(?: corp: (\d+))?.*?(?:exec\/s: (\d+))?/;
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

/** Fuzzes one target in its own process until runs or seconds, or the first finding. */
export async function runJazzer(spec: TargetSpec & { label: string }, opts: Omit<Options, "targets">, quiet = false): Promise<JazzerResult> {
  const say = (text: string): void => {
    if (!quiet) process.stdout.write(text);
  };
  // The target's own limits, read here: the fuzzed process must not load its code before Jazzer instruments it.
  const target = await loadTarget(spec);
  const { maxLength, dictionary } = target;
  target.close?.();
  const work = join(RUNS_DIR, spec.label);
  const corpus = join(work, "corpus");
  const artifacts = join(work, "artifacts");
  if (opts.fresh) await rm(corpus, { recursive: true, force: true });
  await rm(artifacts, { recursive: true, force: true });
  await mkdir(corpus, { recursive: true });
  await mkdir(artifacts, { recursive: true });
  const dict = join(work, "dictionary.txt");
  await writeFile(dict, dictionaryFile(dictionary));
  const seedDir = spec.name !== undefined ? corpusDir(spec.name) : undefined;
  const seeds = seedDir === undefined ? 0 : (await readdir(seedDir).catch(() => [])).length;
  const crashes = opts.crashDir ?? (spec.name !== undefined ? crashDir(spec.name) : join(work, "crashes"));
  const child: ChildOptions = {
    fuzzerOptions: [
      corpus,
      ...(seedDir !== undefined && seeds > 0 ? [seedDir] : []),
      `-max_len=${maxLength}`,
      ...(dictionary.length > 0 ? [`-dict=${dict}`] : []),
      `-seed=${opts.seed}`,
      opts.runs !== undefined ? `-runs=${opts.runs}` : `-max_total_time=${opts.seconds ?? 60}`,
      `-artifact_prefix=${artifacts}/`,
      `-rss_limit_mb=${opts.maxRssMb}`,
      "-print_final_stats=1",
    ],
    timeout: opts.hangSeconds * 1000,
    // agentgate's code and the targets' checks; not the harness, not node_modules.
    includes: [join(ROOT, "src/"), join(ROOT, "packages/"), join(ROOT, "fuzz/"), join(ROOT, "test/fuzz/")],
    excludes: ["node_modules", join(ROOT, "fuzz/jazzer/"), join(ROOT, "fuzz/engine.ts")],
  };
  // libFuzzer writes to stderr from C, which a pipe Node made non-blocking can drop: the output goes to a file, read as it grows.
  const logPath = join(work, "jazzer.log");
  const logFile = await open(logPath, "w+");
  const t0 = Date.now();
  const proc = spawn(process.execPath, ["--import", fileURLToPath(new URL("./strip-types.ts", import.meta.url)), fileURLToPath(new URL("./child.ts", import.meta.url))], {
    cwd: ROOT,
    env: { ...process.env, [ENV_SPEC]: JSON.stringify({ name: spec.name, module: spec.module }), [ENV_CRASH_DIR]: crashes, [ENV_OPTIONS]: JSON.stringify(child), NODE_OPTIONS: "" },
    stdio: ["ignore", logFile.fd, logFile.fd],
  });
  let execs = 0;
  let cov = 0;
  let ft = 0;
  let corp = 0;
  let finalExecs: number | undefined;
  let tail: string[] = [];
  let lastReport = Date.now();
  let pending = "";
  let offset = 0;
  const readLog = async (): Promise<void> => {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const { bytesRead } = await logFile.read(buf, 0, buf.length, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      pending += buf.toString("utf8", 0, bytesRead);
    }
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      tail = [...tail.slice(-60), line];
      const m = STATUS.exec(line);
      if (m) {
        execs = Number(m[1]);
        cov = Number(m[3]);
        ft = Number(m[4]);
        if (m[5] !== undefined) corp = Number(m[5]);
      }
      const stat = /^stat::number_of_executed_units: (\d+)/.exec(line);
      if (stat) finalExecs = Number(stat[1]);
    }
    if (Date.now() - lastReport >= 10_000) {
      lastReport = Date.now();
      say(`  ${spec.label}: ${fmt(execs)} execs, ${fmt(execs / ((Date.now() - t0) / 1000))}/s, cov ${cov} ft ${ft}, corpus ${corp}\n`);
    }
  };
  let reading = Promise.resolve();
  const poll = setInterval(() => {
    reading = reading.then(readLog);
  }, 1000);
  const code = await new Promise<number>((done) => proc.on("close", (c, signal) => done(c ?? (signal ? 128 : 1))));
  clearInterval(poll);
  await reading;
  pending += "\n";
  await readLog();
  await logFile.close();
  const elapsedMs = Date.now() - t0;
  if (finalExecs !== undefined) execs = finalExecs;
  // libFuzzer ends a run it was asked for with its final stats; without them it refused its arguments.
  const exitCode = code === 0 && finalExecs === undefined ? 1 : code;

  // What libFuzzer wrote: a failed property is saved by entry.ts already; a
  // hang, running out of memory or another finding (an exception outside
  // the property check, a Jazzer bug detector) is saved here.
  const findings: JazzerResult["findings"] = [];
  const jazzerSays = tail.filter((l) => !STATUS.test(l) && !l.startsWith("stat::")).slice(-30).join("\n");
  for (const name of (await readdir(artifacts)).sort()) {
    const kind: FailureKind | undefined = name.startsWith("timeout-") ? "hang" : name.startsWith("oom-") ? "memory" : name.startsWith("crash-") ? "crash" : undefined;
    if (kind === undefined) continue;
    const input = await readFile(join(artifacts, name));
    const id = inputId(input);
    const saved = (await readdir(crashes).catch(() => [] as string[])).find((n) => n.endsWith(`-${id}`));
    if (saved !== undefined) {
      const note = await readFile(join(crashes, `${saved}.note.txt`), "utf8").catch(() => "");
      findings.push({ kind: saved.startsWith("pollution-") ? "pollution" : "crash", message: note.split("\n")[0] ?? "", path: join(crashes, saved) });
      continue;
    }
    const message =
      kind === "hang"
        ? `an input ran for more than ${opts.hangSeconds} s without finishing (libFuzzer -timeout)`
        : kind === "memory"
          ? `the process grew over the limit of ${opts.maxRssMb} MB (libFuzzer -rss_limit_mb)`
          : `Jazzer.js reported a finding outside the property check: ${jazzerSays.split("\n").find((l) => /Error|Exception|==\d+==/.test(l)) ?? "see the note"}`;
    const failure: Failure = { kind, message, stack: `Jazzer.js's output:\n${jazzerSays}`, input, signature: `${kind} ${id}` };
    findings.push({ kind, message, path: await saveFinding(crashes, failure) });
  }
  for (const f of findings) say(`  ${spec.label}: ${f.kind}: ${f.message}\n    reproducer: ${relative(process.cwd(), f.path)}\n`);
  if (exitCode !== 0 && findings.length === 0) say(`  ${spec.label}: Jazzer.js exited ${exitCode} with no finding; its output is in ${relative(process.cwd(), logPath)}:\n${tail.slice(-20).join("\n")}\n`);
  return { target: spec.label, exitCode, execs, elapsedMs, cov, ft, corpus: corp, seeds, findings, log: logPath };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const build = buildAddon();
  if (!build.built) {
    process.stderr.write("fuzz:jazzer: the Jazzer.js addon cannot be built on this machine (see tools/jazzer/build.sh); `npm run fuzz` runs the same targets without coverage guidance\n");
    process.exit(2);
  }
  await installAddon();
  const specs: (TargetSpec & { label: string })[] = opts.module !== undefined ? [{ module: opts.module, label: "module" }] : opts.targets.map((name) => ({ name, label: name }));
  const budget = opts.runs !== undefined ? `${fmt(opts.runs)} runs` : `${opts.seconds ?? 0} s`;
  process.stdout.write(`fuzzing ${specs.map((s) => s.label).join(", ")} with Jazzer.js (coverage-guided, libFuzzer): ${budget} each, seed ${opts.seed}\n`);
  const results: JazzerResult[] = [];
  for (const spec of specs) results.push(await runJazzer(spec, opts));
  process.stdout.write("\n");
  let failed = 0;
  for (const r of results) {
    failed += r.findings.length + (r.exitCode !== 0 && r.findings.length === 0 ? 1 : 0);
    const verdict = r.findings.length > 0 ? `${r.findings.length} finding(s): ${r.findings.map((f) => relative(process.cwd(), f.path)).join(", ")}` : r.exitCode === 0 ? "no findings" : `Jazzer.js exited ${r.exitCode} (see ${relative(process.cwd(), r.log)})`;
    process.stdout.write(
      `${r.target}: ${fmt(r.execs)} execs in ${(r.elapsedMs / 1000).toFixed(1)} s, ${fmt(r.execs / (r.elapsedMs / 1000))} execs/s; cov ${r.cov} ft ${r.ft}; corpus ${r.corpus} (${r.seeds} seeds); ${verdict}\n`,
    );
  }
  process.exitCode = failed > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
