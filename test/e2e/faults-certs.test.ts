// Fault injection on self-managed certificates (issue 18, item 2): the
// certificate Secret deleted, then corrupted, while two gateway replicas
// serve and kubectl keeps applying an AgentConfig the policies deny, through
// the real API server. The Secret comes back whole (deleting it makes a new
// CA, as deleting the signing keys' Secret makes new keys), every webhook
// configuration trusts it, both replicas serve it, and meanwhile each
// request is either judged by the policies or refused by the API server
// because the webhook could not be called (failurePolicy Fail): never
// admitted, never left without an answer.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { decodeCaBundle } from "../../src/certs/ca-bundle.ts";
import { fingerprint, fromSecretData, type CertificateMaterial } from "../../src/certs/material.ts";
import { startGateway, type RunningGateway, type ServeOptions } from "../../src/cli/serve.ts";
import { webhookConfigurations } from "../../src/gateway/webhooks.ts";
import { logger } from "../../src/log.ts";
import type { KubeApi } from "../../src/kube/api.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";
import { captureLogs, type CapturedLogs } from "../support/fault-kit.ts";
import { until } from "../support/until.ts";
import { freePort } from "../../src/testing/free-port.ts";
import { httpsCall } from "../support/https-call.ts";
import { SELF_MANAGED, selfManagedGateway } from "../support/gateway.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const { namespace: GW_NS, secret: SECRET, webhookConfig: CONFIG } = SELF_MANAGED;

let cp: ControlPlane;
let api: KubeApi;
let logs: CapturedLogs;
const gateways: RunningGateway[] = [];
let ports: number[] = [];


const secretPath = `/api/v1/namespaces/${GW_NS}/secrets/${SECRET}`;

const options = (port: number): ServeOptions => selfManagedGateway(port, cp.kubeconfigPath);

async function material(): Promise<CertificateMaterial | undefined> {
  try {
    return fromSecretData((await api.get<k8s.V1Secret>(secretPath)).data);
  } catch {
    return undefined;
  }
}

/** The CA fingerprints each webhook entry of both configurations trusts. */
async function trustedByWebhooks(): Promise<string[][]> {
  const validating = await api.get<k8s.V1ValidatingWebhookConfiguration>(`/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${CONFIG}`);
  const mutating = await api.get<k8s.V1MutatingWebhookConfiguration>(`/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${CONFIG}`);
  return [...(validating.webhooks ?? []), ...(mutating.webhooks ?? [])].map((w) => decodeCaBundle(w.clientConfig.caBundle).map(fingerprint));
}


type Outcome = "judged" | "failed-closed" | "admitted" | "other";

/** kubectl apply of an AgentConfig the default bundle denies, as the API server answers it. */
async function applyDenied(): Promise<{ outcome: Outcome; stderr: string }> {
  const r = await cp.kubectl(["apply", "--dry-run=server", "-f", join(ROOT, "examples/agentconfig-denied.yaml")], { allowFail: true });
  if (r.code === 0) return { outcome: "admitted", stderr: r.stderr };
  if (/denied the request: [\s\S]*\[token-budget\]/.test(r.stderr)) return { outcome: "judged", stderr: r.stderr };
  if (/failed calling webhook "[a-z.]+agent\.tekton\.dev"/.test(r.stderr)) return { outcome: "failed-closed", stderr: r.stderr };
  return { outcome: "other", stderr: r.stderr };
}

/** Applies in a loop until stopped; counts each outcome. */
function keepApplying(): { stop(): Promise<Record<Outcome, number> & { others: string[] }> } {
  const counts = { judged: 0, "failed-closed": 0, admitted: 0, other: 0, others: [] as string[] };
  let going = true;
  const loop = (async () => {
    while (going) {
      const { outcome, stderr } = await applyDenied();
      counts[outcome]++;
      if (outcome === "other" || outcome === "admitted") counts.others.push(stderr);
    }
  })();
  return {
    stop: async () => {
      going = false;
      await loop;
      return counts;
    },
  };
}

/** Both replicas serve the Secret's certificate, the webhook configurations trust its CA, and the API server judges through it again. */
async function converged(what: string, notCa: string): Promise<CertificateMaterial> {
  const m = await until(`${what}: the Secret whole again, with a new CA`, async () => {
    const got = await material();
    return got && fingerprint(got.signer.cert) !== notCa ? got : undefined;
  });
  const ca = fingerprint(m.signer.cert);
  await until(`${what}: every webhook entry to trust the new CA`, async () => ((await trustedByWebhooks()).every((fps) => fps.includes(ca)) ? true : undefined));
  for (const port of ports) {
    await until(`${what}: replica ${String(port)} to serve the new certificate`, async () => ((await httpsCall(port, "GET", "/readyz", undefined, { ca: m.trusted.join(""), timeoutMs: 10_000 }).catch(() => undefined))?.served === fingerprint(m.serving.cert) ? true : undefined));
  }
  await until(`${what}: the API server to judge through the webhook again`, async () => ((await applyDenied()).outcome === "judged" ? true : undefined));
  return m;
}

before(async () => {
  logs = captureLogs(logger, "info");
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  api = kubeApiOf(cp.kubeConfig);
  ports = [await freePort(), await freePort()];
  const { validating, mutating } = webhookConfigurations({ name: CONFIG, target: { url: `https://127.0.0.1:${String(ports[0])}`, caBundle: "" }, exemptNamespaces: ["kube-system", GW_NS], timeoutSeconds: 10 });
  const ns = (name: string) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  await cp.applyYaml([ns(GW_NS), ns("qe"), validating, mutating].map((d) => stringify(d)).join("---\n"));
  gateways.push(...(await Promise.all(ports.map((p) => startGateway(options(p))))));
  await Promise.all(gateways.map((g) => g.certificates?.ready() ?? Promise.reject(new Error("no certificate manager"))));
  const m = await material();
  assert.ok(m, "the Secret was made");
  await converged("at start", "");
});

after(async () => {
  for (const g of gateways) await g.close();
  api.close();
  await cp.stop();
  logs.stop();
});

const faults: { name: string; inject: () => Promise<unknown>; says: RegExp }[] = [
  {
    name: "the certificate Secret deleted",
    inject: () => api.delete(secretPath),
    says: /^certificate Secret created$/,
  },
  {
    name: "the certificate Secret corrupted (tls.crt not a certificate)",
    inject: () => api.patch(secretPath, { data: { "tls.crt": Buffer.from("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n").toString("base64") } }),
    says: /^certificate Secret is unusable; replacing its certificates$/,
  },
];

for (const fault of faults) {
  test(`${fault.name}: made whole again and trusted; meanwhile every request judged or refused, none admitted or lost, both replicas ready`, async () => {
    const before = await material();
    assert.ok(before);
    const oldCa = fingerprint(before.signer.cert);
    const said = logs.find(fault.says).length;
    const applying = keepApplying();
    // Readiness through the fault: the replicas keep the certificate they loaded until the new one.
    let notReady = 0;
    let probing = true;
    const probes = (async () => {
      while (probing) {
        for (const port of ports) if ((await rawReadyz(port)) !== 200) notReady++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await fault.inject();
    let counts: Awaited<ReturnType<ReturnType<typeof keepApplying>["stop"]>>;
    try {
      await converged(fault.name, oldCa);
    } finally {
      counts = await applying.stop();
      probing = false;
      await probes;
    }
    process.stdout.write(`# ${fault.name}: kubectl apply judged ${String(counts.judged)}, refused as the webhook could not be called ${String(counts["failed-closed"])}, admitted ${String(counts.admitted)}, other ${String(counts.other)}\n`);
    assert.equal(counts.admitted, 0, counts.others.join("\n"));
    assert.equal(counts.other, 0, counts.others.join("\n"));
    assert.equal(notReady, 0, "a replica went unready");
    assert.ok(logs.find(fault.says).length > said, `the gateway logged ${String(fault.says)}`);
    const after = await material();
    assert.deepEqual(Object.keys((await api.get<k8s.V1Secret>(secretPath)).data ?? {}).sort(), ["ca.crt", "ca.key", "tls.crt", "tls.key"]);
    assert.notEqual(fingerprint(after?.signer.cert ?? ""), oldCa);
  });
}

/** /readyz without trusting anything: only whether the replica says it is ready (0: no answer). */
const rawReadyz = (port: number): Promise<number> => httpsCall(port, "GET", "/readyz").then((r) => r.status, () => 0);
