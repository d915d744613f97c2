// npm run bench: the gateway against OPA's own admission server, same Rego,
// same AdmissionReviews, same load generator, in one run. Prints figures and,
// last, one JSON line (the format).
import { staticKeyring } from "../src/signing/keyring.ts";
import { generateSigningKey } from "../src/signing/keys.ts";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon, { type Result } from "autocannon";
import { applyPatch } from "rfc6902";
import { StaticLookup } from "../src/context/static-lookup.ts";
import { resolveContext } from "../src/context/resolve.ts";
import { admit, type GatewayDeps } from "../src/gateway/admit.ts";
import { makeIdentity } from "../src/guardrails/identity.ts";
import { loadEngine } from "../src/policy/load.ts";
import { findOpa } from "../src/cli/opa.ts";
import { generateServingCertificate } from "../src/tls/self-signed.ts";
import { pacedLoad, type PacedResult } from "./paced.ts";
import type { AdmissionReview } from "../src/types/admission.ts";
import { admissionReviews, agentConfig, contextObjects } from "./fixtures.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 16;
const FIXED_RATE = 1000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
    srv.on("error", reject);
  });
}

function post(port: number, path: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path, method: "POST", rejectUnauthorized: false, headers: { "content-type": "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function waitFor(port: number, path: string, probe: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await post(port, path, probe);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The machine's CPU time so far (all CPUs, in clock ticks) and the part the hypervisor gave to others (steal). */
async function cpuTimes(): Promise<{ total: number; steal: number }> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  return { total: ticks.reduce((a, b) => a + b, 0), steal: ticks[7] ?? 0 };
}

/** Runs `phase` and says what share of the machine's CPU time was stolen meanwhile: stalls no process on this machine caused. */
async function withSteal<T>(phase: () => Promise<T>): Promise<{ result: T; stolen: number }> {
  const before = await cpuTimes();
  const result = await phase();
  const after = await cpuTimes();
  const total = after.total - before.total;
  return { result, stolen: total > 0 ? Math.round(((after.steal - before.steal) / total) * 1000) / 10 : 0 };
}

/** A child that prints {"port":N} on its first line of output when it listens. */
function listeningPort(child: ChildProcess & { stdout: NodeJS.ReadableStream }, name: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port));
    child.once("exit", (code) => reject(new Error(`${name} exited with ${String(code)}`)));
  });
}

function peakRssMb(child: ChildProcess): Promise<number> {
  return readFile(`/proc/${child.pid ?? 0}/status`, "utf8").then((s) => Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024);
}

async function load(port: number, path: string, bodies: string[]): Promise<Result> {
  return autocannon({
    url: `https://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: DURATION,
    requests: bodies.map((body) => ({ method: "POST", path, body, headers: { "content-type": "application/json" } })),
  });
}

function summary(r: Result): { rps: number; p50_ms: number; p99_ms: number } {
  return { rps: Math.round(r.requests.average), p50_ms: r.latency.p50, p99_ms: r.latency.p99 };
}

function check(name: string, r: Result): void {
  if (r.errors > 0 || r.timeouts > 0 || r.non2xx > 0) throw new Error(`${name}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx responses`);
}

/**
 * The gateway as it is deployed: compiled JavaScript (the image runs dist/),
 * not the sources through Node's type stripping, whose compiler alone costs
 * ~25 MB of RSS. Emitted under .bench-build/ so node_modules and the
 * default bundle's relative path resolve as in the repository.
 */
async function compiledGatewayServer(): Promise<string> {
  const out = join(ROOT, ".bench-build");
  await rm(out, { recursive: true, force: true });
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.json"), "--noEmit", "false", "--outDir", out, "--rootDir", ROOT, "--declaration", "false", "--sourceMap", "false"], { stdio: "inherit" });
  if (tsc.status !== 0) throw new Error("bench: tsc could not compile the gateway");
  await symlink(join(ROOT, "policies"), join(out, "policies"));
  return join(out, "bench/gateway-server.js");
}

function checkPaced(name: string, r: PacedResult): void {
  if (r.failed > 0 || r.ok !== r.sent) throw new Error(`${name}: ${r.failed} of ${r.sent} requests failed`);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "agentgate-bench-"));
  const children: ChildProcess[] = [];
  try {
    // What the API server sends /validate: AgentRuns already mutated (stamped).
    const engine = await loadEngine([]);
    const lookup = new StaticLookup([...contextObjects, agentConfig]);
    // The key the runs are stamped with here is the gateway's too: it verifies what "its" mutating webhook signed.
    const signing = generateSigningKey();
    await writeFile(join(dir, "signing.pem"), signing.privateKey.export({ type: "pkcs8", format: "pem" }));
    const deps: GatewayDeps = { engine: () => engine, lookup, identity: makeIdentity([]), exemptNamespaces: new Set(), keyring: staticKeyring(signing) };
    const reviews: AdmissionReview[] = [];
    const contexts: Record<string, unknown> = {};
    for (const { review } of admissionReviews()) {
      const request = review.request;
      if (!request) continue;
      const mutation = await admit(request, deps, "mutate");
      if (request.object && mutation.patch.length > 0) applyPatch(request.object, mutation.patch);
      contexts[request.uid] = await resolveContext(request, lookup);
      reviews.push(review);
    }
    const bodies = reviews.map((r) => JSON.stringify(r));
    const sizes = bodies.map((b) => b.length);
    console.log(`inputs: ${bodies.length} AdmissionReviews, ${Math.min(...sizes)}–${Math.max(...sizes)} bytes`);

    const tls = generateServingCertificate(["127.0.0.1"]);
    await writeFile(join(dir, "tls.crt"), tls.cert);
    await writeFile(join(dir, "tls.key"), tls.key);
    await writeFile(join(dir, "contexts.json"), JSON.stringify({ bench: { contexts } }));

    const gateway = spawn(process.execPath, [await compiledGatewayServer(), join(dir, "tls.crt"), join(dir, "tls.key"), join(dir, "signing.pem")], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(gateway);
    const gatewayPort = await listeningPort(gateway, "gateway");

    const opaPort = await freePort();
    const opa = spawn(
      findOpa(),
      ["run", "--server", "--addr", `127.0.0.1:${opaPort}`, "--tls-cert-file", join(dir, "tls.crt"), "--tls-private-key-file", join(dir, "tls.key"), "--log-level", "error", "--ignore", "*_test.rego", "--ignore", "*.tar.gz", join(ROOT, "policies"), join(ROOT, "bench/opa-admission.rego"), join(dir, "contexts.json")],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    children.push(opa);
    await waitFor(opaPort, "/", bodies[0] ?? "{}");

    // Both must give the same answers, or the comparison means nothing.
    for (const body of bodies) {
      const g = (JSON.parse(await post(gatewayPort, "/validate", body)) as AdmissionReview).response;
      const o = (JSON.parse(await post(opaPort, "/", body)) as AdmissionReview).response;
      if (g?.allowed !== o?.allowed || (g?.status?.message ?? "") !== (o?.status?.message ?? "")) {
        throw new Error(`gateway and OPA disagree on ${g?.uid ?? "?"}:\n gateway: ${JSON.stringify(g)}\n opa:     ${JSON.stringify(o)}`);
      }
    }
    const compared = reviews.filter((_, i) => bodies[i] !== undefined).length;
    console.log(`answers agree on all ${compared} inputs`);

    // Warm both up, then measure one after the other on the same machine.
    await load(gatewayPort, "/validate", bodies).then((r) => check("gateway warm-up", r));
    await load(opaPort, "/", bodies).then((r) => check("opa warm-up", r));
    const gSat = await load(gatewayPort, "/validate", bodies);
    check("gateway", gSat);
    const oSat = await load(opaPort, "/", bodies);
    check("opa", oSat);
    const { result: gFixed, stolen: gStolen } = await withSteal(() => pacedLoad(gatewayPort, "/validate", bodies, FIXED_RATE, DURATION, CONNECTIONS));
    checkPaced("gateway fixed-rate", gFixed);
    const { result: oFixed, stolen: oStolen } = await withSteal(() => pacedLoad(opaPort, "/", bodies, FIXED_RATE, DURATION, CONNECTIONS));
    checkPaced("opa fixed-rate", oFixed);
    const rss = await peakRssMb(gateway);

    // The floor: the same generator and rate against node:https doing no policy work.
    const floor = spawn(process.execPath, [join(ROOT, "bench/floor-server.ts"), join(dir, "tls.crt"), join(dir, "tls.key")], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(floor);
    const { result: fFixed, stolen: fStolen } = await withSteal(async () => pacedLoad(await listeningPort(floor, "floor server"), "/validate", bodies, FIXED_RATE, DURATION, CONNECTIONS));
    checkPaced("floor fixed-rate", fFixed);

    const out = {
      saturation: { gateway: summary(gSat), opa: summary(oSat), ratio: Math.round((gSat.requests.average / oSat.requests.average) * 100) / 100 },
      fixed_rate: { rps: FIXED_RATE, gateway_p99_ms: gFixed.p99_ms, opa_p99_ms: oFixed.p99_ms },
      gateway_rss_mb: Math.round(rss),
    };
    console.log(`saturation (${CONNECTIONS} connections, ${DURATION}s): gateway ${out.saturation.gateway.rps} reviews/s (p50 ${gSat.latency.p50} ms, p99 ${gSat.latency.p99} ms); opa ${out.saturation.opa.rps} reviews/s (p50 ${oSat.latency.p50} ms, p99 ${oSat.latency.p99} ms); ratio ${out.saturation.ratio}`);
    console.log(`fixed ${FIXED_RATE} reviews/s for ${DURATION}s (open loop, latency from issue to last byte): gateway p50 ${gFixed.p50_ms} ms, p99 ${gFixed.p99_ms} ms, p99.9 ${gFixed.p999_ms} ms, max ${gFixed.max_ms} ms; opa p50 ${oFixed.p50_ms} ms, p99 ${oFixed.p99_ms} ms, p99.9 ${oFixed.p999_ms} ms, max ${oFixed.max_ms} ms`);
    console.log(`floor (node:https answering a fixed body, no policy work, same generator and rate): p50 ${fFixed.p50_ms} ms, p99 ${fFixed.p99_ms} ms, p99.9 ${fFixed.p999_ms} ms, max ${fFixed.max_ms} ms`);
    const lag = (r: PacedResult): string => `issue lag p99 ${r.issue_lag_p99_ms} ms (max ${r.issue_lag_max_ms}), event-loop delay p99 ${r.loop_delay_p99_ms} ms (max ${r.loop_delay_max_ms})`;
    console.log(`generator (a process of its own): gateway phase ${lag(gFixed)}; opa phase ${lag(oFixed)}; floor phase ${lag(fFixed)}`);
    console.log(`CPU time stolen by the hypervisor during the fixed-rate phases: gateway ${gStolen}%, opa ${oStolen}%, floor ${fStolen}%`);
    console.log(`gateway peak RSS ${out.gateway_rss_mb} MB`);
    console.log(JSON.stringify(out));
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
