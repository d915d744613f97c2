// A soak of the whole system on the local control plane (etcd,
// kube-apiserver, kube-controller-manager built from source): the gateway as
// a real process with self-managed certificates short enough to rotate (the
// serving certificate and the CA) and a bundle from a bundle service that
// swaps between two versions; two controller replicas with leader election,
// whose leader is killed (SIGKILL) now and then and started again; the A2A
// stand-in's scripted agent behind kagent's URL. Meanwhile a steady rate of
// dry-run creates goes through the API server (traffic.ts) and real
// AgentRuns run to completion (runs.ts). Every so often, and at the end, it
// prints what it has seen; the verdict fails on any unexplained failure
// (ledger.ts) or on an agentgate process whose RSS grew by more than the
// allowed share after warm-up (rss.ts).
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { PooledKubeConfig } from "../../src/kube/pooled-config.ts";
import { webhookConfigurations } from "../../src/gateway/webhooks.ts";
import { startFakeKagent, type FakeKagent } from "../../test/support/a2a-server.ts";
import { startControlPlane, type ControlPlane } from "../../test/support/control-plane.ts";
import { tektonCrdDir } from "../../test/support/tekton.ts";
import { httpsCall } from "../../test/support/https-call.ts";
import { until } from "../../test/support/until.ts";
import { freePort } from "../harness.ts";
import { describeMachine, machineSince, sampleMachine } from "../machine.ts";
import { SwappingBundleService } from "./bundles.ts";
import { gatewayCounters, type GatewayCounters } from "./gateway-metrics.ts";
import { FailureLedger, type Cause } from "./ledger.ts";
import { spawnAgentgate, type AgentgateProcess } from "./processes.ts";
import { RssTracker, type RssFigure } from "./rss.ts";
import { RunDriver } from "./runs.ts";
import { DryRunTraffic, SOAK_CONFIG, agentConfigSpec } from "./traffic.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SYSTEM_NS = "agentgate-system";
const NS = "soak";
const CONTROLLER_USER = `system:serviceaccount:${SYSTEM_NS}:agentgate-controller`;
const SIGNING = `${SYSTEM_NS}/agentgate-signing`;
const CONFIG = "agentgate";

export interface SoakOptions {
  /** how long traffic runs, warm-up included */
  seconds: number;
  /** default: a fifth of `seconds`, at most 3 minutes */
  warmupSeconds?: number;
  /** dry-run creates a second; default 10 */
  rate?: number;
  /** a real AgentRun every this many seconds; default 5 */
  runEverySeconds?: number;
  /** the bundle service swaps versions this often; default 30 */
  swapEverySeconds?: number;
  /** the controller's leader is killed this often; default 120 */
  killEverySeconds?: number;
  /** the gateway's --cert-validity and --ca-validity; default 30s and 90s */
  certValidity?: string;
  caValidity?: string;
  /** a progress line this often; default 60 */
  reportEverySeconds?: number;
  /** the RSS growth after warm-up that fails the soak, as a share; default 0.1; undefined: not judged (a short soak cannot tell growth) */
  maxRssGrowth?: number | undefined;
  /** how long runs still in flight at the end may take to end; default 180 */
  drainSeconds?: number;
  /** where progress goes; default stdout */
  print?: (line: string) => void;
}

export interface SoakReport {
  seconds: number;
  warmupSeconds: number;
  creates: { sent: number; asExpected: number; underV1: number; underV2: number; p50Ms: number; p99Ms: number };
  failures: Cause[];
  unexplained: number;
  runs: { started: number; succeeded: number; failed: number; p50Ms: number; maxMs: number };
  swaps: number;
  leaderKills: number;
  caBundlesSeen: number;
  gateway: GatewayCounters;
  rss: RssFigure[];
  machine: string;
  ok: boolean;
  /** the processes' logs, kept when the soak failed */
  logDir: string | undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN);
}

const clock = (ms: number): string => `${String(Math.floor(ms / 60_000))}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, "0")}s`;

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const print = opts.print ?? ((line: string) => { process.stdout.write(`${line}\n`); });
  const seconds = opts.seconds;
  const warmupSeconds = opts.warmupSeconds ?? Math.min(180, Math.round(seconds / 5));
  const rate = opts.rate ?? 10;
  // A fifth of the judged span at each end (rss.ts says why so long).
  const windowMs = Math.max(15_000, (seconds - warmupSeconds) * 200);
  const ledger = new FailureLedger();
  const rss = new RssTracker();
  const logDir = await mkdtemp(join(tmpdir(), "agentgate-soak-"));
  const processes: AgentgateProcess[] = [];
  const timers: NodeJS.Timeout[] = [];
  let cp: ControlPlane | undefined;
  let kagent: FakeKagent | undefined;
  let bundles: SwappingBundleService | undefined;
  let runs: RunDriver | undefined;
  let traffic: DryRunTraffic | undefined;
  let gatewayGone: ((how: string) => void) | undefined;
  const gatewayLost = new Promise<string>((resolve) => { gatewayGone = resolve; });
  // Whatever ends this process, no agentgate child outlives it.
  const killAll = (): void => { for (const p of processes) p.kill("SIGKILL"); };
  process.on("exit", killAll);
  let ok = false;
  try {
    print(`soak: ${String(seconds)} s (warm-up ${String(warmupSeconds)} s), ${String(rate)} dry-run creates/s, a run every ${String(opts.runEverySeconds ?? 5)} s, bundle swap every ${String(opts.swapEverySeconds ?? 30)} s, leader killed every ${String(opts.killEverySeconds ?? 120)} s, certificates ${opts.certValidity ?? "30s"} / CA ${opts.caValidity ?? "90s"}; logs in ${logDir}`);
    cp = await startControlPlane({ controllerManager: true, crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
    const plane = cp;
    const kc = new PooledKubeConfig(plane.kubeConfig);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    const leases = kc.makeApiClient(k8s.CoordinationV1Api);
    const controllerKubeconfig = await plane.kubeconfigFor(CONTROLLER_USER, ["system:masters"]);
    const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");
    await plane.applyYaml(yaml(...[NS, "kagent", SYSTEM_NS].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } }))));

    bundles = await SwappingBundleService.start();
    kagent = await startFakeKagent({ defaultScript: { llmCalls: 2, promptTokens: 100, completionTokens: 20, resultText: "done" } });
    const gatewayPort = await freePort();
    // Registered before the gateway has a certificate, as the chart does: it fills in the caBundle.
    const hooks = webhookConfigurations({ name: CONFIG, target: { url: `https://127.0.0.1:${String(gatewayPort)}`, caBundle: "" }, exemptNamespaces: ["kube-system", SYSTEM_NS] });
    await plane.applyYaml(yaml(hooks.validating, hooks.mutating));

    const gateway = spawnAgentgate("gateway", [
      "serve", "--listen", `127.0.0.1:${String(gatewayPort)}`, "--kubeconfig", plane.kubeconfigPath, "--namespace", SYSTEM_NS,
      "--service-account", `system:serviceaccount:${SYSTEM_NS}:agentgate`, "--trusted-user", CONTROLLER_USER,
      "--cert-secret", `${SYSTEM_NS}/agentgate-webhook-tls`, "--cert-host", "127.0.0.1", "--webhook-config", CONFIG,
      "--cert-validity", opts.certValidity ?? "30s", "--ca-validity", opts.caValidity ?? "90s",
      "--bundle", bundles.url, "--bundle-poll-interval", "1s", "--bundle-cache-dir", "",
      "--signing-keys", SIGNING, "--log-level", "warn",
    ], logDir, (p, how) => {
      ledger.unexplained(`the gateway exited unasked (${how})`, p.tail());
      gatewayGone?.(how);
    });
    processes.push(gateway);
    await until("the gateway to be ready", async () => (await httpsCall(gatewayPort, "GET", "/readyz")).status === 200, { timeoutMs: 120_000, intervalMs: 250 });
    await until("the caBundle in the webhook configurations", async () => ((await admission.readValidatingWebhookConfiguration({ name: CONFIG })).webhooks ?? []).every((w) => (w.clientConfig.caBundle ?? "") !== ""), { timeoutMs: 60_000, intervalMs: 250 });
    await plane.applyYaml(yaml(
      { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", description: "kagent tools", allowedNamespaces: { from: "All" } } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: NS }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet", apiKeySecret: "k", apiKeySecretKey: "k" } },
      { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: SOAK_CONFIG, namespace: NS }, spec: agentConfigSpec() },
    ));

    // Two controller replicas; a replacement is started for each one killed.
    let replicas = 0;
    const controllers: AgentgateProcess[] = [];
    const startController = (): void => {
      const name = `controller#${String(++replicas)}`;
      const p = spawnAgentgate(name, [
        "controller", "--kubeconfig", controllerKubeconfig, "--kagent-url", kagent?.url ?? "", "--signing-keys", SIGNING,
        "--lease-namespace", SYSTEM_NS, "--namespace", SYSTEM_NS, "--health-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--log-level", "warn",
      ], logDir, (dead, how) => {
        ledger.unexplained(`a controller replica exited unasked (${how})`, dead.tail());
        controllers.splice(controllers.indexOf(dead), 1);
        startController();
      });
      processes.push(p);
      controllers.push(p);
    };
    startController();
    startController();
    const leader = async (): Promise<AgentgateProcess | undefined> => {
      const holder = (await leases.readNamespacedLease({ name: "agentgate-controller", namespace: SYSTEM_NS }).catch(() => undefined))?.spec?.holderIdentity;
      return controllers.find((c) => `${hostname()}_${String(c.pid)}` === holder);
    };
    await until("a controller replica to lead", leader, { timeoutMs: 120_000, intervalMs: 250 });

    // The steady part.
    const machineBefore = await sampleMachine();
    const started = Date.now();
    const warmEnd = started + warmupSeconds * 1000;
    const end = started + seconds * 1000;
    traffic = new DryRunTraffic(custom, NS, ledger, rate);
    runs = new RunDriver(custom, NS, ledger);
    traffic.start();
    runs.start((opts.runEverySeconds ?? 5) * 1000);
    const swapper = bundles;
    timers.push(setInterval(() => { swapper.swap(); }, (opts.swapEverySeconds ?? 30) * 1000));
    let kills = 0;
    timers.push(setInterval(() => {
      void leader().then((victim) => {
        if (!victim) return; // between leaders: the next round
        victim.kill("SIGKILL");
        kills++;
        controllers.splice(controllers.indexOf(victim), 1);
        startController();
      });
    }, (opts.killEverySeconds ?? 120) * 1000));
    const caBundles = new Set<string>();
    const sampleAll = async (): Promise<void> => {
      const leading = await leader();
      await rss.sample([
        ...processes.filter((p) => !p.killed).map((p) => ({ name: p.name, pid: p.pid, judged: true, role: p === gateway ? "" : p === leading ? "leader" : "standby" })),
        ...plane.pids.map((pid, i) => ({ name: ["etcd", "kube-apiserver", "kube-controller-manager"][i] ?? `plane-${String(i)}`, pid, judged: false })),
        { name: "soak (traffic, A2A stand-in)", pid: process.pid, judged: false },
      ]);
      const config = await admission.readValidatingWebhookConfiguration({ name: CONFIG }).catch(() => undefined);
      const bundle = config?.webhooks?.[0]?.clientConfig.caBundle;
      if (bundle) caBundles.add(bundle);
    };
    await sampleAll();
    timers.push(setInterval(() => { void sampleAll(); }, 5000));
    let latencies: number[] = [];
    const report = async (): Promise<void> => {
      const window = traffic?.takeLatencies() ?? [];
      latencies = latencies.concat(window);
      const counters = await gatewayCounters(gatewayPort).catch(() => undefined);
      const memory = rss.current(Date.now() - 10_000).map((r) => `${r.name} ${String(Math.round(r.mb))} MB`).join(", ");
      print(`[${clock(Date.now() - started)}] creates ${String(traffic?.sent ?? 0)} (as expected ${String(traffic?.asExpected ?? 0)}; sway: v1 ${String(traffic?.underV1 ?? 0)} / v2 ${String(traffic?.underV2 ?? 0)}), p50 ${String(percentile(window, 50))} ms, p99 ${String(percentile(window, 99))} ms; failures explained ${String(ledger.explainedCount)}, unexplained ${String(ledger.unexplainedCount)}; runs ${String(runs?.started ?? 0)} started, ${String(runs?.succeeded ?? 0)} succeeded, ${String(runs?.inFlight ?? 0)} in flight; swaps ${String(swapper.swaps)}, leader kills ${String(kills)}, certificates loaded ${String(counters?.certificateLoads ?? "?")}, caBundles seen ${String(caBundles.size)}; RSS ${memory}`);
    };
    timers.push(setInterval(() => { void report(); }, (opts.reportEverySeconds ?? 60) * 1000));
    const lost = await Promise.race([sleep(end - Date.now()).then(() => undefined), gatewayLost]);
    if (lost !== undefined) print(`the gateway is gone (${lost}): ending the soak early`);

    // The end: no more traffic, swaps or kills; runs in flight may finish.
    for (const t of timers.splice(0)) clearInterval(t);
    await sampleAll();
    const rssEnd = Date.now();
    await traffic.stop();
    latencies = latencies.concat(traffic.takeLatencies());
    await runs.drain((opts.drainSeconds ?? 180) * 1000);
    runs.stop();
    const counters = await gatewayCounters(gatewayPort).catch((): GatewayCounters => ({ errors: 0, overloaded: 0, reviews: 0, evaluationErrors: 0, activations: 0, certificateLoads: 0 }));
    if (counters.errors > 0) ledger.unexplained(`the gateway failed closed on reviews ([gateway-error], its agentgate_admission_requests_total{decision="error"})`, String(counters.errors));
    if (counters.overloaded > 0) ledger.unexplained("the gateway shed reviews ([gateway-overloaded], its agentgate_admission_overload_total)", String(counters.overloaded));
    if (counters.evaluationErrors > 0) ledger.unexplained("policy evaluations failed (agentgate_policy_evaluation_errors_total)", String(counters.evaluationErrors));
    // The swaps must have reached the gateway: both versions decided the sway config.
    if (swapper.swaps >= 2 && (traffic.underV1 === 0 || traffic.underV2 === 0)) ledger.unexplained(`bundle swaps did not reach the gateway: the sway config was decided by v1 ${String(traffic.underV1)} times, by v2 ${String(traffic.underV2)} times`);
    const figures = rss.figures(warmEnd, rssEnd, windowMs);
    if (opts.maxRssGrowth !== undefined) {
      for (const f of figures) {
        if (f.judged && f.growth !== undefined && f.growth > opts.maxRssGrowth) ledger.unexplained(`RSS of ${f.name} grew ${String(Math.round(f.growth * 100))} % after warm-up (${String(Math.round(f.start.mb))} → ${String(Math.round(f.end.mb))} MB), over ${String(Math.round(opts.maxRssGrowth * 100))} %`);
      }
    }
    const machine = describeMachine(await machineSince(machineBefore));
    ok = ledger.unexplainedCount === 0 && lost === undefined;
    return {
      seconds,
      warmupSeconds,
      creates: { sent: traffic.sent, asExpected: traffic.asExpected, underV1: traffic.underV1, underV2: traffic.underV2, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) },
      failures: ledger.list(),
      unexplained: ledger.unexplainedCount,
      runs: { started: runs.started, succeeded: runs.succeeded, failed: runs.failed, p50Ms: percentile(runs.durations, 50), maxMs: percentile(runs.durations, 100) },
      swaps: swapper.swaps,
      leaderKills: kills,
      caBundlesSeen: caBundles.size,
      gateway: counters,
      rss: figures,
      machine,
      ok,
      logDir: ok ? undefined : logDir,
    };
  } finally {
    for (const t of timers) clearInterval(t);
    runs?.stop();
    await traffic?.stop();
    await Promise.all(processes.map((p) => p.stop()));
    process.off("exit", killAll);
    await kagent?.close();
    await bundles?.close();
    await cp?.stop();
    if (ok) await rm(logDir, { recursive: true, force: true });
  }
}

/** The report as the soak prints it at the end. */
export function describeReport(r: SoakReport): string[] {
  const mb = (n: number) => (Number.isNaN(n) ? "-" : `${String(Math.round(n))} MB`);
  const lines = [
    `soak ${r.ok ? "passed" : "FAILED"}: ${String(r.seconds)} s, warm-up ${String(r.warmupSeconds)} s`,
    `dry-run creates: ${String(r.creates.sent)} sent, ${String(r.creates.asExpected)} answered as expected (the sway config: denied under v1 ${String(r.creates.underV1)}, admitted under v2 ${String(r.creates.underV2)}); latency through the API server p50 ${String(r.creates.p50Ms)} ms, p99 ${String(r.creates.p99Ms)} ms`,
    `failures: ${String(r.failures.reduce((n, c) => n + c.count, 0))}, unexplained ${String(r.unexplained)}`,
    ...r.failures.map((c) => `  ${c.explained ? "expected   " : "UNEXPLAINED"} ${String(c.count).padStart(6)}  ${c.cause} (first at ${String(c.firstAt)} s${c.example && !c.explained ? `: ${c.example.replace(/\s+/g, " ").slice(0, 240)}` : ""})`),
    `runs: ${String(r.runs.started)} started, ${String(r.runs.succeeded)} succeeded, ${String(r.runs.failed)} ended otherwise; create → Succeeded p50 ${String(r.runs.p50Ms)} ms, max ${String(r.runs.maxMs)} ms`,
    `bundle swaps ${String(r.swaps)} (versions activated by the gateway: ${String(r.gateway.activations)}); leader kills ${String(r.leaderKills)}; serving certificates loaded ${String(r.gateway.certificateLoads)}, caBundles seen ${String(r.caBundlesSeen)}`,
    `the gateway's counters: ${String(r.gateway.reviews)} reviews answered, ${String(r.gateway.errors)} [gateway-error], ${String(r.gateway.overloaded)} [gateway-overloaded], ${String(r.gateway.evaluationErrors)} evaluation errors`,
    `RSS after warm-up, by process (start and end: medians over the first and last fifth of the span after warm-up; judged: agentgate's processes alive and in one role through it):`,
    ...r.rss.map((f) => {
      const role = f.start.role === f.end.role ? (f.start.role === "" ? "" : ` ${f.start.role}`) : ` ${f.start.role || "-"} → ${f.end.role || "-"}`;
      const growth = f.growth === undefined ? "(not alive through the whole span)" : `${f.growth >= 0 ? "+" : ""}${(f.growth * 100).toFixed(1)} %${f.judged ? "" : " (not judged)"}`;
      return `  ${`${f.name}${role}`.padEnd(40)} pid ${String(f.pid).padStart(7)}  start ${mb(f.start.mb).padStart(7)}  end ${mb(f.end.mb).padStart(7)}  ${growth}`;
    }),
    ...r.rss.filter((f) => f.judged).map((f) => `  ${f.name}, median of each minute after warm-up: ${f.steps.map((m) => String(m)).join(" ")} MB`),
    `machine: ${r.machine}`,
    ...(r.logDir ? [`logs kept in ${r.logDir}`] : []),
  ];
  return lines;
}
