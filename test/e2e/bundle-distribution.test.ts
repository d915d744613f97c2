// Bundle distribution as OPA users run it, against real servers: an OCI
// registry (distribution's, tools/registry) plain, with token
// authentication (test/support/registry-token.ts) and with TLS requiring a
// client certificate; and an https bundle service (node:https) requiring a
// client certificate and a bearer token. Bundles are pushed as `oras push`
// does and loaded by the store exactly as serve and audit open it
// (openBundles with their flags), and by the real executable.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent } from "undici";
import { logger } from "../../src/log.ts";
import type { BundleStore } from "../../src/policy/bundles/store.ts";
import { openBundles, type BundleFlags } from "../../src/cli/bundle-flags.ts";
import { encodeInput } from "../../src/policy/engine.ts";
import { signingKeyFrom } from "../../src/policy/signatures.ts";
import { createCertificateAuthority, issueServingCertificate } from "../../src/tls/self-signed.ts";
import { builtBundle, limitRule, signedBundle } from "../fixtures/bundles.ts";
import { CONFIG_MEDIA_TYPE, LAYER_MEDIA_TYPE, imageManifest, pushBlob, pushBundle, putManifest, type PushTarget } from "../support/oci-push.ts";
import { startRegistry, type TestRegistry } from "../support/oci-registry.ts";
import { startTokenService, type TokenService } from "../support/registry-token.ts";
import { until } from "../support/until.ts";
import { clientCertificate, testCa } from "./client-certs.ts";

const BIN = fileURLToPath(new URL("../../bin/agentgate.js", import.meta.url));
let dir = "";
const f = (name: string) => join(dir, name);
const bundles = new Map<string, Buffer>();
const signingPair = generateKeyPairSync("ec", { namedCurve: "P-256" });

// One CA for the servers, another for client certificates, a third nobody trusts.
const serverCa = createCertificateAuthority("bundle servers CA", { validityMs: 86_400_000 });
const serving = issueServingCertificate(serverCa, ["127.0.0.1"], { validityMs: 86_400_000 });
const strangerCa = createCertificateAuthority("a CA nobody trusts", { validityMs: 86_400_000 });
const clientsCa = testCa("bundle clients");
const client = clientCertificate(clientsCa, "agentgate");

let plain: TestRegistry;

const built = (max: number, revision: string): Promise<Buffer> => builtBundle(limitRule(max), { revision });
const signed = (bytes: Buffer): Promise<Buffer> => signedBundle(bytes, signingKeyFrom(Buffer.from(signingPair.privateKey.export({ type: "pkcs8", format: "pem" })), "test key"));

const bundle = (name: string): Buffer => {
  const b = bundles.get(name);
  assert.ok(b, name);
  return b;
};

/** The store as serve and audit open it: their flags, polled every 100 ms, nothing kept on disk unless asked. */
const open = (flags: Partial<BundleFlags> & { bundle: string[] }): Promise<BundleStore> => openBundles({ bundlePollInterval: "100ms", bundleCacheDir: "", ...flags }, logger);
/** The --bundle slots (the embedded default stacks under them). */
const given = (store: BundleStore) => store.status().filter((s) => s.name !== "default");
const revision = (store: BundleStore, slot = 0): string | undefined => given(store)[slot]?.revision;
const lastError = (store: BundleStore, slot = 0): string => given(store)[slot]?.lastError ?? "";
/** Whether the test rule ("limit") denies spec.x = x. */
const denies = (store: BundleStore, x: number): boolean => store.engine().violations(encodeInput({ request: { object: { spec: { x } } }, context: {} })).violations.some((v) => v.policy === "limit");
const count = async (reg: TestRegistry, prefix: string): Promise<number> => (await reg.requests()).filter((r) => r.startsWith(prefix)).length;

before(async () => {
  logger.level = "error";
  dir = await mkdtemp(join(tmpdir(), "agentgate-distribution-"));
  bundles.set("v1", await built(1, "v1"));
  bundles.set("v2", await built(2, "v2"));
  bundles.set("v3", await built(3, "v3"));
  bundles.set("signed-v1", await signed(bundle("v1")));
  await writeFile(f("verify.pem"), signingPair.publicKey.export({ type: "spki", format: "pem" }));
  await writeFile(f("server-ca.pem"), serverCa.cert);
  await writeFile(f("stranger-ca.pem"), strangerCa.cert);
  await writeFile(f("client.crt"), client.cert);
  await writeFile(f("client.key"), client.key);
  await writeFile(f("kubeconfig"), "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n");
  plain = await startRegistry();
});

after(async () => {
  await plain.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("an OCI registry", () => {
  const repo = (name: string): PushTarget => ({ url: plain.url, repository: name });
  const ref = (name: string, tagOrDigest: string) => `oci://${plain.host}/${name}${tagOrDigest.startsWith("sha256:") ? "@" : ":"}${tagOrDigest}`;
  const insecure = () => ({ bundleInsecureRegistry: [plain.host] });

  test("by tag and by digest; a new push under the tag is picked up on the next poll, an unchanged tag is not downloaded again", async () => {
    const first = await pushBundle(repo("acme/team"), "stable", bundle("v1"));
    const byTag = await open({ bundle: [ref("acme/team", "stable")], ...insecure() });
    const byDigest = await open({ bundle: [ref("acme/team", first.manifestDigest)], ...insecure() });
    try {
      assert.equal(revision(byTag), "v1");
      assert.equal(given(byTag)[0]?.name, "team");
      assert.ok(denies(byTag, 2) && !denies(byTag, 1));
      assert.equal(revision(byDigest), "v1");
      const manifests = `GET /v2/acme/team/manifests/stable `;
      const polls = await count(plain, manifests);
      await until("three more polls of the tag", async () => (await count(plain, manifests)) >= polls + 3);
      assert.equal(await count(plain, `GET /v2/acme/team/blobs/${first.layerDigest} 200`), 2, "the layer once per store, not once per poll");

      const second = await pushBundle(repo("acme/team"), "stable", bundle("v2"));
      await until("v2 in force by the tag", () => revision(byTag) === "v2");
      assert.ok(denies(byTag, 3) && !denies(byTag, 2));
      const after = await count(plain, manifests);
      await until("more polls of v2", async () => (await count(plain, manifests)) >= after + 3);
      assert.equal(await count(plain, `GET /v2/acme/team/blobs/${second.layerDigest} 200`), 1);
      // The digest names v1 for ever: read once, never polled again.
      assert.equal(revision(byDigest), "v1");
      assert.equal(await count(plain, `GET /v2/acme/team/manifests/${first.manifestDigest} `), 1);
    } finally {
      byTag.stop();
      byDigest.stop();
    }
  });

  test("a missing tag, a digest the registry lacks, and a manifest whose bytes are not its digest are refused with a clear error", async () => {
    await pushBundle(repo("acme/refused"), "one", bundle("v1"));
    const missing = await open({ bundle: [ref("acme/refused", "two"), ref("acme/refused", `sha256:${"0".repeat(64)}`)], ...insecure() });
    try {
      await until("both refused", () => lastError(missing, 0) !== "" && lastError(missing, 1) !== "");
      assert.match(lastError(missing, 0), /^bundle oci:\/\/\S+:two: manifest 127\.0\.0\.1:\d+\/acme\/refused:two: not found \(HTTP 404 MANIFEST_UNKNOWN: manifest unknown\) \(attempt \d+; retrying\)$/);
      assert.match(lastError(missing, 1), /manifest 127\.0\.0\.1:\d+\/acme\/refused@sha256:0{64}: not found \(HTTP 404 MANIFEST_UNKNOWN/);
      assert.match(missing.notReady() ?? "", /^no policy bundle in force yet; refused \(oci:\/\/\S+:two\): .*not found/);
    } finally {
      missing.stop();
    }

    // The registry serves whatever lies under a digest: put v2's manifest where v1's was.
    // (Blobs are shared by every repository: annotations keep these two manifests this test's own.)
    const v1 = await pushBundle(repo("acme/swapped"), "one", bundle("v1"), { "org.example.test": "swapped" });
    const v2 = await pushBundle(repo("acme/swapped"), "two", bundle("v2"), { "org.example.test": "swapped" });
    await writeFile(plain.blobPath(v1.manifestDigest), await readFile(plain.blobPath(v2.manifestDigest)));
    const pinned = await open({ bundle: [ref("acme/swapped", v1.manifestDigest)], ...insecure() });
    try {
      await until("refused", () => lastError(pinned) !== "");
      assert.equal(revision(pinned), undefined);
      assert.match(lastError(pinned), new RegExp(`manifest \\S+@${v1.manifestDigest}: the registry answered a manifest whose digest is ${v2.manifestDigest}; refused`));
    } finally {
      pinned.stop();
    }
  });

  test("a corrupt layer and a manifest without a bundle layer are refused; the last good version stays in force", async () => {
    await pushBundle(repo("acme/guarded"), "live", bundle("v1"));
    const store = await open({ bundle: [ref("acme/guarded", "live")], ...insecure() });
    try {
      assert.equal(revision(store), "v1", lastError(store));
      // v3 pushed whole (the upload checks its digest), then its bytes rot on the registry's disk.
      const config = await pushBlob(repo("acme/guarded"), Buffer.from("{}"), CONFIG_MEDIA_TYPE);
      const layer = await pushBlob(repo("acme/guarded"), bundle("v3"), LAYER_MEDIA_TYPE);
      const rotten = Buffer.from(bundle("v3"));
      rotten[rotten.length - 20] = (rotten[rotten.length - 20] ?? 0) ^ 0xff;
      await writeFile(plain.blobPath(layer.digest), rotten);
      await putManifest(repo("acme/guarded"), "live", imageManifest(config, [layer]));
      await until("the corrupt layer refused", () => lastError(store).includes(layer.digest));
      assert.match(lastError(store), new RegExp(`layer ${layer.digest}: the content's digest is sha256:[a-f0-9]{64}; refused \\(corrupt or replaced in the registry\\)`));
      assert.equal(revision(store), "v1");
      assert.ok(denies(store, 2), "v1 still decides");
      assert.match(store.degraded()[0] ?? "", /its source fails: .*refused \(corrupt or replaced in the registry\).*; revision v1 stays in force$/);

      // A plain tar layer is not what OPA pulls either.
      const tar = await pushBlob(repo("acme/guarded"), bundle("v2"), "application/vnd.oci.image.layer.v1.tar");
      await putManifest(repo("acme/guarded"), "live", imageManifest(config, [tar]));
      await until("the layerless manifest refused", () => lastError(store).includes("no layer of media type"));
      assert.match(lastError(store), /^bundle "guarded": oci:\/\/\S+:live: manifest \S+ \(sha256:[a-f0-9]{64}\): no layer of media type application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip \(the bundle's \.tar\.gz\); its layers are application\/vnd\.oci\.image\.layer\.v1\.tar$/);
      assert.equal(revision(store), "v1");
      await pushBundle(repo("acme/guarded"), "live", bundle("v2"));
      await until("v2 after the refusals", () => revision(store) === "v2");
      assert.equal(lastError(store), "");
    } finally {
      store.stop();
    }
  });

  test("--bundle-verification-key applies to OCI bundles: signed is loaded, unsigned refused", async () => {
    await pushBundle(repo("acme/signed"), "live", bundle("signed-v1"));
    const store = await open({ bundle: [ref("acme/signed", "live")], ...insecure(), bundleVerificationKey: f("verify.pem") });
    try {
      assert.equal(revision(store), "v1");
      await pushBundle(repo("acme/signed"), "live", bundle("v2"));
      await until("the unsigned version refused", () => lastError(store) !== "");
      assert.match(lastError(store), /^bundle "signed": signature: the bundle is unsigned \(no \.signatures\.json\) and signature verification is configured$/);
      assert.equal(revision(store), "v1");
    } finally {
      store.stop();
    }
  });

  test("the last good version is kept on disk: a restart resumes from the manifest digest without downloading, and starts while the registry is down", async () => {
    const own = await startRegistry();
    try {
      const pushed = await pushBundle({ url: own.url, repository: "acme/cached" }, "live", bundle("v1"));
      const flags = { bundle: [`oci://${own.host}/acme/cached:live`], bundleInsecureRegistry: [own.host], bundleCacheDir: f("cache") };
      const first = await open(flags);
      first.stop();
      assert.equal(revision(first), "v1", lastError(first));
      const blob = `GET /v2/acme/cached/blobs/${pushed.layerDigest} `;
      const manifest = "GET /v2/acme/cached/manifests/live ";
      assert.equal(await count(own, blob), 1);
      const second = await open(flags);
      try {
        assert.equal(given(second)[0]?.origin, "cache");
        const polls = await count(own, manifest);
        await until("polled after the restart", async () => (await count(own, manifest)) >= polls + 2);
        assert.equal(await count(own, blob), 1, "the cached version's layer is not downloaded again");
      } finally {
        second.stop();
      }
      await own.stop();
      const third = await open(flags);
      third.stop();
      assert.equal(revision(third), "v1");
      assert.equal(given(third)[0]?.origin, "cache");
      assert.match(third.degraded()[0] ?? "", /^bundle "cached" \(oci:\/\/\S+\): its source fails: .*GET failed: connect ECONNREFUSED .*; revision v1 stays in force$/);
    } finally {
      await own.stop();
    }
  });

  test("serve --bundle oci://… loads the bundle in the real executable", async () => {
    await pushBundle(repo("acme/served"), "v", bundle("v2"));
    const child = spawn(process.execPath, [BIN, "serve", "--offline", "--listen", "127.0.0.1:0", "--bundle", ref("acme/served", "v"), "--bundle-insecure-registry", plain.host, "--bundle-cache-dir", ""], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    try {
      await until("serving", () => {
        if (child.exitCode !== null) throw new Error(`serve exited:\n${stderr}`);
        return stderr.includes('"message":"agentgate serving"');
      }, { timeoutMs: 60_000 });
      const line = stderr.split("\n").find((l) => l.includes('"message":"agentgate serving"')) ?? "";
      const served = JSON.parse(line) as { bundles: { name: string; revision?: string; origin?: string }[] };
      assert.deepEqual(served.bundles.filter((b) => b.name !== "default").map((b) => [b.name, b.revision, b.origin]), [["served", "v2", "oci"]]);
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, stderr);
  });
});

describe("a registry with token authentication", () => {
  let tokens: TokenService;
  let reg: TestRegistry;
  const accepted = "file-token-1";
  before(async () => {
    tokens = await startTokenService({ users: { alice: "wonder:land" }, bearerTokens: () => [accepted] });
    reg = await startRegistry({ token: tokens });
    await pushBundle({ url: reg.url, repository: "acme/private", authorization: async () => `Bearer ${await tokens.tokenFor("acme/private")}` }, "live", bundle("v1"));
    await writeFile(f("docker-config.json"), JSON.stringify({ auths: { [`http://${reg.host}`]: { auth: Buffer.from("alice:wonder:land").toString("base64") } } }));
    await writeFile(f("wrong-config.json"), JSON.stringify({ auths: { [reg.host]: { username: "alice", password: "nope" } } }));
    await writeFile(f("registry-token"), `${accepted}\n`);
  });
  after(async () => {
    await reg.stop();
    await tokens.stop();
  });
  const location = () => `oci://${reg.host}/acme/private:live`;

  test("a docker config.json's credentials get a pull token from the realm", async () => {
    tokens.requests.length = 0;
    const store = await open({ bundle: [location()], bundleInsecureRegistry: [reg.host], bundleRegistryCredentials: f("docker-config.json") });
    store.stop();
    assert.equal(revision(store), "v1");
    assert.deepEqual(tokens.requests.map((r) => [r.who, r.scope, r.status]), [["basic:alice", "repository:acme/private:pull", 200]]);
  });

  test("--bundle-bearer-token-file's token never goes to the token realm, another origin than the --bundle's: asked anonymously, and refused", async () => {
    tokens.requests.length = 0;
    const store = await open({ bundle: [location()], bundleInsecureRegistry: [reg.host], bundleBearerTokenFile: f("registry-token") });
    store.stop();
    assert.equal(revision(store), undefined);
    assert.deepEqual(tokens.requests.map((r) => r.who), ["anonymous"], "a token meant for the bundle's origin is not collected by a realm a registry names");
    assert.match(lastError(store), /answered HTTP 401 UNAUTHORIZED: bad credentials with no credentials \(anonymous\)/);
  });

  test("no credentials, or wrong ones: the token service's refusal, in one line naming what was sent", async () => {
    const anonymous = await open({ bundle: [location()], bundleInsecureRegistry: [reg.host] });
    anonymous.stop();
    assert.match(lastError(anonymous), /^bundle oci:\/\/\S+: the registry's token service http:\/\/127\.0\.0\.1:\d+\/token answered HTTP 401 UNAUTHORIZED: bad credentials with no credentials \(anonymous\) \(attempt 1; retrying\)$/);
    const wrong = await open({ bundle: [location()], bundleInsecureRegistry: [reg.host], bundleRegistryCredentials: f("wrong-config.json") });
    wrong.stop();
    assert.match(lastError(wrong), /answered HTTP 401 UNAUTHORIZED: bad credentials with the --bundle-registry-credentials of 127\.0\.0\.1:\d+ /);
  });
});

describe("a registry serving TLS that requires a client certificate", () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ tls: { cert: serving.cert, key: serving.key, ca: serverCa.cert, clientCa: clientsCa.cert } });
    const dispatcher = new Agent({ connect: { ca: serverCa.cert, cert: client.cert, key: client.key } });
    await pushBundle({ url: reg.url, repository: "acme/mtls", dispatcher }, "live", bundle("v3"));
    await dispatcher.close();
  });
  after(() => reg.stop());
  const location = () => `oci://${reg.host}/acme/mtls:live`;
  const mtls = () => ({ bundleClientCert: f("client.crt"), bundleClientKey: f("client.key") });

  test("--bundle-ca and --bundle-client-cert/--bundle-client-key: pulled over mutual TLS", async () => {
    const store = await open({ bundle: [location()], bundleCa: f("server-ca.pem"), ...mtls() });
    store.stop();
    assert.equal(revision(store), "v3", lastError(store));
  });

  test("without the client certificate, or trusting another CA: one line saying which side of TLS failed", async () => {
    const noCert = await open({ bundle: [location()], bundleCa: f("server-ca.pem") });
    noCert.stop();
    assert.match(lastError(noCert), /^bundle oci:\/\/\S+: manifest \S+: GET failed: TLS: tlsv13 alert certificate required \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\); the server requires a client certificate it trusts \(--bundle-client-cert\) \(attempt 1; retrying\)$/);
    const stranger = await open({ bundle: [location()], bundleCa: f("stranger-ca.pem"), ...mtls() });
    stranger.stop();
    assert.match(lastError(stranger), /^bundle oci:\/\/\S+: manifest \S+: GET failed: TLS: unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); the server's certificate does not verify against the system roots and --bundle-ca \(attempt 1; retrying\)$/);
  });

  test("audit --once with a CA that does not sign the registry: exit 2, the error one line", async () => {
    const child = spawn(process.execPath, [BIN, "audit", "--once", "--dry-run", "--kubeconfig", f("kubeconfig"), "--bundle", location(), "--bundle-ca", f("stranger-ca.pem"), "--bundle-cache-dir", ""], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, AGENTGATE_LOG_LEVEL: "error" } });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 2, stderr);
    const last = stderr.trimEnd().split("\n").at(-1) ?? "";
    assert.match(last, /^agentgate: audit --once: no policy bundle in force yet; mtls \(oci:\/\/\S+\): .*GET failed: TLS: unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); the server's certificate does not verify against the system roots and --bundle-ca/);
  });
});

describe("an https bundle service requiring a client certificate and a bearer token", () => {
  let server: HttpsServer;
  let accepted = "token-1";
  const seen: { authorization: string | undefined; status: number }[] = [];
  let base = "";
  before(async () => {
    const archive = bundle("v2");
    const etag = `"${createHash("sha256").update(archive).digest("hex").slice(0, 16)}"`;
    server = createHttpsServer({ cert: serving.cert, key: serving.key, ca: clientsCa.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const ok = req.headers.authorization === `Bearer ${accepted}`;
      const status = !ok ? 401 : req.headers["if-none-match"] === etag ? 304 : 200;
      seen.push({ authorization: req.headers.authorization, status });
      if (status === 200) res.writeHead(200, { etag, "content-type": "application/gzip" }).end(archive);
      else res.writeHead(status, status === 304 ? { etag } : {}).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
    await writeFile(f("service-token"), "token-1\n");
  });
  after(() => new Promise<void>((r) => { server.close(() => { r(); }); server.closeAllConnections(); }));
  const flags = () => ({ bundle: [`${base}/bundles/team.tar.gz`], bundleCa: f("server-ca.pem"), bundleClientCert: f("client.crt"), bundleClientKey: f("client.key"), bundleBearerTokenFile: f("service-token") });

  test("loaded with all three; a rotated token file is sent from the next poll on", async () => {
    seen.length = 0;
    const store = await open(flags());
    try {
      assert.equal(revision(store), "v2", lastError(store));
      assert.deepEqual(seen[0], { authorization: "Bearer token-1", status: 200 });
      // The kubelet rewrites a projected token; the service accepts only the new one from now on.
      await writeFile(f("service-token"), "token-2\n");
      accepted = "token-2";
      await until("a 304 for the new token", () => seen.some((s) => s.authorization === "Bearer token-2" && s.status === 304));
      assert.ok(!seen.some((s) => s.status === 401), "no poll went out with the old token after the rotation");
      assert.equal(revision(store), "v2");
    } finally {
      store.stop();
    }
  });

  test("each missing piece is one line: the token, the client certificate, the CA", async () => {
    const { bundleBearerTokenFile: _t, ...noToken } = flags();
    const a = await open(noToken);
    a.stop();
    assert.match(lastError(a), /^bundle https:\/\/\S+: GET answered HTTP 401 Unauthorized \(attempt 1; retrying\)$/);
    const { bundleClientCert: _c, bundleClientKey: _k, ...noCert } = flags();
    const b = await open(noCert);
    b.stop();
    // node:https closes the connection rather than sending TLS 1.3's certificate_required alert.
    assert.match(lastError(b), /^bundle https:\/\/\S+: GET failed: (TLS: .*; the server requires a client certificate it trusts \(--bundle-client-cert\)|.*; if the server requires a client certificate, give --bundle-client-cert) \(attempt 1; retrying\)$/);
    const c = await open({ ...flags(), bundleCa: f("stranger-ca.pem") });
    c.stop();
    assert.match(lastError(c), /^bundle https:\/\/\S+: GET failed: TLS: unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); the server's certificate does not verify against the system roots and --bundle-ca \(attempt 1; retrying\)$/);
    assert.ok([a, b, c].every((s) => !lastError(s).includes("\n")));
    assert.ok([a, b, c].every((s) => !lastError(s).includes("token-")), "the token is never in an error");
  });
});
