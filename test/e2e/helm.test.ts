// The chart against a real kube-apiserver: what `helm template` renders is
// accepted by server-side dry run in every certificate mode, and `helm
// install` registers webhooks through which a developer's `kubectl apply` of a
// violating AgentConfig comes back denied, line by line. The gateway runs as a
// local process (no kubelet here runs the chart's pods) and the chart points
// the webhooks at it with webhook.url.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import forge from "node-forge";
import { parseAllDocuments, stringify } from "yaml";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { WATCHED_KINDS } from "../../src/context/cluster-lookup.ts";
import { WEBHOOKS } from "../../src/gateway/webhooks.ts";
import { startControlPlane, toolPath, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";
import { freePort } from "../../src/testing/free-port.ts";
import { helmIn } from "../support/helm.ts";
import { stopChildren } from "../support/children.ts";

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
let gateway: RunningGateway | undefined;
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

// cp is started in before(); helm reads its kubeconfig when it runs.
const { run: helm, valuesFile } = helmIn(WORK, { kubeconfig: () => cp.kubeconfigPath });

// The agent CRDs are the cluster's here, installed before the chart (as when
// another release or GitOps owns them), so the releases below set
// crds.install=false; test/e2e/helm-upgrade.test.ts installs, upgrades and
// keeps them with the chart.
const CRDS_ELSEWHERE = { install: false };

before(async () => {
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  await cp.applyYaml(certManagerCrds.map((c) => stringify(c)).join("---\n"));
  await cp.kubectl(["wait", "--for=condition=Established", "crd/certificates.cert-manager.io", "crd/issuers.cert-manager.io", "--timeout=30s"]);
  await cp.applyYaml(["qe", NS].map((name) => stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } })).join("---\n"));
});

after(async () => {
  await gateway?.close();
  await cp.stop();
});

const serviceAccountUser = (namespace: string, name: string): string => `system:serviceaccount:${namespace}:${name}`;

/** A kubeconfig that authenticates as a ServiceAccount would: RBAC sees the same user and groups. */
const kubeconfigAs = (namespace: string, name: string): Promise<string> =>
  cp.kubeconfigFor(serviceAccountUser(namespace, name), ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"]);


/** GET /readyz until it answers 200 or a minute passes; the last status and body. */
async function readyz(port: number, ca: string | undefined): Promise<string> {
  let last = "";
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    last = await new Promise<string>((resolve) => {
      const req = httpsRequest({ host: "127.0.0.1", port, path: "/readyz", ...(ca ? { ca } : { rejectUnauthorized: false }) }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve(`${res.statusCode ?? 0} ${body.trim()}`));
      });
      req.on("error", (err) => resolve(`error ${err.message}`));
      req.end();
    });
    if (last.startsWith("200 ")) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  return last;
}

describe("helm template | kubectl apply --dry-run=server", () => {
  const modes: Record<string, Record<string, unknown>> = {
    "self-managed": {},
    "cert-manager": { certificates: { mode: "cert-manager" } },
    provided: { certificates: { mode: "provided", provided: { secretName: "agentgate-tls", caBundle: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" } } },
    "everything set": {
      gateway: { decisionLogs: { enabled: true }, trustedUsers: ["ci-bot"] },
      policy: { config: { profiles: { rollout: { enforcement: "warn", namespaces: ["team-*"] } } }, bundles: ["https://bundles.example.com/team-a.tar.gz"], bundleCache: { existingClaim: "agentgate-bundles" }, verification: { publicKey: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n", keyId: "prod", scope: "agentgate" } },
      provenance: { keySecret: "provenance-key" },
      webhook: { failurePolicy: "Ignore", timeoutSeconds: 3, excludeNamespaces: ["sandbox"] },
      audit: { enabled: true },
    },
    "audit as a CronJob, with the report CRDs": {
      policy: { bundles: ["https://bundles.example/agentgate/team.tar.gz"], verification: { publicKey: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n" } },
      audit: { enabled: true, schedule: "@hourly", timeZone: "Europe/Berlin", reportCRDs: { wgpolicyk8s: true, openreports: true } },
    },
  };
  const alsoCreated: Record<string, string[]> = {
    "audit as a CronJob, with the report CRDs": [
      "cronjob.batch/agentgate-audit",
      ...["policyreports.wgpolicyk8s.io", "clusterpolicyreports.wgpolicyk8s.io", "reports.openreports.io", "clusterreports.openreports.io"].map((n) => `customresourcedefinition.apiextensions.k8s.io/${n}`),
    ],
  };
  for (const [mode, values] of Object.entries(modes)) {
    test(`${mode}: every object is accepted by the API server`, async () => {
      const rendered = await helm(["template", "agentgate", CHART, "--namespace", NS, "-f", valuesFile(values)]);
      assert.equal(rendered.code, 0, rendered.stderr);
      const r = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { stdin: rendered.stdout, allowFail: true });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      for (const kind of ["validatingwebhookconfiguration", "mutatingwebhookconfiguration", "deployment.apps/agentgate-gateway", "service/agentgate", "poddisruptionbudget.policy/agentgate-gateway", ...(alsoCreated[mode] ?? [])]) {
        assert.match(r.stdout, new RegExp(`${kind.replace(/[./]/g, (c) => `\\${c}`)}\\S* (created|configured) \\(server dry run\\)`), kind);
      }
    });
  }
});

// The token the chart is given, so the gateway here can be given it too (a pod would mount the chart's Secret).
const PATH_TOKEN = "hq4rv8mq2xlp7wn3bk9zh6dj5f0ga1es";

describe("helm install with the webhook pointed at a local gateway", () => {
  let install: { code: number; stdout: string; stderr: string };

  let ready = "";
  let gatewayPort = 0;

  before(async () => {
    const port = await freePort();
    gatewayPort = port;
    // The gateway reads its certificate from files, as the chart's provided
    // and cert-manager modes run it (a mounted Secret).
    const tls = servingCertificate();
    caPem = tls.ca;
    writeFileSync(join(WORK, "tls.crt"), tls.cert);
    writeFileSync(join(WORK, "tls.key"), tls.key, { mode: 0o600 });
    install = await helm([
      "install", "agentgate", CHART, "--namespace", NS,
      "-f", valuesFile({
        webhook: { url: `https://127.0.0.1:${port}` },
        certificates: { mode: "provided", provided: { secretName: "agentgate-tls", caBundle: caPem } },
        gateway: { webhookPathToken: { value: PATH_TOKEN } },
        crds: CRDS_ELSEWHERE,
      }),
    ]);
    writeFileSync(join(WORK, "webhook-path-token"), PATH_TOKEN);
    // For the closing note: what a platform team sees.
    process.stdout.write(`# helm install output\n${install.stdout}${install.stderr}`);
    // It talks to the API server as the chart's gateway ServiceAccount: only the chart's RBAC.
    gateway = await startGateway({
      listen: `127.0.0.1:${port}`,
      tlsCertFile: join(WORK, "tls.crt"),
      tlsKeyFile: join(WORK, "tls.key"),
      bundle: [],
      kubeconfig: await kubeconfigAs(NS, "agentgate-gateway"),
      offline: false,
      namespace: NS,
      serviceAccount: serviceAccountUser(NS, "agentgate-gateway"),
      trustedUser: [serviceAccountUser(NS, "agentgate-controller")],
      drainSeconds: 0,
      webhookPathTokenFile: join(WORK, "webhook-path-token"),
    });
    ready = await readyz(port, caPem);
  });

  test("the gateway, as the chart's ServiceAccount, syncs every watch cache (its RBAC is enough) and is ready", async () => {
    assert.equal(install.code, 0, install.stderr);
    assert.equal(ready, "200 ok");
    const metrics = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest({ host: "127.0.0.1", port: gatewayPort, path: "/metrics", ca: caPem }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve(body));
      });
      req.on("error", reject);
      req.end();
    });
    for (const w of WATCHED_KINDS) assert.match(metrics, new RegExp(`^agentgate_cache_synced\\{kind="${w.kind}"\\} 1$`, "m"), `agentgate_cache_synced for ${w.kind}`);
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

  test("fail closed while no gateway answers; the emergency exits (the README's kubectl patch, failurePolicy=Ignore through helm upgrade) let work go on", async () => {
    assert.equal(install.code, 0, install.stderr);
    const port = await freePort();
    const down = await helm(["upgrade", "agentgate", CHART, "--namespace", NS, "--reuse-values", "--set", `webhook.url=https://127.0.0.1:${port}`]);
    assert.equal(down.code, 0, down.stderr);
    const allowedModel = stringify({ apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: "qe" }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022", apiKeySecret: "k", apiKeySecretKey: "k" } });
    const closed = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { stdin: allowedModel, allowFail: true });
    assert.notEqual(closed.code, 0, "fail closed: nothing is admitted unchecked");
    assert.match(closed.stderr, /failed calling webhook "validate\.agent\.tekton\.dev"/);

    // The README's "if helm cannot run" exit, exactly as written there, run by bash with this cluster's kubectl.
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const snippet = /# 2\. if helm cannot run[^\n]*\n([\s\S]*?)\n\n# 3\./.exec(readme)?.[1];
    assert.ok(snippet, "README has the \"if helm cannot run\" exit");
    const patchedByReadme = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile("bash", ["-euo", "pipefail", "-c", snippet], { env: { ...process.env, KUBECONFIG: cp.kubeconfigPath, PATH: `${toolPath("kubectl").replace(/\/kubectl$/, "")}:${process.env.PATH ?? ""}` } }, (err, _stdout, stderr) => resolve({ code: err ? 1 : 0, stderr }));
    });
    assert.equal(patchedByReadme.code, 0, `README's kubectl patch: ${patchedByReadme.stderr}`);
    for (const kind of ["validatingwebhookconfiguration", "mutatingwebhookconfiguration"]) {
      const policies = (await cp.kubectl(["get", kind, "agentgate", "-o", "jsonpath={.webhooks[*].failurePolicy}"])).stdout.trim().split(" ");
      assert.ok(policies.length > 1 && policies.every((p) => p === "Ignore"), `${kind}: every webhook fails open after the README's patch: ${policies.join(",")}`);
    }
    const patched = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { stdin: allowedModel, allowFail: true });
    assert.equal(patched.code, 0, `after the README's kubectl patch: ${patched.stderr}`);
    // Server-side apply: the fields kubectl patched belong to kubectl now, so
    // taking them back needs --force-conflicts (as the README says).
    const restored = await helm(["upgrade", "agentgate", CHART, "--namespace", NS, "--reuse-values", "--force-conflicts"]);
    assert.equal(restored.code, 0, restored.stderr);
    const closedAgain = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { stdin: allowedModel, allowFail: true });
    assert.notEqual(closedAgain.code, 0, "helm upgrade puts failurePolicy Fail back over a hand patch");

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

describe("each component run with the chart's own arguments, as its own ServiceAccount (self-managed certificates)", () => {
  const ns = "agentgate-sm";
  const children: ChildProcess[] = [];
  let install: { code: number; stdout: string; stderr: string };
  let args: string[] = [];
  let controllerArgs: string[] = [];
  let auditArgs: string[] = [];
  let auditPort = 0;

  /** Runs `agentgate` as the chart's pod would, as the given ServiceAccount; output to WORK/<name>.log. */
  const run = async (name: string, argv: string[], serviceAccount: string): Promise<void> => {
    const log = openSync(join(WORK, `${name}.log`), "a");
    children.push(spawn(process.execPath, [join(ROOT, "bin/agentgate.js"), ...argv, `--kubeconfig=${await kubeconfigAs(ns, serviceAccount)}`], {
      stdio: ["ignore", log, log],
      env: { ...process.env, POD_NAMESPACE: ns },
    }));
    closeSync(log);
  };
  const caBundles = async (): Promise<string[]> => {
    const r = await cp.kubectl(["get", "validatingwebhookconfiguration,mutatingwebhookconfiguration", "sm-agentgate", "-o", "jsonpath={range .items[*].webhooks[*]}{.clientConfig.caBundle}{\"\\n\"}{end}"], { allowFail: true });
    return r.stdout.split("\n").filter((l) => l !== "");
  };
  /** Waits (up to a minute) for the gateway to fill every webhook's caBundle; what they hold then. */
  const caBundlesFilled = async (): Promise<string[]> => {
    let bundles: string[] = [];
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      bundles = await caBundles();
      if (bundles.length === WEBHOOKS.length && bundles.every((b) => b.length > 0)) break;
    }
    return bundles;
  };
  const logTail = (name: string): string => readFileSync(join(WORK, `${name}.log`), "utf8").split("\n").slice(-15).join("\n");

  before(async () => {
    await cp.applyYaml(stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }));
    const port = await freePort();
    // The policy allows one rule more than the controller's ceiling: a run
    // asking for it is admitted, and the API server itself refuses its Role.
    const defaults = (JSON.parse(readFileSync(join(ROOT, "policies/data.json"), "utf8")) as { agentgate: { config: { rbac: { allowed: unknown[] } } } }).agentgate.config.rbac.allowed;
    install = await helm(["install", "sm", CHART, "--namespace", ns, "-f", valuesFile({
      webhook: { url: `https://127.0.0.1:${port}` },
      audit: { enabled: true },
      policy: { config: { rbac: { allowed: [...defaults, { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] }] } } },
      controller: { agentRbacCeiling: defaults },
      crds: CRDS_ELSEWHERE,
    })]);
    if (install.code !== 0) return;
    // The gateway container's arguments exactly as installed, but for where it
    // listens and which credentials it uses (no pod here: the ServiceAccount's
    // identity instead of its token).
    const manifest = await helm(["get", "manifest", "sm", "--namespace", ns]);
    const argsOf = (name: string): string[] =>
      parseAllDocuments(manifest.stdout)
        .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string }; spec?: { template: { spec: { containers: { args: string[] }[] } } } } | null)
        .find((o) => o?.kind === "Deployment" && o.metadata?.name === name)?.spec?.template.spec.containers[0]?.args ?? [];
    // The policy config the chart mounts from its ConfigMap, written where this host's process reads it.
    const policyConfig = parseAllDocuments(manifest.stdout)
      .map((d) => d.toJS() as { kind?: string; data?: Record<string, string> } | null)
      .find((o) => o?.kind === "ConfigMap" && o.data?.["config.yaml"] !== undefined)?.data?.["config.yaml"];
    const policyConfigFile = join(WORK, "sm-policy-config.yaml");
    if (policyConfig !== undefined) writeFileSync(policyConfigFile, policyConfig);
    // And the webhook path token the chart made, from the Secret it mounts.
    const tokenSecret = parseAllDocuments(manifest.stdout)
      .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string }; data?: Record<string, string> } | null)
      .find((o) => o?.kind === "Secret" && o.metadata?.name === "sm-agentgate-webhook-path")?.data?.token;
    const tokenFile = join(WORK, "sm-webhook-path-token");
    if (tokenSecret !== undefined) writeFileSync(tokenFile, Buffer.from(tokenSecret, "base64"));
    const local = (a: string) => (a.startsWith("--policy-config=") ? `--policy-config=${policyConfigFile}` : a.startsWith("--webhook-path-token-file=") ? `--webhook-path-token-file=${tokenFile}` : a);
    args = argsOf("sm-agentgate-gateway").map((a) => (a.startsWith("--listen=") ? `--listen=127.0.0.1:${port}` : a.startsWith("--metrics-listen=") ? "--metrics-listen=127.0.0.1:0" : local(a)));
    await run("sm-gateway", args, "sm-agentgate-gateway");
    const healthPort = await freePort();
    const metricsPort = await freePort();
    auditPort = await freePort();
    auditArgs = argsOf("sm-agentgate-audit").map((a) => (a.startsWith("--metrics-listen=") ? `--metrics-listen=127.0.0.1:${auditPort}` : local(a)));
    controllerArgs = argsOf("sm-agentgate-controller").map((a) =>
      a.startsWith("--health-listen=") ? `--health-listen=127.0.0.1:${healthPort}` : a.startsWith("--metrics-listen=") ? `--metrics-listen=127.0.0.1:${metricsPort}` : a,
    );
  });

  after(async () => {
    await stopChildren(children, "SIGTERM");
  });

  test("the gateway creates its Secret, fills both configurations' caBundle, and the webhook then denies through kubectl", async () => {
    assert.equal(install.code, 0, install.stderr);
    assert.ok(args.some((a) => a.startsWith("--cert-secret=")), `self-managed flags rendered: ${args.join(" ")}`);
    const bundles = await caBundlesFilled();
    const logText = () => logTail("sm-gateway");
    assert.equal(bundles.filter((b) => b.length > 0).length, WEBHOOKS.length, `every webhook's caBundle filled by the gateway; its log:\n${logText()}`);
    const secret = await cp.kubectl(["get", "secret", "-n", ns, "sm-agentgate-tls", "-o", "jsonpath={.data.ca\\.crt}"]);
    assert.equal(bundles[0], secret.stdout, "the caBundle is the Secret's CA");
    const port = Number(args.find((a) => a.startsWith("--listen="))?.split(":").at(-1));
    assert.equal(await readyz(port, Buffer.from(secret.stdout, "base64").toString()), "200 ok", logText());
    const r = await cp.kubectl(["apply", "-f", join(ROOT, "examples/agentconfig-denied.yaml")], { allowFail: true });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /admission webhook "validate\.agent\.tekton\.dev" denied the request: \[model-allowlist\]/);
    assert.match(r.stderr, /^\[token-budget\] spec\.tokenBudget: /m);

    // A later helm upgrade must not leave the webhooks without the CA the
    // gateway put there (helm does not render caBundle in this mode).
    const upgrade = await helm(["upgrade", "sm", CHART, "--namespace", ns, "--reuse-values", "--set", "webhook.timeoutSeconds=4"]);
    assert.equal(upgrade.code, 0, upgrade.stderr);
    const after = await caBundles();
    process.stdout.write(`# caBundles right after helm upgrade: ${after.map((b) => (b === secret.stdout ? "kept" : b === "" ? "empty" : "other")).join(", ")}\n`);
    assert.deepEqual(after, WEBHOOKS.map(() => secret.stdout), "helm upgrade keeps the caBundle the gateway wrote");
    const again = await cp.kubectl(["apply", "-f", join(ROOT, "examples/agentconfig-denied.yaml")], { allowFail: true });
    assert.match(again.stderr, /denied the request: \[model-allowlist\]/);
  });

  test("the controller, with the chart's arguments and RBAC, takes the Lease and materialises an admitted run's scope", async () => {
    assert.equal(install.code, 0, install.stderr);
    assert.ok(controllerArgs.includes("--leader-elect"), controllerArgs.join(" "));
    await run("sm-controller", controllerArgs, "sm-agentgate-controller");
    assert.equal((await caBundlesFilled()).length, WEBHOOKS.length, "the webhook is serving (runs are admitted through it)");
    const objects = [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "kagent" } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", description: "kagent tools", allowedNamespaces: { from: "All" } } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: "qe" }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022", apiKeySecret: "k", apiKeySecretKey: "k" } },
      {
        apiVersion: "agent.tekton.dev/v1alpha1",
        kind: "AgentConfig",
        metadata: { name: "reader", namespace: "qe" },
        spec: {
          modelConfigRef: { name: "claude" },
          toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }],
          // rules the controller holds only through its ceiling ClusterRole (no escalate, no bind)
          rbac: { rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }] },
          approval: { required: false },
        },
      },
      { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "read-1", namespace: "qe" }, spec: { configRef: { name: "reader" }, goal: "List the config maps" } },
    ];
    const applied = await cp.kubectl(["apply", "-f", "-"], { stdin: objects.map((o) => stringify(o)).join("---\n"), allowFail: true });
    assert.equal(applied.code, 0, applied.stderr);
    let role = "";
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      role = (await cp.kubectl(["get", "role", "read-1-role", "-n", "qe", "-o", "jsonpath={.rules}"], { allowFail: true })).stdout;
      if (role !== "") break;
    }
    assert.deepEqual(JSON.parse(role || "null"), [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }], `the run's Role; controller log:\n${logTail("sm-controller")}`);
    // The scope is made one object after another: the Role can be there a moment before its binding.
    for (const object of ["serviceaccount/agentgate-run-read-1", "rolebinding/read-1-binding", "networkpolicy/read-1-netpol"]) {
      let r = await cp.kubectl(["get", object, "-n", "qe", "-o", "name"], { allowFail: true });
      for (const deadline = Date.now() + 30_000; r.code !== 0 && Date.now() < deadline; ) {
        await new Promise((res) => setTimeout(res, 250));
        r = await cp.kubectl(["get", object, "-n", "qe", "-o", "name"], { allowFail: true });
      }
      assert.equal(r.code, 0, `${object}: ${r.stderr}; controller log:\n${logTail("sm-controller")}`);
    }
    const lease = await cp.kubectl(["get", "lease", "agentgate-controller", "-n", ns, "-o", "jsonpath={.spec.holderIdentity}"]);
    assert.notEqual(lease.stdout, "", "the controller holds the Lease in the release namespace");
    const phase = await cp.kubectl(["get", "agentrun", "read-1", "-n", "qe", "-o", "jsonpath={.status.phase}"]);
    assert.ok(["Pending", "Acting", "Failed"].includes(phase.stdout), `status written: ${phase.stdout}`);
  });

  test("a run whose admitted Role is above the controller's ceiling is refused by the API server itself: ScopeRefused, nothing granted", async () => {
    assert.equal(install.code, 0, install.stderr);
    const objects = [
      {
        apiVersion: "agent.tekton.dev/v1alpha1",
        kind: "AgentConfig",
        metadata: { name: "writer-of-configmaps", namespace: "qe" },
        spec: {
          modelConfigRef: { name: "claude" },
          toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }],
          rbac: { rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["create"] }] },
          approval: { required: false },
        },
      },
      { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "above-ceiling", namespace: "qe" }, spec: { configRef: { name: "writer-of-configmaps" }, goal: "Write a config map" } },
    ];
    const applied = await cp.kubectl(["apply", "-f", "-"], { stdin: objects.map((o) => stringify(o)).join("---\n"), allowFail: true });
    assert.equal(applied.code, 0, `the policy allows it: ${applied.stderr}`);
    let condition = "";
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      condition = (await cp.kubectl(["get", "agentrun", "above-ceiling", "-n", "qe", "-o", "jsonpath={.status.conditions[0].reason} {.status.conditions[0].message}"], { allowFail: true })).stdout;
      if (condition.startsWith("ScopeRefused")) break;
    }
    process.stdout.write(`# a run above the ceiling: ${condition}\n`);
    assert.match(condition, /^ScopeRefused the API server refused Role "above-ceiling-role": .*(attempting to grant RBAC permissions not currently held|forbidden)/, `controller log:\n${logTail("sm-controller")}`);
    const role = await cp.kubectl(["get", "role", "above-ceiling-role", "-n", "qe"], { allowFail: true });
    assert.notEqual(role.code, 0, "no Role was written");
    const can = await cp.kubectl(["auth", "can-i", "create", "configmaps", "-n", "qe", "--as", "system:serviceaccount:qe:agentgate-run-above-ceiling"], { allowFail: true });
    assert.equal(can.stdout.trim(), "no");
  });

  test("the run's ServiceAccount can do what its allowlisted Role says and nothing the allowlist excludes (kubectl auth can-i)", async () => {
    assert.equal(install.code, 0, install.stderr);
    const as = "system:serviceaccount:qe:agentgate-run-read-1";
    const can = async (...args: string[]) => (await cp.kubectl(["auth", "can-i", ...args, "-n", "qe", "--as", as], { allowFail: true })).stdout.trim();
    assert.equal(await can("get", "configmaps"), "yes");
    for (const excluded of [["create", "pods"], ["create", "pods/exec"], ["get", "secrets"], ["create", "serviceaccounts/token"], ["create", "networkpolicies"], ["patch", "agentruns.agent.tekton.dev/status"], ["create", "roles"], ["create", "rolebindings"], ["patch", "agents.kagent.dev"]]) {
      assert.equal(await can(...excluded), "no", excluded.join(" "));
    }
  });

  test("audit, with the chart's arguments and RBAC, takes its Lease and completes a scan", async () => {
    assert.equal(install.code, 0, install.stderr);
    assert.equal(auditArgs[0], "audit", auditArgs.join(" "));
    await run("sm-audit", auditArgs, "sm-agentgate-audit");
    let status = "";
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      status = await new Promise<string>((resolve) => {
        httpGet({ host: "127.0.0.1", port: auditPort, path: "/readyz" }, (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString()));
          res.on("end", () => resolve(`${res.statusCode ?? 0} ${body.trim()}`));
        }).on("error", (err) => resolve(`error ${err.message}`));
      });
      if (status.startsWith("200 ")) break;
    }
    assert.equal(status, "200 ok", `audit log:\n${logTail("sm-audit")}`);
    const lease = await cp.kubectl(["get", "lease", "agentgate-audit", "-n", ns, "-o", "jsonpath={.spec.holderIdentity}"], { allowFail: true });
    assert.notEqual(lease.stdout, "", `the audit Lease is held: ${lease.stderr}\n${logTail("sm-audit")}`);
    assert.doesNotMatch(readFileSync(join(WORK, "sm-audit.log"), "utf8"), /forbidden/i, "no call was refused by RBAC");
  });
});

describe("gateway.calls: what the controller may mint and create is held by the API server (the chart's ValidatingAdmissionPolicy)", () => {
  const ns = "agentgate-vap";
  const controller = "vap-agentgate-controller";
  const as = ["--as", serviceAccountUser(ns, controller), "--as-group", "system:serviceaccounts", "--as-group", `system:serviceaccounts:${ns}`];
  // kube-system: exempt from every release's webhooks, so only RBAC and the policy answer.
  const probe = "kube-system";

  before(async () => {
    const rendered = await helm(["template", "vap", CHART, "--namespace", ns, "-f", valuesFile({ gateway: { calls: { enabled: true } } })]);
    assert.equal(rendered.code, 0, rendered.stderr);
    const wanted = new Set(["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]);
    const objects = parseAllDocuments(rendered.stdout)
      .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null)
      .filter((o) => o?.kind !== undefined && wanted.has(o.kind) && (o.metadata?.name ?? "").startsWith("vap-agentgate-controller") && (o.kind !== "Role" && o.kind !== "RoleBinding" || o.metadata?.namespace === ns));
    await cp.applyYaml(stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }));
    await cp.applyYaml(objects.map((o) => stringify(o)).join("---\n"));
    // A run's account, and any other (kube-system's accounts are the ones a stolen controller token would want).
    await cp.applyYaml(["agentgate-run-probe", "probe-admin"].map((name) => stringify({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: probe } })).join("---\n"));
    // The policy takes a moment to be enforced after it is created: wait until it refuses.
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      const r = await cp.kubectl(["create", "token", "probe-admin", "-n", probe, ...as], { allowFail: true });
      if (r.code !== 0 && /ValidatingAdmissionPolicy/.test(r.stderr)) break;
    }
  });

  test("the controller mints a token for a run's ServiceAccount for the gateway's audience, and for nothing else", async () => {
    const ok = await cp.kubectl(["create", "token", "agentgate-run-probe", "-n", probe, "--audience", "agentgate.agent.tekton.dev/calls", ...as], { allowFail: true });
    assert.equal(ok.code, 0, ok.stderr);
    const otherAccount = await cp.kubectl(["create", "token", "probe-admin", "-n", probe, "--audience", "agentgate.agent.tekton.dev/calls", ...as], { allowFail: true });
    assert.notEqual(otherAccount.code, 0);
    assert.match(otherAccount.stderr, /vap-agentgate-controller-calls.*mints tokens only for a run's ServiceAccount/);
    const apiServerAudience = await cp.kubectl(["create", "token", "agentgate-run-probe", "-n", probe, ...as], { allowFail: true });
    assert.notEqual(apiServerAudience.code, 0, "a token the API server would accept is never minted");
    assert.match(apiServerAudience.stderr, /only for audience agentgate\.agent\.tekton\.dev\/calls/);
  });

  test("the controller creates only Opaque Secrets labelled as agentgate's, and reads none", async () => {
    const secret = (name: string, type: string, labels: Record<string, string>, annotations: Record<string, string> = {}) => stringify({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace: probe, labels, annotations }, type, stringData: { token: "x" } });
    const ours = await cp.kubectl(["create", "-f", "-", ...as], { stdin: secret("probe-calls-a", "Opaque", { "app.kubernetes.io/managed-by": "agentgate" }), allowFail: true });
    assert.equal(ours.code, 0, ours.stderr);
    const unlabelled = await cp.kubectl(["create", "-f", "-", ...as], { stdin: secret("probe-calls-b", "Opaque", {}), allowFail: true });
    assert.match(unlabelled.stderr, /creates only Opaque Secrets labelled/);
    const legacyToken = await cp.kubectl(["create", "-f", "-", ...as], { stdin: secret("probe-calls-c", "kubernetes.io/service-account-token", { "app.kubernetes.io/managed-by": "agentgate" }, { "kubernetes.io/service-account.name": "probe-admin" }), allowFail: true });
    assert.match(legacyToken.stderr, /creates only Opaque Secrets labelled/, "a legacy token Secret for another account is never made");
    const read = await cp.kubectl(["get", "secret", "probe-calls-a", "-n", probe, ...as], { allowFail: true });
    assert.match(read.stderr, /forbidden/);
  });

  test("in its own namespace the controller writes run ledgers and no other ConfigMap; of kagent's objects, only those it labelled", async () => {
    const cm = (name: string) => stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns }, data: { "ledger.json": "{}" } });
    const ledger = await cp.kubectl(["create", "-f", "-", ...as], { stdin: cm("agentgate-calls-0000"), allowFail: true });
    assert.equal(ledger.code, 0, ledger.stderr);
    await cp.applyYaml(cm("vap-agentgate-signing-keys"));
    const other = await cp.kubectl(["delete", "configmap", "vap-agentgate-signing-keys", "-n", ns, ...as], { allowFail: true });
    assert.match(other.stderr, /writes no ConfigMap but run ledgers/);
    const mc = (labels: Record<string, string>) => stringify({ apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "probe-model", namespace: probe, labels }, spec: { provider: "OpenAI", model: "gpt-4o" } });
    const unlabelled = await cp.kubectl(["create", "-f", "-", ...as], { stdin: mc({}), allowFail: true });
    assert.match(unlabelled.stderr, /writes only kagent objects it made for a run/);
  });
});
