// npm run bench: the gateway against OPA's own admission server, same Rego,
// same AdmissionReviews, same load generator, in one run. Prints figures and,
// last, one JSON line (the format).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon, { type Result } from "autocannon";
import { findOpa } from "../src/cli/opa.ts";
import { generateServingCertificate } from "../src/tls/self-signed.ts";
import { pacedLoad, type PacedResult } from "./paced.ts";
import { gatewayAsDeployed } from "./soak/processes.ts";
import type { AdmissionReview } from "../src/types/admission.ts";
import { ROOT, compiledGatewayServer, freePort, listeningPort, peakRssMb, post, validateInputs, waitFor, withSteal } from "./harness.ts";

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 16;
const FIXED_RATE = 1000;
const TARGET_SATURATION_RATIO = 4;
const TARGET_P99_MS = 1;
const TARGET_P999_MS = 3;

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

function checkPaced(name: string, r: PacedResult): void {
  if (r.failed > 0 || r.ok !== r.sent) throw new Error(`${name}: ${r.failed} of ${r.sent} requests failed`);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "agentgate-bench-"));
  const children: ChildProcess[] = [];
  try {
    // What the API server sends /validate: AgentRuns already mutated (stamped).
    const { reviews, bodies, contexts, signingFile } = await validateInputs(dir);
    const sizes = bodies.map((b) => b.length);
    console.log(`inputs: ${bodies.length} AdmissionReviews, ${Math.min(...sizes)}–${Math.max(...sizes)} bytes`);

    const tls = generateServingCertificate(["127.0.0.1"]);
    await writeFile(join(dir, "tls.crt"), tls.cert);
    await writeFile(join(dir, "tls.key"), tls.key);
    await writeFile(join(dir, "contexts.json"), JSON.stringify({ bench: { contexts } }));

    // with the Node settings the chart gives the gateway's container
    const deployed = gatewayAsDeployed();
    const gateway = spawn(process.execPath, [...deployed.flags, await compiledGatewayServer(), join(dir, "tls.crt"), join(dir, "tls.key"), signingFile], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...deployed.env } });
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
      // The gateway's last line, the decision id its logs file the decision under, is no policy's: OPA has none.
      const gatewayMessage = (g?.status?.message ?? "").replace(/\ndecision_id [^\n]*$/, "");
      if (g?.allowed !== o?.allowed || gatewayMessage !== (o?.status?.message ?? "")) {
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
    const floorPort = await listeningPort(floor, "floor server");
    const { result: fFixed, stolen: fStolen } = await withSteal(async () => pacedLoad(floorPort, "/validate", bodies, FIXED_RATE, DURATION, CONNECTIONS));
    checkPaced("floor fixed-rate", fFixed);
    const fSat = await load(floorPort, "/validate", bodies);
    check("floor", fSat);

    const out = {
      saturation: { gateway: summary(gSat), opa: summary(oSat), floor: summary(fSat), ratio: Math.round((gSat.requests.average / oSat.requests.average) * 100) / 100, of_floor: Math.round((gSat.requests.average / fSat.requests.average) * 100) / 100 },
      fixed_rate: { rps: FIXED_RATE, gateway_p99_ms: gFixed.p99_ms, gateway_p999_ms: gFixed.p999_ms, opa_p99_ms: oFixed.p99_ms, floor_p99_ms: fFixed.p99_ms, stolen_pct: gStolen },
      gateway_rss_mb: Math.round(rss),
    };
    console.log(`saturation (${CONNECTIONS} connections, ${DURATION}s): gateway ${out.saturation.gateway.rps} reviews/s (p50 ${gSat.latency.p50} ms, p99 ${gSat.latency.p99} ms); opa ${out.saturation.opa.rps} reviews/s (p50 ${oSat.latency.p50} ms, p99 ${oSat.latency.p99} ms); ratio ${out.saturation.ratio}`);
    console.log(`fixed ${FIXED_RATE} reviews/s for ${DURATION}s (open loop, latency from issue to last byte): gateway p50 ${gFixed.p50_ms} ms, p99 ${gFixed.p99_ms} ms, p99.9 ${gFixed.p999_ms} ms, max ${gFixed.max_ms} ms; opa p50 ${oFixed.p50_ms} ms, p99 ${oFixed.p99_ms} ms, p99.9 ${oFixed.p999_ms} ms, max ${oFixed.max_ms} ms`);
    console.log(`floor (node:https answering a fixed body, no policy work, same generator and rate): p50 ${fFixed.p50_ms} ms, p99 ${fFixed.p99_ms} ms, p99.9 ${fFixed.p999_ms} ms, max ${fFixed.max_ms} ms`);
    const lag = (r: PacedResult): string => `issue lag p99 ${r.issue_lag_p99_ms} ms (max ${r.issue_lag_max_ms}), event-loop delay p99 ${r.loop_delay_p99_ms} ms (max ${r.loop_delay_max_ms})`;
    console.log(`generator (a process of its own): gateway phase ${lag(gFixed)}; opa phase ${lag(oFixed)}; floor phase ${lag(fFixed)}`);
    console.log(`CPU time stolen by the hypervisor during the fixed-rate phases: gateway ${gStolen}%, opa ${oStolen}%, floor ${fStolen}%`);
    console.log(`gateway peak RSS ${out.gateway_rss_mb} MB (the benchmark's server, under saturation; \`agentgate serve\` in cluster mode: npm run bench:apiserver)`);
    // Issue 20's targets, each with its figure.
    const verdict = (met: boolean): string => (met ? "met" : "not met");
    console.log(`target saturation ≥ ${TARGET_SATURATION_RATIO}× opa: ${out.saturation.ratio}× (${verdict(out.saturation.ratio >= TARGET_SATURATION_RATIO)}); the floor answers ${out.saturation.floor.rps}/s, the gateway ${out.saturation.of_floor}× of it`);
    console.log(`target p99 ≤ ${TARGET_P99_MS} ms at ${FIXED_RATE}/s: ${gFixed.p99_ms} ms (${verdict(gFixed.p99_ms <= TARGET_P99_MS)}; ${gStolen}% stolen; the floor's own p99 ${fFixed.p99_ms} ms)`);
    console.log(`target p99.9 ≤ ${TARGET_P999_MS} ms at ${FIXED_RATE}/s: ${gFixed.p999_ms} ms (${verdict(gFixed.p999_ms <= TARGET_P999_MS)})`);
    console.log(JSON.stringify(out));
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
