// Self-managed certificates end to end on the local control plane: two
// gateway replicas started at once agree on one Secret, both webhook
// configurations get its CA, and with a 20 s certificate and a 60 s CA the
// certificates rotate (serving certificate renewals and a full CA rotation)
// under continuous HTTPS requests from a client that trusts only the caBundle
// of the webhook configuration, with no request failing; the real API server
// denies a violating AgentConfig through the self-managed certificate before
// and after the rotation.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { startGateway, type RunningGateway, type ServeOptions } from "../../src/cli/serve.ts";
import { decodeCaBundle } from "../../src/certs/ca-bundle.ts";
import { fingerprint, fromSecretData, toSecretData } from "../../src/certs/material.ts";
import { fresh, serviceHosts } from "../../src/certs/rotate.ts";
import { webhookConfigurations, WEBHOOKS } from "../../src/gateway/webhooks.ts";
import { logger } from "../../src/log.ts";
import type { KubeApi } from "../../src/kube/api.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import { startControlPlane, toolPath, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";
import { freePort } from "../../src/testing/free-port.ts";
import { httpsCall } from "../support/https-call.ts";
import { agentConfigReview } from "../support/admission-review.ts";
import { SELF_MANAGED, selfManagedGateway } from "../support/gateway.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const { namespace: GW_NS, secret: SECRET, webhookConfig: CONFIG } = SELF_MANAGED;

let cp: ControlPlane;
let api: KubeApi;
const gateways: RunningGateway[] = [];
let ports: number[] = [];


const secretPath = (name: string): string => `/api/v1/namespaces/${GW_NS}/secrets/${name}`;
const validatingPath = (name: string): string => `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${name}`;
const mutatingPath = (name: string): string => `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const gatewayOptions = (port: number): ServeOptions => ({
  ...selfManagedGateway(port, cp.kubeconfigPath),
  certValidity: "20s",
  caValidity: "60s",
});

async function secretMaterial() {
  const secret = await api.get<k8s.V1Secret>(secretPath(SECRET));
  return { secret, material: fromSecretData(secret.data) };
}

/** The CAs each webhook entry of both configurations trusts, as fingerprint lists. */
async function configuredBundles(): Promise<string[][]> {
  const validating = await api.get<k8s.V1ValidatingWebhookConfiguration>(validatingPath(CONFIG));
  const mutating = await api.get<k8s.V1MutatingWebhookConfiguration>(mutatingPath(CONFIG));
  return [...(validating.webhooks ?? []), ...(mutating.webhooks ?? [])].map((w) => decodeCaBundle(w.clientConfig.caBundle).map(fingerprint));
}

const review = (uid: string): string => agentConfigReview(uid, { tokenBudget: 900000 });

/** One request on a fresh TLS connection, trusting only `ca`; resolves with the serving certificate's fingerprint. */
async function validate(port: number, ca: string, uid: string): Promise<string> {
  const { status, body, served } = await httpsCall(port, "POST", "/validate", review(uid), { ca, timeoutMs: 10_000 });
  const parsed = JSON.parse(body) as { response?: { uid?: string; allowed?: boolean } };
  if (status !== 200 || parsed.response?.uid !== uid || parsed.response.allowed !== false) throw new Error(`unexpected answer ${String(status)}: ${body.slice(0, 200)}`);
  return served;
}

const readyz = (port: number) => httpsCall(port, "GET", "/readyz");

async function kubectlApplyDenied(): Promise<{ code: number; stderr: string }> {
  return cp.kubectl(["apply", "-f", join(ROOT, "examples/agentconfig-denied.yaml")], { allowFail: true });
}

before(async () => {
  logger.level = "warn";
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  api = kubeApiOf(cp.kubeConfig);
  ports = [await freePort(), await freePort()];
  // Registered before any certificate exists (as a chart would): caBundle empty.
  const { validating, mutating } = webhookConfigurations({
    name: CONFIG,
    target: { url: `https://127.0.0.1:${String(ports[0])}`, caBundle: "" },
    exemptNamespaces: ["kube-system", GW_NS],
    timeoutSeconds: 10,
  });
  const ns = (name: string) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  await cp.applyYaml([ns(GW_NS), ns("qe"), validating, mutating].map((d) => stringify(d)).join("---\n"));
});

after(async () => {
  for (const g of gateways) await g.close();
  api.close();
  await cp.stop();
});

test("/readyz stays not ready while no certificate can be had from the Secret", async () => {
  const port = await freePort();
  const g = await startGateway({ ...gatewayOptions(port), certSecret: "no-such-namespace/tls", webhookConfig: [] });
  try {
    await sleep(1500);
    const res = await readyz(port);
    assert.equal(res.status, 503);
    assert.match(res.body, /no serving certificate from Secret no-such-namespace\/tls yet/);
    assert.equal(g.certificates?.loads, 0);
  } finally {
    await g.close();
  }
});

test("bad certificate flags are refused with a line naming the flag", async () => {
  const port = await freePort();
  await assert.rejects(startGateway({ ...gatewayOptions(port), certValidity: "soon" }), /--cert-validity "soon": expected a duration/);
  await assert.rejects(startGateway({ ...gatewayOptions(port), caValidity: "1s" }), /--ca-validity "1s": must be at least 10s/);
  await assert.rejects(startGateway({ ...gatewayOptions(port), certSecret: "just-a-name" }), /--cert-secret "just-a-name": expected NAMESPACE\/NAME/);
  await assert.rejects(startGateway({ ...gatewayOptions(port), webhookConfig: ["Bad_Name"] }), /--webhook-config "Bad_Name"/);
  await assert.rejects(startGateway({ ...gatewayOptions(port), tlsCertFile: "/x", tlsKeyFile: "/y" }), /--cert-secret and --tls-cert-file\/--tls-key-file exclude each other/);
});

test("two replicas starting at once agree on one Secret, and both webhook configurations trust its CA", async (t) => {
  const started = await Promise.all(ports.map((p) => startGateway(gatewayOptions(p))));
  gateways.push(...started);
  await Promise.all(started.map((g) => g.certificates?.ready() ?? Promise.reject(new Error("no certificate manager"))));
  const { secret, material } = await secretMaterial();
  assert.equal(secret.type, "kubernetes.io/tls");
  assert.deepEqual(Object.keys(secret.data ?? {}).sort(), ["ca.crt", "ca.key", "tls.crt", "tls.key"]);
  const writes = started.map((g) => g.certificates?.writes ?? 0);
  assert.equal(writes.reduce((a, b) => a + b, 0), 1, `exactly one replica created the Secret (writes: ${writes.join(", ")})`);
  t.diagnostic(`start-up: Secret writes per replica ${writes.join(", ")}; lost create/update races per replica ${started.map((g) => String(g.certificates?.conflicts ?? 0)).join(", ")}`);
  // Both serve the Secret's certificate, verified against its CA only.
  const ca = material.trusted.join("");
  for (const [i, port] of ports.entries()) assert.equal(await validate(port, ca, `start-${String(i)}`), fingerprint(material.serving.cert));
  for (const port of ports) assert.equal((await readyz(port)).status, 200, "ready once the Secret's certificate is loaded");
  const bundles = await waitFor("caBundle in every webhook entry", 10_000, async () => {
    const b = await configuredBundles();
    return b.every((fps) => fps.length === 1) ? b : undefined;
  });
  assert.equal(bundles.length, WEBHOOKS.length, "every webhook of both configurations");
  for (const fps of bundles) assert.deepEqual(fps, [fingerprint(material.signer.cert)]);
});

test("the API server denies a violating AgentConfig through the self-managed certificate", async () => {
  const r = await kubectlApplyDenied();
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /admission webhook "validate\.agent\.tekton\.dev" denied the request: [\s\S]*\[token-budget\]/);
});

test("certificates rotate (serving renewals and a CA rotation) under continuous requests with none failing", async (t) => {
  const initial = (await secretMaterial()).material;
  const firstCa = fingerprint(initial.signer.cert);
  let stop = false;
  let requests = 0;
  const failures: string[] = [];
  const servedCerts = new Set<string>();
  const bundlesSeen = new Set<string>();
  let kubectlDenials = 0;
  const kubectlFailures: string[] = [];

  const client = async (worker: number) => {
    for (let n = 0; !stop; n++) {
      const port = ports[(n + worker) % ports.length] ?? 0;
      try {
        // As the API server does: trust exactly what the configuration says, read fresh.
        const config = await api.get<k8s.V1ValidatingWebhookConfiguration>(validatingPath(CONFIG));
        const ca = Buffer.from(config.webhooks?.[0]?.clientConfig.caBundle ?? "", "base64").toString("utf8");
        bundlesSeen.add(decodeCaBundle(config.webhooks?.[0]?.clientConfig.caBundle).map(fingerprint).join("+"));
        servedCerts.add(await validate(port, ca, `w${String(worker)}-${String(n)}`));
      } catch (err) {
        failures.push(`port ${String(port)} at ${new Date().toISOString()}: ${err instanceof Error ? err.message : String(err)}`);
      }
      requests++;
    }
  };
  const viaApiServer = async () => {
    while (!stop) {
      const r = await kubectlApplyDenied();
      if (r.code === 1 && /denied the request/.test(r.stderr)) kubectlDenials++;
      else kubectlFailures.push(`${String(r.code)}: ${r.stderr.trim().split("\n").pop() ?? ""}`);
      await sleep(2000);
    }
  };
  const started = Date.now();
  const load = Promise.all([client(0), client(1), viaApiServer()]);
  try {
    // Done when the first CA has been replaced as signer and has left the caBundle (it expires after 60 s).
    await waitFor("a full CA rotation", 120_000, async () => {
      const { material } = await secretMaterial();
      const bundles = await configuredBundles();
      const rotated = fingerprint(material.signer.cert) !== firstCa && bundles.every((fps) => !fps.includes(firstCa) && fps.length >= 1);
      return rotated ? true : undefined;
    });
    // A few more seconds on the new CA alone.
    await sleep(3000);
  } finally {
    stop = true;
    await load;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const loads = gateways.map((g) => g.certificates?.loads ?? 0);
  const writes = gateways.map((g) => `${String(g.certificates?.writes ?? 0)} won/${String(g.certificates?.conflicts ?? 0)} lost`);
  t.diagnostic(`rotation under load: ${String(requests)} HTTPS requests in ${seconds} s, ${String(failures.length)} failed; ${String(servedCerts.size)} serving certificates seen; caBundles seen: ${String(bundlesSeen.size)}; certificate loads per replica: ${loads.join(", ")}; Secret writes per replica: ${writes.join(", ")}; kubectl denials via the API server: ${String(kubectlDenials)}, other outcomes: ${String(kubectlFailures.length)}`);
  assert.deepEqual(failures, [], "no HTTPS request failed");
  assert.deepEqual(kubectlFailures, [], "every kubectl apply was denied by the webhook, none failed calling it");
  assert.ok(requests > 100, `requests: ${String(requests)}`);
  assert.ok(servedCerts.size >= 4, `the serving certificate rotated (${String(servedCerts.size)} seen)`);
  assert.ok(bundlesSeen.size >= 3, `the caBundle went old CA -> old + next -> next (${String(bundlesSeen.size)} seen)`);
  for (const n of loads) assert.ok(n >= 4, `each replica reloaded without restart (${loads.join(", ")})`);

  const after = await kubectlApplyDenied();
  assert.equal(after.code, 1, after.stderr);
  assert.match(after.stderr, /admission webhook "validate\.agent\.tekton\.dev" denied the request: [\s\S]*\[token-budget\]/, "denied through a certificate of the new CA");
  const served = new X509Certificate((await secretMaterial()).material.serving.cert);
  assert.notEqual(served.issuer, new X509Certificate(initial.signer.cert).subject, "the serving certificate now comes from the new CA");
});

test("the chart's least-privilege RBAC is enough: Secret by name (get, watch, update; create), both configurations by name (get, update)", async () => {
  // A release of its own, so its caBundle and Secret do not meet the ones above.
  const release = "rbac-check";
  const fullname = `${release}-agentgate`;
  const { stdout: rbac } = await promisify(execFile)(toolPath("helm"), ["template", release, join(ROOT, "charts/agentgate"), "--namespace", GW_NS, "--show-only", "templates/gateway-rbac.yaml"]);
  await cp.applyYaml(rbac);
  const kubeconfig = await cp.kubeconfigFor(`system:serviceaccount:${GW_NS}:${fullname}-gateway`);
  const { validating, mutating } = webhookConfigurations({ name: fullname, target: { url: "https://127.0.0.1:1", caBundle: "" }, exemptNamespaces: ["kube-system", GW_NS] });
  // Registered for their caBundle only: they match no object.
  for (const config of [validating, mutating]) for (const w of config.webhooks as Record<string, unknown>[]) w.objectSelector = { matchLabels: { "agentgate.test/never": "true" } };
  await cp.applyYaml([validating, mutating].map((d) => stringify(d)).join("---\n"));

  const port = await freePort();
  const g = await startGateway({ ...gatewayOptions(port), kubeconfig, certSecret: `${GW_NS}/${fullname}-tls`, webhookConfig: [fullname], certValidity: "1h", caValidity: "24h" });
  try {
    const certs = g.certificates;
    assert.ok(certs);
    await Promise.race([certs.ready(), sleep(20_000).then(() => { throw new Error(`no certificate with the chart's RBAC: ${certs.notReady() ?? ""}`); })]);
    const secret = await api.get<k8s.V1Secret>(secretPath(`${fullname}-tls`));
    const ca = fromSecretData(secret.data).signer.cert;
    const read = async () => [
      ...((await api.get<k8s.V1ValidatingWebhookConfiguration>(validatingPath(fullname))).webhooks ?? []),
      ...((await api.get<k8s.V1MutatingWebhookConfiguration>(mutatingPath(fullname))).webhooks ?? []),
    ].map((w) => decodeCaBundle(w.clientConfig.caBundle).map(fingerprint));
    await waitFor("caBundle written with the chart's RBAC", 10_000, async () => ((await read()).every((fps) => fps.join() === fingerprint(ca)) ? true : undefined));

    // A certificate put into the Secret from outside reaches the replica
    // through its watch (authorised by resourceNames), well before the 60 s resync.
    const replacement = fresh({ hosts: [...serviceHosts("agentgate", GW_NS), "127.0.0.1"], servingValidityMs: 3_600_000, caValidityMs: 86_400_000 }, new Date());
    await api.replace(secretPath(`${fullname}-tls`), { apiVersion: "v1", kind: "Secret", metadata: { name: `${fullname}-tls`, namespace: GW_NS, resourceVersion: secret.metadata?.resourceVersion }, type: secret.type, data: toSecretData(replacement) });
    await waitFor("the replacement certificate served", 15_000, async () => {
      try {
        return (await validate(port, replacement.trusted.join(""), "rbac-watch")) === fingerprint(replacement.serving.cert) ? true : undefined;
      } catch {
        return undefined;
      }
    });
    await waitFor("caBundle following the Secret", 10_000, async () => ((await read()).every((fps) => fps.join() === fingerprint(replacement.signer.cert)) ? true : undefined));
  } finally {
    await g.close();
  }
});
