// npm run bench:audit: `agentgate audit --once` against a local control
// plane holding N objects across 50 namespaces (AgentConfigs, AgentRuns,
// kagent Agents, ModelConfigs, RemoteMCPServers; some violating the default
// bundle), for growing N, then a second scan with nothing changed. Each scan
// is the real CLI in a child process: its peak RSS, its own count of API
// calls, and the API server's count of the requests it served (which also
// sees the watch caches' lists and watches and the reads that confirm a
// cache miss). Prints, for every size: scan time, peak RSS and API calls by
// verb; then each size's growth over the smallest, a closing-note line, and
// last one JSON line. (The kube-apiserver's own Lease renewals would blur
// the counts, so Leases are not counted: audit's are 3 or 4 per scan.)
//
//   --objects 500,1000,2000,5000   object counts, ascending (or AUDIT_SCALE_N, or bare arguments)
//   --namespaces 50                (or AUDIT_SCALE_NAMESPACES)
//   AUDIT_SCALE_HOLD=1   keep the control plane (and print its kubeconfig) after the runs
//
// Each scan's peak RSS is set against the chart's audit memory limit
// (charts/agentgate/values.yaml audit.resources.limits.memory): a scan over
// it is OOM-killed in the cluster, so the bench exits 1. In a container Node
// sizes its heap from the container's memory, not the machine's (about half:
// heap_size_limit ~259 MiB under 512 MB), and collects harder as it nears
// that; here the machine has far more, so the scan runs with
// --max-old-space-size set as in the pod (--heap-limit-mib, default half the
// chart's limit; 0 leaves Node's own), else its RSS would say little of the pod's. With it: the CPU
// time the hypervisor stole and the load while each scan ran (bench/machine.ts).
//
//   npm run bench:audit -- --objects 50000 --namespaces 500
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { parse as parseYaml } from "yaml";
import { describeError } from "../src/kube/errors.ts";
import { PooledKubeConfig } from "../src/kube/pooled-config.ts";
import type { KubeObject } from "../src/types/kube.ts";
import { startControlPlane, type ControlPlane } from "../test/support/control-plane.ts";
import { trafficObjects } from "./fixtures.ts";
import { describeMachine, machineSince, sampleMachine, type MachineReport } from "./machine.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const GW_NS = "agentgate-system";
const CREATE_CONCURRENCY = 16;

function parseCounts(text: string): number[] {
  const counts = text.split(",").map((s) => Number(s.trim()));
  if (counts.some((n) => !Number.isInteger(n) || n < 1) || counts.some((n, i) => i > 0 && n <= (counts[i - 1] ?? 0))) {
    throw new Error(`object counts ${JSON.stringify(text)}: expected ascending whole numbers, e.g. 500,1000,2000,5000`);
  }
  return counts;
}

const ARGS = parseArgs({ options: { objects: { type: "string" }, namespaces: { type: "string" }, "heap-limit-mib": { type: "string" } }, allowPositionals: true });
const COUNTS = parseCounts(ARGS.values.objects ?? (ARGS.positionals.join(",") || (process.env.AUDIT_SCALE_N ?? "500,1000,2000,5000")));
const NAMESPACES_TEXT = ARGS.values.namespaces ?? process.env.AUDIT_SCALE_NAMESPACES ?? "50";
const NAMESPACES = Number(NAMESPACES_TEXT);
if (!Number.isInteger(NAMESPACES) || NAMESPACES < 1 || NAMESPACES > 1000) throw new Error(`--namespaces ${JSON.stringify(NAMESPACES_TEXT)}: expected 1 to 1000`);

/** The chart's audit memory limit in MiB: what the scan's peak RSS must stay under. */
async function chartMemoryLimitMib(): Promise<number> {
  const values = parseYaml(await readFile(join(ROOT, "charts/agentgate/values.yaml"), "utf8")) as { audit?: { resources?: { limits?: { memory?: string } } } };
  const text = values.audit?.resources?.limits?.memory ?? "";
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|M|G)$/.exec(text);
  if (!m) throw new Error(`charts/agentgate/values.yaml audit.resources.limits.memory ${JSON.stringify(text)}: expected e.g. 512Mi`);
  const scale: Record<string, number> = { Ki: 1 / 1024, Mi: 1, Gi: 1024, M: 1e6 / 2 ** 20, G: 1e9 / 2 ** 20 };
  return Number(m[1]) * (scale[m[2] ?? "Mi"] ?? 1);
}

const nsName = (i: number) => `team-${String(i).padStart(2, "0")}`;

interface Gvr {
  group: string;
  version: string;
  plural: string;
}

const GVR: Record<string, Gvr> = {
  AgentConfig: { group: "agent.tekton.dev", version: "v1alpha1", plural: "agentconfigs" },
  AgentRun: { group: "agent.tekton.dev", version: "v1alpha1", plural: "agentruns" },
  Agent: { group: "kagent.dev", version: "v1alpha2", plural: "agents" },
  ModelConfig: { group: "kagent.dev", version: "v1alpha2", plural: "modelconfigs" },
  RemoteMCPServer: { group: "kagent.dev", version: "v1alpha2", plural: "remotemcpservers" },
};

/** What every namespace holds before the generated objects: what they refer to. */
function contextFor(namespace: string): KubeObject[] {
  const writer = trafficObjects.find((t) => t.object.metadata?.name === "test-writer")?.object;
  if (!writer) throw new Error("bench/fixtures.ts: the test-writer AgentConfig is missing");
  return [
    { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022", apiKeySecret: "anthropic", apiKeySecretKey: "key", anthropic: { maxTokens: 4096 } } },
    { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "default-model-config", namespace }, spec: { provider: "OpenAI", model: "gpt-4o-mini", apiKeySecret: "openai", apiKeySecretKey: "key", openAI: { maxTokens: 2048 } } },
    { ...writer, metadata: { name: "test-writer", namespace } },
  ];
}

/**
 * The shapes generated objects cycle through: the benchmark's admission mix
 * (half of it denied by the default bundle), two tool servers, and a run
 * whose AgentConfig was deleted (each a cache miss audit confirms with a GET).
 */
const TEMPLATES: KubeObject[] = [
  ...trafficObjects.map((t) => t.object),
  { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "orphan" }, spec: { configRef: { name: "retired" }, goal: "Summarise last week's incidents.", tokenBudget: 1000 } },
  { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "search" }, spec: { url: "http://search.tools:8080/mcp", protocol: "STREAMABLE_HTTP", description: "web search" } },
  { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "tickets" }, spec: { url: "http://tickets.tools:8080/mcp", protocol: "SSE", description: "ticket system" } },
];

/** Generated object i: namespaces round-robin, shapes in turn. */
function generated(i: number): KubeObject {
  const template = TEMPLATES[Math.floor(i / NAMESPACES) % TEMPLATES.length] ?? TEMPLATES[0];
  if (!template) throw new Error("no templates");
  const object: KubeObject = { ...structuredClone(template), metadata: { name: `${template.metadata?.name ?? "obj"}-${String(i)}`, namespace: nsName(i % NAMESPACES) } };
  // every orphan names its own missing AgentConfig: no two share a lookup
  if (template.metadata?.name === "orphan") object.spec = { ...(object.spec as Record<string, unknown>), configRef: { name: `retired-${String(i)}` } };
  return object;
}

async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

async function createAll(custom: k8s.CustomObjectsApi, objects: KubeObject[]): Promise<void> {
  await pool(objects, CREATE_CONCURRENCY, async (o) => {
    const gvr = GVR[o.kind ?? ""];
    const namespace = o.metadata?.namespace;
    if (!gvr || !namespace) throw new Error(`cannot create ${o.kind ?? "?"} ${o.metadata?.name ?? "?"}: no resource or namespace`);
    for (let attempt = 1; ; attempt++) {
      try {
        await custom.createNamespacedCustomObject({ ...gvr, namespace, body: o });
        return;
      } catch (err) {
        // 429: API Priority and Fairness throttling under this burst; wait and retry.
        if (!(err instanceof k8s.ApiException && err.code === 429 && attempt < 10)) throw new Error(`cannot create ${o.kind ?? "?"} ${namespace}/${o.metadata?.name ?? "?"}: ${describeError(err)}`, { cause: err });
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  });
}

/** apiserver_request_total summed by verb for the resources audit touches. */
async function serverRequests(cp: ControlPlane): Promise<Map<string, number>> {
  const text = (await cp.kubectl(["get", "--raw", "/metrics"])).stdout;
  const watched = new Set(["agentconfigs", "agentruns", "agents", "modelconfigs", "remotemcpservers", "mcpservers", "policyreports", "clusterpolicyreports", "reports", "clusterreports", "events", "namespaces", "services"]);
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const labels = new Map([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? "", m[2] ?? ""]));
    const resource = labels.get("resource") ?? "";
    if (!watched.has(resource) || (labels.get("subresource") ?? "") !== "") continue;
    const verb = (labels.get("verb") ?? "?").toLowerCase();
    const key = `${verb} ${resource}`;
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return out;
}

function diff(after: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

interface ScanLog {
  objects: number;
  namespaces: number;
  pass: number;
  fail: number;
  warn: number;
  durationMs: number;
  events: number;
  reports: Record<string, string>;
  apiCalls: Record<string, number>;
}

interface ScanRun {
  n: number;
  label: string;
  wallS: number;
  scanS: number;
  peakRssMb: number;
  scan: ScanLog;
  /** requests the API server served for the resources audit touches, "verb resource" → count */
  server: Record<string, number>;
  /** the same by verb */
  serverByVerb: Record<string, number>;
  /** steal, load and other processes' CPU while the scan ran */
  machine: MachineReport;
  /** process.memoryUsage() at the highest RSS sampled, MiB */
  atPeak: Record<"rss" | "heapUsed" | "heapTotal" | "external" | "arrayBuffers", number>;
}

/** Runs `agentgate audit --once` as a child; peak RSS from the kernel's high-water mark at exit. */
/** --max-old-space-size of the scan, MiB (0: Node's own default for this machine) */
let heapLimitMib = 0;

async function runAudit(cp: ControlPlane, dir: string, n: number, label: string): Promise<ScanRun> {
  const rssFile = join(dir, `rss-${label}.txt`);
  // Written from the child's exit hook: VmHWM is gone once the process has exited, and the last read by polling could miss the end.
  const partsFile = join(dir, `memory-${label}.json`);
  // Also what the memory was made of when RSS was highest (sampled every 100 ms): V8's heap, or memory
  // outside it (the policy's wasm memory, buffers, TLS), which says where to look when the peak is too high.
  const hook = `import { writeFileSync } from "node:fs"; let top = { rss: 0 }; setInterval(() => { const m = process.memoryUsage(); if (m.rss > top.rss) top = m; }, 100).unref(); process.on("exit", () => { writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)); writeFileSync(${JSON.stringify(partsFile)}, JSON.stringify(top)); });`;
  const before = await serverRequests(cp);
  const machineBefore = await sampleMachine();
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [...(heapLimitMib > 0 ? [`--max-old-space-size=${String(heapLimitMib)}`] : []), "--import", `data:text/javascript,${encodeURIComponent(hook)}`, join(ROOT, "bin/agentgate.js"), "audit", "--once", "--kubeconfig", cp.kubeconfigPath, "--agentgate-namespace", GW_NS],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, AGENTGATE_LOG_LEVEL: "info" } },
  );
  let polledKb = 0;
  const poll = setInterval(() => {
    readFile(`/proc/${child.pid ?? 0}/status`, "utf8").then((s) => {
      polledKb = Math.max(polledKb, Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0));
    }, () => undefined);
  }, 100);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearInterval(poll);
  const wallS = (performance.now() - started) / 1000;
  const machine = await machineSince(machineBefore);
  if (code !== 0) throw new Error(`agentgate audit --once (${label}) exited ${String(code)}:\n${stderr.slice(-3000)}`);
  const after = await serverRequests(cp);
  const line = stderr.split("\n").find((l) => l.includes('"audit scan finished"'));
  if (!line) throw new Error(`agentgate audit --once (${label}): no "audit scan finished" log line:\n${stderr.slice(-3000)}`);
  const scan = JSON.parse(line) as ScanLog;
  const kb = Math.max(polledKb, Number(await readFile(rssFile, "utf8").catch(() => "0")));
  const parts = JSON.parse(await readFile(partsFile, "utf8").catch(() => "{}")) as Partial<Record<"rss" | "heapTotal" | "heapUsed" | "external" | "arrayBuffers", number>>;
  const mib = (b: number | undefined) => Math.round((b ?? 0) / 2 ** 20);
  const atPeak = { rss: mib(parts.rss), heapUsed: mib(parts.heapUsed), heapTotal: mib(parts.heapTotal), external: mib(parts.external), arrayBuffers: mib(parts.arrayBuffers) };
  const server = diff(after, before);
  const serverByVerb: Record<string, number> = {};
  for (const [k, v] of Object.entries(server)) {
    const verb = k.split(" ")[0] ?? k;
    serverByVerb[verb] = (serverByVerb[verb] ?? 0) + v;
  }
  const summary = stdout.trimEnd().split("\n").at(-1) ?? "";
  console.log(`  ${label}: ${summary}`);
  console.log(`  ${label}: reports ${JSON.stringify(scan.reports)}, events ${scan.events}`);
  console.log(`  ${label}: peak RSS ${String(Math.round(kb / 1024))} MiB (at the highest sample, RSS ${String(atPeak.rss)}: V8 heap ${String(atPeak.heapUsed)} used of ${String(atPeak.heapTotal)}, outside it ${String(atPeak.external)} of which array buffers and wasm ${String(atPeak.arrayBuffers)}); machine: ${describeMachine(machine)}`);
  return { n, label, wallS, scanS: scan.durationMs / 1000, peakRssMb: kb / 1024, atPeak, scan, server, serverByVerb, machine };
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const pad = (s: string | number, w: number) => String(s).padStart(w);

async function main(): Promise<void> {
  const limitMib = await chartMemoryLimitMib();
  const heapFlag = ARGS.values["heap-limit-mib"];
  heapLimitMib = heapFlag === undefined ? Math.round(limitMib / 2) : Number(heapFlag);
  if (!Number.isInteger(heapLimitMib) || heapLimitMib < 0) throw new Error(`--heap-limit-mib ${JSON.stringify(heapFlag)}: expected a whole number of MiB, 0 for Node's default`);
  console.log(`chart's audit memory limit ${String(Math.round(limitMib))} MiB; each scan runs with ${heapLimitMib > 0 ? `--max-old-space-size=${String(heapLimitMib)}, as Node sizes its heap in a container of that limit` : "Node's default heap size for this machine"}`);
  const dir = await mkdtemp(join(tmpdir(), "agentgate-audit-scale-"));
  console.log(`starting a local control plane (etcd + kube-apiserver) with the agent, kagent and report CRDs`);
  const cp = await startControlPlane({
    crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds"), join(ROOT, "charts/agentgate/files/report-crds")],
  });
  const runs: ScanRun[] = [];
  try {
    const core = cp.kubeConfig.makeApiClient(k8s.CoreV1Api);
    // One connection pool: client-node otherwise makes a TLS connection per request, and creates ran at ~90/s.
    const pooled = new PooledKubeConfig(cp.kubeConfig);
    const custom = pooled.makeApiClient(k8s.CustomObjectsApi);
    const namespaces = [...Array.from({ length: NAMESPACES }, (_, i) => nsName(i)), "kagent", GW_NS];
    await pool(namespaces, 8, async (name) => {
      await core.createNamespace({ body: { metadata: { name } } });
    });
    // The allowed tool server, and something in agentgate's own namespace that audit must skip.
    const base: KubeObject[] = [
      { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", protocol: "STREAMABLE_HTTP", description: "kagent's built-in Kubernetes tools" } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "exempt", namespace: GW_NS }, spec: { provider: "OpenAI", model: "gpt-3.5-turbo", apiKeySecret: "openai", apiKeySecretKey: "key" } },
      ...Array.from({ length: NAMESPACES }, (_, i) => contextFor(nsName(i))).flat(),
    ];
    const audited = base.length - 1;
    if ((COUNTS[0] ?? 0) < audited) throw new Error(`the smallest count must be at least ${audited} (the context objects of ${NAMESPACES} namespaces)`);
    await createAll(custom, base);
    let made = 0;
    for (const n of COUNTS) {
      const want = n - audited;
      const started = performance.now();
      const creating = await sampleMachine();
      await createAll(custom, Array.from({ length: want - made }, (_, k) => generated(made + k)));
      const createS = (performance.now() - started) / 1000;
      console.log(`N=${n}: created ${want - made} objects in ${r1(createS)} s, ${String(Math.round((want - made) / createS))}/s (${n} audited objects in ${NAMESPACES} namespaces); machine: ${describeMachine(await machineSince(creating))}`);
      made = want;
      runs.push(await runAudit(cp, dir, n, `scan N=${n}`));
    }
    const last = COUNTS.at(-1) ?? 0;
    console.log(`N=${last}: nothing changed, scanning again`);
    const again = await runAudit(cp, dir, last, `rescan N=${last}`);
    runs.push(again);

    // One row per size (and the unchanged rescan): scan time, peak RSS, and API calls by verb, both as
    // audit counts its own calls and as the API server counted the requests it served.
    const auditVerbs = ["list", "discovery", "create", "update", "delete", "event"] as const;
    const serverVerbs = [...new Set(["get", "list", "watch", "post", "put", "delete", ...runs.flatMap((r) => Object.keys(r.serverByVerb))])];
    const serverTotal = (r: ScanRun) => Object.values(r.serverByVerb).reduce((a, b) => a + b, 0);
    console.log("");
    console.log(`machine: ${String(cpus().length)} cores, shared with other work; one scan at a time, each a fresh process (informer sync included in wall time)`);
    console.log(`API server columns: requests it served (by its verbs: post = create, put = update) for the audited and report resources, Events, Namespaces and Services (informers' lists and watches, cache-miss GETs included)`);
    console.log(`${pad("N", 6)} ${pad("scan s", 7)} ${pad("wall s", 7)} ${pad("peak MB", 8)} | audit's calls ${auditVerbs.map((v) => pad(v, 9)).join(" ")} ${pad("total", 6)} | API server ${serverVerbs.map((v) => pad(v, 6)).join(" ")} ${pad("total", 6)}`);
    for (const r of runs) {
      console.log(
        `${pad(r.n, 6)} ${pad(r1(r.scanS), 7)} ${pad(r1(r.wallS), 7)} ${pad(Math.round(r.peakRssMb), 8)} | ${pad("", 13)} ${auditVerbs.map((v) => pad(r.scan.apiCalls[v] ?? 0, 9)).join(" ")} ${pad(r.scan.apiCalls.total ?? 0, 6)} | ${pad("", 10)} ${serverVerbs.map((v) => pad(r.serverByVerb[v] ?? 0, 6)).join(" ")} ${pad(serverTotal(r), 6)}${r.label.startsWith("rescan") ? "   (unchanged rescan)" : ""}`,
      );
    }
    // Growth of every size over the smallest: how time, memory and API load scale with the object count.
    const scans = runs.filter((r) => !r.label.startsWith("rescan"));
    const first = scans[0];
    const growthOf = (r: ScanRun) =>
      first
        ? { n: r.n, objects: r1(r.n / first.n), scanSeconds: r1(r.scanS / first.scanS), peakRss: r1(r.peakRssMb / first.peakRssMb), auditCalls: r1((r.scan.apiCalls.total ?? 0) / Math.max(1, first.scan.apiCalls.total ?? 0)), serverRequests: r1(serverTotal(r) / Math.max(1, serverTotal(first))) }
        : undefined;
    const growth = scans.slice(1).map(growthOf).filter((g) => g !== undefined);
    if (first && growth.length > 0) {
      console.log("");
      console.log(`growth over N=${String(first.n)}: ${pad("objects", 8)} ${pad("scan time", 10)} ${pad("peak RSS", 9)} ${pad("audit's calls", 14)} ${pad("API server", 11)}`);
      for (const g of growth) console.log(`${pad(`N=${String(g.n)}`, 19)}: ${pad(`×${String(g.objects)}`, 8)} ${pad(`×${String(g.scanSeconds)}`, 10)} ${pad(`×${String(g.peakRss)}`, 9)} ${pad(`×${String(g.auditCalls)}`, 14)} ${pad(`×${String(g.serverRequests)}`, 11)}`);
    }
    // For the closing note: each size in one sentence.
    console.log("");
    console.log(
      `closing note: ${scans.map((r) => `N=${String(r.n)}: scan ${String(r1(r.scanS))} s, peak RSS ${String(Math.round(r.peakRssMb))} MB, API server ${Object.entries(r.serverByVerb).map(([v, c]) => `${String(c)} ${v}`).join(" / ")}`).join("; ")}`,
    );
    const over = runs.filter((r) => r.peakRssMb > limitMib);
    console.log(`chart's audit memory limit ${String(Math.round(limitMib))} MiB: ${over.length === 0 ? `every scan stayed under it (highest peak ${String(Math.round(Math.max(...runs.map((r) => r.peakRssMb))))} MiB)` : `OVER in ${over.map((r) => `${r.label} (${String(Math.round(r.peakRssMb))} MiB)`).join(", ")}`}`);
    if (over.length > 0) process.exitCode = 1;
    const unchangedWrites = (again.scan.apiCalls.create ?? 0) + (again.scan.apiCalls.update ?? 0) + (again.scan.apiCalls.delete ?? 0) + (again.scan.apiCalls.event ?? 0);
    console.log(`unchanged rescan wrote ${String(unchangedWrites)} objects (reports + events)`);
    console.log(
      JSON.stringify({
        namespaces: NAMESPACES,
        cores: cpus().length,
        runs: runs.map((r) => ({
          n: r.n,
          rescan: r.label.startsWith("rescan"),
          objects: r.scan.objects,
          scan_s: r1(r.scanS),
          wall_s: r1(r.wallS),
          peak_rss_mb: Math.round(r.peakRssMb),
          fail: r.scan.fail,
          warn: r.scan.warn,
          pass: r.scan.pass,
          events: r.scan.events,
          audit_calls: r.scan.apiCalls,
          server_requests: r.server,
          server_requests_by_verb: r.serverByVerb,
          machine: r.machine,
          memory_at_peak_mib: r.atPeak,
        })),
        memory_limit_mib: Math.round(limitMib),
        heap_limit_mib: heapLimitMib,
        growth,
        unchanged_rescan_writes: unchangedWrites,
      }),
    );
    if (process.env.AUDIT_SCALE_HOLD) {
      // For investigation: keep the plane with its objects until interrupted.
      console.log(`holding the control plane: KUBECONFIG=${cp.kubeconfigPath} (Ctrl-C to stop)`);
      await new Promise<never>(() => setInterval(() => undefined, 60_000));
    }
  } finally {
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
