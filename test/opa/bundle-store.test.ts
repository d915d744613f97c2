// The store: verify → load → swap, the last good version kept on refusal
// and on disk, readiness before a first version, and what metrics say.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildTestBundle, builtBundle, limitRule, signedBundle } from "../fixtures/bundles.ts";
import { logger } from "../../src/log.ts";
import { Registry } from "prom-client";
import { Writable } from "node:stream";
import winston from "winston";
import { BundleMetrics } from "../../src/policy/bundles/metrics.ts";
import { BundleStore } from "../../src/policy/bundles/store.ts";
import { bundleOrigins, clearTextSources, openBundleStore, stackedSources, type BundleSourcing } from "../../src/policy/bundles/open.ts";
import { DEFAULT_BUNDLE_PATH, loadEngine } from "../../src/policy/load.ts";
import { encodeInput } from "../../src/policy/engine.ts";
import { signingKeyFrom, verificationKeyFrom } from "../../src/policy/signatures.ts";
import { until } from "../support/until.ts";

/** A sourcing of these bundles, not cached, polled every 30 s, stacked on the default: what the CLI makes of the bare --bundle flags. */
const sourcing = (bundles: string[], more: Partial<BundleSourcing> = {}): BundleSourcing => ({ bundles, stackOnDefault: true, pollIntervalMs: 30_000, remote: { insecureRegistries: [] }, ...more });

let dir: string;
let v1: Buffer;
let v2: Buffer;
/** builds fine, but needs a builtin the gateway does not have: refused at load */
let unloadable: Buffer;
const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
const signingKey = signingKeyFrom(Buffer.from(pair.privateKey.export({ type: "pkcs8", format: "pem" })), "test key");
const verification = verificationKeyFrom(Buffer.from(pair.publicKey.export({ type: "spki", format: "pem" })), "test key");

const built = (max: number, revision: string): Promise<Buffer> => builtBundle(limitRule(max), { revision });
const signed = (bytes: Buffer): Promise<Buffer> => signedBundle(bytes, signingKey);

before(async () => {
  logger.level = "error";
  dir = await mkdtemp(join(tmpdir(), "agentgate-store-"));
  v1 = await built(1, "v1");
  v2 = await built(2, "v2");
  // A wasm bundle without the entrypoint the gateway needs.
  unloadable = await builtBundle("package other\nx := 1\n", { revision: "bad", entrypoint: "other/x" });
});

after(() => rm(dir, { recursive: true, force: true }));

const denies = (store: BundleStore, x: number): boolean => store.engine().violations(encodeInput({ request: { object: { spec: { x } } }, context: {} })).violations.length > 0;

async function swapIn(path: string, bytes: Buffer): Promise<void> {
  await writeFile(`${path}.new`, bytes);
  await rename(`${path}.new`, path);
}

/** The store's metrics on a registry of their own, and a reader of their lines. */
function bundleMetrics(): { metrics: BundleMetrics; lines: (name: string) => Promise<string[]> } {
  const registry = new Registry();
  return { metrics: new BundleMetrics(registry), lines: async (name) => (await registry.metrics()).split("\n").filter((l) => l.startsWith(name)) };
}

test("good → unloadable → unsigned → good: refused versions leave the last good one in force, and metrics count it", async () => {
  const path = join(dir, "swap", "team.tar.gz");
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, await signed(v1));
  const { metrics, lines } = bundleMetrics();
  const store = new BundleStore({ sources: [path], verification, pollIntervalMs: 600_000, log: logger, metrics, file: { debounceMs: 10 } });
  await store.start();
  try {
    assert.equal(store.notReady(), undefined);
    assert.equal(store.engine().revision, "team@v1");
    assert.ok(denies(store, 2));
    const first = store.engine();

    await swapIn(path, await signed(unloadable));
    await until("load refusal", () => store.status()[0]?.lastError !== undefined);
    assert.match(store.status()[0]?.lastError ?? "", /has none of the entrypoints agentgate\/violations, agent\/goals\/allow, agent\/tools\/deny/);
    assert.equal(store.engine(), first);

    await swapIn(path, v2);
    await until("signature refusal", () => /unsigned/.test(store.status()[0]?.lastError ?? ""));
    assert.equal(store.engine(), first);
    assert.equal(store.notReady(), undefined, "still ready on the last good version");

    await swapIn(path, await signed(v2));
    await until("v2 in force", () => store.engine().revision === "team@v2");
    assert.ok(!denies(store, 2) && denies(store, 3));
    assert.equal(store.status()[0]?.lastError, undefined);

    assert.deepEqual(await lines("agentgate_bundle_activations_total{"), ['agentgate_bundle_activations_total{bundle="team",origin="file"} 2']);
    assert.deepEqual((await lines("agentgate_bundle_failures_total{")).sort(), [
      'agentgate_bundle_failures_total{bundle="team",stage="load"} 1',
      'agentgate_bundle_failures_total{bundle="team",stage="signature"} 1',
    ]);
    assert.match((await lines("agentgate_bundle_info{"))[0] ?? "", /^agentgate_bundle_info\{bundle="team",revision="v2",digest="sha256:[0-9a-f]{64}"\} 1$/);
    assert.equal((await lines("agentgate_bundle_last_activation_timestamp_seconds{")).length, 1);
  } finally {
    store.stop();
  }
});

test("a bundle service's last good version is kept on disk: a restart with the service down starts from it, then a 304 confirms it", async () => {
  let up = true;
  let serving = v1;
  const requests: { ifNoneMatch: string | undefined; status: number }[] = [];
  const server: Server = createServer((req, res) => {
    if (!up) {
      requests.push({ ifNoneMatch: req.headers["if-none-match"], status: 503 });
      res.writeHead(503).end();
      return;
    }
    const etag = serving === v1 ? '"v1"' : '"v2"';
    const status = req.headers["if-none-match"] === etag ? 304 : 200;
    requests.push({ ifNoneMatch: req.headers["if-none-match"], status });
    if (status === 304) res.writeHead(304, { etag }).end();
    else res.writeHead(200, { etag }).end(serving);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  const url = `http://127.0.0.1:${String(typeof address === "object" && address ? address.port : 0)}/bundles/team.tar.gz`;
  const cacheDir = join(dir, "cache");
  try {
    const first = new BundleStore({ sources: [url], cacheDir, pollIntervalMs: 600_000, log: logger });
    await first.start();
    assert.equal(first.engine().revision, "team@v1");
    first.stop();
    assert.deepEqual((await readdir(cacheDir)).map((f) => f.replace(/-[0-9a-f]{12}/, "-*")).sort(), ["team-*.json", "team-*.tar.gz"]);

    up = false;
    const { metrics, lines } = bundleMetrics();
    const second = new BundleStore({ sources: [url], cacheDir, pollIntervalMs: 50, log: logger, metrics, http: { minRetryMs: 20 } });
    await second.start();
    try {
      assert.equal(second.notReady(), undefined, "ready from the copy on disk");
      assert.equal(second.engine().revision, "team@v1");
      assert.deepEqual(second.status()[0], { name: "team", location: url, revision: "v1", digest: second.engine().bundles[0]?.bundle.digest, origin: "cache", lastError: second.status()[0]?.lastError ?? "" });
      assert.match(second.status()[0]?.lastError ?? "", /HTTP 503/);
      requests.length = 0;
      up = true;
      await until("a 304 for the cached ETag", () => requests.some((r) => r.status === 304));
      assert.equal(requests.find((r) => r.status === 304)?.ifNoneMatch, '"v1"');
      serving = v2;
      await until("v2 from the service", () => second.engine().revision === "team@v2");
      assert.deepEqual(await lines("agentgate_bundle_activations_total{"), [
        'agentgate_bundle_activations_total{bundle="team",origin="cache"} 1',
        'agentgate_bundle_activations_total{bundle="team",origin="http"} 1',
      ]);
    } finally {
      second.stop();
    }
  } finally {
    await new Promise<void>((r) => { server.close(() => { r(); }); server.closeAllConnections(); });
  }
});

test("with no version yet the gateway is not ready and says why; engine() refuses", async () => {
  const store = new BundleStore({ sources: ["http://127.0.0.1:9/none.tar.gz"], pollIntervalMs: 600_000, log: logger });
  await store.start();
  try {
    assert.match(store.notReady() ?? "", /^no policy bundle in force yet; none \(http:\/\/127\.0\.0\.1:9\/none\.tar\.gz\): bundle http:\/\/127\.0\.0\.1:9\/none\.tar\.gz: GET failed: /);
    assert.throws(() => store.engine(), /no policy bundle in force yet/);
  } finally {
    store.stop();
  }
});

test("a local bundle that cannot be loaded fails the start in one line", async () => {
  const path = join(dir, "broken.tar.gz");
  await writeFile(path, unloadable);
  await assert.rejects(openBundleStore(sourcing([path]), logger), (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.match(err.message, /^bundle "broken" \(revision bad\): has none of the entrypoints agentgate\/violations/);
    assert.ok(!err.message.includes("\n"));
    return true;
  });
});

test("bundles stack on the embedded default; or replace it, and then at least one is needed", () => {
  assert.deepEqual(stackedSources([], true), [DEFAULT_BUNDLE_PATH]);
  assert.deepEqual(stackedSources(["team.tar.gz"], true), [DEFAULT_BUNDLE_PATH, "team.tar.gz"]);
  assert.deepEqual(stackedSources([DEFAULT_BUNDLE_PATH, "team.tar.gz"], true), [DEFAULT_BUNDLE_PATH, "team.tar.gz"], "the default named again is not loaded twice");
  assert.deepEqual(stackedSources(["team.tar.gz"], false), ["team.tar.gz"]);
  assert.throws(() => stackedSources([], false), { name: "BundleConfigError", reason: "no-bundles", field: "bundles", kind: "usage" });
});

test("a fork of the default (its own data.agentgate.config) stacked on the default is refused, saying to replace it instead; alone it loads", async () => {
  const fork = await buildTestBundle({ "p.rego": limitRule(5), "agentgate/config/data.json": JSON.stringify({ approval: { approverGroups: ["sec-approvers"] } }) }, { entrypoints: ["agentgate/violations"], revision: "f1", name: "fork" });
  try {
    // As any policy config refused: serving, not ready, saying why (a file that will not load at all fails the start instead).
    const stacked = await openBundleStore(sourcing([fork]), logger);
    assert.match(stacked.notReady() ?? "", /policy config \(bundle "fork"\): the bundle carries its own data\.agentgate\.config while stacked on the default bundle.*give policy\.defaultBundle: false;/);
    stacked.stop();
    await assert.rejects(loadEngine(stackedSources([fork], true)), /the bundle carries its own data\.agentgate\.config while stacked on the default bundle/, "review stacks as serve does");
    const alone = await openBundleStore(sourcing([fork], { stackOnDefault: false }), logger);
    assert.deepEqual(alone.engine().policyConfig, { approval: { approverGroups: ["sec-approvers"] } });
    alone.stop();
  } finally {
    await rm(dirname(fork), { recursive: true, force: true });
  }
});

test("plain http to another machine is refused without a verification key: anyone on the path could replace the policy", async () => {
  assert.deepEqual(clearTextSources(["http://bundles.example/b.tar.gz", "http://127.0.0.1:8181/b.tar.gz", "http://localhost/b.tar.gz", "https://bundles.example/b.tar.gz", "oci://registry.example/p:1", "oci://127.0.0.1:5000/p:1", "/bundles/b.tar.gz"], ["registry.example", "127.0.0.1:5000"]), ["http://bundles.example/b.tar.gz", "oci://registry.example/p:1"]);
  assert.deepEqual(clearTextSources(["http://x.localhost/b.tar.gz"], []), ["http://x.localhost/b.tar.gz"], "in a pod x.localhost can be a Service of a namespace named localhost");
  await assert.rejects(openBundleStore(sourcing(["http://bundles.example/b.tar.gz"]), logger), { name: "BundleConfigError", reason: "cleartext", location: "http://bundles.example/b.tar.gz", field: "bundles", message: "bundles: http://bundles.example/b.tar.gz: plain http to another machine lets anyone on the path replace the policy; use https, or sign the bundles and verify them (verification)" });
  await assert.rejects(openBundleStore(sourcing(["oci://registry.example/p:1"], { remote: { insecureRegistries: ["registry.example"] } }), logger), { name: "BundleConfigError", reason: "cleartext", location: "oci://registry.example/p:1" });
});

test("the bearer token is for the bundle locations' own origins", () => {
  assert.deepEqual(bundleOrigins(["https://bundles.example/a/b.tar.gz", "http://127.0.0.1:8181/b.tar.gz", "oci://ghcr.io/acme/policy:1", "oci://registry.example:5000/p:1", "/bundles/b.tar.gz"], ["registry.example:5000"]), ["https://bundles.example", "http://127.0.0.1:8181", "https://ghcr.io", "http://registry.example:5000"]);
});

test("the embedded default bundle needs no signature and is never cached", async () => {
  const cacheDir = join(dir, "default-cache");
  const store = new BundleStore({ sources: [], verification, cacheDir, pollIntervalMs: 600_000, log: logger });
  await store.start();
  store.stop();
  assert.match(store.engine().revision, /^default@/);
  await assert.rejects(readdir(cacheDir), /ENOENT/);
});

test("a local bundle broken while the gateway was down: the restart starts from the last good copy and says so", async () => {
  const path = join(dir, "restart", "team.tar.gz");
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, v1);
  const cacheDir = join(dir, "restart-cache");
  const first = new BundleStore({ sources: [path], cacheDir, pollIntervalMs: 600_000, log: logger });
  await first.start();
  first.stop();
  await writeFile(path, unloadable);
  const second = new BundleStore({ sources: [path], cacheDir, pollIntervalMs: 600_000, log: logger, file: { debounceMs: 10 } });
  await second.start();
  try {
    assert.equal(second.notReady(), undefined);
    assert.equal(second.engine().revision, "team@v1");
    assert.equal(second.status()[0]?.origin, "cache");
    await swapIn(path, v2);
    await until("the fixed file", () => second.engine().revision === "team@v2");
    assert.equal(second.status()[0]?.origin, "file");
  } finally {
    second.stop();
  }
});

test("a newer version that cannot be kept on disk takes the older copy off it: a restart never starts from an older version than was in force", async () => {
  const path = join(dir, "unkept", "team.tar.gz");
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, v1);
  const cacheDir = join(dir, "unkept-cache");
  const first = new BundleStore({ sources: [path], cacheDir, pollIntervalMs: 600_000, log: logger, file: { debounceMs: 10 } });
  await first.start();
  try {
    const files = await readdir(cacheDir);
    const archive = files.find((f) => f.endsWith(".tar.gz"));
    assert.ok(archive, files.join(", "));
    // The archive's place taken by a directory: the next save fails (as a full or read-only disk would).
    await rm(join(cacheDir, archive));
    await mkdir(join(cacheDir, archive, "blocked"), { recursive: true });
    await swapIn(path, v2);
    await until("v2 in force", () => first.engine().revision === "team@v2");
    await until("the v1 copy's metadata gone", async () => !(await readdir(cacheDir)).some((f) => f.endsWith(".json")));
  } finally {
    first.stop();
  }
  // Source broken, cache holding nothing it could trust: not ready, rather than v1 again.
  await writeFile(path, unloadable);
  const second = new BundleStore({ sources: [path], cacheDir, pollIntervalMs: 600_000, log: logger, file: { debounceMs: 10 } });
  await second.start().catch(() => undefined);
  try {
    assert.ok(second.status()[0]?.revision !== "v1", "never the older version from disk");
  } finally {
    second.stop();
  }
});

/** A bundle whose rule reads data.agentgate.config.max, with a schema for that config. */
async function configured(config: unknown, revision: string): Promise<Buffer> {
  const schema = { type: "object", additionalProperties: false, required: ["max"], properties: { max: { type: "integer", minimum: 1 } } };
  const path = await buildTestBundle(
    {
      "p.rego": 'package agentgate\nviolations contains {"policy": "limit", "field": "spec.x", "message": "over", "action": "deny"} if input.request.object.spec.x > data.agentgate.config.max\n',
      "agentgate/config/data.json": JSON.stringify(config),
      "agentgate/config_schema/data.json": JSON.stringify(schema),
    },
    { entrypoints: ["agentgate/violations"], revision, name: "team" },
  );
  const bytes = await readFile(path);
  await rm(dirname(path), { recursive: true, force: true });
  return bytes;
}

test("a policy config its bundle's schema refuses: not ready on a first load (saying why), refused on a swap with the last good in force, counted under stage config", async () => {
  const [bad, good1, good2] = await Promise.all([configured({ max: "2" }, "c-bad"), configured({ max: 1 }, "c1"), configured({ max: 2 }, "c2")]);
  const path = join(dir, "config", "team.tar.gz");
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bad);
  const { metrics, lines } = bundleMetrics();
  const store = new BundleStore({ sources: [path], pollIntervalMs: 600_000, log: logger, metrics, file: { debounceMs: 10 } });
  await store.start();
  try {
    const why = 'policy config (bundle "team"): max is "2" (a string); expected an integer ≥ 1 — in Helm use --set, not --set-string';
    assert.equal(store.notReady(), `no policy bundle in force yet; team (${path}): ${why}`);
    assert.throws(() => store.engine(), /no policy bundle in force yet/);

    await swapIn(path, good1);
    await until("c1 in force", () => store.notReady() === undefined);
    const first = store.engine();
    assert.equal(first.revision, "team@c1");
    assert.ok(denies(store, 2));

    await swapIn(path, bad);
    await until("the config refused", () => store.status()[0]?.lastError !== undefined);
    assert.equal(store.engine(), first, "the last good version stays in force");
    assert.equal(store.notReady(), undefined);
    assert.deepEqual(store.degraded(), [`bundle "team" (${path}): a newer version was refused (config): ${why}; revision c1 stays in force`]);

    await swapIn(path, good2);
    await until("c2 in force", () => store.engine().revision === "team@c2");
    assert.ok(!denies(store, 2) && denies(store, 3));
    assert.deepEqual(await lines("agentgate_bundle_failures_total{"), ['agentgate_bundle_failures_total{bundle="team",stage="config"} 2']);
  } finally {
    store.stop();
  }
});

test("--policy-config is checked with the bundle's schema; a bundle without one is loaded unchecked, and the log says so", async () => {
  const path = join(dir, "override", "team.tar.gz");
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, await configured({ max: 1 }, "o1"));
  const refused = new BundleStore({ sources: [path], policyConfig: { max: 0, maxx: 3 }, pollIntervalMs: 600_000, log: logger });
  await refused.start();
  refused.stop();
  assert.match(refused.notReady() ?? "", /: policy config \(bundle "team"\): maxx is not a known key \(did you mean max\?\); known keys: max; max is 0; expected an integer ≥ 1$/);

  const logged: string[] = [];
  const log = winston.createLogger({ level: "info", format: winston.format.json(), transports: [new winston.transports.Stream({ stream: new Writable({ write: (chunk: Buffer, _e, done) => { logged.push(chunk.toString()); done(); } }) })] });
  const plain = join(dir, "override", "plain.tar.gz");
  await writeFile(plain, v1);
  const unchecked = new BundleStore({ sources: [plain], policyConfig: { anything: "goes" }, pollIntervalMs: 600_000, log });
  await unchecked.start();
  unchecked.stop();
  assert.equal(unchecked.notReady(), undefined);
  assert.ok(logged.some((l) => /"message":"policy config not validated: the bundle ships no data.agentgate.config_schema"/.test(l) && /"bundle":"plain"/.test(l)), logged.join(""));
});
