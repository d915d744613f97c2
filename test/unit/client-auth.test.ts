// `serve --client-ca-file`: the admission endpoints answer only callers with a
// client certificate from the CA (and, with --client-cn, one of the names);
// probes and metrics stay open; the CA file and the serving certificate are
// each swapped without losing the other.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { StaticLookup } from "../../src/context/static-lookup.ts";
import { makeIdentity } from "../../src/guardrails/identity.ts";
import { ephemeralKeyring } from "../../src/signing/keyring.ts";
import { logger } from "../../src/log.ts";
import { loadEngine } from "../../src/policy/load.ts";
import { ClientAuth, ClientCaReloader, parseCaBundle } from "../../src/server/client-auth.ts";
import { GatewayMetrics } from "../../src/server/metrics.ts";
import { createGatewayServer } from "../../src/server/server.ts";
import { generateServingCertificate } from "../../src/tls/self-signed.ts";
import { clientCertificate, testCa, type TestCa } from "../e2e/client-certs.ts";

let dir: string;
let caFile: string;
let server: Server;
let port = 0;
let auth: ClientAuth;
let reloader: ClientCaReloader;
let apiServerCa: TestCa;
let otherCa: TestCa;
const metrics = new GatewayMetrics();

interface Answer {
  status: number;
  body: string;
  /** fingerprint of the serving certificate the gateway presented */
  served: string;
}

function call(method: string, path: string, client?: { cert: string; key: string }, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path, method, rejectUnauthorized: false, agent: false, ...(client ? { cert: client.cert, key: client.key } : {}), headers: { "content-type": "application/json" } }, (res) => {
      const served = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), served }); });
    });
    req.on("error", reject);
    req.end(body);
  });
}

const review = JSON.stringify({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request: {
    uid: "u-auth",
    kind: { group: "kagent.dev", version: "v1alpha2", kind: "ModelConfig" },
    resource: { group: "kagent.dev", version: "v1alpha2", resource: "modelconfigs" },
    operation: "CREATE",
    namespace: "qe",
    name: "m",
    userInfo: { username: "alice" },
    object: { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "m", namespace: "qe" }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022" } },
  },
});

before(async () => {
  logger.level = "error";
  dir = await mkdtemp(join(tmpdir(), "agentgate-client-auth-"));
  apiServerCa = testCa("api-server-clients");
  otherCa = testCa("someone-else");
  caFile = join(dir, "client-ca.crt");
  await writeFile(caFile, apiServerCa.cert);
  auth = new ClientAuth({ caPem: apiServerCa.cert, allowedNames: ["kube-apiserver", "kube-apiserver-2"] });
  reloader = new ClientCaReloader(auth, caFile, logger);
  const engine = await loadEngine([]);
  server = createGatewayServer({
    tls: generateServingCertificate(["127.0.0.1"]),
    deps: { engine: () => engine, lookup: new StaticLookup(), identity: makeIdentity([]), exemptNamespaces: new Set(["kube-system"]), keyring: ephemeralKeyring() },
    metrics,
    log: logger,
    notReady: () => undefined,
    clientAuth: auth,
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  port = typeof address === "object" && address ? address.port : 0;
});

after(async () => {
  reloader.stop();
  await new Promise<void>((r) => { server.close(() => { r(); }); server.closeAllConnections(); });
  await rm(dir, { recursive: true, force: true });
});

const refusals: { name: string; client: () => { cert: string; key: string } | undefined; status: number; error: RegExp }[] = [
  { name: "no client certificate", client: () => undefined, status: 401, error: /^POST \/validate: a TLS client certificate signed by the gateway's client CA \(Helm gateway.clientAuth\) is required; none was presented$/ },
  { name: "a certificate from another CA", client: () => clientCertificate(otherCa, "kube-apiserver"), status: 401, error: /^POST \/validate: the TLS client certificate does not verify against the gateway's client CA \(Helm gateway.clientAuth\): UNABLE_TO_VERIFY_LEAF_SIGNATURE$/ },
  { name: "a certificate from the CA made for serving, not for clients", client: () => clientCertificate(apiServerCa, "kube-apiserver", "serverAuth"), status: 401, error: /^POST \/validate: the TLS client certificate does not verify against the gateway's client CA \(Helm gateway.clientAuth\): INVALID_PURPOSE$/ },
  { name: "a certificate from the CA whose CN is not allowed", client: () => clientCertificate(apiServerCa, "mallory"), status: 403, error: /^POST \/validate: client certificate CN "mallory" is not among the gateway's allowed client names \(Helm gateway.clientAuth.allowedNames: kube-apiserver, kube-apiserver-2\)$/ },
];

for (const c of refusals) {
  test(`refuses ${c.name} with ${c.status} and one JSON line, before evaluating anything`, async () => {
    const before = (await metrics.requests.get()).values.length;
    const answer = await call("POST", "/validate", c.client(), review);
    assert.equal(answer.status, c.status);
    assert.equal(answer.body.trimEnd().includes("\n"), false);
    assert.match((JSON.parse(answer.body) as { error: string }).error, c.error);
    assert.equal((await metrics.requests.get()).values.length, before, "no admission decision counted");
  });
}

test("a certificate from the CA with an allowed CN is answered on /validate and /mutate", async () => {
  const client = clientCertificate(apiServerCa, "kube-apiserver-2");
  for (const path of ["/validate", "/mutate"]) {
    const answer = await call("POST", path, client, review);
    assert.equal(answer.status, 200, answer.body);
    assert.equal((JSON.parse(answer.body) as { response: { uid: string } }).response.uid, "u-auth");
  }
});

test("probes and metrics need no certificate", async () => {
  for (const path of ["/healthz", "/readyz", "/metrics"]) assert.equal((await call("GET", path)).status, 200, path);
});

test("a renewed serving certificate keeps the client CA, and a new client CA keeps the serving certificate", async () => {
  const client = clientCertificate(apiServerCa, "kube-apiserver");
  const renewed = generateServingCertificate(["127.0.0.1"]);
  // What tls-reload.ts and self-managed certificates do on renewal.
  server.setSecureContext({ cert: renewed.cert, key: renewed.key, minVersion: "TLSv1.2" });
  const afterRenewal = await call("POST", "/validate", client, review);
  assert.equal(afterRenewal.status, 200, afterRenewal.body);
  assert.equal(afterRenewal.served, new X509Certificate(renewed.cert).fingerprint256);

  const nextCa = testCa("api-server-clients-next");
  await writeFile(caFile, nextCa.cert);
  assert.equal(await reloader.reload(), true);
  assert.equal((await call("POST", "/validate", client, review)).status, 401, "the old CA's certificate is refused after the swap");
  const next = await call("POST", "/validate", clientCertificate(nextCa, "kube-apiserver"), review);
  assert.equal(next.status, 200, next.body);
  assert.equal(next.served, new X509Certificate(renewed.cert).fingerprint256, "the renewed serving certificate is still served");
});

test("a CA file that does not parse, or holds no CA, keeps the CA in use", async () => {
  const inUse = auth.ca;
  await writeFile(caFile, "not a certificate");
  assert.equal(await reloader.reload(), false);
  await writeFile(caFile, clientCertificate(otherCa, "leaf").cert);
  assert.equal(await reloader.reload(), false);
  assert.equal(auth.ca, inUse);
});

const bundles: { name: string; pem: () => string; error: RegExp }[] = [
  { name: "no PEM block", pem: () => "hello", error: /^ca\.crt: no PEM certificate \(expected "-----BEGIN CERTIFICATE-----"\)$/ },
  { name: "a broken block", pem: () => "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", error: /^ca\.crt: certificate 1 of 1 is not a valid X\.509 certificate$/ },
  { name: "a leaf after a CA", pem: () => `${otherCa.cert}${clientCertificate(otherCa, "leaf").cert}`, error: /^ca\.crt: certificate 2 of 2 \(CN=leaf\) is not a CA \(basicConstraints CA:FALSE\)$/ },
];

for (const c of bundles) {
  test(`a CA bundle with ${c.name} is refused in one line`, () => {
    assert.throws(() => parseCaBundle(c.pem(), "ca.crt"), (err: unknown) => err instanceof Error && c.error.test(err.message));
  });
}

test("a bundle of two CAs is read as two", () => {
  assert.equal(parseCaBundle(`${apiServerCa.cert}\n${otherCa.cert}`, "ca.crt").length, 2);
});
