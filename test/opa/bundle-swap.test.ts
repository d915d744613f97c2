// A bundle swapped under load: the real gateway (startGateway, --offline,
// signature verification on) answers a steady stream of HTTPS
// AdmissionReviews from several connections while its bundle file is
// replaced good → broken → good several times. No request may fail, every
// good version's answer must take over, and no broken version's may.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { admissionReviews } from "../../bench/fixtures.ts";
import { type RunningGateway } from "../../src/cli/serve.ts";
import { logger } from "../../src/log.ts";
import { signingKeyFrom } from "../../src/policy/signatures.ts";
import type { AdmissionReview } from "../../src/types/admission.ts";
import { builtBundle, repackBundle, signedBundle } from "../fixtures/bundles.ts";
import { until } from "../support/until.ts";
import { gatewayOverBundle } from "../support/gateway.ts";
import { httpsCall } from "../support/https-call.ts";

const CONNECTIONS = 8;

/** Each good version answers AgentConfigs in its own recognisable way. */
const answer = (action: "deny" | "warn", text: string) => `package agentgate
violations contains {"policy": "swap", "field": "spec", "message": "${text}", "action": "${action}"} if input.request.kind.kind == "AgentConfig"
`;

let dir: string;
let keyPath: string;
let gateway: RunningGateway;
/** a bundle service (OPA's protocol: ETag, 304) serving whatever `served` holds */
let service: Server;
let served: Buffer = Buffer.alloc(0);
const versions: Record<string, Buffer> = {};
const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
const signingKey = signingKeyFrom(Buffer.from(pair.privateKey.export({ type: "pkcs8", format: "pem" })), "test key");

const built = (rego: string, revision: string, entrypoint?: string): Promise<Buffer> => builtBundle(rego, { revision, name: "swap", ...(entrypoint === undefined ? {} : { entrypoint }) });
const sign = (bytes: Buffer): Promise<Buffer> => signedBundle(bytes, signingKey);

before(async () => {
  // The refusals this test provokes are logged as errors; the metrics and answers are checked instead.
  logger.silent = true;
  dir = await mkdtemp(join(tmpdir(), "agentgate-swap-"));
  const v1 = await built(answer("deny", "v1 says no"), "v1");
  const v2 = await built(answer("warn", "v2 says careful"), "v2");
  versions.v1 = await sign(v1);
  versions.v2 = await sign(v2);
  // Broken in each way a new version can be: signed but unloadable, unsigned, tampered after signing, not a bundle.
  versions.unloadable = await sign(await built("package other\nx := 1\n", "unloadable", "other/x"));
  versions.unsigned = v2;
  versions.tampered = await repackBundle(versions.v2, (files) => {
    files.set("data.json", Buffer.from('{"injected": true}'));
    return Promise.resolve();
  });
  versions.garbage = Buffer.from("not a bundle at all");

  keyPath = join(dir, "bundle-signing.pub.pem");
  await writeFile(keyPath, pair.publicKey.export({ type: "spki", format: "pem" }));
  service = createServer((req, res) => {
    const etag = `"${createHash("sha256").update(served).digest("hex").slice(0, 16)}"`;
    if (req.headers["if-none-match"] === etag) res.writeHead(304, { etag }).end();
    else res.writeHead(200, { etag, "content-type": "application/gzip" }).end(served);
  });
  await new Promise<void>((r) => service.listen(0, "127.0.0.1", r));
});

/** The gateway as `agentgate serve --offline --bundle <source> --bundle-verification-key …` runs it. */
async function startWith(source: string, pollInterval: string): Promise<void> {
  gateway = await gatewayOverBundle(source, { pollInterval, cacheDir: join(dir, "cache"), verificationKey: keyPath });
}

after(async () => {
  await new Promise<void>((r) => { service.close(() => { r(); }); service.closeAllConnections(); });
  await rm(dir, { recursive: true, force: true });
});

interface Tally {
  requests: number;
  failures: string[];
  /** the answer of the latest request to complete: "v1" (denied) or "v2" (warned) */
  latest: string;
  /** answers counted since the last reset */
  since: Record<string, number>;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS, rejectUnauthorized: false });

const call = (method: string, path: string, body?: string) => httpsCall(gateway.port, method, path, body, { agent });

function classify(status: number, body: string, uid: string): string {
  if (status !== 200) return `HTTP ${String(status)}: ${body.slice(0, 200)}`;
  const response = (JSON.parse(body) as AdmissionReview).response;
  if (response?.uid !== uid) return `uid ${String(response?.uid)} for ${uid}`;
  const message = response.status?.message ?? "";
  if (!response.allowed && response.status?.code === 403 && message.includes("[swap] spec: v1 says no")) return "v1";
  if (response.allowed && (response.warnings ?? []).some((w) => w.includes("[swap] spec: v2 says careful"))) return "v2";
  return `unexpected answer: ${body.slice(0, 300)}`;
}

async function load(tally: Tally, stop: { now: boolean }): Promise<void> {
  const template = admissionReviews().find((r) => r.review.request?.kind.kind === "AgentConfig")?.review;
  assert.ok(template?.request);
  const worker = async (w: number) => {
    for (let i = 0; !stop.now; i++) {
      const uid = `swap-${String(w)}-${String(i)}`;
      const body = JSON.stringify({ ...template, request: { ...template.request, uid } });
      let outcome: string;
      try {
        const res = await call("POST", "/validate", body);
        outcome = classify(res.status, res.body, uid);
      } catch (err) {
        outcome = `request error: ${err instanceof Error ? err.message : String(err)}`;
      }
      tally.requests++;
      if (outcome === "v1" || outcome === "v2") {
        tally.latest = outcome;
        tally.since[outcome] = (tally.since[outcome] ?? 0) + 1;
      } else {
        tally.failures.push(outcome);
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, w) => worker(w)));
}

async function metricValue(name: string): Promise<number> {
  const text = (await call("GET", "/metrics")).body;
  return text.split("\n").filter((l) => l.startsWith(name)).reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

async function swapUnderLoad(swapTo: (bytes: Buffer) => Promise<void>, label: string): Promise<void> {
  const tally: Tally = { requests: 0, failures: [], latest: "", since: {} };
  const stop = { now: false };
  const running = load(tally, stop);
  // refused: the stage readiness and the failures metric name for a broken version
  const steps: { to: string; expect: "v1" | "v2"; broken: boolean; refused?: RegExp }[] = [
    { to: "v2", expect: "v2", broken: false },
    { to: "unloadable", expect: "v2", broken: true, refused: /\(load\): .*has none of the entrypoints/ },
    { to: "v1", expect: "v1", broken: false },
    { to: "unsigned", expect: "v1", broken: true, refused: /\(signature\): .*unsigned/ },
    { to: "tampered", expect: "v1", broken: true, refused: /\(signature\): .*data\.json/ },
    { to: "v2", expect: "v2", broken: false },
    { to: "garbage", expect: "v2", broken: true, refused: /\(load\): / },
    { to: "v1", expect: "v1", broken: false },
  ];
  try {
    await until("traffic on v1", () => tally.since.v1 !== undefined && tally.since.v1 > 50);
    for (const step of steps) {
      const failuresBefore = await metricValue("agentgate_bundle_failures_total{");
      const swappedAt = Math.floor(Date.now() / 1000);
      await swapTo(versions[step.to] as Buffer);
      if (step.broken) {
        await until(`${step.to} refused`, async () => (await metricValue("agentgate_bundle_failures_total{")) > failuresBefore);
      } else {
        await until(`${step.to} in force`, () => tally.latest === step.expect);
      }
      // From here on, only this step's answer may come back.
      tally.since = {};
      const from = tally.requests;
      await until(`traffic after ${step.to}`, () => tally.requests - from > 100);
      assert.deepEqual(Object.keys(tally.since), [step.expect], `after swapping to ${step.to}`);
      const readyz = await call("GET", "/readyz");
      assert.equal(readyz.status, 200, `ready after ${step.to}: the last good version answers`);
      if (step.refused) {
        // Ready, and saying which version was refused, why, and what answers instead.
        const [first, note = "", ...rest] = readyz.body.split("\n").filter((l) => l !== "");
        assert.equal(first, "ok");
        assert.deepEqual(rest, []);
        assert.match(note, /^bundle "swap" \(.+\): a newer version was refused /);
        assert.match(note, step.refused, `readiness after ${step.to}: ${note}`);
        assert.match(note, new RegExp(`; revision ${step.expect} stays in force$`));
        assert.ok(await metricValue('agentgate_bundle_last_failure_timestamp_seconds{bundle="swap"}') >= swappedAt, "the last failure's time is that of this refusal");
      } else {
        assert.equal(readyz.body, "ok\n", `nothing to report once ${step.to} is in force`);
        assert.ok(await metricValue('agentgate_bundle_last_activation_timestamp_seconds{bundle="swap"}') >= swappedAt);
      }
    }
  } finally {
    stop.now = true;
    await running;
  }
  assert.deepEqual(tally.failures, []);
  assert.ok(tally.requests > 1000, `only ${String(tally.requests)} requests`);
  assert.equal(await metricValue("agentgate_bundle_activations_total{"), 5);
  assert.equal(await metricValue("agentgate_bundle_failures_total{"), 4);
  // A fact for the report, not an assertion on time.
  process.stdout.write(`# swap under load (${label}): ${String(tally.requests)} requests, ${String(tally.failures.length)} failed, ${String(steps.length)} swaps (4 refused)\n`);
}

test("a watched bundle file swapped under load: zero failed requests, good versions take over, broken ones never do", async () => {
  const path = join(dir, "swap.tar.gz");
  await writeFile(path, versions.v1 as Buffer);
  await startWith(path, "1s");
  try {
    await swapUnderLoad(async (bytes) => {
      // As a deployment tool writes it: a new file renamed over the old.
      await writeFile(`${path}.next`, bytes);
      await rename(`${path}.next`, path);
    }, "file");
  } finally {
    await gateway.close();
  }
});

test("a bundle service's bundle swapped under load: zero failed requests, good versions take over, broken ones never do", async () => {
  served = versions.v1 as Buffer;
  const address = service.address();
  await startWith(`http://127.0.0.1:${String(typeof address === "object" && address ? address.port : 0)}/bundles/swap.tar.gz`, "50ms");
  try {
    await swapUnderLoad((bytes) => {
      served = bytes;
      return Promise.resolve();
    }, "http");
  } finally {
    await gateway.close();
  }
});
