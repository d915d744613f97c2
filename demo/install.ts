// agentgate installed as a platform team would (`helm install` of the chart
// with the example's values), then run where the chart's pods would run if
// this cluster had a kubelet: the gateway and the controller as local
// processes of bin/agentgate.js with the arguments the chart rendered for
// their containers, each as its chart ServiceAccount, the webhooks pointed
// at the gateway with webhook.url (as test/e2e/helm.test.ts does). The only
// arguments changed are where they listen, the files the chart mounts
// (written here from the rendered ConfigMap and Secret) and the gateway's
// drain (no load balancer here to drain from).
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments, stringify } from "yaml";
import { freePort } from "../src/testing/free-port.ts";
import { until } from "../src/testing/until.ts";
import type { ControlPlane } from "../test/support/control-plane.ts";
import { helmIn } from "../test/support/helm.ts";
import { httpsCall } from "../test/support/https-call.ts";
import type { Cleanup } from "./cleanup.ts";
import { command, note, output } from "./output.ts";

const BIN = fileURLToPath(new URL("../bin/agentgate.js", import.meta.url));
export const RELEASE = "agentgate";
export const SYSTEM_NS = "agentgate-system";

export interface Installed {
  /** PEM public key that verifies the runs' provenance */
  provenancePublicKey: string;
  /** the local processes' log files */
  logs: { gateway: string; controller: string };
}

type Rendered = { kind?: string; metadata?: { name?: string }; data?: Record<string, string>; spec?: { template: { spec: { containers: { args: string[] }[] } } } } | null;

/** The ServiceAccount's user and groups, as its token would authenticate. */
const asServiceAccount = (cp: ControlPlane, name: string): Promise<string> =>
  cp.kubeconfigFor(`system:serviceaccount:${SYSTEM_NS}:${name}`, ["system:serviceaccounts", `system:serviceaccounts:${SYSTEM_NS}`, "system:authenticated"]);

export async function installAgentgate(cp: ControlPlane, work: string, examples: string, kagentUrl: string, cleanup: Cleanup): Promise<Installed> {
  const helmWork = join(work, "helm");
  mkdirSync(helmWork);
  const helm = helmIn(helmWork, { kubeconfig: () => cp.kubeconfigPath });
  const gatewayPort = await freePort();

  // The provenance signing key, in the Secret the chart names (README "The controller").
  const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const privatePem = keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const publicPem = keys.publicKey.export({ type: "spki", format: "pem" }).toString();
  await cp.applyYaml([
    stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: SYSTEM_NS } }),
    stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "agentgate-provenance", namespace: SYSTEM_NS }, stringData: { "private-key.pem": privatePem } }),
  ].join("---\n"));

  const local = {
    webhook: { url: `https://127.0.0.1:${String(gatewayPort)}` },
    provenance: { keySecret: "agentgate-provenance" },
    controller: { kagentUrl },
    logLevel: "warn",
  };
  const valuesPath = join(examples, "values.yaml");
  const shownValues = `--set webhook.url=${local.webhook.url} --set provenance.keySecret=agentgate-provenance --set controller.kagentUrl=${kagentUrl} --set logLevel=warn`;
  command("admin", `helm install agentgate charts/agentgate -n ${SYSTEM_NS} -f ${valuesPath.replace(/^.*?(examples\/)/, "$1")} ${shownValues}`);
  const install = await helm.run(["install", RELEASE, fileURLToPath(new URL("../charts/agentgate", import.meta.url)), "--namespace", SYSTEM_NS, "-f", valuesPath, "-f", helm.valuesFile(local)]);
  // NOTES.txt is long; its first lines say what was installed.
  output(`${install.stdout.split("\n").slice(0, 7).join("\n")}\n${install.stderr}`);
  if (install.code !== 0) throw new Error(`helm install exited ${String(install.code)}: ${install.stderr.trim()}`);

  const manifest = await helm.run(["get", "manifest", RELEASE, "--namespace", SYSTEM_NS]);
  const objects = parseAllDocuments(manifest.stdout).map((d) => d.toJS() as Rendered);
  const argsOf = (name: string): string[] => objects.find((o) => o?.kind === "Deployment" && o.metadata?.name === name)?.spec?.template.spec.containers[0]?.args ?? [];
  const policyConfig = objects.find((o) => o?.kind === "ConfigMap" && o.data?.["config.yaml"] !== undefined)?.data?.["config.yaml"] ?? "";
  const tokenB64 = objects.find((o) => o?.kind === "Secret" && o.metadata?.name === `${RELEASE}-webhook-path`)?.data?.token ?? "";
  const policyFile = join(work, "policy-config.yaml");
  const tokenFile = join(work, "webhook-path-token");
  writeFileSync(policyFile, policyConfig);
  writeFileSync(tokenFile, Buffer.from(tokenB64, "base64"), { mode: 0o600 });
  // A sanity check that the values reached the chart: the policy config names the tool server.
  if (!(parse(policyConfig) as { tools?: unknown } | null)?.tools) throw new Error("the rendered policy ConfigMap lacks the example's tools.servers");

  const healthPort = await freePort();
  const rewrite = (a: string): string =>
    a.startsWith("--listen=") ? `--listen=127.0.0.1:${String(gatewayPort)}`
    : a.startsWith("--metrics-listen=") ? "--metrics-listen=127.0.0.1:0"
    : a.startsWith("--health-listen=") ? `--health-listen=127.0.0.1:${String(healthPort)}`
    : a.startsWith("--policy-config=") ? `--policy-config=${policyFile}`
    : a.startsWith("--webhook-path-token-file=") ? `--webhook-path-token-file=${tokenFile}`
    : a.startsWith("--drain-seconds=") ? "--drain-seconds=0"
    : a;
  const logs = { gateway: join(work, "gateway.log"), controller: join(work, "controller.log") };
  const start = async (name: "gateway" | "controller"): Promise<void> => {
    const args = argsOf(`${RELEASE}-${name}`).map(rewrite);
    if (args.length === 0) throw new Error(`the chart rendered no ${name} Deployment`);
    const fd = openSync(logs[name], "a");
    try {
      // in the demo's work directory, beside its logs: what names it is the demo's
      const kubeconfig = join(work, `${name}.kubeconfig`);
      copyFileSync(await asServiceAccount(cp, `${RELEASE}-${name}`), kubeconfig);
      const child = spawn(process.execPath, [BIN, ...args, `--kubeconfig=${kubeconfig}`], { stdio: ["ignore", fd, fd], env: { ...process.env, POD_NAMESPACE: SYSTEM_NS } });
      cleanup.child(child);
      child.once("exit", (code, signal) => {
        if (!cleanup.stopping) process.stderr.write(`agentgate ${name} exited (${signal ?? String(code)}); its log:\n${tail(logs[name])}\n`);
      });
    } finally {
      closeSync(fd);
    }
  };
  note("no kubelet here, so the chart's Deployments never start pods: the demo runs `agentgate serve` and `agentgate controller` as local processes, with the container arguments helm rendered, as the chart's ServiceAccounts");
  await start("gateway");
  await until("the gateway to be ready", async () => (await httpsCall(gatewayPort, "GET", "/readyz")).status === 200, { timeoutMs: 120_000, intervalMs: 250 }).catch((err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tail(logs.gateway)}`);
  });
  const caBundles = async (): Promise<boolean> => {
    const r = await cp.kubectl(["get", "validatingwebhookconfiguration,mutatingwebhookconfiguration", RELEASE, "-o", "jsonpath={range .items[*].webhooks[*]}[{.clientConfig.caBundle}]{end}"], { allowFail: true });
    return r.code === 0 && r.stdout !== "" && !r.stdout.includes("[]");
  };
  await until("the gateway to write its CA into the webhook configurations", caBundles, { timeoutMs: 60_000, intervalMs: 250 });
  await start("controller");
  await until("the controller to take its Lease", async () => (await cp.kubectl(["get", "lease", "agentgate-controller", "-n", SYSTEM_NS, "-o", "jsonpath={.spec.holderIdentity}"], { allowFail: true })).stdout !== "", { timeoutMs: 60_000, intervalMs: 250 }).catch((err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tail(logs.controller)}`);
  });
  output(`gateway: https://127.0.0.1:${String(gatewayPort)} (ready, webhooks' caBundle written; log ${logs.gateway})\ncontroller: holds the Lease agentgate-system/agentgate-controller (log ${logs.controller})`);
  return { provenancePublicKey: publicPem, logs };
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
