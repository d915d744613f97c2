// The gateway end to end: a real kube-apiserver calls agentgate's webhooks,
// kubectl shows what a developer would see.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { webhookConfigurations } from "../../src/gateway/webhooks.ts";
import { STAMP, type AgentConfig, type AgentRun, type Guardrails } from "../../src/types/agent.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const GW_NS = "agentgate-system";

let cp: ControlPlane;
let gateway: RunningGateway;
let custom: k8s.CustomObjectsApi;

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");

/** GET on the gateway itself (its CA from the self-signed start). */
function gatewayGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: gateway.port, path, ca: gateway.caCert, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The gateway's count of admission requests for one resource and decision (Prometheus text). */
async function admissions(resource: string, decision: string): Promise<number> {
  const { body } = await gatewayGet("/metrics");
  const lines = body.split("\n").filter((l) => l.startsWith("agentgate_admission_requests_total{") && l.includes(`resource="${resource}"`) && l.includes(`decision="${decision}"`) && l.includes('webhook="validate"'));
  return lines.reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

async function apply(manifest: string, args: string[] = [], kubeconfig?: string) {
  const extra = kubeconfig ? ["--kubeconfig", kubeconfig] : [];
  return cp.kubectl([...extra, "apply", "-f", "-", ...args], { stdin: manifest, allowFail: true });
}

const modelConfig = (name: string, model: string, provider = "Anthropic", ns = "qe") => ({
  apiVersion: "kagent.dev/v1alpha2",
  kind: "ModelConfig",
  metadata: { name, namespace: ns },
  spec: { provider, model, apiKeySecret: "key", apiKeySecretKey: "key" },
});

const agentConfig = (name: string, spec: Record<string, unknown>, ns = "qe") => ({
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentConfig",
  metadata: { name, namespace: ns },
  spec: {
    modelConfigRef: { name: "claude" },
    toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }],
    ...spec,
  },
});

const agentRun = (name: string, spec: Record<string, unknown>, ns = "qe") => ({
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentRun",
  metadata: { name, namespace: ns },
  spec: { configRef: { name: "writer" }, goal: "Write tests for the refund flow", ...spec },
});

before(async () => {
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  custom = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const dir = await mkdtemp(join(tmpdir(), "agentgate-e2e-"));
  const policyConfig = join(dir, "policy-config.yaml");
  await writeFile(policyConfig, stringify({ profiles: { rollout: { enforcement: "warn", namespaces: ["rollout"] }, shadow: { enforcement: "dryrun", namespaces: ["shadow"] } } }));
  gateway = await startGateway({
    listen: "127.0.0.1:0",
    bundle: [],
    policyConfig,
    kubeconfig: cp.kubeconfigPath,
    offline: false,
    namespace: GW_NS,
    serviceAccount: `system:serviceaccount:${GW_NS}:agentgate`,
    trustedUser: [],
    drainSeconds: 0,
  });
  const { validating, mutating } = webhookConfigurations({
    name: "agentgate",
    target: { url: `https://127.0.0.1:${gateway.port}`, caBundle: gateway.caCert ?? "" },
    exemptNamespaces: ["kube-system", GW_NS],
    timeoutSeconds: 5,
  });
  const setup = await apply(
    yaml(
      validating,
      mutating,
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "qe" } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "kagent" } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "rollout", labels: { "agent.tekton.dev/guardrail-profile": "rollout" } } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "shadow", labels: { "agent.tekton.dev/guardrail-profile": "shadow" } } },
    ),
  );
  assert.equal(setup.code, 0, setup.stderr);
  // The API server takes a moment to start calling newly registered
  // webhooks: until a denied object is refused, anything applied could slip
  // past them. Probe with one that never gets stored.
  for (let i = 0; ; i++) {
    const probe = await apply(yaml(modelConfig("probe", "gpt-3.5-turbo", "OpenAI")), ["--dry-run=server"]);
    if (probe.code === 1 && probe.stderr.includes("[model-allowlist]")) break;
    assert.ok(i < 100, `the webhooks never answered: ${probe.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (let i = 0; (await gatewayGet("/readyz")).status !== 200; i++) {
    assert.ok(i < 300, `the gateway never became ready: ${(await gatewayGet("/readyz")).body}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const context = await apply(
    yaml(
      { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", description: "kagent tools", allowedNamespaces: { from: "All" } } },
      ...["qe", "rollout", "shadow"].map((ns) => modelConfig("claude", "claude-3-5-sonnet-20241022", "Anthropic", ns)),
    ),
  );
  assert.equal(context.code, 0, context.stderr);
});

after(async () => {
  await gateway.close();
  await cp.stop();
});

describe("AgentConfig", () => {
  test("an allowed config is admitted and stored with the bundle's defaults filled in", async () => {
    const r = await apply(yaml(agentConfig("writer", { tokenBudget: 200000, approval: { required: false } })));
    assert.equal(r.code, 0, r.stderr);
    const stored = (await custom.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: "qe", plural: "agentconfigs", name: "writer" })) as AgentConfig;
    assert.equal(stored.spec?.tokenBudget, 200000, "the user's value is kept");
    assert.equal(stored.spec?.timeout, "15m", "defaults.timeout filled");
    assert.equal(stored.spec?.maxIterations, 5, "defaults.maxIterations filled");
    assert.equal(stored.spec?.networkPolicy, "strict");
  });

  test("a denied config: kubectl prints one [policy-id] field: message line per finding", async () => {
    const r = await apply(yaml(agentConfig("greedy", { tokenBudget: 900000, rbac: { rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }] } })));
    process.stdout.write(`# kubectl apply (exit ${r.code}):\n${r.stderr}`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /admission webhook "validate\.agent\.tekton\.dev" denied the request: /);
    assert.match(r.stderr, /\[rbac-scope\] spec\.rbac\.rules\[0\]/);
    assert.match(r.stderr, /\[token-budget\] spec\.tokenBudget: .*900000.*500000/);
    const lines = r.stderr.split("\n").filter((l) => /\[[a-z-]+\] /.test(l));
    const ids = lines.map((l) => /\[([a-z-]+)\]/.exec(l)?.[1] ?? "");
    assert.deepEqual(ids, [...ids].sort(), "sorted by policy id");
  });

  test("a config naming a ModelConfig that does not exist is denied with how to fix it", async () => {
    const r = await apply(yaml(agentConfig("orphan", { modelConfigRef: { name: "nope" } })));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\[model-allowlist\] spec\.modelConfigRef[^\n]*nope/);
  });

  test("kubectl apply --dry-run=server is answered by the webhook too", async () => {
    const r = await apply(yaml(agentConfig("dry", { tokenBudget: 900000 })), ["--dry-run=server"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\[token-budget\]/);
    const ok = await apply(yaml(agentConfig("dry-ok", {})), ["--dry-run=server"]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test("a namespace on a dryrun profile admits silently: no Warning: line", async () => {
    const r = await apply(yaml(agentConfig("greedy", { tokenBudget: 900000 }, "shadow")));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /agentconfig\.agent\.tekton\.dev\/greedy created/);
    assert.doesNotMatch(r.stderr, /Warning:/);
  });

  test("a namespace on a warn profile admits with Warning: lines", async () => {
    const r = await apply(yaml(agentConfig("greedy", { tokenBudget: 900000 }, "rollout")));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Warning: \[token-budget\] spec\.tokenBudget: /);
  });
});

describe("AgentRun", () => {
  test("an allowed run is stored with the gateway's stamps", async () => {
    const r = await apply(yaml(agentRun("run-1", { tokenBudget: 50000 })));
    assert.equal(r.code, 0, r.stderr);
    const run = (await custom.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: "qe", plural: "agentruns", name: "run-1" })) as AgentRun;
    const annotations = run.metadata?.annotations ?? {};
    assert.equal(annotations[STAMP.createdBy], "admin");
    assert.match(annotations[STAMP.policyRevision] ?? "", /^default@src-[0-9a-f]+$/);
    assert.equal(run.metadata?.labels?.[STAMP.configLabel], "writer");
    const guardrails = JSON.parse(annotations[STAMP.guardrails] ?? "{}") as Guardrails;
    assert.equal(guardrails.tokenBudget, 50000);
    assert.equal(guardrails.timeout, "15m");
    assert.equal(guardrails.maxIterations, 5);
    assert.deepEqual(guardrails.egress.map((e) => `${e.purpose} ${e.host}:${e.port}`), ["model api.anthropic.com:443", "mcp:kagent/kagent-tool-server kagent-tools.kagent:8084"]);
  });

  test("a run whose override exceeds its config's budget is denied", async () => {
    const r = await apply(yaml(agentRun("run-greedy", { tokenBudget: 300000 })));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\[token-budget\] spec\.tokenBudget: /);
  });

  test("a run naming a config that does not exist is denied", async () => {
    const r = await apply(yaml(agentRun("run-orphan", { configRef: { name: "missing" } })));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\[config-exists\] spec\.configRef\.name: /);
  });

  test("on a warn profile a run without its config is admitted, but stamps written by the user are not", async () => {
    const forged = { ...agentRun("forged", { configRef: { name: "missing" } }, "rollout"), metadata: { name: "forged", namespace: "rollout", annotations: { [STAMP.guardrails]: '{"tokenBudget":100000000}' } } };
    const r = await apply(yaml(forged));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /\[stamp-integrity\] metadata\.annotations\["agent\.tekton\.dev\/guardrails"\]: found "\{\\"tokenBudget\\":100000000\}"; agentgate stamps nothing on this run because its AgentConfig "rollout\/missing" does not exist/);
    const plain = await apply(yaml(agentRun("plain", { configRef: { name: "missing" } }, "rollout")));
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /Warning: \[config-exists\] spec\.configRef\.name: /);
  });

  test("an admitted run's spec is frozen, but it can be cancelled", async () => {
    const changed = await cp.kubectl(["patch", "agentrun", "run-1", "-n", "qe", "--type", "merge", "-p", '{"spec":{"goal":"something else"}}'], { allowFail: true });
    assert.equal(changed.code, 1);
    assert.match(changed.stderr, /\[run-immutable\] spec\.goal: /);
    const stamps = await cp.kubectl(["annotate", "agentrun", "run-1", "-n", "qe", "--overwrite", `${STAMP.createdBy}=mallory`], { allowFail: true });
    assert.equal(stamps.code, 1);
    assert.match(stamps.stderr, /\[stamp-integrity\] /);
    // kubectl describe shows why the change did not land: an Event on the run itself.
    const core = cp.kubeConfig.makeApiClient(k8s.CoreV1Api);
    let messages: string[] = [];
    for (let i = 0; i < 50 && !messages.some((m) => m.includes("[run-immutable] spec.goal")); i++) {
      const events = await core.listNamespacedEvent({ namespace: "qe", fieldSelector: "involvedObject.name=run-1,reason=UpdateDenied" });
      messages = events.items.map((e) => e.message ?? "");
      if (!messages.some((m) => m.includes("[run-immutable] spec.goal"))) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(messages.some((m) => m.includes("[run-immutable] spec.goal")), `no UpdateDenied event on run-1: ${JSON.stringify(messages)}`);
    const cancel = await cp.kubectl(["patch", "agentrun", "run-1", "-n", "qe", "--type", "merge", "-p", '{"spec":{"status":"Cancelled"}}'], { allowFail: true });
    assert.equal(cancel.code, 0, cancel.stderr);
  });

  test("only an approver other than the creator can approve, as themselves", async () => {
    const setup = await apply(
      yaml(
        agentConfig("gated", { approval: { required: true } }),
        { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "agentrun-approver" }, rules: [{ apiGroups: ["agent.tekton.dev"], resources: ["agentruns"], verbs: ["get", "patch", "update"] }] },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name: "agentrun-approver" },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "agentrun-approver" },
          subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "agent-approvers" }, { apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "developers" }],
        },
      ),
    );
    assert.equal(setup.code, 0, setup.stderr);
    const created = await apply(yaml(agentRun("gated-1", { configRef: { name: "gated" } })));
    assert.equal(created.code, 0, created.stderr);
    const bob = await cp.kubeconfigFor("bob", ["agent-approvers"]);
    const dev = await cp.kubeconfigFor("dave", ["developers"]);
    const byDev = await cp.kubectl(["--kubeconfig", dev, "annotate", "agentrun", "gated-1", "-n", "qe", `${STAMP.approvedBy}=dave`], { allowFail: true });
    assert.equal(byDev.code, 1);
    assert.match(byDev.stderr, /\[run-approval\] .*"dave" is not in an approver group of this run; allowed: agent-approvers/);
    const forged = await cp.kubectl(["--kubeconfig", dev, "annotate", "agentrun", "gated-1", "-n", "qe", `${STAMP.approvedBy}=bob`], { allowFail: true });
    assert.equal(forged.code, 1);
    assert.match(forged.stderr, /names "bob" but the request comes from "dave"/);
    const byBob = await cp.kubectl(["--kubeconfig", bob, "annotate", "agentrun", "gated-1", "-n", "qe", `${STAMP.approvedBy}=bob`], { allowFail: true });
    assert.equal(byBob.code, 0, byBob.stderr);
  });
});

describe("kagent objects", () => {
  const agent = (name: string, tools: string[], type = "Declarative") => ({
    apiVersion: "kagent.dev/v1alpha2",
    kind: "Agent",
    metadata: { name, namespace: "qe" },
    spec: {
      type,
      description: "test agent",
      declarative: { modelConfig: "claude", systemMessage: "hi", tools: [{ type: "McpServer", mcpServer: { apiGroup: "kagent.dev", kind: "RemoteMCPServer", name: "kagent-tool-server", namespace: "kagent", toolNames: tools } }] },
    },
  });

  test("an Agent with allowed tools is admitted; one with a tool outside the allowlist is not", async () => {
    const ok = await apply(yaml(agent("reader", ["k8s_get_resources"])));
    assert.equal(ok.code, 0, ok.stderr);
    const bad = await apply(yaml(agent("deleter", ["k8s_get_resources", "k8s_delete_resource"])));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /\[tool-allowlist\] spec\.declarative\.tools\[0\][^\n]*k8s_delete_resource/);
  });

  test("an allowed ModelConfig is admitted by the validating webhook (not merely before it was registered)", async () => {
    const before = await admissions("modelconfigs", "allowed");
    const r = await apply(yaml(modelConfig("sonnet", "claude-3-5-sonnet-20241022")));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await admissions("modelconfigs", "allowed"), before + 1, "the gateway counted it as allowed");
  });

  test("a ModelConfig with a model outside the allowlist is denied, naming what is allowed", async () => {
    const r = await apply(yaml(modelConfig("fast", "gpt-3.5-turbo", "OpenAI")));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\[model-allowlist\] [^\n]*gpt-3\.5-turbo[^\n]*allowed: Anthropic\/claude-\*, OpenAI\/gpt-4o\*/);
  });
});

describe("objects agentgate manages", () => {
  test("a user cannot create one, even cluster-admin: the label is agentgate's to set", async () => {
    const sa = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "run-0-sa", namespace: "qe", labels: { "app.kubernetes.io/managed-by": "agentgate" } } };
    const r = await apply(yaml(sa));
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /\[managed-object\] metadata: ServiceAccount "run-0-sa" carries app\.kubernetes\.io\/managed-by=agentgate, which only agentgate sets .* "admin" cannot create one: remove the label/);
  });

  test("a per-run ServiceAccount cannot be deleted by a user, even cluster-admin", async () => {
    const sa = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "run-1-sa", namespace: "qe", labels: { "app.kubernetes.io/managed-by": "agentgate" } } };
    // made as agentgate's own identity, as the controller makes them
    assert.equal((await apply(yaml(sa), [], await cp.kubeconfigFor(`system:serviceaccount:${GW_NS}:agentgate`, ["system:masters"]))).code, 0);
    const r = await cp.kubectl(["delete", "serviceaccount", "run-1-sa", "-n", "qe"], { allowFail: true });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\[managed-object\] metadata: ServiceAccount "run-1-sa" is managed by agentgate/);
  });

  test("nor changed", async () => {
    const r = await cp.kubectl(["label", "serviceaccount", "run-1-sa", "-n", "qe", "team=mine"], { allowFail: true });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /admission webhook "managed\.agent\.tekton\.dev" denied the request: \[managed-object\] metadata: ServiceAccount "run-1-sa" is managed by agentgate for an AgentRun and cannot be changed by "admin"/);
  });
});
