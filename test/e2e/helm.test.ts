// The chart against a real kube-apiserver: what `helm template` renders is
// accepted by server-side dry run in every certificate mode, and `helm
// install` registers webhooks through which a developer's `kubectl apply` of a
// violating AgentConfig comes back denied, line by line. The gateway runs as a
// local process (no kubelet here runs the chart's pods) and the chart points
// the webhooks at it with webhook.url.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import forge from "node-forge";
import { stringify } from "yaml";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { startControlPlane, toolPath, type ControlPlane } from "../support/control-plane.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHART = join(ROOT, "charts/agentgate");
const WORK = mkdtempSync(join(tmpdir(), "agentgate-helm-e2e-"));
const NS = "agentgate-system";

// Just enough of cert-manager's CRDs for the API server to know the kinds;
// cert-manager itself validates the specs, not this test.
const certManagerCrds = ["Certificate", "Issuer"].map((kind) => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${kind.toLowerCase()}s.cert-manager.io` },
  spec: {
    group: "cert-manager.io",
    scope: "Namespaced",
    names: { kind, plural: `${kind.toLowerCase()}s`, singular: kind.toLowerCase(), listKind: `${kind}List` },
    versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
  },
}));

let cp: ControlPlane;
let gateway: RunningGateway;
let caPem = "";

/** A CA and a serving certificate for 127.0.0.1, as an operator would put in a provided Secret. */
function servingCertificate(): { ca: string; cert: string; key: string } {
  const make = (subject: string, extensions: object[]) => {
    const keys = forge.pki.rsa.generateKeyPair(2048);
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = `0${forge.util.bytesToHex(forge.random.getBytesSync(8))}`;
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 3_600_000);
    cert.setSubject([{ name: "commonName", value: subject }]);
    cert.setExtensions(extensions);
    return { keys, cert };
  };
  const ca = make("agentgate-helm-e2e-ca", [{ name: "basicConstraints", cA: true }, { name: "keyUsage", keyCertSign: true, cRLSign: true }]);
  ca.cert.setIssuer(ca.cert.subject.attributes);
  ca.cert.sign(ca.keys.privateKey, forge.md.sha256.create());
  const leaf = make("127.0.0.1", [{ name: "basicConstraints", cA: false }, { name: "extKeyUsage", serverAuth: true }, { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }]);
  leaf.cert.setIssuer(ca.cert.subject.attributes);
  leaf.cert.sign(ca.keys.privateKey, forge.md.sha256.create());
  return { ca: forge.pki.certificateToPem(ca.cert), cert: forge.pki.certificateToPem(leaf.cert), key: forge.pki.privateKeyToPem(leaf.keys.privateKey) };
}

function helm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      toolPath("helm"),
      [...args, "--kubeconfig", cp.kubeconfigPath],
      // helm keeps caches and repositories under these; none of them is the user's.
      { env: { ...process.env, HELM_CACHE_HOME: join(WORK, "cache"), HELM_CONFIG_HOME: join(WORK, "config"), HELM_DATA_HOME: join(WORK, "data") }, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

let n = 0;
const valuesFile = (values: Record<string, unknown>): string => {
  const path = join(WORK, `values-${++n}.yaml`);
  writeFileSync(path, stringify(values));
  return path;
};

before(async () => {
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/crds"), join(ROOT, "test/support/crds")] });
  await cp.applyYaml(certManagerCrds.map((c) => stringify(c)).join("---\n"));
  await cp.kubectl(["wait", "--for=condition=Established", "crd/certificates.cert-manager.io", "crd/issuers.cert-manager.io", "--timeout=30s"]);
  await cp.applyYaml(["qe", NS].map((name) => stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } })).join("---\n"));
  // The gateway reads its certificate from files, as the chart's provided and
  // cert-manager modes run it (a mounted Secret).
  const tls = servingCertificate();
  caPem = tls.ca;
  writeFileSync(join(WORK, "tls.crt"), tls.cert);
  writeFileSync(join(WORK, "tls.key"), tls.key, { mode: 0o600 });
  gateway = await startGateway({
    listen: "127.0.0.1:0",
    tlsCertFile: join(WORK, "tls.crt"),
    tlsKeyFile: join(WORK, "tls.key"),
    bundle: [],
    kubeconfig: cp.kubeconfigPath,
    offline: false,
    namespace: NS,
    serviceAccount: `system:serviceaccount:${NS}:agentgate-gateway`,
    trustedUser: [`system:serviceaccount:${NS}:agentgate-controller`],
    drainSeconds: 0,
  });
});

after(async () => {
  await gateway.close();
  await cp.stop();
});

describe("helm template | kubectl apply --dry-run=server", () => {
  const modes: Record<string, Record<string, unknown>> = {
    "self-managed": {},
    "cert-manager": { certificates: { mode: "cert-manager" } },
    provided: { certificates: { mode: "provided", provided: { secretName: "agentgate-tls", caBundle: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" } } },
    "everything set": {
      gateway: { decisionLogs: { enabled: true }, trustedUsers: ["ci-bot"] },
      policy: { config: { profiles: { rollout: { enforcement: "warn" } } }, verification: { publicKey: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n", keyId: "prod", scope: "agentgate" } },
      provenance: { keySecret: "provenance-key" },
      webhook: { failurePolicy: "Ignore", timeoutSeconds: 3, excludeNamespaces: ["sandbox"] },
    },
  };
  for (const [mode, values] of Object.entries(modes)) {
    test(`${mode}: every object is accepted by the API server`, async () => {
      const rendered = await helm(["template", "agentgate", CHART, "--namespace", NS, "-f", valuesFile(values)]);
      assert.equal(rendered.code, 0, rendered.stderr);
      const r = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { stdin: rendered.stdout, allowFail: true });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      for (const kind of ["validatingwebhookconfiguration", "mutatingwebhookconfiguration", "deployment.apps/agentgate-gateway", "service/agentgate", "poddisruptionbudget.policy/agentgate-gateway"]) {
        assert.match(r.stdout, new RegExp(`${kind.replace(/[./]/g, (c) => `\\${c}`)}\\S* (created|configured) \\(server dry run\\)`), kind);
      }
    });
  }
});

describe("helm install with the webhook pointed at a local gateway", () => {
  let install: { code: number; stdout: string; stderr: string };

  before(async () => {
    install = await helm([
      "install", "agentgate", CHART, "--namespace", NS,
      "-f", valuesFile({
        webhook: { url: `https://127.0.0.1:${gateway.port}` },
        certificates: { mode: "provided", provided: { secretName: "agentgate-tls", caBundle: caPem } },
      }),
    ]);
    // For the closing note: what a platform team sees.
    process.stdout.write(`# helm install output\n${install.stdout}${install.stderr}`);
  });

  test("installs: the release is deployed and both webhook configurations are registered", async () => {
    assert.equal(install.code, 0, install.stderr);
    assert.match(install.stdout, /STATUS: deployed/);
    const r = await cp.kubectl(["get", "validatingwebhookconfiguration,mutatingwebhookconfiguration", "agentgate", "-o", "name"]);
    assert.deepEqual(r.stdout.trim().split("\n").sort(), ["mutatingwebhookconfiguration.admissionregistration.k8s.io/agentgate", "validatingwebhookconfiguration.admissionregistration.k8s.io/agentgate"]);
  });

  test("kubectl apply of a violating AgentConfig is denied with one [policy-id] field: message line per finding", async () => {
    assert.equal(install.code, 0, install.stderr);
    const r = await cp.kubectl(["apply", "-f", join(ROOT, "examples/agentconfig-denied.yaml")], { allowFail: true });
    process.stdout.write(`# kubectl apply -f examples/agentconfig-denied.yaml (exit ${r.code})\n${r.stdout}${r.stderr}`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error from server \(Forbidden\): error when creating ".*agentconfig-denied\.yaml": admission webhook "validate\.agent\.tekton\.dev" denied the request: /);
    for (const id of ["model-allowlist", "network-strict", "rbac-scope", "run-timeout", "token-budget", "tool-allowlist"]) {
      assert.match(r.stderr, new RegExp(`^(.*denied the request: )?\\[${id}\\] spec\\.\\S*: \\S`, "m"), `${id} line`);
    }
    const stored = await cp.kubectl(["get", "agentconfigs,modelconfigs", "-n", "qe", "-o", "name"]);
    assert.equal(stored.stdout.trim(), "", "nothing denied was stored");
  });

  test("the release namespace is exempt: the same objects there are not sent to the webhook", async () => {
    assert.equal(install.code, 0, install.stderr);
    const manifest = readFileSync(join(ROOT, "examples/agentconfig-denied.yaml"), "utf8").replaceAll("namespace: qe", `namespace: ${NS}`);
    const r = await cp.kubectl(["apply", "-f", "-"], { stdin: manifest, allowFail: true });
    assert.equal(r.code, 0, r.stderr);
  });

  test("fail closed while no gateway answers; the emergency exit (failurePolicy=Ignore through helm upgrade) lets work go on", async () => {
    assert.equal(install.code, 0, install.stderr);
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const a = probe.address();
        probe.close(() => resolve(typeof a === "object" && a ? a.port : 0));
      });
    });
    const down = await helm(["upgrade", "agentgate", CHART, "--namespace", NS, "--reuse-values", "--set", `webhook.url=https://127.0.0.1:${port}`]);
    assert.equal(down.code, 0, down.stderr);
    const allowedModel = stringify({ apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: "qe" }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022", apiKeySecret: "k", apiKeySecretKey: "k" } });
    const closed = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { stdin: allowedModel, allowFail: true });
    assert.notEqual(closed.code, 0, "fail closed: nothing is admitted unchecked");
    assert.match(closed.stderr, /failed calling webhook "validate\.agent\.tekton\.dev"/);
    const exit = await helm(["upgrade", "agentgate", CHART, "--namespace", NS, "--reuse-values", "--set", "webhook.failurePolicy=Ignore"]);
    assert.equal(exit.code, 0, exit.stderr);
    const open = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { stdin: allowedModel, allowFail: true });
    assert.equal(open.code, 0, open.stderr);
  });

  test("helm uninstall removes the webhooks: the violating config is then admitted (it was the chart's webhook that denied)", async () => {
    assert.equal(install.code, 0, install.stderr);
    const u = await helm(["uninstall", "agentgate", "--namespace", NS]);
    assert.equal(u.code, 0, u.stderr);
    const r = await cp.kubectl(["apply", "--dry-run=server", "-f", join(ROOT, "examples/agentconfig-denied.yaml")], { allowFail: true });
    assert.equal(r.code, 0, r.stderr);
  });
});
