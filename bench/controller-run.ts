// npm run bench:controller: what one AgentRun costs on the local control
// plane. The controller runs as `agentgate controller` in its own process
// (as deployed, without leader election); agentgate's webhook stamps the
// runs; the fake kagent A2A server answers at once; a stand-in for kagent's
// controller marks each Agent Ready as soon as it appears. For K runs created
// one after another, then K created together, it measures create → phase
// Acting and create → Succeeded (as a watching client sees them), and the API
// requests the controller sent per run, by verb and resource, read from its
// Prometheus counter agentgate_controller_api_requests_total. Prints figures
// and, last, one JSON line.
//
// With --runs N[,N...] (npm run bench:controller -- --runs 100,300,1000) it
// measures scale instead: for each N, N runs created at once (16 creates in
// flight) whose agents all keep working until every one of them is Acting,
// so that N runs are in flight together; then they finish, and are deleted
// before the next N. Per N: create → Acting p50/p99, API requests per run,
// the controller's RSS (start, peak while the N ran, end), the CPU time the
// hypervisor stole, the load and what else ran (bench/machine.ts); then the
// cost curve over the smallest N. In a pod Node sizes its heap from the
// container's memory (about half of it) and collects harder near that; this
// machine has far more, so with --runs the controller runs with
// --max-old-space-size=<--heap-limit-mib> (default half the chart's
// controller memory limit; 0 leaves Node's own), as it would in the pod.
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { parse as parseYaml, stringify } from "yaml";
import { readFile } from "node:fs/promises";
import { startGateway, type RunningGateway } from "../src/cli/serve.ts";
import { describeError } from "../src/kube/errors.ts";
import { webhookConfigurations } from "../src/gateway/webhooks.ts";
import { logger } from "../src/log.ts";
import type { AgentRun } from "../src/types/agent.ts";
import { startFakeKagent, type FakeKagent } from "../test/support/a2a-server.ts";
import { startControlPlane, type ControlPlane } from "../test/support/control-plane.ts";
import { tektonCrdDir } from "../test/support/tekton.ts";
import { PooledKubeConfig } from "../src/kube/pooled-config.ts";
import { describeMachine, machineSince, processMemory, sampleMachine, type MachineReport } from "./machine.ts";
import { percentile, summarize, type Summary } from "./stats.ts";
import { parseArgs } from "node:util";
import { freePort } from "../src/testing/free-port.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const CONTROLLER_USER = "system:serviceaccount:agentgate-system:agentgate-controller";
const NS = "bench";
const RUN_TIMEOUT_MS = 120_000;

const ARGS = parseArgs({ options: { runs: { type: "string" }, "heap-limit-mib": { type: "string" } } });
/** --runs: the scale mode's batch sizes, ascending */
const SCALE: number[] | undefined = ARGS.values.runs === undefined ? undefined : ARGS.values.runs.split(",").map((x) => Number(x.trim()));
if (SCALE && SCALE.some((n, i) => !Number.isInteger(n) || n < 1 || n > 10_000 || (i > 0 && n <= (SCALE[i - 1] ?? 0)))) throw new Error(`--runs ${JSON.stringify(ARGS.values.runs)}: expected ascending whole numbers, e.g. 1000 or 100,300,1000`);
const SCALE_CREATE_CONCURRENCY = 16;
/** creates retried after a 429 or a webhook timeout */
let createRetries = 0;
/** Agents of a scale batch keep working until this resolves (every run of the batch Acting). */
let agentsHold: Promise<void> = Promise.resolve();

const AGENT_RUNS = { group: "agent.tekton.dev", version: "v1alpha1", plural: "agentruns" };


function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }); });
    });
    req.on("error", reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The controller's API request counter, keyed "<verb> <resource>". */
async function scrapeRequests(metricsPort: number): Promise<Map<string, number>> {
  const { status, body } = await httpGet(metricsPort, "/metrics");
  if (status !== 200) throw new Error(`controller /metrics answered HTTP ${String(status)}`);
  const out = new Map<string, number>();
  for (const line of body.split("\n")) {
    if (!line.startsWith("agentgate_controller_api_requests_total{")) continue;
    const verb = /verb="([^"]*)"/.exec(line)?.[1];
    const resource = /resource="([^"]*)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (verb === undefined || resource === undefined || !Number.isFinite(value)) throw new Error(`controller /metrics: unreadable line ${JSON.stringify(line)}`);
    out.set(`${verb} ${resource}`, value);
  }
  return out;
}

function difference(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out.set(k, d);
  }
  return out;
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** Waits until the controller has sent its last request for the runs just finished (its final Event follows the final status). */
async function settledRequests(metricsPort: number): Promise<Map<string, number>> {
  let last = await scrapeRequests(metricsPort);
  for (;;) {
    await sleep(400);
    const now = await scrapeRequests(metricsPort);
    if (total(now) === total(last)) return now;
    last = now;
  }
}

interface Timing {
  createdAt: number;
  answeredAt: number;
  /** distinct status.completionTime values seen: more than one means the run was finished twice */
  completions: Set<string>;
  uid: string;
  phases: Map<string, number>;
  done: Promise<AgentRun>;
  resolve: (run: AgentRun) => void;
}

const timings = new Map<string, Timing>();

function track(name: string): Timing {
  let resolve!: (run: AgentRun) => void;
  const done = new Promise<AgentRun>((r) => { resolve = r; });
  const t: Timing = { createdAt: 0, answeredAt: 0, completions: new Set(), uid: "", phases: new Map(), done, resolve };
  timings.set(name, t);
  return t;
}

function onRunEvent(run: AgentRun): void {
  const at = performance.now();
  const t = timings.get(run.metadata?.name ?? "");
  const phase = run.status?.phase;
  if (!t || !phase) return;
  if (!t.phases.has(phase)) t.phases.set(phase, at);
  t.uid = run.metadata?.uid ?? t.uid;
  if (run.status?.completionTime) t.completions.add(run.status.completionTime);
  if (phase === "Succeeded" || phase === "Failed") t.resolve(run);
}

async function withTimeout<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => { reject(new Error(`${what}: not done within ${String(ms / 1000)} s`)); }, ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

interface RunResult {
  name: string;
  /** the create call answered: admission (agentgate's webhooks) and storage */
  answeredMs: number;
  /** the controller's first status write */
  pendingMs: number;
  actingMs: number;
  succeededMs: number;
  outcome: string;
  /** times the controller wrote a terminal status */
  finishes: number;
  /** message/send + message/stream calls carrying the run's idempotency key */
  goalSends: number;
}

function runResult(name: string, final: AgentRun): RunResult {
  const t = timings.get(name);
  if (!t) throw new Error(`run ${name} was not tracked`);
  const acting = t.phases.get("Acting");
  const end = t.phases.get("Succeeded") ?? t.phases.get("Failed");
  const reason = final.status?.conditions?.find((c) => c.type === "Succeeded")?.reason ?? "?";
  const pending = t.phases.get("Pending") ?? acting;
  const goalSends = kagent?.sendCount(`${t.uid}-attempt-1`) ?? 0;
  return { name, finishes: t.completions.size, goalSends, answeredMs: t.answeredAt - t.createdAt, pendingMs: pending === undefined ? Number.NaN : pending - t.createdAt, actingMs: acting === undefined ? Number.NaN : acting - t.createdAt, succeededMs: end === undefined ? Number.NaN : end - t.createdAt, outcome: reason };
}

function runObject(name: string, labels?: Record<string, string>) {
  return { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name, namespace: NS, ...(labels ? { labels } : {}) }, spec: { configRef: { name: "plain" }, goal: `goal of ${name}` } };
}

async function createAndTime(custom: k8s.CustomObjectsApi, name: string, labels?: Record<string, string>): Promise<Timing> {
  const t = track(name);
  t.createdAt = performance.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await custom.createNamespacedCustomObject({ ...AGENT_RUNS, namespace: NS, body: runObject(name, labels) });
      break;
    } catch (err) {
      // 429: API Priority and Fairness under a burst of a thousand creates; 500 "failed calling webhook": the
      // gateway, in this busy process, answered after the webhook's 5 s timeout. As a client would, wait and
      // retry; the time counts, and the retries are reported.
      const retriable = err instanceof k8s.ApiException && (err.code === 429 || (err.code === 500 && String(err.body).includes("failed calling webhook")));
      if (!retriable || attempt >= 20) throw err;
      createRetries++;
      await sleep(200 * attempt);
    }
  }
  t.answeredAt = performance.now();
  return t;
}

interface Phase {
  runs: RunResult[];
  answered: Summary;
  pending: Summary;
  acting: Summary;
  succeeded: Summary;
  requestsPerRun: Summary;
  /** per run: requests of the batch / runs */
  byVerbResource: Record<string, number>;
  failed: string[];
  /** runs whose terminal status was written more than once (a pass on a stale cache after the agent finished) */
  finishedTwice: string[];
  /** runs whose goal went to the agent more than once */
  sentTwice: string[];
}

function perRun(counts: Map<string, number>[], runs: number): Record<string, number> {
  const sum = new Map<string, number>();
  for (const m of counts) for (const [k, v] of m) sum.set(k, (sum.get(k) ?? 0) + v);
  return Object.fromEntries([...sum.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, Math.round((v / runs) * 100) / 100]));
}

function phaseOf(runs: RunResult[], perRunTotals: number[], byVerbResource: Record<string, number>): Phase {
  return {
    runs,
    answered: summarize(runs.map((r) => r.answeredMs)),
    pending: summarize(runs.map((r) => r.pendingMs)),
    acting: summarize(runs.map((r) => r.actingMs)),
    succeeded: summarize(runs.map((r) => r.succeededMs)),
    requestsPerRun: summarize(perRunTotals),
    byVerbResource,
    failed: runs.filter((r) => r.outcome !== "Succeeded").map((r) => `${r.name}: ${r.outcome}`),
    finishedTwice: runs.filter((r) => r.finishes > 1).map((r) => `${r.name}: ${String(r.finishes)}`),
    sentTwice: runs.filter((r) => r.goalSends > 1).map((r) => `${r.name}: ${String(r.goalSends)}`),
  };
}

let cp: ControlPlane | undefined;
let gateway: RunningGateway | undefined;
let kagent: FakeKagent | undefined;
let controllerProcess: ChildProcess | undefined;
const aborts: AbortController[] = [];
let closing = false;
/** the controller's own log, kept after the run (the control plane's folder is removed) */
let controllerLog = "";
const benchStart = performance.now();
function progress(what: string): void {
  process.stderr.write(`[${((performance.now() - benchStart) / 1000).toFixed(1)} s] ${what}\n`);
}

/** A watch that starts again when the server ends it (re-listing: events already seen are harmless). */
async function keepWatching(watch: k8s.Watch, path: string, onEvent: (type: string, obj: unknown) => void): Promise<void> {
  const start = async (): Promise<void> => {
    aborts.push(
      await watch.watch(path, {}, onEvent, (err: unknown) => {
        if (closing) return;
        if (err) process.stderr.write(`watch ${path} ended (${describeError(err)}); watching again\n`);
        setTimeout(() => { void start().catch((e: unknown) => { process.stderr.write(`watch ${path}: ${describeError(e)}\n`); }); }, 200);
      }),
    );
  };
  await start();
}

async function main(): Promise<void> {
  // The in-process gateway warns while the fresh CRDs' storage initialises.
  logger.level = "error";
  const loadBefore = loadavg();
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  // One connection pool: client-node otherwise opens a TLS connection per request (a thousand creates, a thousand Agents marked Ready).
  const custom = new PooledKubeConfig(cp.kubeConfig).makeApiClient(k8s.CustomObjectsApi);
  const controllerKubeconfig = await cp.kubeconfigFor(CONTROLLER_USER, ["system:masters"]);
  gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [], kubeconfig: cp.kubeconfigPath, offline: false, namespace: "agentgate-system", serviceAccount: "system:serviceaccount:agentgate-system:agentgate", trustedUser: [CONTROLLER_USER], drainSeconds: 0, signingKeys: "agentgate-system/agentgate-signing" });
  const hooks = webhookConfigurations({ name: "agentgate", target: { url: `https://127.0.0.1:${String(gateway.port)}`, caBundle: gateway.caCert ?? "" }, exemptNamespaces: ["kube-system", "agentgate-system"] });
  kagent = await startFakeKagent({ defaultScript: { llmCalls: 1, promptTokens: 100, completionTokens: 20, toolCallsPerCall: 0, resultText: "done", work: () => agentsHold } });
  const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");
  await cp.applyYaml(
    yaml(
      hooks.validating,
      hooks.mutating,
      { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "kagent" } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "agentgate-system" } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", description: "kagent tools", allowedNamespaces: { from: "All" } } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: NS }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet", apiKeySecret: "k", apiKeySecretKey: "k" } },
      {
        apiVersion: "agent.tekton.dev/v1alpha1",
        kind: "AgentConfig",
        metadata: { name: "plain", namespace: NS },
        spec: {
          modelConfigRef: { name: "claude" },
          systemPrompt: "You write tests.",
          toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }],
          rbac: { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }] },
        },
      },
    ),
  );

  progress("control plane, gateway and fake kagent up");
  // A CRD's storage answers 429 for a moment after it is Established: wait
  // until both lists answer before watching.
  for (const plural of ["agents", "agentruns"]) {
    const gvr = plural === "agents" ? { group: "kagent.dev", version: "v1alpha2", plural } : AGENT_RUNS;
    for (;;) {
      const ok = await custom.listNamespacedCustomObject({ ...gvr, namespace: NS }).then(() => true, () => false);
      if (ok) break;
      await sleep(200);
    }
  }
  const watch = new k8s.Watch(cp.kubeConfig);
  // kagent's controller, played: an Agent is Ready as soon as it exists.
  await keepWatching(watch, `/apis/kagent.dev/v1alpha2/namespaces/${NS}/agents`, (type, obj) => {
    const agent = obj as { metadata?: { name?: string }; status?: { conditions?: unknown[] } };
    const name = agent.metadata?.name;
    if (type === "DELETED" || !name || (agent.status?.conditions?.length ?? 0) > 0) return;
    void custom
      .patchNamespacedCustomObjectStatus(
        { group: "kagent.dev", version: "v1alpha2", namespace: NS, plural: "agents", name, body: { status: { conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "", lastTransitionTime: new Date().toISOString() }] } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      )
      .catch((err: unknown) => { process.stderr.write(`marking Agent ${name} Ready failed: ${describeError(err)}\n`); });
  });
  await keepWatching(watch, `/apis/agent.tekton.dev/v1alpha1/namespaces/${NS}/agentruns`, (_type, obj) => { onRunEvent(obj as AgentRun); });

  progress("watching Agents and AgentRuns");
  const [healthPort, metricsPort] = await Promise.all([freePort(), freePort()]);
  controllerLog = join(tmpdir(), `agentgate-bench-controller-${String(process.pid)}.log`);
  const log = openSync(controllerLog, "w");
  // As in the pod (see the header): half the chart's controller memory limit, unless --heap-limit-mib says otherwise.
  const heapLimitMib = SCALE ? Number(ARGS.values["heap-limit-mib"] ?? Math.round((await chartControllerLimitMib()) / 2)) : 0;
  if (!Number.isInteger(heapLimitMib) || heapLimitMib < 0) throw new Error(`--heap-limit-mib ${JSON.stringify(ARGS.values["heap-limit-mib"])}: expected a whole number of MiB, 0 for Node's default`);
  if (SCALE) process.stdout.write(`controller heap: ${heapLimitMib > 0 ? `--max-old-space-size=${String(heapLimitMib)} (half the chart's controller memory limit, as Node sizes it in the pod)` : "Node's default for this machine"}\n`);
  controllerProcess = spawn(
    process.execPath,
    [...(heapLimitMib > 0 ? [`--max-old-space-size=${String(heapLimitMib)}`] : []), join(ROOT, "bin/agentgate.js"), "controller", "--kubeconfig", controllerKubeconfig, "--kagent-url", kagent.url, "--signing-keys", "agentgate-system/agentgate-signing", "--no-leader-elect", "--health-listen", `127.0.0.1:${String(healthPort)}`, "--metrics-listen", `127.0.0.1:${String(metricsPort)}`],
    { stdio: ["ignore", log, log] },
  );
  closeSync(log);
  const exited = new Promise<never>((_, reject) => controllerProcess?.once("exit", (code, signal) => { reject(new Error(`agentgate controller exited (${String(code ?? signal)}); see its log in ${controllerLog}`)); }));
  exited.catch(() => undefined);
  const ready = (async () => {
    for (;;) {
      const ok = await httpGet(healthPort, "/readyz").then((r) => r.status === 200, () => false);
      if (ok) return;
      await sleep(100);
    }
  })();
  await withTimeout("controller /readyz", Promise.race([ready, exited]), 60_000);

  progress("controller ready");
  // One run first: it pays the one-off costs (API discovery for server-side
  // apply, the apiserver endpoint lookup, code warm-up), shown apart.
  const warmBefore = await scrapeRequests(metricsPort);
  const warm = await createAndTime(custom, "warm-up");
  const warmFinal = await withTimeout("warm-up run", Promise.race([warm.done, exited]), RUN_TIMEOUT_MS);
  const warmResult = runResult("warm-up", warmFinal);
  const warmRequests = difference(await settledRequests(metricsPort), warmBefore);
  process.stdout.write(`warm-up run: ${warmResult.outcome}, Acting after ${warmResult.actingMs.toFixed(0)} ms, done after ${warmResult.succeededMs.toFixed(0)} ms, ${String(total(warmRequests))} API requests\n`);

  if (SCALE) {
    await scale(custom, metricsPort, controllerProcess.pid ?? 0, exited, SCALE);
    return;
  }

  // Sequential: one run at a time, requests counted per run.
  progress("sequential runs");
  const seqRuns: RunResult[] = [];
  const seqTotals: number[] = [];
  const seqCounts: Map<string, number>[] = [];
  for (let i = 0; i < RUNS; i++) {
    const name = `seq-${String(i)}`;
    const before = await scrapeRequests(metricsPort);
    const t = await createAndTime(custom, name);
    const final = await withTimeout(name, Promise.race([t.done, exited]), RUN_TIMEOUT_MS);
    const used = difference(await settledRequests(metricsPort), before);
    seqRuns.push(runResult(name, final));
    seqTotals.push(total(used));
    seqCounts.push(used);
  }
  const sequential = phaseOf(seqRuns, seqTotals, perRun(seqCounts, RUNS));

  progress("concurrent runs");
  // Concurrent: all runs created at once; requests counted for the batch.
  const before = await scrapeRequests(metricsPort);
  const names = Array.from({ length: RUNS }, (_, i) => `par-${String(i)}`);
  const tracked = await Promise.all(names.map((n) => createAndTime(custom, n)));
  const finals = await withTimeout("concurrent runs", Promise.race([Promise.all(tracked.map((t) => t.done)), exited]), RUN_TIMEOUT_MS);
  const used = difference(await settledRequests(metricsPort), before);
  const parRuns = names.map((n, i) => runResult(n, finals[i] ?? {}));
  const concurrent = phaseOf(parRuns, [total(used) / RUNS], perRun([used], RUNS));

  progress(`done; the controller's log: ${controllerLog}`);
  const f = (n: number) => `${n.toFixed(0)} ms`.padStart(8);
  const line = (label: string, s: Summary) => `  ${label.padEnd(22)} median ${f(s.median)}   p90 ${f(s.p90)}   min ${f(s.min)}   max ${f(s.max)}\n`;
  for (const [label, p] of [[`sequential (${String(RUNS)} runs, one at a time)`, sequential], [`concurrent (${String(RUNS)} runs created together)`, concurrent]] as const) {
    process.stdout.write(`\n${label}\n`);
    process.stdout.write(line("create call answered", p.answered));
    process.stdout.write(line("create → Pending", p.pending));
    process.stdout.write(line("create → Acting", p.acting));
    process.stdout.write(line("create → Succeeded", p.succeeded));
    process.stdout.write(`  API requests per run   median ${p.requestsPerRun.median.toFixed(1)}   p90 ${p.requestsPerRun.p90.toFixed(1)}; by verb and resource (mean per run):\n`);
    for (const [k, v] of Object.entries(p.byVerbResource)) process.stdout.write(`    ${k.padEnd(36)} ${String(v)}\n`);
    if (p.failed.length > 0) process.stdout.write(`  not Succeeded: ${p.failed.join(", ")}\n`);
    process.stdout.write(`  runs finished more than once: ${p.finishedTwice.length > 0 ? p.finishedTwice.join(", ") : "none"}; goal sent more than once: ${p.sentTwice.length > 0 ? p.sentTwice.join(", ") : "none"}\n`);
  }
  const round = (s: Summary) => ({ n: s.n, median: Math.round(s.median), p90: Math.round(s.p90), min: Math.round(s.min), max: Math.round(s.max) });
  const brief = (p: Phase) => ({ answeredMs: round(p.answered), pendingMs: round(p.pending), actingMs: round(p.acting), succeededMs: round(p.succeeded), apiRequestsPerRun: { median: p.requestsPerRun.median, p90: p.requestsPerRun.p90 }, byVerbResource: p.byVerbResource, failed: p.failed, finishedTwice: p.finishedTwice, sentTwice: p.sentTwice });
  process.stdout.write(
    `${JSON.stringify({
      bench: "controller-run",
      runs: RUNS,
      warmUp: { actingMs: Math.round(warmResult.actingMs), succeededMs: Math.round(warmResult.succeededMs), apiRequests: total(warmRequests), byVerbResource: Object.fromEntries(warmRequests) },
      sequential: brief(sequential),
      concurrent: brief(concurrent),
      loadavg: { before: loadBefore.map((x) => Math.round(x * 100) / 100), after: loadavg().map((x) => Math.round(x * 100) / 100) },
    })}\n`,
  );
}

interface Batch {
  runs: number;
  createSeconds: number;
  /** creates retried (429, or the webhook answering after its timeout) */
  createRetries: number;
  /** create → phase Acting, as a watching client sees it */
  actingMs: { p50: number; p99: number; max: number };
  /** from the release of the agents (every run Acting) to the last run Succeeded */
  drainSeconds: number;
  apiRequestsPerRun: number;
  byVerbResource: Record<string, number>;
  rssMb: { start: number; peak: number; end: number };
  /** nodejs_heap_size_used_bytes from the controller's /metrics (no collection forced): before, with every run Acting, after */
  heapMb: { start: number; inFlight: number; end: number };
  failed: string[];
  finishedTwice: number;
  sentTwice: number;
  machine: MachineReport;
}

/** charts/agentgate/values.yaml controller.resources.limits.memory, MiB. */
async function chartControllerLimitMib(): Promise<number> {
  const values = parseYaml(await readFile(join(ROOT, "charts/agentgate/values.yaml"), "utf8")) as { controller?: { resources?: { limits?: { memory?: string } } } };
  const text = values.controller?.resources?.limits?.memory ?? "";
  const m = /^(\d+)(Mi|Gi)$/.exec(text);
  if (!m) throw new Error(`charts/agentgate/values.yaml controller.resources.limits.memory ${JSON.stringify(text)}: expected e.g. 512Mi`);
  return Number(m[1]) * (m[2] === "Gi" ? 1024 : 1);
}

/** The controller's V8 heap in use, MiB, from its /metrics. */
async function controllerHeapMb(metricsPort: number): Promise<number> {
  const { body } = await httpGet(metricsPort, "/metrics");
  const line = body.split("\n").find((l) => l.startsWith("nodejs_heap_size_used_bytes"));
  return line ? Math.round(Number(line.slice(line.lastIndexOf(" ") + 1)) / 2 ** 20) : Number.NaN;
}

/** N runs in flight at once, for each N: time to Acting, API requests per run, controller RSS. */
async function scale(custom: k8s.CustomObjectsApi, metricsPort: number, controllerPid: number, exited: Promise<never>, sizes: readonly number[]): Promise<void> {
  const batches: Batch[] = [];
  const rss = async () => (await processMemory(controllerPid))?.rssMb ?? Number.NaN;
  for (const n of sizes) {
    const label = `n${String(n)}`;
    progress(`scale: ${String(n)} runs in flight`);
    let release!: () => void;
    agentsHold = new Promise<void>((r) => { release = r; });
    const before = await scrapeRequests(metricsPort);
    const machineBefore = await sampleMachine();
    const rssStart = await rss();
    const heapStart = await controllerHeapMb(metricsPort);
    const retriesBefore = createRetries;
    let rssPeak = rssStart;
    const poll = setInterval(() => { void rss().then((m) => { if (m > rssPeak) rssPeak = m; }); }, 200);
    try {
      const names = Array.from({ length: n }, (_, i) => `${label}-${String(i)}`);
      const tracked: Timing[] = [];
      const createStart = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: SCALE_CREATE_CONCURRENCY }, async () => {
        while (next < names.length) tracked.push(await createAndTime(custom, names[next++] ?? "", { "bench-batch": label }));
      }));
      const createSeconds = (performance.now() - createStart) / 1000;
      const allActing = (async () => {
        while (names.some((x) => !timings.get(x)?.phases.has("Acting") && !timings.get(x)?.phases.has("Failed"))) await sleep(100);
      })();
      await withTimeout(`${String(n)} runs Acting`, Promise.race([allActing, exited]), 20 * 60_000);
      const heapInFlight = await controllerHeapMb(metricsPort);
      const released = performance.now();
      release();
      const finals = await withTimeout(`${String(n)} runs finishing`, Promise.race([Promise.all(names.map((x) => timings.get(x)?.done ?? Promise.reject(new Error(`${x} not tracked`)))), exited]), 20 * 60_000);
      const drainSeconds = (performance.now() - released) / 1000;
      const used = difference(await settledRequests(metricsPort), before);
      const results = names.map((x, i) => runResult(x, finals[i] ?? {}));
      const acting = results.map((r) => r.actingMs).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
      clearInterval(poll);
      const rssEnd = await rss();
      const machine = await machineSince(machineBefore);
      const batch: Batch = {
        runs: n,
        createSeconds: Math.round(createSeconds * 10) / 10,
        createRetries: createRetries - retriesBefore,
        actingMs: { p50: Math.round(percentile(acting, 50)), p99: Math.round(percentile(acting, 99)), max: Math.round(acting.at(-1) ?? Number.NaN) },
        drainSeconds: Math.round(drainSeconds * 10) / 10,
        apiRequestsPerRun: Math.round((total(used) / n) * 100) / 100,
        byVerbResource: perRun([used], n),
        rssMb: { start: Math.round(rssStart), peak: Math.round(rssPeak), end: Math.round(rssEnd) },
        heapMb: { start: heapStart, inFlight: heapInFlight, end: await controllerHeapMb(metricsPort) },
        failed: results.filter((r) => r.outcome !== "Succeeded").map((r) => `${r.name}: ${r.outcome}`),
        finishedTwice: results.filter((r) => r.finishes > 1).length,
        sentTwice: results.filter((r) => r.goalSends > 1).length,
        machine,
      };
      batches.push(batch);
      process.stdout.write(`N=${String(n)}: created in ${String(batch.createSeconds)} s (${String(batch.createRetries)} creates retried); create → Acting p50 ${String(batch.actingMs.p50)} ms, p99 ${String(batch.actingMs.p99)} ms, max ${String(batch.actingMs.max)} ms; all finished ${String(batch.drainSeconds)} s after release; ${String(batch.apiRequestsPerRun)} API requests per run; controller RSS ${String(batch.rssMb.start)} → peak ${String(batch.rssMb.peak)} → ${String(batch.rssMb.end)} MiB, heap ${String(batch.heapMb.start)} → ${String(batch.heapMb.inFlight)} (all Acting) → ${String(batch.heapMb.end)} MiB; not Succeeded ${String(batch.failed.length)}, finished twice ${String(batch.finishedTwice)}, goal sent twice ${String(batch.sentTwice)}\n  machine: ${describeMachine(machine)}\n`);
      // The next N starts from a controller whose cache holds none of these runs.
      await custom.deleteCollectionNamespacedCustomObject({ ...AGENT_RUNS, namespace: NS, labelSelector: `bench-batch=${label}` });
      while (((await custom.listNamespacedCustomObject({ ...AGENT_RUNS, namespace: NS, labelSelector: `bench-batch=${label}`, limit: 1 })) as { items: unknown[] }).items.length > 0) await sleep(500);
      await settledRequests(metricsPort);
      for (const x of names) timings.delete(x);
    } finally {
      clearInterval(poll);
      release();
    }
  }
  const first = batches[0];
  process.stdout.write(`\n${"runs".padStart(6)} ${"create s".padStart(9)} ${"Acting p50".padStart(11)} ${"p99".padStart(8)} ${"requests/run".padStart(13)} ${"RSS start".padStart(10)} ${"peak".padStart(6)} ${"end".padStart(6)} ${"heap in flight".padStart(15)} | steal %  load\n`);
  for (const b of batches) {
    process.stdout.write(`${String(b.runs).padStart(6)} ${String(b.createSeconds).padStart(9)} ${`${String(b.actingMs.p50)} ms`.padStart(11)} ${`${String(b.actingMs.p99)} ms`.padStart(8)} ${String(b.apiRequestsPerRun).padStart(13)} ${`${String(b.rssMb.start)} MiB`.padStart(10)} ${String(b.rssMb.peak).padStart(6)} ${String(b.rssMb.end).padStart(6)} ${`${String(b.heapMb.start)} → ${String(b.heapMb.inFlight)}`.padStart(15)} | ${String(b.machine.stealPercent).padStart(7)}  ${b.machine.loadBefore.join(" ")} → ${b.machine.loadAfter.join(" ")}\n`);
  }
  const curve = first
    ? batches.map((b) => ({ runs: b.runs, runsGrowth: Math.round((b.runs / first.runs) * 10) / 10, actingP50Growth: Math.round((b.actingMs.p50 / Math.max(1, first.actingMs.p50)) * 10) / 10, actingP99Growth: Math.round((b.actingMs.p99 / Math.max(1, first.actingMs.p99)) * 10) / 10, requestsPerRunGrowth: Math.round((b.apiRequestsPerRun / first.apiRequestsPerRun) * 100) / 100, rssPeakOverStartMb: b.rssMb.peak - b.rssMb.start, rssPerRunKb: Math.round(((b.rssMb.peak - b.rssMb.start) * 1024) / b.runs) }))
    : [];
  for (const c of curve) process.stdout.write(`N=${String(c.runs)} (×${String(c.runsGrowth)}): Acting p50 ×${String(c.actingP50Growth)}, p99 ×${String(c.actingP99Growth)}; requests per run ×${String(c.requestsPerRunGrowth)}; controller RSS +${String(c.rssPeakOverStartMb)} MiB at peak (${String(c.rssPerRunKb)} KiB per run in flight)\n`);
  process.stdout.write(`${JSON.stringify({ bench: "controller-scale", batches, curve })}\n`);
}

async function cleanup(): Promise<void> {
  closing = true;
  progress("stopping");
  for (const a of aborts) a.abort();
  if (controllerProcess && controllerProcess.exitCode === null && controllerProcess.signalCode === null) {
    const gone = new Promise((r) => controllerProcess?.once("exit", r));
    controllerProcess.kill("SIGTERM");
    await withTimeout("controller to stop", gone, 10_000).catch(() => controllerProcess?.kill("SIGKILL"));
  }
  progress("controller stopped");
  await gateway?.close();
  progress("gateway closed");
  await kagent?.close();
  progress("fake kagent closed");
  await cp?.stop();
  progress("stopped");
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench:controller failed: ${describeError(err)}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
