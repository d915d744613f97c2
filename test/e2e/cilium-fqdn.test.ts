// Where the cluster serves Cilium's CiliumNetworkPolicy, a strict run's
// public model host is allowed by name (toFQDNs) in a policy of its own,
// and its NetworkPolicy no longer allows every public address on that port.
// No CNI runs here (a stand-in of Cilium's CRD, test/support/crds-cilium):
// this checks the objects Cilium would enforce, not the enforcement.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { A2ADriver } from "../../src/controller/a2a-driver.ts";
import { startController, type RunningController } from "../../src/controller/controller.ts";
import { ProvenanceSigner } from "../../src/controller/provenance-recorder.ts";
import { logger } from "../../src/log.ts";
import { generateSigningKey } from "../../src/signing/keys.ts";
import { staticKeyring } from "../../src/signing/keyring.ts";
import type { AgentConfig, AgentRun, Guardrails } from "../../src/types/agent.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";
import { stampedRun } from "../support/stamps.ts";
import { until } from "../support/until.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NS = "fqdn";
const key = generateSigningKey();

let cp: ControlPlane;
let controller: RunningController;

const guardrails: Guardrails = {
  tokenBudget: 1000,
  timeout: "1h",
  maxIterations: 3,
  networkPolicy: "strict",
  egress: [
    { purpose: "model", host: "api.anthropic.com", port: 443 },
    { purpose: "mcp:kagent/tools", host: "kagent-tools.kagent", port: 8084, service: { namespace: "kagent", name: "kagent-tools" } },
  ],
  rbac: [],
  approval: { required: false, approverGroups: [] },
  tools: [],
};

before(async () => {
  logger.level = "error";
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds"), join(ROOT, "test/support/crds-cilium")], serverSideCrds: [tektonCrdDir()] });
  const config: AgentConfig = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "c", namespace: NS }, spec: { modelConfigRef: { name: "claude" }, systemPrompt: "p" } };
  const run = await stampedRun({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "named", namespace: NS }, spec: { configRef: { name: "c" }, goal: "g" } }, config, guardrails, key);
  await cp.applyYaml([{ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }, config, run].map((d) => stringify(d)).join("---\n"));
  controller = await startController({
    kubeConfig: cp.kubeConfig,
    kagentUrl: "http://kagent-controller.kagent.svc:8083",
    driver: new A2ADriver("http://127.0.0.1:9", logger),
    provenance: new ProvenanceSigner(),
    log: logger,
    leaderElect: false,
    leaseNamespace: "default",
    keyring: staticKeyring(undefined, [key]),
    exemptNamespaces: new Set(),
    agentReadyTimeoutMs: 60_000,
  });
});

after(async () => {
  await controller?.stop();
  await cp?.stop();
});

test("a strict run's public model host is allowed by name in <run>-fqdn, and not as any public address in <run>-netpol", async () => {
  const custom = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const cnp = (await until("the run's CiliumNetworkPolicy", () => custom.getNamespacedCustomObject({ group: "cilium.io", version: "v2", namespace: NS, plural: "ciliumnetworkpolicies", name: "named-fqdn" }).catch(() => undefined))) as { metadata: { labels: Record<string, string>; ownerReferences: { kind: string; name: string }[] }; spec: { endpointSelector: unknown; egress: Record<string, unknown>[]; egressDeny?: { toCIDRSet: { cidr: string }[] }[] } };
  assert.deepEqual(cnp.spec.endpointSelector, { matchLabels: { app: "kagent", kagent: "named-agent" } });
  assert.deepEqual(cnp.spec.egress[1], { toFQDNs: [{ matchName: "api.anthropic.com" }], toPorts: [{ ports: [{ port: "443", protocol: "TCP" }] }] });
  assert.deepEqual(cnp.spec.egress[0]?.toPorts, [{ ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchPattern: "*" }] } }], "DNS through Cilium's proxy, which toFQDNs needs");
  const denied = cnp.spec.egressDeny?.[0]?.toCIDRSet.map((r) => r.cidr) ?? [];
  for (const range of ["169.254.0.0/16", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "fe80::/10", "fc00::/7"]) assert.ok(denied.includes(range), `${range} denied: a public name may resolve there`);
  assert.equal(cnp.metadata.labels["app.kubernetes.io/managed-by"], "agentgate");
  assert.deepEqual(cnp.metadata.ownerReferences.map((o) => `${o.kind}/${o.name}`), ["AgentRun/named"]);
  const np = JSON.parse((await cp.kubectl(["get", "networkpolicy", "named-netpol", "-n", NS, "-o", "json"])).stdout) as { spec: { egress: { to: { ipBlock?: { cidr: string }; namespaceSelector?: unknown; podSelector?: unknown }[]; ports?: { port: number }[] }[] } };
  assert.deepEqual(np.spec.egress[0]?.to, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }], "DNS to kube-dns in kube-system only, as in <run>-fqdn");
  assert.ok(!np.spec.egress.some((e) => e.to.some((p) => p.ipBlock?.cidr === "0.0.0.0/0")), "no rule for every public address");
  assert.ok(np.spec.egress.some((e) => e.ports?.some((p) => p.port === 8084)), "the in-cluster tool server stays in the NetworkPolicy");
  const run = (await custom.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: NS, plural: "agentruns", name: "named" })) as AgentRun;
  const message = run.status?.conditions?.find((c) => c.type === "Succeeded")?.message ?? "";
  assert.match(message, /egress to api\.anthropic\.com:443 is allowed by name \(CiliumNetworkPolicy toFQDNs\)/);
});
