// npm run bench:overload: the gateway at twice its saturation rate. Finds
// saturation as `npm run bench` does (autocannon, 16 connections), then
// drives the open-loop generator (bench/overload-generator.ts) at 2x that
// for a fixed time on many connections, as the API server would, and
// straight on at 50 % to see how soon the gateway is back. Once with the
// gateway's default --max-in-flight and once without a bound, each on a
// fresh gateway process. Prints answered/refused/failed counts, latency of
// each, the gateway's RSS (before, peak during, after) and the CPU time the
// hypervisor stole, and last one JSON line with the figures.
//
// BENCH_SECONDS (default 20) is the overload's length; BENCH_MAX_IN_FLIGHT
// a comma-separated list of limits to compare ("unbounded" for none).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_MAX_IN_FLIGHT } from "../src/server/overload.ts";
import { generateServingCertificate } from "../src/tls/self-signed.ts";
import { compiledGatewayServer, listeningPort, procMb, validateInputs, withSteal } from "./harness.ts";
import type { OverloadPhase, OverloadResult, OverloadTask, PhaseResult, SaturateResult, SaturateTask } from "./overload-generator.ts";
import { runForked } from "./raw-load.ts";

const OVERLOAD_SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const RECOVERY_SECONDS = 10;
const WARM_SECONDS = 3;
const SATURATION_SECONDS = 10;
/** closed loop, as many as the default limit: batches as large as it lets in, none refused */
const SATURATION_CONNECTIONS = DEFAULT_MAX_IN_FLIGHT;
const CONNECTIONS = 512;
/** the chart's webhook.timeoutSeconds */
const WEBHOOK_TIMEOUT_MS = 5000;
const UNBOUNDED = 1_000_000;
const GENERATOR = fileURLToPath(new URL("./overload-generator.ts", import.meta.url));

const limits = (process.env.BENCH_MAX_IN_FLIGHT ?? `${String(DEFAULT_MAX_IN_FLIGHT)},unbounded`).split(",").map((v) => (v.trim() === "unbounded" ? UNBOUNDED : Number(v)));

function generator<T extends OverloadTask | SaturateTask>(task: T): Promise<T extends SaturateTask ? SaturateResult : OverloadResult> {
  return runForked<T extends SaturateTask ? SaturateResult : OverloadResult>(GENERATOR, "overload generator", task);
}

/** CPU seconds a process has used (user + system, all its threads). */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  const fields = (await readFile(`/proc/${String(pid ?? 0)}/stat`, "utf8")).replace(/^.*\) /, "").split(" ");
  // utime and stime, fields 14 and 15 of stat(5), in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The gateway's resident memory sampled every 100 ms while `phase` runs (the peak seen), and the share of a core it used. */
async function watched<T>(pid: number | undefined, phase: () => Promise<T>): Promise<{ result: T; peakMb: number; cpuShare: number }> {
  let peakMb = 0;
  const timer = setInterval(() => {
    procMb(pid, "VmRSS").then((mb) => { peakMb = Math.max(peakMb, mb); }, () => undefined);
  }, 100);
  const cpuBefore = await cpuSeconds(pid);
  const started = Date.now();
  try {
    const result = await phase();
    const cpuShare = Math.round(((await cpuSeconds(pid)) - cpuBefore) / ((Date.now() - started) / 1000) * 100) / 100;
    return { result, peakMb, cpuShare };
  } finally {
    clearInterval(timer);
  }
}

const ms = (n: number): string => `${String(n)} ms`;
const mb = (n: number): string => `${String(Math.round(n))} MB`;
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(" ");

function describe(p: PhaseResult): string {
  return `sent ${String(p.sent)}: answered ${String(p.answered.count)} (p50 ${ms(p.answered.p50_ms)}, p99 ${ms(p.answered.p99_ms)}, max ${ms(p.answered.max_ms)}); refused ${String(p.refused.count)} (p50 ${ms(p.refused.p50_ms)}, p99 ${ms(p.refused.p99_ms)}); answered after the ${String(WEBHOOK_TIMEOUT_MS / 1000)} s timeout ${String(p.late)}; given up unsent ${String(p.gaveUp)}; failed ${String(p.failed)}; generator issue lag p99 ${ms(p.issue_lag_p99_ms)}`;
}

interface Figures {
  max_in_flight: number | "unbounded";
  overload: PhaseResult;
  recovery: PhaseResult;
  rss_mb: { before: number; peak: number; after: number };
  /** cores' worth of CPU the gateway used over the three phases */
  gateway_cpu: number;
  stolen_pct: number;
  load_average: string;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "agentgate-bench-overload-"));
  const children: ChildProcess[] = [];
  const start = (limit: number): ChildProcess & { stdout: NodeJS.ReadableStream } => {
    const gateway = spawn(process.execPath, [server, join(dir, "tls.crt"), join(dir, "tls.key"), signingFile], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, BENCH_MAX_IN_FLIGHT: String(limit) } });
    children.push(gateway);
    return gateway;
  };
  let server = "";
  let signingFile = "";
  try {
    const inputs = await validateInputs(dir);
    const { bodies } = inputs;
    signingFile = inputs.signingFile;
    const tls = generateServingCertificate(["127.0.0.1"]);
    await writeFile(join(dir, "tls.crt"), tls.cert);
    await writeFile(join(dir, "tls.key"), tls.key);
    server = await compiledGatewayServer();
    console.log(`inputs: ${String(bodies.length)} AdmissionReviews; machine: ${String(cpus().length)} CPUs, load average ${load()}`);

    // Saturation on a gateway of its own, with no bound to refuse anything.
    const probe = start(UNBOUNDED);
    const probePort = await listeningPort(probe, "gateway");
    const closed = (seconds: number): SaturateTask => ({ kind: "saturate", port: probePort, path: "/validate", bodies, connections: SATURATION_CONNECTIONS, seconds });
    await generator(closed(5));
    const { result: sat, stolen: satStolen } = await withSteal(() => generator(closed(SATURATION_SECONDS)));
    probe.kill("SIGTERM");
    if (sat.failed > 0) throw new Error(`saturation: ${String(sat.failed)} answers were not 200`);
    const saturation = sat.rps;
    console.log(`saturation (closed loop, ${String(SATURATION_CONNECTIONS)} connections, ${String(SATURATION_SECONDS)} s, median of its seconds): ${String(saturation)} reviews/s (p50 ${ms(sat.latency.p50_ms)}, p99 ${ms(sat.latency.p99_ms)}); ${String(satStolen)} % stolen`);
    console.log(`load: ${String(CONNECTIONS)} connections, open loop; ${String(WARM_SECONDS)} s at 50 % to open them, then 2x = ${String(2 * saturation)}/s for ${String(OVERLOAD_SECONDS)} s, then at once 50 % = ${String(Math.round(saturation / 2))}/s for ${String(RECOVERY_SECONDS)} s; the API server's webhook timeout taken as ${String(WEBHOOK_TIMEOUT_MS / 1000)} s`);

    const all: Figures[] = [];
    for (const limit of limits) {
      const gateway = start(limit);
      const port = await listeningPort(gateway, "gateway");
      await generator({ kind: "saturate", port, path: "/validate", bodies, connections: Math.min(16, limit), seconds: 5 });
      const phases: OverloadPhase[] = [
        { name: "warm", rate: Math.round(saturation / 2), seconds: WARM_SECONDS },
        { name: "2x", rate: 2 * saturation, seconds: OVERLOAD_SECONDS },
        { name: "50%", rate: Math.round(saturation / 2), seconds: RECOVERY_SECONDS },
      ];
      const before = await procMb(gateway.pid, "VmRSS");
      const task: OverloadTask = { kind: "overload", port, path: "/validate", bodies, connections: CONNECTIONS, phases, marker: "[gateway-overloaded]", timeoutMs: WEBHOOK_TIMEOUT_MS };
      const { result: { result, peakMb, cpuShare }, stolen } = await withSteal(() => watched(gateway.pid, () => generator(task)));
      await new Promise((r) => setTimeout(r, 2000));
      const after = await procMb(gateway.pid, "VmRSS");
      gateway.kill("SIGTERM");
      const [, hot, calm] = result.phases;
      if (!hot || !calm) throw new Error("overload generator: phases missing");
      const name = limit === UNBOUNDED ? "unbounded" : `${String(limit)}${limit === DEFAULT_MAX_IN_FLIGHT ? " (the default)" : ""}`;
      all.push({ max_in_flight: limit === UNBOUNDED ? "unbounded" : limit, overload: hot, recovery: calm, rss_mb: { before: Math.round(before), peak: Math.round(peakMb), after: Math.round(after) }, gateway_cpu: cpuShare, stolen_pct: stolen, load_average: load() });
      console.log(`\n--max-in-flight ${name}`);
      console.log(`  2x saturation, ${String(OVERLOAD_SECONDS)} s: ${describe(hot)}`);
      console.log(`  then 50 %, ${String(RECOVERY_SECONDS)} s: ${describe(calm)}`);
      console.log(`  first second at 50 %: answered ${String(calm.firstSecond.answered.count)} (p50 ${ms(calm.firstSecond.answered.p50_ms)}, p99 ${ms(calm.firstSecond.answered.p99_ms)}), refused ${String(calm.firstSecond.refused)}`);
      console.log(`  gateway RSS: before ${mb(before)}, peak during ${mb(peakMb)}, 2 s after ${mb(after)}; gateway CPU ${String(cpuShare)} of a core; CPU time stolen by the hypervisor ${String(stolen)} %; load average after ${load()}`);
      console.log(`  per second of due time (answered/refused/other, judged p99; answers given that second): ${result.timeline.map((t) => `${t.phase} ${String(t.answered)}/${String(t.refused)}/${String(t.other)} ${String(Math.round(t.p99_ms))}ms ${String(t.finished)}`).join(" | ")}`);
    }
    console.log(JSON.stringify({ saturation_rps: saturation, webhook_timeout_s: WEBHOOK_TIMEOUT_MS / 1000, runs: all }));
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
