// npm run bench:watch-cache: what the gateway's watch caches cost at scale.
// On the local control plane (etcd + kube-apiserver), it creates referenced
// objects (ModelConfigs, RemoteMCPServers and the AgentConfigs that name
// them, as `kubectl apply` leaves them: last-applied annotation, the API
// server's managedFields) across many namespaces, measuring the create rate.
// At each size it starts a fresh gateway in cluster mode (startGateway, in a
// process of its own: bench/watch-cache-gateway.ts) and measures
//
//   - the time from start to /readyz (every cache listed and watching),
//   - heap and RSS after two full collections, and the peak RSS (VmHWM),
//     which holds the caches' first lists as they were parsed,
//   - bytes per cached object: the growth over the size with no generated
//     objects, divided by the objects added,
//   - admission latency of reviews that resolve references through the
//     caches: AgentRuns (Namespace, AgentConfig, then its ModelConfig and
//     RemoteMCPServer) and AgentConfigs (Namespace, ModelConfig,
//     RemoteMCPServer), each naming a random one of the generated objects,
//     sent one at a time over one keep-alive connection; and how many reads
//     reached the API server meanwhile (a cache miss is confirmed by one).
//
// With every figure: the CPU time the hypervisor stole, the load and what
// else ran (bench/machine.ts). Prints a table and, last, one JSON line.
//
//   npm run bench:watch-cache -- --objects 50000 [--namespaces 500] [--reviews 1000]
//   npm run bench:watch-cache -- --objects 10000,25000,50000      (the cost curve)
import { fork, type ChildProcess } from "node:child_process";
import { Agent, request as httpsRequest } from "node:https";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { describeError } from "../src/kube/errors.ts";
import { PooledKubeConfig } from "../src/kube/pooled-config.ts";
import type { AdmissionReview } from "../src/types/admission.ts";
import type { KubeObject } from "../src/types/kube.ts";
import { requestFromManifest } from "../src/wire/from-manifest.ts";
import { startControlPlane, type ControlPlane } from "../test/support/control-plane.ts";
import { tektonCrdDir } from "../test/support/tekton.ts";
import { describeMachine, machineSince, sampleMachine, type MachineReport } from "./machine.ts";
import { percentile } from "./stats.ts";
import type { ChildMessage, GatewayMemory } from "./watch-cache-gateway.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function counts(text: string): number[] {
  const out = text.split(",").map((s) => Number(s.trim()));
  if (out.some((n) => !Number.isInteger(n) || n < 3) || out.some((n, i) => i > 0 && n <= (out[i - 1] ?? 0))) throw new Error(`--objects ${JSON.stringify(text)}: expected ascending whole numbers of at least 3, e.g. 50000 or 10000,25000,50000`);
  return out;
}

function whole(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} ${JSON.stringify(text)}: expected ${String(min)} to ${String(max)}`);
  return n;
}

const ARGS = parseArgs({ options: { objects: { type: "string" }, namespaces: { type: "string" }, reviews: { type: "string" }, concurrency: { type: "string" } } });
const SIZES = counts(ARGS.values.objects ?? "50000");
const NAMESPACES = whole("--namespaces", ARGS.values.namespaces ?? "500", 1, 5000);
const REVIEWS = whole("--reviews", ARGS.values.reviews ?? "1000", 10, 100_000);
const CREATE_CONCURRENCY = whole("--concurrency", ARGS.values.concurrency ?? "24", 1, 256);

const nsName = (i: number) => `team-${String(i).padStart(3, "0")}`;
const GVR = {
  ModelConfig: { group: "kagent.dev", version: "v1alpha2", plural: "modelconfigs" },
  RemoteMCPServer: { group: "kagent.dev", version: "v1alpha2", plural: "remotemcpservers" },
  AgentConfig: { group: "agent.tekton.dev", version: "v1alpha1", plural: "agentconfigs" },
} as const;
type Kind = keyof typeof GVR;
const KINDS: readonly Kind[] = ["ModelConfig", "RemoteMCPServer", "AgentConfig"];

/** As `kubectl apply` (client side) leaves an object: the whole of it again in an annotation. */
function asApplied(object: KubeObject): KubeObject {
  return { ...object, metadata: { ...object.metadata, annotations: { "kubectl.kubernetes.io/last-applied-configuration": `${JSON.stringify(object)}\n` } } };
}

/** Triple t: ModelConfig model-t, RemoteMCPServer tools-t and AgentConfig agent-t naming both, in namespace t mod NAMESPACES. */
const namespaceOf = (t: number) => nsName(t % NAMESPACES);

function generated(i: number): KubeObject {
  const t = Math.floor(i / 3);
  const namespace = namespaceOf(t);
  const kind = KINDS[i % 3] ?? "ModelConfig";
  const id = String(t);
  if (kind === "ModelConfig") return asApplied({ apiVersion: "kagent.dev/v1alpha2", kind, metadata: { name: `model-${id}`, namespace }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022", apiKeySecret: "anthropic", apiKeySecretKey: "key", anthropic: { maxTokens: 4096 } } });
  if (kind === "RemoteMCPServer") return asApplied({ apiVersion: "kagent.dev/v1alpha2", kind, metadata: { name: `tools-${id}`, namespace }, spec: { url: `http://tools-${id}.${namespace}:8080/mcp`, protocol: "STREAMABLE_HTTP", description: "team tools" } });
  return asApplied({
    apiVersion: "agent.tekton.dev/v1alpha1",
    kind,
    metadata: { name: `agent-${id}`, namespace },
    spec: {
      modelConfigRef: { name: `model-${id}` },
      systemPrompt: "You are a QE assistant. You read the repository's Tekton pipelines and propose test cases. You never change cluster state.",
      toolServers: [{ ref: { name: `tools-${id}` }, allowedTools: ["search"] }],
      tokenBudget: 200000,
      timeout: "30m",
      rbac: { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }] },
    },
  });
}

async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

async function createRange(custom: k8s.CustomObjectsApi, from: number, to: number): Promise<void> {
  const indexes = Array.from({ length: to - from }, (_, k) => from + k);
  await pool(indexes, CREATE_CONCURRENCY, async (i) => {
    const o = generated(i);
    const gvr = GVR[o.kind as Kind];
    const namespace = o.metadata?.namespace ?? "";
    for (let attempt = 1; ; attempt++) {
      try {
        await custom.createNamespacedCustomObject({ ...gvr, namespace, body: o });
        return;
      } catch (err) {
        // 429: API Priority and Fairness under this burst, or a fresh CRD's storage: wait and retry.
        if (!(err instanceof k8s.ApiException && err.code === 429 && attempt < 20)) throw new Error(`cannot create ${o.kind ?? "?"} ${namespace}/${o.metadata?.name ?? "?"}: ${describeError(err)}`, { cause: err });
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  });
}

// ---------------------------------------------------------------------------
// The gateway child.

interface Child {
  process: ChildProcess;
  port: number;
  next(): Promise<ChildMessage>;
}

async function startChild(cp: ControlPlane): Promise<Child> {
  const queue: ChildMessage[] = [];
  let waiting: ((m: ChildMessage) => void) | undefined;
  let stderr = "";
  const child = fork(join(ROOT, "bench/watch-cache-gateway.ts"), [cp.kubeconfigPath], { execArgv: ["--expose-gc"], stdio: ["ignore", "ignore", "pipe", "ipc"] });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => { stderr = (stderr + d).slice(-4000); });
  child.on("message", (m: ChildMessage) => {
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(m);
    } else queue.push(m);
  });
  const exited = new Promise<never>((_, reject) => child.once("exit", (code, signal) => { reject(new Error(`gateway process exited (${String(code ?? signal)}):\n${stderr}`)); }));
  exited.catch(() => undefined);
  const next = () => {
    const m = queue.shift();
    if (m) return Promise.resolve(m);
    return Promise.race([new Promise<ChildMessage>((r) => { waiting = r; }), exited]);
  };
  const first = await next();
  if (first.type !== "up") throw new Error(`gateway did not start: ${first.type === "failed" ? first.error : first.type}`);
  return { process: child, port: first.port, next };
}

async function childMemory(child: Child): Promise<GatewayMemory> {
  child.process.send("memory");
  const m = await child.next();
  if (m.type !== "memory") throw new Error(`gateway memory: ${m.type === "failed" ? m.error : m.type}`);
  return m.memory;
}

async function stopChild(child: Child): Promise<void> {
  const gone = new Promise((r) => child.process.once("exit", r));
  child.process.send("stop");
  const timer = setTimeout(() => child.process.kill("SIGKILL"), 10_000);
  await gone;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------
// HTTPS to the gateway.

const agent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });

function call(port: number, method: "GET" | "POST", path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path, method, agent, headers: body ? { "content-type": "application/json" } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }); });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function waitReady(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call(port, "GET", "/readyz").catch((err: unknown) => ({ status: 0, body: String(err) }));
    if (r.status === 200) return;
    if (Date.now() > deadline) throw new Error(`gateway not ready within ${String(timeoutMs / 1000)} s: ${r.body.trim()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** apiserver_request_total GETs of the kinds the reviews refer to. */
async function referenceReads(cp: ControlPlane): Promise<number> {
  const text = (await cp.kubectl(["get", "--raw", "/metrics"])).stdout;
  let n = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{") || !line.includes('verb="GET"')) continue;
    if (!/resource="(agentconfigs|modelconfigs|remotemcpservers|namespaces)"/.test(line) || !line.includes('subresource=""')) continue;
    n += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return n;
}

interface Latency {
  kind: string;
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** reviews whose answer said a referenced object does not exist: must be none */
  unresolved: number;
}

function review(kind: "AgentRun" | "AgentConfig", t: number, k: number): AdmissionReview {
  const namespace = namespaceOf(t);
  const object: KubeObject =
    kind === "AgentRun"
      ? { apiVersion: "agent.tekton.dev/v1alpha1", kind, metadata: { name: `run-${String(k)}`, namespace }, spec: { configRef: { name: `agent-${String(t)}` }, goal: "Generate test cases for the refund flow." } }
      : { apiVersion: "agent.tekton.dev/v1alpha1", kind, metadata: { name: `review-${String(k)}`, namespace }, spec: { modelConfigRef: { name: `model-${String(t)}` }, systemPrompt: "You write tests.", toolServers: [{ ref: { name: `tools-${String(t)}` }, allowedTools: ["search"] }], rbac: { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }] } } };
  const request = requestFromManifest(asApplied(object), { operation: "CREATE", user: { username: "alice@example.com", uid: "5d1c0f6e", groups: ["qe-team", "system:authenticated"] } });
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request };
}

/** Reviews naming random generated triples (< triples), one at a time. */
async function latency(port: number, kind: "AgentRun" | "AgentConfig", triples: number, n: number): Promise<Latency> {
  const samples: number[] = [];
  let unresolved = 0;
  // A seeded walk, so that every size asks for the same spread of objects.
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  // Warm-up: the connection, the code paths, wasm.
  for (let k = 0; k < 20; k++) await call(port, "POST", "/validate", JSON.stringify(review(kind, Math.floor(random() * triples), k)));
  for (let k = 0; k < n; k++) {
    const body = JSON.stringify(review(kind, Math.floor(random() * triples), k));
    const started = performance.now();
    const r = await call(port, "POST", "/validate", body);
    samples.push(performance.now() - started);
    if (r.status !== 200) throw new Error(`/validate answered HTTP ${String(r.status)}: ${r.body.slice(0, 300)}`);
    if (r.body.includes("does not exist")) unresolved++;
  }
  samples.sort((a, b) => a - b);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return { kind, n, p50Ms: r2(percentile(samples, 50)), p99Ms: r2(percentile(samples, 99)), maxMs: r2(samples.at(-1) ?? Number.NaN), unresolved };
}

// ---------------------------------------------------------------------------

interface Step {
  objects: number;
  /** every object the caches hold: the generated ones and the Namespaces (the bench's and the four the API server makes) */
  cached: number;
  createS: number;
  createPerS: number;
  createMachine?: MachineReport;
  readyS: number;
  memory: GatewayMemory;
  reviews: Latency[];
  apiReadsDuringReviews: number;
  machine: MachineReport;
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const pad = (s: string | number, w: number) => String(s).padStart(w);

async function main(): Promise<void> {
  console.log(`starting a local control plane (etcd + kube-apiserver) with the agent and kagent CRDs`);
  const cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  const steps: Step[] = [];
  let child: Child | undefined;
  try {
    // One connection pool: client-node otherwise makes a TLS connection per request.
    const pooled = new PooledKubeConfig(cp.kubeConfig);
    const custom = pooled.makeApiClient(k8s.CustomObjectsApi);
    const core = pooled.makeApiClient(k8s.CoreV1Api);
    const namespaces = [...Array.from({ length: NAMESPACES }, (_, i) => nsName(i)), "kagent", "agentgate-system"];
    await pool(namespaces, 16, async (name) => { await core.createNamespace({ body: { metadata: { name } } }); });
    // A CRD's storage answers 429 for a moment after it is Established.
    for (const gvr of Object.values(GVR)) {
      while (!(await custom.listCustomObjectForAllNamespaces({ group: gvr.group, version: gvr.version, resourcePlural: gvr.plural, limit: 1 }).then(() => true, () => false))) await new Promise((r) => setTimeout(r, 200));
    }
    console.log(`${String(namespaces.length)} namespaces; sizes ${[0, ...SIZES].join(", ")} generated objects; ${String(REVIEWS)} reviews of each kind per size`);
    let made = 0;
    for (const size of [0, ...SIZES]) {
      let createS = 0;
      let createMachine: MachineReport | undefined;
      if (size > made) {
        const creating = await sampleMachine();
        const started = performance.now();
        await createRange(custom, made, size);
        createS = (performance.now() - started) / 1000;
        createMachine = await machineSince(creating);
        console.log(`created ${String(size - made)} objects (${String(size)} in all) in ${String(r1(createS))} s, ${String(Math.round((size - made) / createS))}/s at ${String(CREATE_CONCURRENCY)} in flight; machine: ${describeMachine(createMachine)}`);
      }
      const createPerS = createS > 0 ? Math.round((size - made) / createS) : 0;
      made = size;
      const before = await sampleMachine();
      const started = performance.now();
      child = await startChild(cp);
      await waitReady(child.port, 600_000);
      const readyS = (performance.now() - started) / 1000;
      const memory = await childMemory(child);
      const triples = Math.floor(size / 3);
      const reviews: Latency[] = [];
      let apiReadsDuringReviews = 0;
      if (triples > 0) {
        const readsBefore = await referenceReads(cp);
        for (const kind of ["AgentRun", "AgentConfig"] as const) reviews.push(await latency(child.port, kind, triples, REVIEWS));
        apiReadsDuringReviews = (await referenceReads(cp)) - readsBefore;
      }
      await stopChild(child);
      child = undefined;
      const machine = await machineSince(before);
      const step: Step = { objects: size, cached: size + namespaces.length + 4, createS: r1(createS), createPerS, ...(createMachine ? { createMachine } : {}), readyS: r1(readyS), memory, reviews, apiReadsDuringReviews, machine };
      steps.push(step);
      console.log(
        `N=${String(size)}: ready in ${String(step.readyS)} s; heap ${String(memory.heapUsedMb)} MiB, RSS ${String(memory.rssMb)} MiB, peak RSS ${String(memory.peakRssMb)} MiB; ${reviews.map((l) => `${l.kind} p50 ${String(l.p50Ms)} ms p99 ${String(l.p99Ms)} ms`).join(", ") || "no reviews (nothing to refer to)"}; reads reaching the API server during the reviews: ${String(apiReadsDuringReviews)}; machine: ${describeMachine(machine)}`,
      );
    }
  } finally {
    if (child) child.process.kill("SIGKILL");
    agent.destroy();
    await cp.stop();
  }

  const base = steps[0];
  if (!base) return;
  const perObject = (s: Step, field: "heapUsedMb" | "rssMb") => (s.objects > 0 ? Math.round(((s.memory[field] - base.memory[field]) * 2 ** 20) / s.objects) : Number.NaN);
  console.log("");
  console.log(`machine: ${String(cpus().length)} cores, shared with other work; each size a fresh gateway process listing every cache from the API server`);
  console.log(`${pad("objects", 8)} ${pad("cached", 7)} ${pad("create/s", 9)} ${pad("ready s", 8)} ${pad("heap MiB", 9)} ${pad("RSS MiB", 8)} ${pad("peak MiB", 9)} ${pad("B/obj heap", 11)} ${pad("B/obj RSS", 10)} | ${pad("AgentRun p50/p99 ms", 20)} ${pad("AgentConfig p50/p99 ms", 23)} ${pad("API reads", 10)} | steal %  load`);
  for (const s of steps) {
    const lat = (kind: string) => {
      const l = s.reviews.find((x) => x.kind === kind);
      return l ? `${String(l.p50Ms)} / ${String(l.p99Ms)}` : "-";
    };
    console.log(
      `${pad(s.objects, 8)} ${pad(s.cached, 7)} ${pad(s.createPerS || "-", 9)} ${pad(s.readyS, 8)} ${pad(s.memory.heapUsedMb, 9)} ${pad(s.memory.rssMb, 8)} ${pad(s.memory.peakRssMb, 9)} ${pad(Number.isNaN(perObject(s, "heapUsedMb")) ? "-" : perObject(s, "heapUsedMb"), 11)} ${pad(Number.isNaN(perObject(s, "rssMb")) ? "-" : perObject(s, "rssMb"), 10)} | ${pad(lat("AgentRun"), 20)} ${pad(lat("AgentConfig"), 23)} ${pad(s.reviews.length > 0 ? s.apiReadsDuringReviews : "-", 10)} | ${pad(s.machine.stealPercent, 7)}  ${s.machine.loadBefore.join(" ")} → ${s.machine.loadAfter.join(" ")}`,
    );
  }
  const unresolved = steps.flatMap((s) => s.reviews).reduce((a, l) => a + l.unresolved, 0);
  if (unresolved > 0) {
    console.log(`${String(unresolved)} reviews said a referenced object does not exist: the caches did not hold what was created`);
    process.exitCode = 1;
  }
  console.log(JSON.stringify({ bench: "watch-cache-scale", namespaces: NAMESPACES, reviews: REVIEWS, cores: cpus().length, steps: steps.map((s) => ({ ...s, bytesPerObject: { heap: perObject(s, "heapUsedMb"), rss: perObject(s, "rssMb") } })) }));
}

await main();
