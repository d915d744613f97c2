// npm run bench:admit: what each of `npm run bench`'s reviews costs the
// gateway's evaluation path itself, without HTTP or TLS: parsed (with the
// review limits), admitted and serialized back to back in this one process,
// as bench/gateway-server.ts's handler does, with the same context objects
// and signing key. Figures are CPU time (user + system, every thread of the
// process: a run's signature is checked on libuv's pool) per review, after
// a warm-up; the mix is the 8 in turn. BENCH_ROUNDS (default 2,000) per
// review.
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
import { validateInputs } from "./harness.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2000);
if (!Number.isInteger(ROUNDS) || ROUNDS <= 0) {
  process.stderr.write(`bench:admit: BENCH_ROUNDS=${process.env.BENCH_ROUNDS ?? ""} is not a positive whole number\n`);
  process.exit(2);
}

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
  await cpuPerReview((i) => buffers[i % buffers.length] as Buffer, ROUNDS);
  const rows: { kind: string; operation: string; bytes: number; allowed: boolean; us: number }[] = [];
  for (const body of buffers) {
    const request = parseAdmissionReview(body, DEFAULT_REVIEW_LIMITS);
    const allowed = (await admit(request, deps, "validate")).allowed;
    rows.push({ kind: request.kind.kind, operation: request.operation, bytes: body.length, allowed, us: Math.round((await cpuPerReview(() => body, ROUNDS)) * 10) / 10 });
  }
  for (const r of rows) console.log(`${r.kind} ${r.operation}, ${String(r.bytes)} bytes, ${r.allowed ? "allowed" : "denied"}: ${r.us.toFixed(1)} µs`);
  const mix = Math.round((await cpuPerReview((i) => buffers[i % buffers.length] as Buffer, ROUNDS * buffers.length)) * 10) / 10;
  const memo = engine.storedMemoStats;
  console.log(`the mix: ${mix.toFixed(1)} µs a review; stored-object memo: ${memo ? `${String(memo.hits)} hits, ${String(memo.misses)} misses` : "off (a bundle reads the clock)"}`);
  console.log(JSON.stringify({ rounds: ROUNDS, reviews: rows, mix_us: mix, stored_memo: memo ?? null }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
