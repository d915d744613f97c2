// The Helm chart, rendered by the real helm: lint-clean, every certificate
// mode renders what it promises, the pods are locked down and drain, the
// RBAC covers what the code calls, and the webhook configurations are exactly
// what webhookConfigurations() (src/gateway/webhooks.ts) produces from the
// one list of handled resources.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import { REPORT_APIS } from "../../src/audit/report.ts";
import { buildProgram } from "../../src/cli/main.ts";
import { WATCHED_KINDS } from "../../src/context/cluster-lookup.ts";
import { GVR } from "../../src/controller/kube.ts";
import { HANDLED_RESOURCES } from "../../src/kube/resources.ts";
import { webhookConfigurations, WEBHOOK_NAMES, WEBHOOKS } from "../../src/gateway/webhooks.ts";
import { SYSTEM_DELETERS } from "../../src/guardrails/identity.ts";
import { loadEngine } from "../../src/policy/load.ts";
import { finishSeconds } from "../../src/server/drain.ts";
import { generateServingCertificate } from "../../src/tls/self-signed.ts";
import { helmIn, type ChartObject } from "../support/helm.ts";
import { gatewayAsDeployed } from "../../bench/soak/processes.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHART = join(ROOT, "charts/agentgate");
const WORK = mkdtempSync(join(tmpdir(), "agentgate-chart-"));
const NS = "agentgate-system";

type Obj = ChartObject;

const { run: helm, valuesFile, render } = helmIn(WORK);

async function renderFails(values: Record<string, unknown>): Promise<string> {
  const r = await helm(["template", "agentgate", CHART, "--namespace", NS, "-f", valuesFile(values)]);
  assert.notEqual(r.code, 0, "helm template should refuse these values");
  return r.stderr;
}

function find(objects: Obj[], kind: string, name: string): Obj {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind} ${name} rendered (have: ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(", ")})`);
  return o;
}

interface Container {
  name: string;
  args: string[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  livenessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  volumeMounts?: { name: string; mountPath: string }[];
}

interface PodSpec {
  serviceAccountName: string;
  terminationGracePeriodSeconds: number;
  securityContext: Record<string, unknown>;
  topologySpreadConstraints?: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }[];
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string }; configMap?: { name: string }; emptyDir?: unknown; persistentVolumeClaim?: { claimName: string } }[];
}

function podSpec(deployment: Obj): { replicas: number; labels: Record<string, string>; annotations: Record<string, string>; spec: PodSpec } {
  const d = deployment as unknown as { spec: { replicas: number; template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec } } };
  return { replicas: d.spec.replicas, labels: d.spec.template.metadata.labels, annotations: d.spec.template.metadata.annotations ?? {}, spec: d.spec.template.spec };
}

function cronPodSpec(cronJob: Obj): { labels: Record<string, string>; spec: PodSpec & { restartPolicy?: string } } {
  const c = cronJob as unknown as { spec: { jobTemplate: { spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec & { restartPolicy?: string } } } } } };
  return { labels: c.spec.jobTemplate.spec.template.metadata.labels, spec: c.spec.jobTemplate.spec.template.spec };
}

const flagValue = (args: string[], flag: string): string | undefined => args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
const flagValues = (args: string[], flag: string): string[] => args.filter((a) => a.startsWith(`${flag}=`)).map((a) => a.slice(flag.length + 1));

function optionsOf(command: string): Set<string> {
  const program = buildProgram({ out: () => undefined, err: () => undefined }, () => undefined);
  const cmd = program.commands.find((c) => c.name() === command);
  assert.ok(cmd, `agentgate ${command} exists`);
  return new Set(cmd.options.map((o) => o.long ?? "").filter((s) => s !== ""));
}

const CA = generateServingCertificate(["127.0.0.1"]).caCert;
const base64 = (s: string): string => Buffer.from(s).toString("base64");

const MODES: Record<string, Record<string, unknown>> = {
  "self-managed": {},
  "cert-manager": { certificates: { mode: "cert-manager" } },
  provided: { certificates: { mode: "provided", provided: { secretName: "my-tls", caBundle: CA } } },
};

describe("helm lint", () => {
  for (const [mode, values] of Object.entries(MODES)) {
    test(`clean, also with --strict: ${mode}`, async () => {
      for (const strict of [[], ["--strict"]]) {
        const r = await helm(["lint", CHART, "--namespace", NS, ...strict, "-f", valuesFile(values)]);
        assert.equal(r.code, 0, `helm lint ${strict.join(" ")}: ${r.stdout}${r.stderr}`);
        assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/, r.stdout);
        assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      }
    });
  }

  test("values the schema refuses are named", async () => {
    assert.match(await renderFails({ webhook: { failurePolicy: "Sometimes" } }), /failurePolicy/);
    assert.match(await renderFails({ certificates: { mode: "vault" } }), /mode/);
    assert.match(await renderFails({ gateway: { replica: 3 } }), /replica/);
    assert.match(await renderFails({ webhook: { url: "http://127.0.0.1:8443" } }), /url/);
  });
});

describe("certificate modes", () => {
  test("self-managed: the gateway keeps the Secret and patches the caBundle itself; RBAC for exactly those objects", async () => {
    const objects = await render();
    const gw = podSpec(find(objects, "Deployment", "agentgate-gateway")).spec;
    const args = gw.containers[0]?.args ?? [];
    assert.equal(flagValue(args, "--tls-cert-file"), undefined, "no mounted certificate");
    assert.equal(flagValue(args, "--cert-secret"), `${NS}/agentgate-tls`);
    assert.equal(flagValue(args, "--cert-service"), "agentgate", "the certificate names the webhook Service");
    find(objects, "Service", flagValue(args, "--cert-service") ?? "");
    assert.deepEqual(flagValues(args, "--webhook-config"), ["agentgate"], "the caBundle it keeps is that of the chart's configurations");
    assert.deepEqual(flagValues(args, "--cert-host"), []);
    assert.ok(!gw.volumes?.some((v) => v.secret && v.secret.secretName !== "agentgate-webhook-path"), "no certificate Secret volume: the gateway reads its Secret through the API");
    for (const kind of ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]) {
      const cfg = find(objects, kind, "agentgate") as unknown as { metadata: { annotations?: Record<string, string> }; webhooks: { clientConfig: Record<string, unknown> }[] };
      assert.equal(cfg.metadata.annotations?.["cert-manager.io/inject-ca-from"], undefined);
      for (const w of cfg.webhooks) assert.equal(w.clientConfig.caBundle, undefined, "left to the gateway (a chart value would fight its rotation)");
    }
    const clusterRole = find(objects, "ClusterRole", "agentgate-gateway") as unknown as { rules: Rule[] };
    const webhookRule = clusterRole.rules.find((r) => r.apiGroups.includes("admissionregistration.k8s.io"));
    assert.deepEqual(webhookRule?.resourceNames, ["agentgate"], "only its own webhook configurations");
    const role = find(objects, "Role", "agentgate-gateway") as unknown as { metadata: { namespace: string }; rules: Rule[] };
    assert.equal(role.metadata.namespace, NS);
    assert.deepEqual(role.rules.find((r) => r.resources.includes("secrets") && r.verbs.includes("get"))?.resourceNames, ["agentgate-signing", "agentgate-tls"], "the decision-signing keys and the certificate, nothing else");

    const byUrl = podSpec(find(await render({ webhook: { url: "https://10.0.0.7:9443" } }), "Deployment", "agentgate-gateway")).spec.containers[0]?.args ?? [];
    assert.deepEqual(flagValues(byUrl, "--cert-host"), ["10.0.0.7"], "a gateway reached by URL: the certificate names that host");
  });

  test("cert-manager: a CA chain, a serving Certificate for the Service names, and cainjector's annotation on both configurations", async () => {
    const objects = await render(MODES["cert-manager"]);
    const cert = find(objects, "Certificate", "agentgate-serving") as unknown as { spec: { secretName: string; dnsNames: string[]; issuerRef: { name: string; kind: string } } };
    assert.deepEqual(cert.spec.dnsNames.slice(0, 3), ["agentgate", `agentgate.${NS}`, `agentgate.${NS}.svc`]);
    find(objects, "Issuer", cert.spec.issuerRef.name);
    find(objects, "Certificate", "agentgate-ca");
    find(objects, "Issuer", "agentgate-selfsigned");
    for (const kind of ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]) {
      assert.equal(find(objects, kind, "agentgate").metadata.annotations?.["cert-manager.io/inject-ca-from"], `${NS}/agentgate-serving`);
    }
    const gw = podSpec(find(objects, "Deployment", "agentgate-gateway")).spec;
    assert.equal(gw.volumes?.find((v) => v.name === "tls")?.secret?.secretName, cert.spec.secretName, "the gateway mounts the Secret cert-manager writes");
    const args = gw.containers[0]?.args ?? [];
    const mount = gw.containers[0]?.volumeMounts?.find((m) => m.name === "tls")?.mountPath;
    assert.equal(flagValue(args, "--tls-cert-file"), `${mount ?? ""}/tls.crt`);
    assert.equal(flagValue(args, "--tls-key-file"), `${mount ?? ""}/tls.key`);
    const role = find(objects, "Role", "agentgate-gateway") as unknown as { rules: Rule[] };
    assert.deepEqual(role.rules.find((r) => r.resources.includes("secrets") && r.verbs.includes("get"))?.resourceNames, ["agentgate-signing"], "no Secret access for the gateway but its decision-signing keys");

    const external = await render({ certificates: { mode: "cert-manager", certManager: { issuerRef: { name: "corp-ca", kind: "ClusterIssuer" } } } });
    assert.ok(!external.some((o) => o.kind === "Issuer"), "an issuer given: none created");
    assert.deepEqual((find(external, "Certificate", "agentgate-serving") as unknown as { spec: { issuerRef: unknown } }).spec.issuerRef, { name: "corp-ca", kind: "ClusterIssuer", group: "cert-manager.io" });
  });

  test("provided: the existing Secret is mounted and the CA (PEM or base64) lands in every webhook's caBundle", async () => {
    for (const caBundle of [CA, base64(CA)]) {
      const objects = await render({ certificates: { mode: "provided", provided: { secretName: "my-tls", caBundle } } });
      const gw = podSpec(find(objects, "Deployment", "agentgate-gateway")).spec;
      assert.equal(gw.volumes?.find((v) => v.name === "tls")?.secret?.secretName, "my-tls");
      for (const kind of ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]) {
        const cfg = find(objects, kind, "agentgate") as unknown as { webhooks: { clientConfig: { caBundle?: string } }[] };
        for (const w of cfg.webhooks) assert.equal(w.clientConfig.caBundle, base64(CA));
      }
    }
    assert.match(await renderFails({ certificates: { mode: "provided", provided: { secretName: "my-tls" } } }), /certificates\.provided\.caBundle is required/);
    assert.match(await renderFails({ certificates: { mode: "provided", provided: { caBundle: CA } } }), /certificates\.provided\.secretName is required/);
  });
});

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

describe("pods", () => {
  test("gateway: 2 replicas spread across nodes, PDB, non-root read-only, resources, HTTPS probes on 8443", async () => {
    const objects = await render();
    const { replicas, labels, spec } = podSpec(find(objects, "Deployment", "agentgate-gateway"));
    assert.equal(replicas, 2);
    assert.ok(spec.topologySpreadConstraints?.some((t) => t.topologyKey === "kubernetes.io/hostname" && Object.entries(t.labelSelector.matchLabels).every(([k, v]) => labels[k] === v)));
    const pdb = find(objects, "PodDisruptionBudget", "agentgate-gateway") as unknown as { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } };
    assert.equal(pdb.spec.minAvailable, 1);
    assert.ok(Object.entries(pdb.spec.selector.matchLabels).every(([k, v]) => labels[k] === v), "the PDB selects the gateway's pods");
    const gw = spec.containers[0];
    assert.ok(gw);
    assert.equal(spec.securityContext.runAsNonRoot, true);
    assert.deepEqual(gw.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } });
    assert.ok(gw.volumeMounts?.some((m) => m.mountPath === "/tmp"), "a writable /tmp under the read-only root");
    assert.ok(gw.resources?.requests?.cpu !== undefined && gw.resources.requests.memory !== undefined && gw.resources.limits?.memory !== undefined);
    const port = gw.ports?.find((p) => p.name === "https");
    assert.equal(port?.containerPort, 8443);
    assert.equal(flagValue(gw.args, "--listen"), "0.0.0.0:8443");
    assert.deepEqual(gw.readinessProbe?.httpGet, { path: "/readyz", port: "https", scheme: "HTTPS" });
    assert.deepEqual(gw.livenessProbe?.httpGet, { path: "/healthz", port: "https", scheme: "HTTPS" });
    const service = find(objects, "Service", "agentgate") as unknown as { spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] } };
    assert.ok(Object.entries(service.spec.selector).every(([k, v]) => labels[k] === v));
    assert.deepEqual(service.spec.ports.map((p) => [p.port, p.targetPort]), [[443, "https"]]);
  });

  test("the pods run as the image's user (Dockerfile USER)", async () => {
    const user = /^USER\s+(\d+)(?::(\d+))?\s*$/m.exec(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
    assert.ok(user);
    const objects = await render();
    for (const name of ["agentgate-gateway", "agentgate-controller"]) {
      const sc = podSpec(find(objects, "Deployment", name)).spec.securityContext;
      assert.equal(sc.runAsUser, Number(user[1]), name);
      if (user[2]) assert.equal(sc.runAsGroup, Number(user[2]), name);
    }
  });

  test("a rolling restart drains: the drain and the time it then gives requests in flight fit in the grace period, no replica down before a new one is ready", async () => {
    const objects = await render({ gateway: { drainSeconds: 12, terminationGracePeriodSeconds: 40 } });
    const d = find(objects, "Deployment", "agentgate-gateway") as unknown as { spec: { strategy: { rollingUpdate: { maxUnavailable: number } } } };
    assert.equal(d.spec.strategy.rollingUpdate.maxUnavailable, 0);
    const { spec } = podSpec(d as unknown as Obj);
    assert.equal(spec.terminationGracePeriodSeconds, 40);
    assert.equal(flagValue(spec.containers[0]?.args ?? [], "--drain-seconds"), "12");
    const defaults = podSpec(find(await render(), "Deployment", "agentgate-gateway")).spec;
    const drain = Number(flagValue(defaults.containers[0]?.args ?? [], "--drain-seconds"));
    assert.ok(drain + finishSeconds(drain) < defaults.terminationGracePeriodSeconds, "the defaults leave the gateway time to exit before SIGKILL");
    // The chart's bound is the server's: drain + finishSeconds(drain) must stay below the grace period.
    for (const drainSeconds of [0, 1, 9, 10, 17, 20]) {
      const least = drainSeconds + finishSeconds(drainSeconds);
      assert.match(await renderFails({ gateway: { drainSeconds, terminationGracePeriodSeconds: least } }), /drainSeconds \(\d+\) plus the \d+ s .* must be less than gateway\.terminationGracePeriodSeconds/, `drain ${drainSeconds}, grace ${least}`);
      await render({ gateway: { drainSeconds, terminationGracePeriodSeconds: least + 1 } });
    }
  });

  test("the gateway's Node settings: NODE_OPTIONS and MALLOC_ARENA_MAX from values, the same the benchmarks run it with; empty values set neither", async () => {
    const env = (objects: Obj[]) => (podSpec(find(objects, "Deployment", "agentgate-gateway")).spec.containers[0] as unknown as { env: { name: string; value?: string }[] }).env;
    const byName = (objects: Obj[]) => Object.fromEntries(env(objects).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    const deployed = gatewayAsDeployed();
    const defaults = byName(await render());
    assert.equal(defaults.NODE_OPTIONS, deployed.flags.join(" "));
    assert.equal(defaults.MALLOC_ARENA_MAX, deployed.env.MALLOC_ARENA_MAX);
    assert.match(defaults.NODE_OPTIONS ?? "", /^--max-semi-space-size=\d+$/);
    const unset = byName(await render({ gateway: { nodeOptions: "", mallocArenaMax: null } }));
    assert.equal(unset.NODE_OPTIONS, undefined);
    assert.equal(unset.MALLOC_ARENA_MAX, undefined);
  });

  test("controller: leader election, its own ServiceAccount, health probes", async () => {
    const objects = await render({ provenance: { keySecret: "provenance-key" } });
    const { spec } = podSpec(find(objects, "Deployment", "agentgate-controller"));
    const c = spec.containers[0];
    assert.ok(c);
    assert.equal(c.args[0], "controller");
    assert.ok(c.args.includes("--leader-elect"));
    assert.equal(flagValue(c.args, "--lease-namespace"), NS);
    assert.equal(flagValue(c.args, "--provenance-key-secret"), `${NS}/provenance-key`);
    assert.equal(spec.serviceAccountName, "agentgate-controller");
    assert.notEqual(spec.serviceAccountName, podSpec(find(objects, "Deployment", "agentgate-gateway")).spec.serviceAccountName);
    assert.deepEqual(c.readinessProbe?.httpGet, { path: "/readyz", port: "health" });
    assert.equal(c.ports?.find((p) => p.name === "health")?.containerPort, Number(flagValue(c.args, "--health-listen")?.split(":")[1]));
  });

  test("every flag the chart renders exists on agentgate serve / controller", async () => {
    const serve = optionsOf("serve");
    const controller = optionsOf("controller");
    const audit = optionsOf("audit");
    const all = {
      gateway: { decisionLogs: { enabled: true, redact: ["request.object.spec.systemPrompt"] }, trustedUsers: ["ci-bot"] },
      policy: { config: { budgets: { maxTokenBudget: 1000 } }, bundles: ["/bundles/a.tar.gz", "https://bundles.example/agentgate"], bundleCache: { existingClaim: "agentgate-bundles" }, verification: { publicKey: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n", keyId: "prod", scope: "agentgate" } },
      provenance: { keySecret: "k" },
      webhook: { url: "https://gateway.dev.example:8443" },
      audit: { enabled: true },
    };
    const checkArgs = (name: string, args: string[], known: Set<string>) => {
      for (const arg of args.slice(1)) {
        const flag = arg.split("=")[0] ?? "";
        assert.ok(known.has(flag), `${name}: ${flag} is not an option of agentgate ${args[0] ?? ""} (${[...known].join(" ")})`);
      }
    };
    for (const values of [...Object.values(MODES), all]) {
      const objects = await render(values);
      for (const [name, known] of [["agentgate-gateway", serve], ["agentgate-controller", controller], ["agentgate-audit", audit]] as const) {
        if (name === "agentgate-audit" && values !== all) continue;
        checkArgs(name, podSpec(find(objects, "Deployment", name)).spec.containers[0]?.args ?? [], known);
      }
    }
    const cron = await render({ ...all, audit: { enabled: true, schedule: "@hourly" } });
    checkArgs("agentgate-audit CronJob", cronPodSpec(find(cron, "CronJob", "agentgate-audit")).spec.containers[0]?.args ?? [], audit);
  });
});

describe("policy values", () => {
  test("policy.config becomes a ConfigMap passed with --policy-config that the engine loads; a change rolls the gateway", async () => {
    const config = { budgets: { maxTokenBudget: 200000 }, profiles: { rollout: { enforcement: "warn", namespaces: ["team-*"] } } };
    const objects = await render({ policy: { config, bundles: ["/bundles/extra.tar.gz"] } });
    const cm = find(objects, "ConfigMap", "agentgate-policy") as unknown as { data: Record<string, string> };
    const { spec, annotations } = podSpec(find(objects, "Deployment", "agentgate-gateway"));
    const args = spec.containers[0]?.args ?? [];
    const path = flagValue(args, "--policy-config");
    assert.ok(path);
    const mount = spec.containers[0]?.volumeMounts?.find((m) => path.startsWith(`${m.mountPath}/`));
    assert.equal(spec.volumes?.find((v) => v.name === mount?.name)?.configMap?.name, "agentgate-policy");
    const key = path.slice((mount?.mountPath.length ?? 0) + 1);
    const file = join(WORK, "policy-config.yaml");
    writeFileSync(file, cm.data[key] ?? "");
    const engine = await loadEngine([], file);
    assert.ok(engine.revision, "the rendered config loads over the default bundle");
    assert.deepEqual(flagValues(args, "--bundle"), ["/bundles/extra.tar.gz"]);
    assert.ok(!args.includes("--no-default-bundle"), "policy.bundles stack on the default bundle");
    const replacing = podSpec(find(await render({ policy: { bundles: ["/bundles/extra.tar.gz"], defaultBundle: false } }), "Deployment", "agentgate-gateway")).spec.containers[0]?.args ?? [];
    assert.ok(replacing.includes("--no-default-bundle"), "defaultBundle: false replaces it");
    const nothing = await helm(["template", "agentgate", CHART, "--namespace", NS, "-f", valuesFile({ policy: { defaultBundle: false } })]);
    assert.notEqual(nothing.code, 0);
    assert.match(nothing.stderr, /policy\.defaultBundle: false needs at least one entry in policy\.bundles/);

    const changed = podSpec(find(await render({ policy: { config: { budgets: { maxTokenBudget: 100000 } } } }), "Deployment", "agentgate-gateway")).annotations;
    assert.notEqual(changed["checksum/policy"], annotations["checksum/policy"]);
    const none = await render();
    assert.ok(!none.some((o) => o.kind === "ConfigMap" && o.metadata.name === "agentgate-policy"));
    assert.equal(flagValue(podSpec(find(none, "Deployment", "agentgate-gateway")).spec.containers[0]?.args ?? [], "--policy-config"), undefined);
  });
});

test("policy.bundleCache.existingClaim: the last good bundles live on that claim, mounted where --bundle-cache-dir points; default: no claim", async () => {
  const objects = await render({ policy: { bundles: ["https://bundles.example/team.tar.gz"], bundleCache: { existingClaim: "agentgate-bundles" } } });
  const { spec } = podSpec(find(objects, "Deployment", "agentgate-gateway"));
  const args = spec.containers[0]?.args ?? [];
  const dir = flagValue(args, "--bundle-cache-dir");
  assert.ok(dir, "--bundle-cache-dir is passed");
  const mount = spec.containers[0]?.volumeMounts?.find((m) => m.mountPath === dir);
  assert.ok(mount, `a volume is mounted at ${dir}`);
  assert.equal(spec.volumes?.find((v) => v.name === mount.name)?.persistentVolumeClaim?.claimName, "agentgate-bundles");
  assert.ok(!dir.startsWith("/tmp/") && dir !== "/tmp", "not under the emptyDir /tmp");
  assert.equal((spec.securityContext as { fsGroup?: number }).fsGroup, 65532, "the claim is writable by the gateway's group");

  const none = podSpec(find(await render({ policy: { bundles: ["https://bundles.example/team.tar.gz"] } }), "Deployment", "agentgate-gateway")).spec;
  assert.equal(flagValue(none.containers[0]?.args ?? [], "--bundle-cache-dir"), undefined);
  assert.ok(!none.volumes?.some((v) => v.persistentVolumeClaim), "no claim unless one is named");
  assert.ok(none.volumes?.some((v) => v.name === "tmp" && v.emptyDir !== undefined), "the default cache sits in the emptyDir /tmp");
  assert.match(await renderFails({ policy: { bundleCache: { claim: "x" } } }), /claim/);
});

test("policy.verification: the public key is mounted where --bundle-verification-key reads it, with key id and scope", async () => {
  const publicKey = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----";
  const objects = await render({ policy: { verification: { publicKey, keyId: "prod", scope: "agentgate" } } });
  const { spec } = podSpec(find(objects, "Deployment", "agentgate-gateway"));
  const args = spec.containers[0]?.args ?? [];
  const path = flagValue(args, "--bundle-verification-key") ?? "";
  const mount = spec.containers[0]?.volumeMounts?.find((m) => path.startsWith(`${m.mountPath}/`));
  const cmName = spec.volumes?.find((v) => v.name === mount?.name)?.configMap?.name ?? "";
  const cm = find(objects, "ConfigMap", cmName) as unknown as { data: Record<string, string> };
  assert.equal(cm.data[path.slice((mount?.mountPath.length ?? 0) + 1)]?.trim(), publicKey);
  assert.equal(flagValue(args, "--bundle-key-id"), "prod");
  assert.equal(flagValue(args, "--bundle-scope"), "agentgate");
  const unverified = podSpec(find(await render(), "Deployment", "agentgate-gateway")).spec.containers[0]?.args ?? [];
  assert.equal(flagValue(unverified, "--bundle-verification-key"), undefined);
});

/** Bundles from a service and a mounted file, signed, with a policy config: every flag that decides what a finding is. */
const AUDIT_POLICY = {
  config: { budgets: { maxTokenBudget: 1000 } },
  bundles: ["https://bundles.example/agentgate/team.tar.gz", "/bundles/extra.tar.gz"],
  pollInterval: "45s",
  verification: { publicKey: "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----", keyId: "prod", scope: "agentgate" },
};

/** The audit pod takes the gateway's bundles, verification, policy config, exemptions and trust: it judges as the webhook does. */
function assertJudgesLikeTheGateway(objects: Obj[], audit: PodSpec): void {
  const gw = podSpec(find(objects, "Deployment", "agentgate-gateway")).spec;
  const gateway = gw.containers[0]?.args ?? [];
  const args = audit.containers[0]?.args ?? [];
  for (const flag of ["--bundle", "--bundle-poll-interval", "--bundle-verification-key", "--bundle-verification-alg", "--bundle-key-id", "--bundle-scope", "--policy-config", "--service-account", "--trusted-user"]) {
    assert.deepEqual(flagValues(args, flag), flagValues(gateway, flag), `${flag} as the gateway's, so audit says what the webhook would`);
  }
  // audit's --namespace scopes the scan, as kubectl's; agentgate's own namespace is --agentgate-namespace there.
  assert.deepEqual(flagValues(args, "--agentgate-namespace"), flagValues(gateway, "--namespace"), "exempt as the gateway is");
  assert.deepEqual(flagValues(args, "--namespace"), [], "the chart's audit scans every namespace");
  // The files those flags name are the same ConfigMaps, mounted where the flags say.
  for (const flag of ["--bundle-verification-key", "--policy-config"]) {
    const path = flagValue(args, flag);
    if (path === undefined) continue;
    const source = (spec: PodSpec) => {
      const mount = spec.containers[0]?.volumeMounts?.find((m) => path.startsWith(`${m.mountPath}/`));
      return spec.volumes?.find((v) => v.name === mount?.name)?.configMap?.name;
    };
    assert.ok(source(audit), `${flag}: ${path} is mounted in the audit pod`);
    assert.equal(source(audit), source(gw), `${flag}: the same ConfigMap as the gateway's`);
  }
}

describe("RBAC: separate and least privilege", () => {
  test("the controller has no escalate and no bind; its ceiling is the policy's allowlist, base and profiles, and can be set", async () => {
    const objects = await render();
    const rules = (find(objects, "ClusterRole", "agentgate-controller") as unknown as { rules: Rule[] }).rules;
    for (const verb of ["escalate", "bind", "impersonate", "*"]) assert.ok(!rules.some((r) => r.verbs.includes(verb)), `no ${verb}`);
    const ceiling = (o: Obj[]) => (find(o, "ClusterRole", "agentgate-agent-ceiling") as unknown as { rules: Rule[] }).rules;
    const defaults = (JSON.parse(readFileSync(join(ROOT, "policies/data.json"), "utf8")) as { agentgate: { config: { rbac: { allowed: Rule[] } } } }).agentgate.config.rbac.allowed;
    assert.deepEqual(ceiling(objects), defaults, "the default bundle's allowlist");
    const file = JSON.parse(readFileSync(join(CHART, "files/default-rbac-allowlist.json"), "utf8")) as { allowed: unknown };
    if (process.env.AGENTGATE_WRITE_CHART === "1") writeFileSync(join(CHART, "files/default-rbac-allowlist.json"), `${JSON.stringify({ ...file, allowed: defaults }, null, 2)}\n`);
    else assert.deepEqual(file.allowed, defaults, "files/default-rbac-allowlist.json is policies/data.json's rbac.allowed (AGENTGATE_WRITE_CHART=1 rewrites it)");
    const binding = find(objects, "ClusterRoleBinding", "agentgate-agent-ceiling") as unknown as { roleRef: { name: string }; subjects: { name: string }[] };
    assert.deepEqual([binding.roleRef.name, binding.subjects.map((x) => x.name)], ["agentgate-agent-ceiling", ["agentgate-controller"]]);
    const own = { apiGroups: [""], resources: ["configmaps"], verbs: ["get"] };
    const wider = { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create"] };
    assert.deepEqual(ceiling(await render({ policy: { config: { rbac: { allowed: [own] }, profiles: { builders: { rbac: { allowed: [wider] } } } } } })), [own, wider], "policy.config's allowlist replaces the default, and each profile's adds to it");
    assert.deepEqual(ceiling(await render({ controller: { agentRbacCeiling: [wider] } })), [wider]);
  });

  const allows = (rules: Rule[], group: string, resource: string, verb: string): boolean =>
    rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));

  test("the gateway reads what its watch caches list and writes nothing agentgate guards", async () => {
    const objects = await render();
    const rules = (find(objects, "ClusterRole", "agentgate-gateway") as unknown as { rules: Rule[] }).rules;
    for (const w of WATCHED_KINDS) for (const verb of ["get", "list", "watch"]) assert.ok(allows(rules, w.group, w.plural, verb), `${verb} ${w.plural}.${w.group}`);
    for (const verb of ["get", "list", "watch"]) assert.ok(allows(rules, "", "services", verb), `${verb} Services named as tool servers (cached once referenced)`);
    assert.ok(allows(rules, "", "events", "create"), "Events on denied updates");
    for (const r of HANDLED_RESOURCES) for (const verb of ["create", "update", "patch", "delete"]) assert.ok(!allows(rules, r.group, r.resource, verb), `no ${verb} on ${r.resource}`);
    assert.ok(!rules.some((r) => r.resources.includes("secrets")), "no cluster-wide Secret access");
    const binding = find(objects, "ClusterRoleBinding", "agentgate-gateway") as unknown as { subjects: { name: string }[] };
    assert.deepEqual(binding.subjects.map((s) => s.name), ["agentgate-gateway"]);
  });

  test("audit (optional): lists every agent kind and its context, writes reports and Events, changes nothing it audits", async () => {
    assert.ok(!(await render()).some((o) => o.metadata.name === "agentgate-audit"), "off by default");
    const objects = await render({ audit: { enabled: true }, policy: AUDIT_POLICY });
    const rules = (find(objects, "ClusterRole", "agentgate-audit") as unknown as { rules: Rule[] }).rules;
    for (const r of HANDLED_RESOURCES.filter((x) => x.role === "agent")) {
      assert.ok(allows(rules, r.group, r.resource, "list"), `list ${r.resource}`);
      for (const verb of ["create", "update", "patch", "delete"]) assert.ok(!allows(rules, r.group, r.resource, verb), `no ${verb} on ${r.resource}`);
    }
    for (const w of WATCHED_KINDS) assert.ok(allows(rules, w.group, w.plural, "watch"), `watch ${w.plural}`);
    for (const [group, resource] of [["wgpolicyk8s.io", "policyreports"], ["openreports.io", "reports"]] as const) for (const verb of ["create", "update", "delete"]) assert.ok(allows(rules, group, resource, verb), `${verb} ${resource}`);
    const { spec } = podSpec(find(objects, "Deployment", "agentgate-audit"));
    assertJudgesLikeTheGateway(objects, spec);
    const args = spec.containers[0]?.args ?? [];
    assert.deepEqual(flagValues(args, "--bundle"), AUDIT_POLICY.bundles, "the comparison above is about the bundles set here");
    assert.deepEqual([flagValue(args, "--bundle-poll-interval"), flagValue(args, "--bundle-key-id"), flagValue(args, "--bundle-scope")], ["45s", "prod", "agentgate"]);
    assert.ok(flagValue(args, "--bundle-verification-key"), "signed bundles are verified by audit too");
    assert.equal(spec.serviceAccountName, "agentgate-audit");
  });

  test("the controller can do what src/controller calls, and reads one Secret only when signing", async () => {
    const objects = await render({ provenance: { keySecret: "provenance-key" } });
    const rules = (find(objects, "ClusterRole", "agentgate-controller") as unknown as { rules: Rule[] }).rules;
    for (const gvr of Object.values(GVR)) assert.ok(allows(rules, gvr.group, gvr.plural, "get"), `get ${gvr.plural}`);
    for (const [group, resource, verb] of [
      ["agent.tekton.dev", "agentruns", "watch"], ["agent.tekton.dev", "agentruns", "create"], ["agent.tekton.dev", "agentruns/status", "patch"],
      ["tekton.dev", "customruns", "watch"], ["tekton.dev", "customruns/status", "patch"], ["tekton.dev", "pipelineruns", "create"],
      ["kagent.dev", "agents", "create"], ["kagent.dev", "agents", "patch"], ["kagent.dev", "agents", "delete"],
      ["tekton.dev", "pipelineruns", "list"], ["tekton.dev", "pipelineruns", "patch"], ["", "services", "get"], ["apps", "deployments", "get"],
      ["", "serviceaccounts", "patch"], ["rbac.authorization.k8s.io", "roles", "patch"], ["rbac.authorization.k8s.io", "rolebindings", "patch"], ["networking.k8s.io", "networkpolicies", "patch"],
      ["", "events", "create"],
    ] as const) assert.ok(allows(rules, group, resource, verb), `${verb} ${resource}.${group}`);
    assert.ok(!rules.some((r) => r.resources.includes("secrets")), "no cluster-wide Secret access");
    assert.ok(!allows(rules, "agent.tekton.dev", "agentconfigs", "update") && !allows(rules, "agent.tekton.dev", "agentconfigs", "patch"), "configs are read-only");
    const role = find(objects, "Role", "agentgate-controller") as unknown as { metadata: { namespace: string }; rules: Rule[] };
    assert.equal(role.metadata.namespace, NS);
    assert.deepEqual(role.rules.find((r) => r.resources.includes("secrets"))?.resourceNames, ["provenance-key"]);
    assert.deepEqual(role.rules.find((r) => r.resources.includes("leases") && r.verbs.includes("update"))?.resourceNames, ["agentgate-controller"]);
    const unsigned = await render();
    assert.ok(!(find(unsigned, "Role", "agentgate-controller") as unknown as { rules: Rule[] }).rules.some((r) => r.resources.includes("secrets")));
  });
});

describe("audit schedules and report CRDs", () => {
  test("audit.schedule: a CronJob running agentgate audit --once under the Lease instead of the Deployment, judging as the gateway does", async () => {
    const objects = await render({ audit: { enabled: true, schedule: "17 */2 * * *", leaseWait: "45s" }, policy: AUDIT_POLICY });
    assert.ok(!objects.some((o) => o.kind === "Deployment" && o.metadata.name === "agentgate-audit"), "the CronJob replaces the Deployment: two scanners would only wait on each other");
    const cron = find(objects, "CronJob", "agentgate-audit") as unknown as Obj & { spec: { schedule: string; concurrencyPolicy: string; jobTemplate: { spec: { backoffLimit: number } } } };
    assert.equal(cron.spec.schedule, "17 */2 * * *");
    assert.equal(cron.spec.concurrencyPolicy, "Forbid", "a scan still running when the next is due: the next is skipped");
    assert.equal(cron.spec.jobTemplate.spec.backoffLimit, 0);
    const { spec, labels } = cronPodSpec(cron);
    assert.equal(spec.restartPolicy, "Never");
    assert.equal(labels["app.kubernetes.io/component"], "audit");
    const args = spec.containers[0]?.args ?? [];
    assert.equal(args[0], "audit");
    assert.ok(args.includes("--once") && args.includes("--leader-elect"), args.join(" "));
    assert.equal(flagValue(args, "--lease-wait"), "45s");
    assert.equal(flagValue(args, "--lease-namespace"), NS);
    assert.equal(flagValue(args, "--interval"), undefined);
    assert.equal(flagValue(args, "--metrics-listen"), undefined, "nothing scrapes a pod that lives for one scan");
    assertJudgesLikeTheGateway(objects, spec);
    assert.equal(spec.serviceAccountName, "agentgate-audit");
    assert.deepEqual(spec.containers[0]?.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } });
    find(objects, "Role", "agentgate-audit");
    assert.ok(!(await render({ audit: { enabled: true } })).some((o) => o.kind === "CronJob"), "no schedule: no CronJob");
    assert.ok(!(await render({ audit: { schedule: "@hourly" } })).some((o) => o.kind === "CronJob"), "audit off: nothing");
    assert.match(await renderFails({ audit: { enabled: true, schedule: "every hour" } }), /schedule/);
  });

  test("audit.reportCRDs: the chart installs the report CRDs audit writes, only when asked, kept on uninstall; the same files the tests install", async () => {
    // agentgate's own CRDs (templates/crds.yaml) are test/helm/chart-crds.test.ts's: left out here.
    const none = await render({ crds: { install: false }, audit: { enabled: true } });
    assert.ok(!none.some((o) => o.kind === "CustomResourceDefinition"), "off by default (Kyverno or Policy Reporter may own them)");
    const dir = join(CHART, "files/report-crds");
    const file = (name: string) => parseAllDocuments(readFileSync(join(dir, name), "utf8"))[0]?.toJS() as Obj & { spec: Record<string, unknown> };
    const cases = [
      { values: { wgpolicyk8s: true }, files: ["wgpolicyk8s.io_policyreports.yaml", "wgpolicyk8s.io_clusterpolicyreports.yaml"] },
      { values: { openreports: true }, files: ["openreports.io_reports.yaml", "openreports.io_clusterreports.yaml"] },
      { values: { wgpolicyk8s: true, openreports: true }, files: ["wgpolicyk8s.io_policyreports.yaml", "wgpolicyk8s.io_clusterpolicyreports.yaml", "openreports.io_reports.yaml", "openreports.io_clusterreports.yaml"] },
    ];
    for (const c of cases) {
      const crds = (await render({ crds: { install: false }, audit: { reportCRDs: c.values } })).filter((o) => o.kind === "CustomResourceDefinition");
      assert.deepEqual(crds.map((o) => o.metadata.name).sort(), c.files.map((f) => file(f).metadata.name).sort(), JSON.stringify(c.values));
      for (const f of c.files) {
        const want = file(f);
        const got = find(crds, "CustomResourceDefinition", want.metadata.name) as Obj & { spec: Record<string, unknown>; metadata: { labels?: Record<string, string> } };
        assert.deepEqual(got.spec, want.spec, `${f}: rendered as written`);
        assert.equal(got.metadata.annotations?.["helm.sh/resource-policy"], "keep", "deleting a CRD would delete every tool's reports");
        assert.equal(got.metadata.labels?.["app.kubernetes.io/part-of"], "agentgate");
      }
    }
    // What audit writes to: every report API of src/audit/report.ts has its CRDs here.
    const served = new Set(readdirSync(dir).map((f) => { const o = file(f) as unknown as { spec: { group: string; names: { plural: string }; versions: { name: string }[] } }; return `${o.spec.names.plural}.${o.spec.group}/${o.spec.versions[0]?.name ?? ""}`; }));
    for (const api of REPORT_APIS) for (const plural of [api.plural, api.clusterPlural]) assert.ok(served.has(`${plural}.${api.group}/${api.version}`), `${plural}.${api.group}/${api.version}`);
  });
});

describe("webhook configurations equal webhookConfigurations()", () => {
  test("files/handled-resources.json is HANDLED_RESOURCES, WEBHOOKS and SYSTEM_DELETERS", () => {
    const path = join(CHART, "files/handled-resources.json");
    const current = JSON.parse(readFileSync(path, "utf8")) as { resources: unknown; webhooks: unknown; systemDeleters: unknown; "//": string };
    if (process.env.AGENTGATE_WRITE_CHART === "1") {
      writeFileSync(path, `${JSON.stringify({ "//": current["//"], resources: HANDLED_RESOURCES, webhooks: WEBHOOKS, systemDeleters: SYSTEM_DELETERS }, null, 2)}\n`);
      return;
    }
    const regenerate = "regenerate: AGENTGATE_WRITE_CHART=1 node --test test/helm/chart.test.ts";
    assert.deepEqual(current.resources, HANDLED_RESOURCES, regenerate);
    assert.deepEqual(current.webhooks, JSON.parse(JSON.stringify(WEBHOOKS)), regenerate);
    assert.deepEqual(current.systemDeleters, SYSTEM_DELETERS, regenerate);
  });

  type Webhook = Record<string, unknown> & { name: string; clientConfig: Record<string, unknown>; failurePolicy: string; matchConditions?: { name: string; expression: string }[] };
  const webhooksOf = (o: unknown): Webhook[] => (o as { webhooks: Webhook[] }).webhooks;
  const trusted = [`system:serviceaccount:${NS}:agentgate-gateway`, `system:serviceaccount:${NS}:agentgate-controller`];

  const cases: { title: string; values: Record<string, unknown>; release: string; namespace: string; expect: Parameters<typeof webhookConfigurations>[0] }[] = [
    {
      title: "defaults (self-managed, Service)",
      values: {},
      release: "agentgate",
      namespace: NS,
      expect: { name: "agentgate", target: { service: { namespace: NS, name: "agentgate", port: 443 }, caBundle: "" }, exemptNamespaces: ["kube-system", NS], trustedUsers: trusted, deleters: [...SYSTEM_DELETERS] },
    },
    {
      title: "another release and namespace, failurePolicy Ignore, timeout 2, an excluded namespace",
      values: { webhook: { failurePolicy: "Ignore", timeoutSeconds: 2, excludeNamespaces: ["sandbox"] } },
      release: "guard",
      namespace: "platform",
      expect: { name: "guard-agentgate", target: { service: { namespace: "platform", name: "guard-agentgate", port: 443 }, caBundle: "" }, exemptNamespaces: ["kube-system", "platform", "sandbox"], failurePolicy: "Ignore", timeoutSeconds: 2, trustedUsers: ["system:serviceaccount:platform:guard-agentgate-gateway", "system:serviceaccount:platform:guard-agentgate-controller"], deleters: [...SYSTEM_DELETERS] },
    },
    {
      title: "a gateway outside the cluster (webhook.url) with a provided CA, matchConditions off",
      values: { webhook: { url: "https://127.0.0.1:9443/", matchConditions: false }, certificates: { mode: "provided", provided: { secretName: "t", caBundle: CA } } },
      release: "agentgate",
      namespace: NS,
      expect: { name: "agentgate", target: { url: "https://127.0.0.1:9443", caBundle: CA }, exemptNamespaces: ["kube-system", NS] },
    },
  ];

  for (const c of cases) {
    test(c.title, async () => {
      const objects = await render(c.values, c.release, c.namespace);
      // The token is made at render time; the same one in the Secret the gateway reads and in every webhook.
      const secret = find(objects, "Secret", `${c.expect.name}-webhook-path`) as unknown as { data: { token: string } };
      const pathToken = Buffer.from(secret.data.token, "base64").toString("utf8");
      assert.match(pathToken, /^[a-z0-9]{48}$/);
      const expected = webhookConfigurations({ ...c.expect, target: { ...c.expect.target, pathToken } });
      for (const [kind, want] of [["ValidatingWebhookConfiguration", expected.validating], ["MutatingWebhookConfiguration", expected.mutating]] as const) {
        const got = find(objects, kind, c.expect.name);
        assert.equal(got.metadata.name, (want as { metadata: { name: string } }).metadata.name);
        const wantHooks = webhooksOf(want).map((w) => (c.expect.target.caBundle === "" ? { ...w, clientConfig: Object.fromEntries(Object.entries(w.clientConfig).filter(([k]) => k !== "caBundle")) } : w));
        assert.deepEqual(webhooksOf(got), wantHooks);
      }
    });
  }

  test("webhookPathToken: the gateway reads the token the webhooks call with; a value set is used, and off means plain paths", async () => {
    const objects = await render({ gateway: { webhookPathToken: { value: "qm7wx2rlp4vn9bk3ch6djt8z5f0ga1es" } } });
    const gw = podSpec(find(objects, "Deployment", "agentgate-gateway")).spec;
    assert.equal(flagValue(gw.containers[0]?.args ?? [], "--webhook-path-token-file"), "/etc/agentgate/webhook-path/token");
    assert.ok(gw.volumes?.some((v) => v.secret?.secretName === "agentgate-webhook-path"));
    const hooks = [...webhooksOf(find(objects, "ValidatingWebhookConfiguration", "agentgate")), ...webhooksOf(find(objects, "MutatingWebhookConfiguration", "agentgate"))];
    assert.deepEqual([...new Set(hooks.map((w) => (w.clientConfig as { service: { path: string } }).service.path))].sort(), ["/mutate/qm7wx2rlp4vn9bk3ch6djt8z5f0ga1es", "/validate/qm7wx2rlp4vn9bk3ch6djt8z5f0ga1es"]);
    const rotating = await render({ gateway: { webhookPathToken: { value: "qm7wx2rlp4vn9bk3ch6djt8z5f0ga1es", accepted: ["nx8mq2wx7rlp4vn9bk3ch6dj5f0ga1es"] } } });
    const secret = find(rotating, "Secret", "agentgate-webhook-path") as unknown as { data: { token: string } };
    assert.equal(Buffer.from(secret.data.token, "base64").toString("utf8"), "qm7wx2rlp4vn9bk3ch6djt8z5f0ga1es\nnx8mq2wx7rlp4vn9bk3ch6dj5f0ga1es", "the gateway accepts both while the webhooks call with the value");
    assert.ok(webhooksOf(find(rotating, "ValidatingWebhookConfiguration", "agentgate")).every((w) => (w.clientConfig as { service: { path: string } }).service.path.endsWith("/qm7wx2rlp4vn9bk3ch6djt8z5f0ga1es")));
    const off = await render({ gateway: { webhookPathToken: { enabled: false } } });
    assert.equal(flagValue(podSpec(find(off, "Deployment", "agentgate-gateway")).spec.containers[0]?.args ?? [], "--webhook-path-token-file"), undefined);
    assert.ok(!off.some((o) => o.kind === "Secret" && o.metadata.name === "agentgate-webhook-path"));
    await assert.rejects(render({ gateway: { webhookPathToken: { value: "short" } } }), /webhookPathToken\/value|pattern/);
  });

  test("sideEffects: NoneOnDryRun on every webhook (the gateway records an Event on a denied update, never on a dry run)", async () => {
    const objects = await render();
    const hooks = [...webhooksOf(find(objects, "ValidatingWebhookConfiguration", "agentgate")), ...webhooksOf(find(objects, "MutatingWebhookConfiguration", "agentgate"))];
    assert.equal(hooks.length, WEBHOOKS.length);
    for (const w of hooks) assert.equal(w.sideEffects, "NoneOnDryRun", w.name);
  });

  test("matchConditions skip only calls whose answer is fixed: agentgate's identities and garbage collection, never on agent objects", async () => {
    const objects = await render();
    const all = [...webhooksOf(find(objects, "ValidatingWebhookConfiguration", "agentgate")), ...webhooksOf(find(objects, "MutatingWebhookConfiguration", "agentgate"))];
    for (const name of [WEBHOOK_NAMES.validate, WEBHOOK_NAMES.mutate, WEBHOOK_NAMES.customRuns, WEBHOOK_NAMES.pipelineRuns]) {
      const w = all.find((x) => x.name === name);
      assert.ok(!(w?.matchConditions ?? []).some((m) => m.name === "not-agentgate"), `${name}: every request is evaluated, whoever sends it`);
    }
    const managed = all.find((w) => w.name === WEBHOOK_NAMES.managed)?.matchConditions ?? [];
    const users = (expr: string | undefined): string[] => [...(expr ?? "").matchAll(/'([^']+)'/g)].map((m) => m[1] ?? "").filter((u) => u !== "DELETE");
    const trustedExpr = managed.find((m) => m.name === "not-agentgate")?.expression;
    assert.deepEqual(users(trustedExpr), trusted);
    const gateway = podSpec(find(objects, "Deployment", "agentgate-gateway")).spec.containers[0]?.args ?? [];
    assert.deepEqual(users(trustedExpr), [flagValue(gateway, "--service-account"), ...flagValues(gateway, "--trusted-user")], "the same identities the gateway trusts");
    const gc = managed.find((m) => m.name === "not-garbage-collection")?.expression;
    assert.match(gc ?? "", /request\.operation == 'DELETE'/);
    assert.deepEqual(users(gc), [...SYSTEM_DELETERS]);
    const off = await render({ webhook: { matchConditions: false } });
    const offHooks = [...webhooksOf(find(off, "ValidatingWebhookConfiguration", "agentgate")), ...webhooksOf(find(off, "MutatingWebhookConfiguration", "agentgate"))];
    assert.ok(offHooks.every((w) => !(w.matchConditions ?? []).some((m) => m.name === "not-agentgate")), "off: only the conditions that keep a webhook to what it guards stay");
  });

  test("the PipelineRun webhook fails open whatever webhook.failurePolicy says; the others follow it", async () => {
    const hooks = webhooksOf(find(await render(), "MutatingWebhookConfiguration", "agentgate"));
    assert.equal(hooks.find((w) => w.name === WEBHOOK_NAMES.pipelineRuns)?.failurePolicy, "Ignore", "an outage must not stop every pipeline; a run from a PipelineRun without its stamp is refused later");
    assert.equal(hooks.find((w) => w.name === WEBHOOK_NAMES.customRuns)?.failurePolicy, "Fail");
  });
});


test("gateway.calls: the run-time gateway's port on the pods and Service, its RBAC, and agent pods alone let in; off by default", async () => {
  const objects = await render({ gateway: { calls: { enabled: true, port: 8090 } } });
  const { spec } = podSpec(find(objects, "Deployment", "agentgate-gateway"));
  const container = spec.containers[0];
  assert.equal(flagValue(container?.args ?? [], "--calls-listen"), "0.0.0.0:8090");
  assert.equal(container?.ports?.find((p) => p.name === "calls")?.containerPort, 8090);
  const service = find(objects, "Service", "agentgate") as unknown as { spec: { ports: { name: string; port: number; targetPort: string }[] } };
  assert.deepEqual(service.spec.ports.find((p) => p.name === "calls"), { name: "calls", port: 8090, targetPort: "calls", protocol: "TCP" });
  const rules = (find(objects, "ClusterRole", "agentgate-gateway") as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }).rules;
  assert.ok(rules.some((r) => r.resources.includes("tokenreviews") && r.verbs.includes("create")), "TokenReview");
  assert.ok(rules.some((r) => r.resources.includes("secrets") && r.resources.includes("configmaps") && r.verbs.includes("get")), "provider keys, tool servers' own credentials");
  assert.ok(rules.some((r) => r.resources.includes("pods") && r.verbs.includes("list")), "where a call comes from");
  const role = (find(objects, "Role", "agentgate-gateway") as unknown as { rules: { resources: string[]; verbs: string[]; resourceNames?: string[] }[] }).rules;
  assert.ok(role.some((r) => r.resources.includes("configmaps") && r.verbs.includes("update") && r.resourceNames === undefined), "run ledgers");
  assert.ok(!role.some((r) => r.resources.includes("configmaps") && r.verbs.includes("delete")), "the gateway never deletes a ledger (the controller does, after the run)");
  const np = find(objects, "NetworkPolicy", "agentgate-gateway") as unknown as { spec: { ingress: { ports: { port: number }[]; from?: { podSelector?: { matchExpressions?: { key: string; operator: string }[] } }[] }[] } };
  const calls = np.spec.ingress.find((i) => i.ports.some((p) => p.port === 8090));
  assert.deepEqual(calls?.from?.[0]?.podSelector?.matchExpressions, [{ key: "agent.tekton.dev/run", operator: "Exists" }]);

  // The controller sends runs through it: their own ModelConfig and RemoteMCPServers, a call token it mints and only creates.
  const controllerArgs = podSpec(find(objects, "Deployment", "agentgate-controller")).spec.containers[0]?.args ?? [];
  assert.equal(flagValue(controllerArgs, "--calls-url"), `http://agentgate.${NS}.svc:8090`);
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
  const controllerRules = (find(objects, "ClusterRole", "agentgate-controller") as unknown as { rules: Rule[] }).rules;
  for (const [group, resource, verb] of [["kagent.dev", "modelconfigs", "create"], ["kagent.dev", "modelconfigs", "patch"], ["kagent.dev", "remotemcpservers", "patch"], ["", "serviceaccounts/token", "create"], ["", "secrets", "create"]] as const) {
    assert.ok(controllerRules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb)), `${verb} ${resource}`);
  }
  assert.deepEqual(controllerRules.filter((r) => r.resources.includes("secrets")).flatMap((r) => r.verbs), ["create"], "Secrets are created, never read or changed");
  const controllerRole = (find(objects, "Role", "agentgate-controller") as unknown as { rules: Rule[] }).rules;
  assert.ok(controllerRole.some((r) => r.resources.includes("configmaps") && r.verbs.includes("watch") && r.verbs.includes("delete") && r.resourceNames === undefined), "run ledgers read and swept");
  const vap = find(objects, "ValidatingAdmissionPolicy", "agentgate-controller-calls") as unknown as { spec: { failurePolicy: string; matchConditions: { expression: string }[]; matchConstraints: { resourceRules: { resources: string[]; operations: string[] }[] } } };
  assert.equal(vap.spec.failurePolicy, "Fail");
  assert.deepEqual(vap.spec.matchConstraints.resourceRules[0]?.resources, ["serviceaccounts/token", "secrets"]);
  assert.match(vap.spec.matchConditions[0]?.expression ?? "", new RegExp(`system:serviceaccount:${NS}:agentgate-controller`));
  assert.ok(find(objects, "ValidatingAdmissionPolicyBinding", "agentgate-controller-calls"));

  const off = await render();
  assert.equal(flagValue(podSpec(find(off, "Deployment", "agentgate-controller")).spec.containers[0]?.args ?? [], "--calls-url"), undefined);
  assert.ok(!off.some((o) => o.kind === "ValidatingAdmissionPolicy"));
  assert.equal(flagValue(podSpec(find(off, "Deployment", "agentgate-gateway")).spec.containers[0]?.args ?? [], "--calls-listen"), undefined);
  const offRules = (find(off, "ClusterRole", "agentgate-gateway") as unknown as { rules: { resources: string[] }[] }).rules;
  assert.ok(!offRules.some((r) => r.resources.includes("tokenreviews") || r.resources.includes("secrets")), "no TokenReview or Secret reads unless enabled");
  assert.match(await renderFails({ gateway: { calls: { enabled: true, port: 8443 } } }), /calls/);
});

test("inside a wrapper chart (as Argo CD and Flux users install everything): Helm's global values and a parent's enabled condition are accepted; enabled=false renders nothing", async () => {
  const parent = join(WORK, "platform");
  mkdirSync(join(parent, "charts"), { recursive: true });
  writeFileSync(join(parent, "Chart.yaml"), stringify({ apiVersion: "v2", name: "platform", version: "0.1.0", dependencies: [{ name: "agentgate", version: ">=0.0.0", repository: `file://${CHART}`, condition: "agentgate.enabled" }] }));
  writeFileSync(join(parent, "values.yaml"), stringify({ global: { imageRegistry: "registry.example.com" }, agentgate: { enabled: true } }));
  const dep = await helm(["dependency", "update", parent]);
  assert.equal(dep.code, 0, dep.stderr);
  const on = await helm(["template", "p", parent, "--namespace", NS]);
  assert.equal(on.code, 0, on.stderr);
  assert.ok(parseAllDocuments(on.stdout).some((d) => (d.toJS() as Obj | null)?.kind === "ValidatingWebhookConfiguration"), "agentgate rendered as a dependency");
  const off = await helm(["template", "p", parent, "--namespace", NS, "--set", "agentgate.enabled=false"]);
  assert.equal(off.code, 0, off.stderr);
  assert.equal(parseAllDocuments(off.stdout).filter((d) => d.toJS() !== null).length, 0);
});

describe("fits common clusters", () => {
  type PodSpecOf = { spec: { replicas?: number; template: { spec: Record<string, unknown> & { containers: { securityContext?: Record<string, unknown> }[] } } } };
  const pod = (objects: Obj[], name: string) => (find(objects, "Deployment", name) as unknown as PodSpecOf).spec;

  test("the fail-closed gateway is system-cluster-critical by default (as Gatekeeper's is); the controller is not", async () => {
    const objects = await render();
    assert.equal(pod(objects, "agentgate-gateway").template.spec.priorityClassName, "system-cluster-critical");
    assert.equal(pod(objects, "agentgate-controller").template.spec.priorityClassName, undefined);
    assert.equal((await render({ gateway: { priorityClassName: "" } })).some((o) => o.kind === "Deployment" && (o as unknown as PodSpecOf).spec.template.spec.priorityClassName !== undefined), false);
  });

  test("securityContext overridable for every pod: OpenShift's restricted SCC (its own user range) with runAsUser, runAsGroup and fsGroup left out", async () => {
    const objects = await render({ podSecurityContext: { runAsNonRoot: true, runAsUser: null, runAsGroup: null, fsGroup: null, seccompProfile: { type: "RuntimeDefault" } } });
    for (const name of ["agentgate-gateway", "agentgate-controller"]) {
      assert.deepEqual(pod(objects, name).template.spec.securityContext, { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } }, name);
    }
    const defaults = pod(await render(), "agentgate-gateway").template.spec;
    assert.equal((defaults.securityContext as Record<string, unknown>).runAsUser, 65532);
    assert.deepEqual(defaults.containers[0]?.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } });
  });

  test("hostNetwork for clusters whose CNI the API server cannot reach, with the DNS policy that goes with it; topology spread as given", async () => {
    const host = pod(await render({ gateway: { hostNetwork: true } }), "agentgate-gateway").template.spec;
    assert.equal(host.hostNetwork, true);
    assert.equal(host.dnsPolicy, "ClusterFirstWithHostNet");
    const spread = [{ maxSkew: 2, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "x" } } }];
    assert.deepEqual(pod(await render({ gateway: { topologySpreadConstraints: spread } }), "agentgate-gateway").template.spec.topologySpreadConstraints, spread);
    assert.equal(pod(await render(), "agentgate-gateway").template.spec.hostNetwork, undefined);
  });

  test("an optional HorizontalPodAutoscaler for the gateway, which then owns its replica count", async () => {
    const objects = await render({ gateway: { autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 9, targetCPUUtilizationPercentage: 60 } } });
    const hpa = find(objects, "HorizontalPodAutoscaler", "agentgate-gateway") as unknown as { spec: { minReplicas: number; maxReplicas: number; scaleTargetRef: { name: string }; metrics: { resource: { target: { averageUtilization: number } } }[] } };
    assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas, hpa.spec.scaleTargetRef.name, hpa.spec.metrics[0]?.resource.target.averageUtilization], [3, 9, "agentgate-gateway", 60]);
    assert.equal(pod(objects, "agentgate-gateway").replicas, undefined);
    const fixed = await render();
    assert.ok(!fixed.some((o) => o.kind === "HorizontalPodAutoscaler"));
    assert.equal(pod(fixed, "agentgate-gateway").replicas, 2);
  });
});

test("user-supplied matchConditions go on every webhook after agentgate's own; a namespace opt-out label keeps labelled namespaces from every webhook", async () => {
  const extra = { name: "not-ci-bot", expression: "request.userInfo.username != 'ci-bot'" };
  const objects = await render({ webhook: { extraMatchConditions: [extra], namespaceOptOutLabel: "agentgate.example.com/skip" } });
  const hooks = objects.filter((o) => o.kind === "ValidatingWebhookConfiguration" || o.kind === "MutatingWebhookConfiguration").flatMap((o) => (o as unknown as { webhooks: { name: string; matchConditions?: { name: string }[]; namespaceSelector: { matchExpressions: { key: string; operator: string }[] } }[] }).webhooks);
  assert.equal(hooks.length, WEBHOOKS.length);
  for (const w of hooks) {
    assert.equal(w.matchConditions?.at(-1)?.name, "not-ci-bot", w.name);
    assert.deepEqual(w.namespaceSelector.matchExpressions.at(-1), { key: "agentgate.example.com/skip", operator: "DoesNotExist" }, w.name);
  }
  const plain = (await render()).filter((o) => o.kind === "ValidatingWebhookConfiguration").flatMap((o) => (o as unknown as { webhooks: { namespaceSelector: { matchExpressions: unknown[] } }[] }).webhooks);
  assert.ok(plain.every((w) => w.namespaceSelector.matchExpressions.length === 1), "no opt-out label unless one is set");
});

test("logLevel reaches every process as --log-level; a level the processes do not know is refused by the schema", async () => {
  const objects = await render({ logLevel: "debug", audit: { enabled: true } });
  for (const name of ["agentgate-gateway", "agentgate-controller", "agentgate-audit"]) {
    assert.deepEqual(flagValues(podSpec(find(objects, "Deployment", name)).spec.containers[0]?.args ?? [], "--log-level"), ["debug"], name);
  }
  const bad = await helm(["template", "agentgate", CHART, "--namespace", NS, "-f", valuesFile({ logLevel: "verbose" })]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /logLevel/);
});

test("policy.bundleAuth: each file flag of the gateway and the audit reads a key of the Secret or ConfigMap named, mounted as a directory; both CA sources at once are refused", async () => {
  const bundleAuth = { bearerTokenSecret: "bundle-token", clientCertSecret: "bundle-mtls", caConfigMap: "bundle-ca", caKey: "roots.pem", registryCredentialsSecret: "regcred", insecureRegistries: ["registry.local:5000"] };
  const objects = await render({ policy: { bundles: ["oci://ghcr.io/acme/policy:1"], bundleAuth, verification: AUDIT_POLICY.verification }, audit: { enabled: true } });
  const wanted: [string, string, string][] = [
    ["--bundle-bearer-token-file", "bundle-token", "token"],
    ["--bundle-client-cert", "bundle-mtls", "tls.crt"],
    ["--bundle-client-key", "bundle-mtls", "tls.key"],
    ["--bundle-ca", "bundle-ca", "roots.pem"],
    ["--bundle-registry-credentials", "regcred", ".dockerconfigjson"],
  ];
  for (const name of ["agentgate-gateway", "agentgate-audit"]) {
    const { spec } = podSpec(find(objects, "Deployment", name));
    const container = spec.containers[0];
    const args = container?.args ?? [];
    for (const flag of [...wanted.map((w) => w[0]), "--bundle-insecure-registry"]) assert.ok(optionsOf(name === "agentgate-gateway" ? "serve" : "audit").has(flag), `${flag} is a flag of the command`);
    assert.deepEqual(flagValues(args, "--bundle-insecure-registry"), ["registry.local:5000"], name);
    for (const [flag, object, key] of wanted) {
      const path = flagValue(args, flag) ?? "";
      const mount = container?.volumeMounts?.find((m) => path.startsWith(`${m.mountPath}/`));
      assert.ok(mount, `${name} ${flag}=${path} is under a mount`);
      // A directory, not a subPath: the kubelet's updates (a rotated token, a renewed certificate) reach the file.
      assert.equal((mount as { subPath?: string }).subPath, undefined);
      const volume = spec.volumes?.find((v) => v.name === mount.name) as { secret?: { secretName: string; items?: { key: string; path: string }[] }; configMap?: { name: string; items?: { key: string; path: string }[] } } | undefined;
      const source = volume?.secret ?? volume?.configMap;
      assert.equal(volume?.secret?.secretName ?? volume?.configMap?.name, object, `${name} ${flag}`);
      assert.equal(source?.items?.find((i) => i.path === path.slice(mount.mountPath.length + 1))?.key, key, `${name} ${flag} reads key ${key}`);
    }
  }
  const plain = podSpec(find(await render(), "Deployment", "agentgate-gateway")).spec.containers[0]?.args ?? [];
  assert.deepEqual(plain.filter((a) => /^--bundle-(bearer|client|ca|registry|insecure)/.test(a)), []);
  const both = await helm(["template", "agentgate", CHART, "--namespace", NS, "-f", valuesFile({ policy: { bundleAuth: { caConfigMap: "a", caSecret: "b" } } })]);
  assert.notEqual(both.code, 0);
  assert.match(both.stderr, /policy\.bundleAuth: set caSecret or caConfigMap, not both/);
});

test("gateway.networkPolicy opens the port of every oci:// registry in policy.bundles: named, 443, or 80 for an insecure one", async () => {
  const objects = await render({ policy: { bundles: ["oci://ghcr.io/acme/policy:1", "oci://registry.internal:5000/acme/p@sha256:" + "a".repeat(64), "oci://plain.local/acme/p:1"], bundleAuth: { insecureRegistries: ["plain.local"] }, verification: AUDIT_POLICY.verification }, gateway: { networkPolicy: { enabled: true } } });
  const np = find(objects, "NetworkPolicy", "agentgate-gateway") as unknown as { spec: { egress: { ports?: { port: number }[] }[] } };
  const opened = np.spec.egress.flatMap((r) => (r.ports ?? []).map((p) => p.port));
  // (443 is the API server's too; the named port and the insecure registry's 80 are the registries' alone.)
  for (const port of [5000, 80]) assert.ok(opened.includes(port), `port ${String(port)} open (have ${opened.join(", ")})`);
});

test("plain http to a bundle service or registry on another machine needs signed bundles: refused without policy.verification.publicKey", async () => {
  for (const policy of [{ bundles: ["http://bundles.example/b.tar.gz"] }, { bundles: ["oci://plain.local/acme/p:1"], bundleAuth: { insecureRegistries: ["plain.local"] } }]) {
    const r = await helm(["template", "agentgate", CHART, "--namespace", NS, "-f", valuesFile({ policy })]);
    assert.notEqual(r.code, 0, JSON.stringify(policy));
    assert.match(r.stderr, /plain http to (another machine|a registry) lets anyone on the path replace the policy/);
  }
  const signed = await helm(["template", "agentgate", CHART, "--namespace", NS, "-f", valuesFile({ policy: { bundles: ["http://bundles.example/b.tar.gz"], verification: AUDIT_POLICY.verification } })]);
  assert.equal(signed.code, 0, signed.stderr);
  const loopback = await helm(["template", "agentgate", CHART, "--namespace", NS, "-f", valuesFile({ policy: { bundles: ["http://127.0.0.1:8181/b.tar.gz"] } })]);
  assert.equal(loopback.code, 0, loopback.stderr);
});
