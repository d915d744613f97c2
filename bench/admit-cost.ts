// npm run bench:admit: what each of `npm run bench`'s reviews costs the
// gateway's evaluation path itself, without HTTP or TLS: parsed (with the
// review limits), admitted and serialized back to back in this one process,
// as bench/gateway-server.ts's handler does, with the same context objects
// and signing key. Figures are CPU time (user + system, every thread of the
// process: a run's signature is checked on libuv's pool) per review, after
// a warm-up; the mix is the 8 in turn. Each is measured BENCH_RUNS times
// (default 5), the reviews taking turns so that a noisy moment falls on
// all of them, and printed as the median with the spread; BENCH_ROUNDS
// (default 2,000) reviews a measurement.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StaticLookup } from "../src/context/static-lookup.ts";
import { admit, type GatewayDeps } from "../src/gateway/admit.ts";
import { makeIdentity } from "../src/guardrails/identity.ts";
import { loadEngine } from "../src/policy/load.ts";
import { staticKeyring } from "../src/signing/keyring.ts";
import { signingKeyFromPem } from "../src/signing/keys.ts";
import { DEFAULT_REVIEW_LIMITS, parseAdmissionReview } from "../src/wire/parse.ts";
import { serializeReview, toAdmissionReview } from "../src/wire/respond.ts";
import { agentConfig, contextObjects } from "./fixtures.ts";
import { positiveEnv, validateInputs } from "./harness.ts";
import { summarize, type Summary } from "./stats.ts";

const ROUNDS = positiveEnv("bench:admit", "BENCH_ROUNDS", 2000, true);
const RUNS = positiveEnv("bench:admit", "BENCH_RUNS", 5, true);

const shown = (s: Summary): string => `${s.median.toFixed(1)} µs (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;

const dir = await mkdtemp(join(tmpdir(), "agentgate-bench-admit-"));
try {
  const { bodies, signingFile } = await validateInputs(dir);
  const engine = await loadEngine([]);
  const deps: GatewayDeps = {
    engine: () => engine,
    lookup: new StaticLookup([...contextObjects, agentConfig]),
    identity: makeIdentity([]),
    exemptNamespaces: new Set(["kube-system"]),
    keyring: staticKeyring(signingKeyFromPem(await readFile(signingFile), signingFile)),
  };
  const buffers = bodies.map((b) => Buffer.from(b));
  const answer = async (body: Buffer): Promise<string> => {
    const request = parseAdmissionReview(body, DEFAULT_REVIEW_LIMITS);
    const decision = await admit(request, deps, "validate");
    return serializeReview(toAdmissionReview(request.uid, decision, request.uid));
  };
  const cpuPerReview = async (pick: (i: number) => Buffer, n: number): Promise<number> => {
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) await answer(pick(i));
    const used = process.cpuUsage(before);
    return (used.user + used.system) / n;
  };
  const mixed = (i: number) => buffers[i % buffers.length] as Buffer;
  await cpuPerReview(mixed, ROUNDS);
  const rows = [];
  for (const body of buffers) {
    const request = parseAdmissionReview(body, DEFAULT_REVIEW_LIMITS);
    rows.push({ kind: request.kind.kind, operation: request.operation, bytes: body.length, allowed: (await admit(request, deps, "validate")).allowed, samples: [] as number[] });
  }
  const mixSamples: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    for (const [i, body] of buffers.entries()) rows[i]?.samples.push(await cpuPerReview(() => body, ROUNDS));
    mixSamples.push(await cpuPerReview(mixed, ROUNDS * buffers.length));
  }
  const results = rows.map(({ samples, ...row }) => ({ ...row, us: summarize(samples) }));
  for (const r of results) console.log(`${r.kind} ${r.operation}, ${String(r.bytes)} bytes, ${r.allowed ? "allowed" : "denied"}: ${shown(r.us)}`);
  const mix = summarize(mixSamples);
  const memo = engine.storedMemoStats;
  console.log(`the mix: ${shown(mix)} a review; medians of ${String(RUNS)} runs (the spread in brackets); stored-object memo: ${memo ? `${String(memo.hits)} hits, ${String(memo.misses)} misses` : "off (a bundle reads the clock)"}`);
  console.log(JSON.stringify({ rounds: ROUNDS, runs: RUNS, reviews: results, mix_us: mix, stored_memo: memo ?? null }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
