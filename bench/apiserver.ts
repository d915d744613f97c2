// npm run bench:apiserver: what agentgate adds to a `kubectl apply` as the
// API server sees it. Server-side dry-run creates of AgentConfigs and
// AgentRuns go through a real kube-apiserver into three namespaces, in turn,
// one request after another of each kind:
//   gw    → agentgate's webhooks (`agentgate serve`, compiled, cluster mode:
//           watch caches on, its default bundle),
//   noop  → the same webhook configurations pointed at a do-nothing Node
//           webhook pair (bench/noop-webhook.ts: parse, allow),
//   none  → no webhook at all.
// A webhook's added latency is its namespace's percentile minus none's; the
// figure that matters is agentgate's added p50 and p99 over the do-nothing
// webhook's (target ≤ 1.2×). Interleaving the three in one run means a noisy
// neighbour slows all three alike rather than one phase. Both webhooks run
// as child processes with the same certificate, rules, timeouts and
// namespace selectors (webhookConfigurations()), so the API server does the
// same work calling either.
//
//   BENCH_SECONDS (default 60)  measured time; 5 s of warm-up first
//   BENCH_RATE (default 30)     requests a second, all namespaces together
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest, Agent, type RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { webhookConfigurations } from "../src/gateway/webhooks.ts";
import { generateServingCertificate } from "../src/tls/self-signed.ts";
import { startControlPlane, type ControlPlane } from "../test/support/control-plane.ts";
import { tektonCrdDir } from "../test/support/tekton.ts";
import { ROOT, compiledGatewayServer, freePort, listeningPort, peakRssMb, positiveEnv, procMb } from "./harness.ts";
import { sampleMachine, machineSince, describeMachine } from "./machine.ts";
import { gatewayAsDeployed } from "./soak/processes.ts";
import { percentile } from "./stats.ts";

interface Latency {
  n: number;
  p50: number;
  p99: number;
}

function latency(samples: readonly number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

const SECONDS = positiveEnv("bench:apiserver", "BENCH_SECONDS", 60);
const RATE = positiveEnv("bench:apiserver", "BENCH_RATE", 30);
const WARMUP_SECONDS = 5;
const TARGET_RATIO = 1.2;
const NAMESPACES = ["gw", "noop", "none"] as const;
const KINDS = ["agentconfigs", "agentruns"] as const;
type Namespace = (typeof NAMESPACES)[number];
type Kind = (typeof KINDS)[number];
const GW_NS = "agentgate-system";

const yaml = (...docs: unknown[]): string => docs.map((d) => stringify(d)).join("---\n");

const modelConfig = (ns: string) => ({ apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: ns }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022", apiKeySecret: "key", apiKeySecretKey: "key" } });

const agentConfig = (ns: string, name: string) => ({
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentConfig",
  metadata: { name, namespace: ns },
  spec: { modelConfigRef: { name: "claude" }, toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }], tokenBudget: 200000, approval: { required: false } },
});

const agentRun = (ns: string, name: string) => ({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name, namespace: ns }, spec: { configRef: { name: "writer" }, goal: "Write tests for the refund flow" } });

/** A server-side dry-run create, as `kubectl apply --dry-run=server` of a new object sends it; resolves to its latency in ms. */
function dryRunCreate(cp: ControlPlane, tls: RequestOptions, ns: Namespace, kind: Kind, i: number): Promise<number> {
  const name = `b-${String(i)}`;
  const body = JSON.stringify(kind === "agentconfigs" ? agentConfig(ns, name) : agentRun(ns, name));
  const url = new URL(`/apis/agent.tekton.dev/v1alpha1/namespaces/${ns}/${kind}?dryRun=All&fieldManager=kubectl-client-side-apply`, cp.server);
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...tls, method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        if (res.statusCode !== 201) reject(new Error(`bench: dry-run create of ${kind} ${ns}/${name} answered ${String(res.statusCode)}: ${Buffer.concat(chunks).toString("utf8").slice(0, 300)}`));
        else resolve(ms);
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Sends RATE requests a second for `seconds`, cycling through every namespace and kind; returns each pair's latencies. */
async function drive(cp: ControlPlane, tls: RequestOptions, seconds: number, offset: number): Promise<Map<string, number[]>> {
  const samples = new Map<string, number[]>();
  const pairs = NAMESPACES.flatMap((ns) => KINDS.map((kind) => ({ ns, kind })));
  const total = Math.round(seconds * RATE);
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const pair = pairs[i % pairs.length];
    if (pair === undefined) continue;
    const key = `${pair.ns}/${pair.kind}`;
    pending.push(
      dryRunCreate(cp, tls, pair.ns, pair.kind, offset + i).then((ms) => {
        const list = samples.get(key) ?? [];
        list.push(ms);
        samples.set(key, list);
      }),
    );
  }
  await Promise.all(pending);
  return samples;
}

/** Polls a URL over TLS (any certificate) until it answers 200. */
async function waitReady(port: number, path: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      const req = httpsRequest({ host: "127.0.0.1", port, path, rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", () => resolve(0));
      req.end();
    });
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`bench: 127.0.0.1:${String(port)}${path} never answered 200`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const fmt = (n: number): string => n.toFixed(2);

/** The gateway's own time in each webhook so far, from its duration histogram: seconds summed, and reviews. */
async function gatewayOwnTime(port: number): Promise<Map<string, { sum: number; count: number }>> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path: "/metrics", rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
    req.on("error", reject);
    req.end();
  });
  const own = new Map<string, { sum: number; count: number }>();
  for (const [, part, webhook, value] of text.matchAll(/^agentgate_admission_duration_seconds_(sum|count)\{webhook="(\w+)"\} (\S+)$/gm)) {
    if (webhook === undefined || value === undefined) continue;
    const entry = own.get(webhook) ?? { sum: 0, count: 0 };
    entry[part === "sum" ? "sum" : "count"] = Number(value);
    own.set(webhook, entry);
  }
  return own;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "agentgate-bench-apiserver-"));
  const children: ChildProcess[] = [];
  let cp: ControlPlane | undefined;
  try {
    const build = dirname(dirname(await compiledGatewayServer()));
    cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
    const tlsPair = generateServingCertificate(["127.0.0.1"]);
    await writeFile(join(dir, "tls.crt"), tlsPair.cert);
    await writeFile(join(dir, "tls.key"), tlsPair.key);

    const gwPort = await freePort();
    const serveArgs = ["serve", "--kubeconfig", cp.kubeconfigPath, "--listen", `127.0.0.1:${String(gwPort)}`, "--tls-cert-file", join(dir, "tls.crt"), "--tls-key-file", join(dir, "tls.key"), "--namespace", GW_NS, "--bundle-cache-dir", "", "--log-level", "warn"];
    // With the Node settings the chart gives the gateway's container (values.yaml gateway.nodeOptions, mallocArenaMax), so its RSS is the pod's.
    const deployed = gatewayAsDeployed();
    const gateway = spawn(process.execPath, [...deployed.flags, "--input-type=module", "-e", `const { main } = await import(${JSON.stringify(join(build, "src/cli/main.js"))}); process.exitCode = await main(${JSON.stringify(serveArgs)});`], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, ...deployed.env } });
    children.push(gateway);
    const noop = spawn(process.execPath, [join(ROOT, "bench/noop-webhook.ts"), join(dir, "tls.crt"), join(dir, "tls.key")], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(noop);
    const noopPort = await listeningPort(noop, "noop webhook");

    // The same webhooks, rules and selectors for both; each sees one namespace.
    const others = (ns: Namespace) => ["kube-system", GW_NS, "kagent", "default", ...NAMESPACES.filter((n) => n !== ns)];
    const gw = webhookConfigurations({ name: "agentgate", target: { url: `https://127.0.0.1:${String(gwPort)}`, caBundle: tlsPair.caCert }, exemptNamespaces: others("gw"), timeoutSeconds: 10 });
    const nop = webhookConfigurations({ name: "noop", target: { url: `https://127.0.0.1:${String(noopPort)}`, caBundle: tlsPair.caCert }, exemptNamespaces: others("noop"), timeoutSeconds: 10 });
    await cp.applyYaml(yaml(...NAMESPACES.map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })), { apiVersion: "v1", kind: "Namespace", metadata: { name: "kagent" } }, { apiVersion: "v1", kind: "Namespace", metadata: { name: GW_NS } }));
    await waitReady(gwPort, "/readyz");
    await cp.applyYaml(yaml(gw.validating, gw.mutating, nop.validating, nop.mutating));
    await cp.applyYaml(
      yaml(
        { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", description: "kagent tools", allowedNamespaces: { from: "All" } } },
        // The tool server's Service, as kagent's chart makes it: a reference the gateway's caches do not hold is confirmed by a read of the API server on every review.
        { apiVersion: "v1", kind: "Service", metadata: { name: "kagent-tools", namespace: "kagent" }, spec: { selector: { app: "kagent-tools" }, ports: [{ port: 8084 }] } },
        ...NAMESPACES.map(modelConfig),
      ),
    );
    // Webhooks registered a moment ago are called only once the API server has seen them; the referenced objects must be in the gateway's caches too.
    await new Promise((r) => setTimeout(r, 3000));
    await cp.applyYaml(yaml(...NAMESPACES.map((ns) => agentConfig(ns, "writer"))));

    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const tls: RequestOptions = { agent };
    await cp.kubeConfig.applyToHTTPSOptions(tls);
    tls.agent = agent;

    // Ready, caches filled, nothing reviewed yet: what start-up alone leaves resident, and its peak.
    const atStart = { rss: await procMb(gateway.pid, "VmRSS"), peak: await procMb(gateway.pid, "VmHWM") };
    console.log(`warming up ${String(WARMUP_SECONDS)} s, then ${String(SECONDS)} s at ${String(RATE)}/s across ${NAMESPACES.join(", ")} × ${KINDS.join(", ")}`);
    await drive(cp, tls, WARMUP_SECONDS, 0);
    const before = await sampleMachine();
    const ownBefore = await gatewayOwnTime(gwPort);
    const samples = await drive(cp, tls, SECONDS, 1_000_000);
    const machine = await machineSince(before);
    const ownAfter = await gatewayOwnTime(gwPort);

    const stats = (ns: Namespace, kind: Kind): Latency => latency(samples.get(`${ns}/${kind}`) ?? []);
    const out: Record<string, unknown> = { seconds: SECONDS, rate: RATE, machine: describeMachine(machine) };
    let worst = 0;
    for (const kind of KINDS) {
      const [g, n, z] = [stats("gw", kind), stats("noop", kind), stats("none", kind)];
      const added = (s: Latency, p: "p50" | "p99") => s[p] - z[p];
      // Below 0.1 ms the do-nothing webhook's cost is lost in the API server's own spread, and a ratio to it means nothing.
      const ratio = (p: "p50" | "p99") => (added(n, p) >= 0.1 ? added(g, p) / added(n, p) : Number.NaN);
      const shown = (p: "p50" | "p99") => (Number.isNaN(ratio(p)) ? "no ratio: the do-nothing webhook's cost is within noise" : `${fmt(ratio(p))}×`);
      console.log(`${kind}: n=${String(g.n)} per namespace; p50 none ${fmt(z.p50)} ms, noop +${fmt(added(n, "p50"))}, agentgate +${fmt(added(g, "p50"))} (${shown("p50")}); p99 none ${fmt(z.p99)} ms, noop +${fmt(added(n, "p99"))}, agentgate +${fmt(added(g, "p99"))} (${shown("p99")})`);
      out[kind] = { none: z, noop: n, agentgate: g, added_p50_ratio: Number.isNaN(ratio("p50")) ? null : Number(fmt(ratio("p50"))), added_p99_ratio: Number.isNaN(ratio("p99")) ? null : Number(fmt(ratio("p99"))) };
      // A ratio that cannot be taken cannot show the target met.
      worst = Math.max(worst, ...[ratio("p50"), ratio("p99")].map((r) => (Number.isNaN(r) ? Number.POSITIVE_INFINITY : r)));
    }
    // What of agentgate's added latency is its own work, and what is the call around it (TLS, the API server applying a patch).
    const own = Object.fromEntries(
      ["mutate", "validate"].map((webhook) => {
        const a = ownAfter.get(webhook) ?? { sum: 0, count: 0 };
        const b = ownBefore.get(webhook) ?? { sum: 0, count: 0 };
        const n = a.count - b.count;
        return [webhook, n > 0 ? Number((((a.sum - b.sum) / n) * 1000).toFixed(3)) : null];
      }),
    );
    out.gateway_own_mean_ms = own;
    console.log(`agentgate's own time per review, both kinds (mean, from its duration histogram): mutate ${String(own.mutate)} ms, validate ${String(own.validate)} ms`);
    const rss = await peakRssMb(gateway);
    out.gateway_peak_rss_mb = Math.round(rss);
    out.gateway_start_rss_mb = { resident: Math.round(atStart.rss), peak: Math.round(atStart.peak) };
    out.target = `added p50 and p99 ≤ ${String(TARGET_RATIO)}× the do-nothing webhook's`;
    out.met = worst <= TARGET_RATIO;
    console.log(`machine: ${describeMachine(machine)}`);
    console.log(`gateway peak RSS ${String(Math.round(rss))} MB (cluster mode); ready before any review: ${String(Math.round(atStart.rss))} MB resident, ${String(Math.round(atStart.peak))} MB peak`);
    console.log(`target ≤ ${String(TARGET_RATIO)}×: ${worst <= TARGET_RATIO ? "met" : "not met"} (worst ${fmt(worst)}×)`);
    console.log(JSON.stringify(out));
    agent.destroy();
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
