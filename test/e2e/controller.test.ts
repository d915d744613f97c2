// The thin controller end to end: a real API server, agentgate's webhook
// stamping runs, real Tekton running the runs' hook PipelineRuns
// (test/support/tekton.ts; the test ends their pods as the absent kubelet
// would), a fake kagent A2A endpoint, and the test playing kagent's
// controller (Agent Ready). Runs made by Tekton for a PipelineRun's task
// (CustomRuns) are test/e2e/tekton.test.ts's.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { main } from "../../src/cli/main.ts";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { A2ADriver } from "../../src/controller/a2a-driver.ts";
import { startController, type RunningController } from "../../src/controller/controller.ts";
import { ProvenanceSigner, embeddedBundles } from "../../src/controller/provenance-recorder.ts";
import { webhookConfigurations } from "../../src/gateway/webhooks.ts";
import { logger } from "../../src/log.ts";
import { verifyEnvelope } from "../../src/provenance/envelope.ts";
import type { KnownBundle } from "../../src/provenance/slsa.ts";
import type { AgentRun } from "../../src/types/agent.ts";
import { startFakeKagent, type FakeKagent } from "../support/a2a-server.ts";
import { PublishedKeys } from "../../src/signing/cluster-keyring.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import { exemptNamespaces } from "../../src/gateway/exemptions.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { startKubeletStandIn, startTekton, tektonCrdDir, type KubeletStandIn, type RunningTekton } from "../support/tekton.ts";
import { until } from "../support/until.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CONTROLLER_USER = "system:serviceaccount:agentgate-system:agentgate-controller";
const NS = "qe";
/** long enough for the test's stand-in for kagent to mark an Agent Ready under load; short enough to wait out */
const AGENT_READY_TIMEOUT_MS = 8000;

let cp: ControlPlane;
let tekton: RunningTekton;
let kubelet: KubeletStandIn;
let gateway: RunningGateway;
let kagent: FakeKagent;
let controller: RunningController;
let custom: k8s.CustomObjectsApi;
let controllerKc: k8s.KubeConfig;
let bundles: KnownBundle[];
let playing = true;
const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");

function config(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "agent.tekton.dev/v1alpha1",
    kind: "AgentConfig",
    metadata: { name, namespace: NS },
    spec: {
      modelConfigRef: { name: "claude" },
      systemPrompt: "You write tests.",
      toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }],
      rbac: { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }] },
      ...spec,
    },
  };
}

function run(name: string, configName: string, spec: Record<string, unknown> = {}, namespace = NS) {
  return { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name, namespace }, spec: { configRef: { name: configName }, goal: `goal of ${name}`, ...spec } };
}

async function getRun(name: string, namespace = NS): Promise<AgentRun> {
  return (await custom.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace, plural: "agentruns", name })) as AgentRun;
}

const finished = (name: string, namespace = NS) =>
  until(`${name} to finish`, async () => {
    const r = await getRun(name, namespace);
    return r.status?.phase === "Succeeded" || r.status?.phase === "Failed" ? r : undefined;
  });

const succeeded = (r: AgentRun) => r.status?.conditions?.find((c) => c.type === "Succeeded");
const reason = (r: AgentRun) => succeeded(r)?.reason;

interface EventItem {
  reason: string;
  type: string;
  message: string;
}

async function events(name: string, namespace = NS): Promise<EventItem[]> {
  const out = await cp.kubectl(["get", "events", "-n", namespace, "--field-selector", `involvedObject.name=${name},involvedObject.kind=AgentRun`, "-o", "json"]);
  return (JSON.parse(out.stdout) as { items: EventItem[] }).items;
}

/** A2A calls the fake kagent received for a run's agent, by method. */
const calls = (runName: string, ...methods: string[]) => kagent.received.filter((c) => c.agent === `${NS}/${runName}-agent` && methods.includes(c.method) && c.refusal === undefined);
/** Goal messages (message/send or message/stream that are not a human's decision) kagent received for a run's agent. */
const sends = (runName: string) => calls(runName, "message/send", "message/stream").filter((c) => !JSON.stringify(c.params ?? {}).includes("decision_type"));

const SIGNING = { namespace: "agentgate-system", name: "agentgate-signing" };
let published: PublishedKeys;

async function startTheController(identity?: string): Promise<RunningController> {
  return startController({
    kubeConfig: controllerKc,
    keyring: published,
    exemptNamespaces: exemptNamespaces("agentgate-system"),
    kagentUrl: kagent.url,
    driver: new A2ADriver(kagent.url, logger),
    provenance: new ProvenanceSigner(keys.privateKey, bundles),
    log: logger,
    leaderElect: true,
    leaseNamespace: "agentgate-system",
    agentReadyTimeoutMs: AGENT_READY_TIMEOUT_MS,
    changeCheckMs: 500,
    capabilitiesIntervalMs: 300,
    ...(identity ? { identity } : {}),
  });
}

/**
 * Plays kagent's controller: Agents become Ready, except those named
 * *never-ready*, and those named *refused* are refused.
 */
async function playKagent(): Promise<void> {
  while (playing) {
    try {
      const agents = (await custom.listNamespacedCustomObject({ group: "kagent.dev", version: "v1alpha2", namespace: NS, plural: "agents" })) as { items: { metadata: { name: string }; status?: { conditions?: unknown[] } }[] };
      for (const a of agents.items) {
        if (a.status?.conditions?.length || a.metadata.name.includes("never-ready")) continue;
        // kagent refusing a spec: Accepted=False, while a Ready from an earlier pass may still say True.
        const conditions = a.metadata.name.includes("refused")
          ? [{ type: "Accepted", status: "False", reason: "ReconcileFailed", message: "cross-namespace reference to RemoteMCPServer kagent/kagent-tool-server is not allowed from namespace qe", lastTransitionTime: new Date().toISOString() }, { type: "Ready", status: "True", reason: "DeploymentReady", message: "", lastTransitionTime: new Date().toISOString() }]
          : [{ type: "Ready", status: "True", reason: "Ready", message: "", lastTransitionTime: new Date().toISOString() }];
        await cp.kubectl(["patch", "agent", a.metadata.name, "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { conditions } })], { allowFail: true });
      }
    } catch {
      // the API server is going away at the end
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  logger.level = "warn";
  bundles = await embeddedBundles(logger);
  cp = await startControlPlane({
    controllerManager: true,
    crds: [join(ROOT, "charts/agentgate/files/crds"), ...["agents", "modelconfigs", "remotemcpservers", "mcpservers"].map((k) => join(ROOT, `test/support/crds/kagent.dev_${k}.yaml`))],
    serverSideCrds: [tektonCrdDir()],
  });
  custom = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  tekton = await startTekton(cp);
  // The kubelet's part for the hooks' pods: pipelines named *-fail fail, *-hold keep running, the rest succeed.
  kubelet = startKubeletStandIn(cp, (pod) => (pod.pipeline?.endsWith("-hold") ? undefined : { exitCode: pod.pipeline?.endsWith("-fail") ? 1 : 0 }));
  controllerKc = new k8s.KubeConfig();
  controllerKc.loadFromFile(await cp.kubeconfigFor(CONTROLLER_USER, ["system:masters"]));
  // Decisions are signed with keys the gateway keeps in the cluster and the controller reads from the ConfigMap it publishes.
  gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [], kubeconfig: cp.kubeconfigPath, offline: false, namespace: "agentgate-system", serviceAccount: "system:serviceaccount:agentgate-system:agentgate", trustedUser: [CONTROLLER_USER], drainSeconds: 0, signingKeys: `${SIGNING.namespace}/${SIGNING.name}` });
  published = new PublishedKeys(kubeApiOf(controllerKc), SIGNING, logger, 1000);
  const hooks = webhookConfigurations({ name: "agentgate", target: { url: `https://127.0.0.1:${gateway.port}`, caBundle: gateway.caCert ?? "" }, exemptNamespaces: ["kube-system", "agentgate-system"] });
  kagent = await startFakeKagent({ defaultScript: { llmCalls: 2, promptTokens: 100, completionTokens: 20, resultText: "12 test cases written" } });
  await cp.applyYaml(
    yaml(
      hooks.validating,
      hooks.mutating,
      { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "kagent" } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "agentgate-system" } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", description: "kagent tools", allowedNamespaces: { from: "All" } } },
      // Approvers may approve runs, nothing more: they cannot act as the runs' creators.
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "agentrun-approver" }, rules: [{ apiGroups: ["agent.tekton.dev"], resources: ["agentruns"], verbs: ["get", "list", "patch", "update"] }] },
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "agentrun-approver" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "agentrun-approver" }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "agent-approvers" }] },
      // the Service behind the tool server's URL: its pods listen on 8090
      { apiVersion: "v1", kind: "Service", metadata: { name: "kagent-tools", namespace: "kagent" }, spec: { selector: { app: "kagent-tools" }, ports: [{ name: "mcp", port: 8084, targetPort: 8090 }] } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: NS }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet", apiKeySecret: "k", apiKeySecretKey: "k" } },
      config("writer", { preHooks: [{ pipelineRef: { name: "checkout" } }], postHooks: [{ pipelineRef: { name: "publish" } }] }),
      config("tight", { tokenBudget: 150 }),
      config("gated", { approval: { required: true } }),
      config("hooks-fail", { preHooks: [{ pipelineRef: { name: "lint-fail" } }] }),
      config("post-fail", { postHooks: [{ pipelineRef: { name: "publish-fail" } }] }),
      config("hooks-hold", { preHooks: [{ pipelineRef: { name: "checkout-hold" } }] }),
      config("careful", { toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"], requireApproval: ["k8s_get_resources"] }] }),
      config("plain"),
      { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude-edit", namespace: NS }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet", apiKeySecret: "k", apiKeySecretKey: "k" } },
      config("edited", { modelConfigRef: { name: "claude-edit" } }),
      // The hooks' pipelines, for Tekton to run: one task each, whose pod the kubelet stand-in ends.
      ...["checkout", "publish", "lint-fail", "publish-fail", "checkout-hold"].map((name) => ({ apiVersion: "tekton.dev/v1", kind: "Pipeline", metadata: { name, namespace: NS }, spec: { tasks: [{ name: "hook", taskSpec: { steps: [{ name: "run", image: "busybox", script: "true" }] } }] } })),
    ),
  );
  void playKagent();
  await published.start();
  await until("the gateway to publish its signing keys", async () => (published.notReady() === undefined ? true : (await published.read().catch(() => undefined), undefined)));
  controller = await startTheController();
});

after(async () => {
  playing = false;
  await controller.stop();
  published.stop();
  await kubelet.stop();
  await tekton.stop();
  await gateway.close();
  await kagent.close();
  await cp.stop();
});

test("a run goes Pending → PreHooks → Acting → PostHooks → Succeeded with usage, results, signed provenance and an Event per transition", async () => {
  await cp.applyYaml(yaml(run("happy", "writer")));
  const seen = new Set<string>();
  const done = await until("happy to finish", async () => {
    const r = await getRun("happy");
    if (r.status?.phase) seen.add(r.status.phase);
    return r.status?.phase === "Succeeded" || r.status?.phase === "Failed" ? r : undefined;
  });
  assert.equal(reason(done), "Succeeded", JSON.stringify(done.status?.conditions));
  assert.ok(seen.has("Acting"), `phases seen: ${[...seen].join(", ")}`);
  assert.deepEqual(done.status?.usage, { promptTokens: 200, completionTokens: 40, totalTokens: 240, toolCalls: 1 });
  assert.equal(done.status?.agentRef?.name, "happy-agent");
  assert.ok(done.status?.startTime && done.status.completionTime);
  assert.equal(done.status?.goal?.messageId, `${done.metadata?.uid ?? ""}-attempt-1`, "status records the goal message before sending it");
  assert.ok(done.status?.taskId);
  const results = Object.fromEntries((done.status?.results ?? []).map((r) => [r.name, r.value]));
  assert.equal(results.result, "12 test cases written");
  assert.match(results["provenance-digest"] ?? "", /^sha256:[0-9a-f]{64}$/);
  const envelope = done.status?.provenance;
  assert.ok(envelope);
  assert.equal(verifyEnvelope(envelope, keys.publicKey).ok, true);
  const tampered = { ...envelope, payload: Buffer.from(Buffer.from(envelope.payload, "base64").toString().replace("qe/happy", "qe/other")).toString("base64") };
  assert.equal(verifyEnvelope(tampered, keys.publicKey).ok, false);
  // The webhook ran the embedded default bundle, which the controller holds too: its digest is recorded.
  const statement = JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8")) as { predicate: { buildDefinition: { internalParameters: { policy: { bundle: string; revision: string; digest: { sha256: string } | null }[] } } } };
  assert.deepEqual(statement.predicate.buildDefinition.internalParameters.policy, [{ bundle: "default", revision: bundles[0]?.revision ?? "", digest: { sha256: (bundles[0]?.digest ?? "").replace(/^sha256:/, "") } }]);
  // post-hooks got the results as params
  const post = (await custom.getNamespacedCustomObject({ group: "tekton.dev", version: "v1", namespace: NS, plural: "pipelineruns", name: "happy-post-0" })) as { spec: { params?: { name: string; value: string }[] } };
  assert.ok(post.spec.params?.some((p) => p.name === "result" && p.value === "12 test cases written"));
  // the pre-hook was given what the agent would be sent, to scan it first
  const pre = (await custom.getNamespacedCustomObject({ group: "tekton.dev", version: "v1", namespace: NS, plural: "pipelineruns", name: "happy-pre-0" })) as { spec: { params?: { name: string; value: string }[] } };
  assert.deepEqual(pre.spec.params?.map((p) => [p.name, p.value]), [["agent-goal", "goal of happy"], ["agent-hints", ""], ["agent-system-prompt", "You write tests."]]);
  // and ran as the account made for the run's hooks, which holds no rights
  assert.deepEqual((pre.spec as { taskRunTemplate?: unknown }).taskRunTemplate, { serviceAccountName: "agentgate-hooks-happy" });
  // which goes with the run's identity when the run ends
  await until("the hooks' account to go with the run's identity", async () => ((await cp.kubectl(["get", "serviceaccount", "agentgate-hooks-happy", "-n", NS], { allowFail: true })).code !== 0 ? true : undefined));
  const reasons = (await until("the Succeeded Event", async () => {
    const list = await events("happy");
    return list.some((e) => e.reason === "Succeeded") ? list : undefined;
  })).map((e) => e.reason);
  for (const r of ["Pending", "PreHooks", "PreHookStarted", "Acting", "PostHooks", "PostHookStarted", "Succeeded"]) assert.ok(reasons.includes(r), `Event ${r} among ${reasons.join(", ")}`);
  // The run is over: its kagent Agent goes, so kagent takes the agent's pod down.
  await until("the run's Agent to be deleted", async () => ((await cp.kubectl(["get", "agent", "happy-agent", "-n", NS], { allowFail: true })).code !== 0 ? true : undefined));
});

test("the run's scope has exactly the stamped rules; its identity goes when the run ends, its NetworkPolicy with the run", async () => {
  // A run held in its pre-hook: its scope exists while it lives.
  await cp.applyYaml(yaml(run("scoped", "hooks-hold")));
  await until("scoped's pre-hook", async () => ((await cp.kubectl(["get", "pipelinerun", "scoped-pre-0", "-n", NS], { allowFail: true })).code === 0 ? true : undefined));
  const role = JSON.parse((await cp.kubectl(["get", "role", "scoped-role", "-n", NS, "-o", "json"])).stdout) as { rules: unknown; metadata: { labels: Record<string, string> } };
  assert.deepEqual(role.rules, [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }]);
  assert.equal(role.metadata.labels["app.kubernetes.io/managed-by"], "agentgate");
  for (const kind of ["serviceaccount/agentgate-run-scoped", "rolebinding/scoped-binding", "networkpolicy/scoped-netpol"]) {
    assert.equal((await cp.kubectl(["get", kind, "-n", NS], { allowFail: true })).code, 0, kind);
  }
  type Peer = { ipBlock?: { cidr: string }; namespaceSelector?: unknown; podSelector?: { matchLabels: Record<string, string> } };
  const np = JSON.parse((await cp.kubectl(["get", "networkpolicy", "scoped-netpol", "-n", NS, "-o", "json"])).stdout) as { spec: { podSelector: unknown; egress: { to: Peer[]; ports?: { port: number }[] }[]; ingress: { from: Peer[]; ports: { port: number }[] }[] } };
  const kagentPort = Number(new URL(kagent.url).port);
  assert.deepEqual(np.spec.egress.map((e) => e.ports?.map((p) => p.port).join(",") ?? "any"), ["53,53", String(kagentPort), "443", "8090"], "DNS, kagent's controller, the model endpoint, the MCP server's pods on their targetPort; no API server rule since the test cluster publishes no endpoints");
  assert.deepEqual(np.spec.egress[3]?.to, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kagent" } }, podSelector: { matchLabels: { app: "kagent-tools" } } }], "the pods behind the tool server's Service");
  assert.deepEqual(np.spec.ingress, [{ from: [{ ipBlock: { cidr: "127.0.0.1/32" } }], ports: [{ port: 8080, protocol: "TCP" }] }], "kagent's controller reaches the agent on its A2A port");
  assert.deepEqual(np.spec.podSelector, { matchLabels: { app: "kagent", kagent: "scoped-agent" } }, "the labels kagent gives the Agent's pods");
  await cp.kubectl(["patch", "agentrun", "scoped", "-n", NS, "--type=merge", "-p", '{"spec":{"status":"Cancelled"}}']);
  await finished("scoped");
  await until("the run's identity to be deleted when it ends", async () => {
    const left = await cp.kubectl(["get", "serviceaccount,role,rolebinding", "-n", NS, "-l", "agent.tekton.dev/run=scoped", "-o", "name"]);
    return left.stdout.trim() === "" ? true : undefined;
  });
  assert.equal((await cp.kubectl(["get", "networkpolicy", "scoped-netpol", "-n", NS], { allowFail: true })).code, 0, "the NetworkPolicy stays while the run exists, confining pods kagent is taking down");
  await cp.kubectl(["delete", "agentrun", "scoped", "-n", NS]);
  await until("the NetworkPolicy to be garbage-collected with the run", async () => ((await cp.kubectl(["get", "networkpolicy", "scoped-netpol", "-n", NS], { allowFail: true })).code !== 0 ? true : undefined));
});

test("a token budget exceeded cancels the task: BudgetExceeded, with a Warning Event", async () => {
  kagent.setScript(`${NS}/tight-run-agent`, { llmCalls: 5, stepDelayMs: 100 });
  await cp.applyYaml(yaml(run("tight-run", "tight")));
  const done = await finished("tight-run");
  assert.equal(reason(done), "BudgetExceeded", JSON.stringify(done.status?.conditions));
  assert.equal(calls("tight-run", "tasks/cancel").length, 1, "tasks/cancel was sent");
  const warning = await until("the BudgetExceeded Event", async () => (await events("tight-run")).find((e) => e.reason === "BudgetExceeded"));
  assert.equal(warning.type, "Warning");
  assert.match(warning.message, /token budget 150 was exceeded/);
});

test("spec.status: Cancelled stops the agent: Cancelled, and kagent receives tasks/cancel", async () => {
  kagent.setScript(`${NS}/cancel-me-agent`, { llmCalls: 4, stepDelayMs: 2000 });
  await cp.applyYaml(yaml(run("cancel-me", "plain")));
  const acting = await until("cancel-me to act", async () => {
    const r = await getRun("cancel-me");
    return r.status?.taskId ? r : undefined;
  });
  await cp.kubectl(["patch", "agentrun", "cancel-me", "-n", NS, "--type=merge", "-p", '{"spec":{"status":"Cancelled"}}']);
  const done = await finished("cancel-me");
  assert.equal(reason(done), "Cancelled");
  assert.match(succeeded(done)?.message ?? "", /^cancelled by spec\.status: Cancelled; task .* cancelled/);
  assert.deepEqual(calls("cancel-me", "tasks/cancel").map((c) => c.taskId), [acting.status?.taskId]);
  assert.equal(kagent.task(acting.status?.taskId ?? "")?.status.state, "canceled");
});

test("kagent's Python runtime refuses tasks/cancel: the run says so, a CancelRefused Event records it, and the agent is stopped by deleting its Agent", async () => {
  kagent.setScript(`${NS}/py-cancel-agent`, { runtime: "python", llmCalls: 6, stepDelayMs: 1500 });
  await cp.applyYaml(yaml(run("py-cancel", "plain")));
  await until("py-cancel to act", async () => ((await getRun("py-cancel")).status?.taskId ? true : undefined));
  await cp.kubectl(["patch", "agentrun", "py-cancel", "-n", NS, "--type=merge", "-p", '{"spec":{"status":"Cancelled"}}']);
  const done = await finished("py-cancel");
  assert.equal(reason(done), "Cancelled");
  assert.match(succeeded(done)?.message ?? "", /kagent refused to cancel task \S+ \(Cancellation is not supported\); the agent is stopped by deleting Agent qe\/py-cancel-agent/);
  const event = await until("the CancelRefused Event", async () => (await events("py-cancel")).find((e) => e.reason === "CancelRefused"));
  assert.equal(event.type, "Warning");
  await until("the run's Agent to be deleted", async () => ((await cp.kubectl(["get", "agent", "py-cancel-agent", "-n", NS], { allowFail: true })).code !== 0 ? true : undefined));
});

test("an Agent kagent refuses (Accepted=False) ends the run at once with kagent's message: AgentRefused, no goal sent", async () => {
  await cp.applyYaml(yaml(run("refused", "plain")));
  const done = await finished("refused");
  assert.equal(reason(done), "AgentRefused");
  assert.match(succeeded(done)?.message ?? "", /cross-namespace reference to RemoteMCPServer kagent\/kagent-tool-server is not allowed from namespace qe/);
  assert.equal(sends("refused").length, 0, "no goal goes to an Agent kagent refused, though its Ready says True");
});

test("the timeout stops the agent: TimedOut, and kagent receives tasks/cancel", async () => {
  kagent.setScript(`${NS}/slow-agent`, { llmCalls: 4, stepDelayMs: 2000 });
  await cp.applyYaml(yaml(run("slow", "plain", { timeout: "4s" })));
  const done = await finished("slow");
  assert.equal(reason(done), "TimedOut");
  assert.equal(calls("slow", "tasks/cancel").length, 1);
  assert.equal(kagent.task(done.status?.taskId ?? "")?.status.state, "canceled");
});

test("a ModelConfig edited while the agent acts stops it: ConfigChanged, and kagent receives tasks/cancel", async () => {
  kagent.setScript(`${NS}/edited-run-agent`, { llmCalls: 8, stepDelayMs: 1500 });
  await cp.applyYaml(yaml(run("edited-run", "edited")));
  await until("edited-run's task to start", async () => ((await getRun("edited-run")).status?.taskId ? true : undefined));
  await cp.kubectl(["patch", "modelconfig", "claude-edit", "-n", NS, "--type=merge", "-p", JSON.stringify({ spec: { model: "claude-3-5-haiku" } })]);
  const done = await finished("edited-run");
  assert.equal(reason(done), "ConfigChanged");
  assert.match(succeeded(done)?.message ?? "", /ModelConfig ".+\/claude-edit" changed after the run was admitted/);
  assert.equal(calls("edited-run", "tasks/cancel").length, 1);
});

test("a task kagent fails ends the run AgentFailed with kagent's message", async () => {
  kagent.setScript(`${NS}/broken-agent`, { llmCalls: 1, finalState: "failed", failureMessage: "model quota exhausted" });
  await cp.applyYaml(yaml(run("broken", "plain")));
  const done = await finished("broken");
  assert.equal(reason(done), "AgentFailed");
  assert.match(succeeded(done)?.message ?? "", /kagent task .* failed: model quota exhausted/);
  assert.equal(calls("broken", "tasks/cancel").length, 0, "a failed task is not cancelled");
});

test("an Agent kagent never makes Ready ends the run AgentFailed", async () => {
  await cp.applyYaml(yaml(run("never-ready", "plain")));
  const done = await finished("never-ready");
  assert.equal(reason(done), "AgentFailed");
  assert.match(succeeded(done)?.message ?? "", /kagent did not make Agent never-ready-agent Ready within 8 s/);
  assert.equal(sends("never-ready").length, 0, "no goal goes to an Agent that is not Ready");
});

test("a failing pre-hook fails the run with PreHookFailed", async () => {
  await cp.applyYaml(yaml(run("lint", "hooks-fail")));
  const done = await finished("lint");
  assert.equal(reason(done), "PreHookFailed");
  // Tekton's words, from the pod the kubelet stand-in failed
  assert.match(succeeded(done)?.message ?? "", /pre-hook PipelineRun lint-pre-0 \(pipeline "lint-fail"\) failed: Failed: Tasks Completed: 1 \(Failed: 1, Cancelled 0\), Skipped: 0/);
});

test("a failing post-hook fails the run with PostHookFailed, after the agent acted", async () => {
  await cp.applyYaml(yaml(run("publish", "post-fail")));
  const done = await finished("publish");
  assert.equal(reason(done), "PostHookFailed");
  assert.match(succeeded(done)?.message ?? "", /post-hook PipelineRun publish-post-0 \(pipeline "publish-fail"\) failed: Failed: Tasks Completed: 1 \(Failed: 1, Cancelled 0\), Skipped: 0/);
  assert.equal(done.status?.usage?.totalTokens, 240, "the agent's usage is kept");
});

for (const how of ["cancel", "timeout"] as const) {
  test(`a ${how} while a hook runs cancels its PipelineRun (Tekton's spec.status: Cancelled), and Tekton cancels its TaskRun`, async () => {
    const name = `hold-${how}`;
    await cp.applyYaml(yaml(run(name, "hooks-hold", how === "timeout" ? { timeout: "3s" } : {})));
    await until(`${name}'s pre-hook`, async () => ((await cp.kubectl(["get", "pipelinerun", `${name}-pre-0`, "-n", NS], { allowFail: true })).code === 0 ? true : undefined));
    if (how === "cancel") await cp.kubectl(["patch", "agentrun", name, "-n", NS, "--type=merge", "-p", '{"spec":{"status":"Cancelled"}}']);
    const done = await finished(name);
    assert.equal(reason(done), how === "cancel" ? "Cancelled" : "TimedOut");
    type Cancellable = { spec: { status?: string }; status?: { conditions?: { type: string; reason?: string }[] } };
    const pr = await until("Tekton to end the cancelled hook", async () => {
      const got = JSON.parse((await cp.kubectl(["get", "pipelinerun", `${name}-pre-0`, "-n", NS, "-o", "json"])).stdout) as Cancellable;
      return got.status?.conditions?.some((c) => c.type === "Succeeded" && c.reason === "Cancelled") ? got : undefined;
    });
    assert.equal(pr.spec.status, "Cancelled", "agentgate cancelled it");
    const taskRun = JSON.parse((await cp.kubectl(["get", "taskrun", `${name}-pre-0-hook`, "-n", NS, "-o", "json"])).stdout) as Cancellable;
    assert.equal(taskRun.spec.status, "TaskRunCancelled", "Tekton cancelled the hook's TaskRun, whose pod was still running");
  });
}

test("a run in a namespace the webhooks never see is never acted on: NotAdmitted", async () => {
  // agentgate-system is exempt from the webhook, so nothing stamps or checks this run
  await cp.applyYaml(yaml(run("unstamped", "plain", {}, "agentgate-system")));
  const done = await finished("unstamped", "agentgate-system");
  assert.equal(done.status?.phase, "Failed");
  assert.equal(reason(done), "NotAdmitted");
  assert.match(succeeded(done)?.message ?? "", /namespace "agentgate-system" is exempt from agentgate's admission, so its runs are never acted on/);
  const warning = await until("the NotAdmitted Event", async () => (await events("unstamped", "agentgate-system")).find((e) => e.reason === "NotAdmitted"));
  assert.equal(warning.type, "Warning");
  assert.equal((await cp.kubectl(["get", "serviceaccount", "agentgate-run-unstamped", "-n", "agentgate-system"], { allowFail: true })).code, 1, "nothing was created for it");
});

test("a run needing approval waits until an approver approves, and its timeout starts then", async () => {
  await cp.applyYaml(yaml(run("needs-ok", "gated")));
  const waiting = await until("WaitingForApproval", async () => {
    const r = await getRun("needs-ok");
    return r.status?.phase === "WaitingForApproval" ? r : undefined;
  });
  assert.equal(waiting.status?.startTime, undefined, "no startTime while waiting: the timeout clock has not started");
  assert.match(succeeded(waiting)?.message ?? "", /timeout of 15m starts once approved/);
  const approvedAt = Date.now();
  const bob = await cp.kubeconfigFor("bob", ["agent-approvers"]);
  await cp.kubectl(["--kubeconfig", bob, "annotate", "agentrun", "needs-ok", "-n", NS, "agent.tekton.dev/approved-by=bob"]);
  const done = await finished("needs-ok");
  assert.equal(reason(done), "Succeeded");
  // second resolution: startTime is written as an RFC 3339 time with seconds
  assert.ok(Date.parse(done.status?.startTime ?? "") >= Math.floor(approvedAt / 1000) * 1000, `startTime ${done.status?.startTime ?? ""} is when the run was approved`);
});

test("a tool that requires approval pauses the run until a human approves it in kagent, then the run goes on", async () => {
  kagent.setScript(`${NS}/approve-me-agent`, { llmCalls: 2, toolCallsPerCall: 0, resultText: "pods listed", approval: { afterCalls: 1, tool: "k8s_get_resources" } });
  await cp.applyYaml(yaml(run("approve-me", "careful")));
  // A developer follows it, the agent's own transcript included (kagent's task stream).
  const followed: { kind: string; reason: string; message: string }[] = [];
  const following = main(["logs", "approve-me", "-n", NS, "--kubeconfig", cp.kubeconfigPath, "-f", "-o", "json", "--kagent-url", kagent.url], { out: (l) => followed.push(JSON.parse(l) as { kind: string; reason: string; message: string }), err: (l) => followed.push({ kind: "stderr", reason: "", message: l }) });
  const paused = await until("the pause to be reported", async () => {
    const r = await getRun("approve-me");
    return /waiting for a human to approve tool call k8s_get_resources in kagent/.test(succeeded(r)?.message ?? "") ? r : undefined;
  });
  assert.equal(paused.status?.phase, "Acting", "a paused agent is still acting");
  assert.equal(calls("approve-me", "tasks/cancel").length, 0, "the paused task is not cancelled");
  const event = await until("the WaitingForToolApproval Event", async () => (await events("approve-me")).find((e) => e.reason === "WaitingForToolApproval"));
  assert.match(event.message, /k8s_get_resources/);
  // logs -f showed the pause while it lasted
  await until("logs -f to show the approval the agent waits for", () => followed.find((l) => l.reason === "WaitingForApproval"));
  // the human, in kagent's UI
  await kagent.approve(NS, "approve-me-agent", paused.status?.taskId ?? "");
  const done = await finished("approve-me");
  assert.equal(reason(done), "Succeeded", JSON.stringify(done.status?.conditions));
  assert.deepEqual(kagent.decisions(done.status?.taskId ?? ""), ["approve"]);
  assert.equal(done.status?.results?.find((r) => r.name === "result")?.value, "pods listed");
  assert.ok((await events("approve-me")).some((e) => e.reason === "AgentResumed"));

  assert.equal(await following, 0, JSON.stringify(followed));
  const said = followed.map((l) => `${l.kind} ${l.reason}: ${l.message}`);
  const at = (re: RegExp) => said.findIndex((l) => re.test(l));
  // in order: the agent's first step, the pause with its tool, the tokens so far, the answer after the approval, the end
  const order = [/^agent AgentMessage: step 1$/, /^agent WaitingForApproval: the agent waits for a human to approve k8s_get_resources\(\) in kagent$/, /^agent AgentMessage: pods listed$/, /^agent TaskState: kagent task completed$/, /^end Succeeded: /];
  const positions = order.map(at);
  assert.ok(positions.every((p, i) => p >= 0 && (i === 0 || p > (positions[i - 1] ?? -1))), `in order ${positions.join(",")}:\n${said.join("\n")}`);
  assert.ok(said.some((l) => /^agent Tokens: \d+ so far/.test(l)), "tokens as they grow");
  assert.ok(said.some((l) => /^event WaitingForToolApproval: /.test(l)), "the run's Events too");
  assert.ok(!said.some((l) => l.startsWith("stderr")), said.join("\n"));

  // after the run ended, from kagent's task history
  const after: string[] = [];
  assert.equal(await main(["logs", "approve-me", "-n", NS, "--kubeconfig", cp.kubeconfigPath, "--kagent-url", kagent.url], { out: (l) => after.push(l), err: (l) => after.push(`stderr: ${l}`) }), 0);
  process.stdout.write(`# agentgate logs approve-me --kagent-url …, after the run:\n${after.map((l) => `#   ${l}`).join("\n")}\n`);
  assert.match(after.join("\n"), /AgentMessage +step 1[\s\S]*AgentMessage +pods listed/);
  assert.match(after.at(-1) ?? "", /Succeeded/);
});

test("two replicas: only the lease holder acts, and the goal goes out once", async () => {
  const standby = await startTheController("standby-replica");
  try {
    await cp.applyYaml(yaml(run("pair", "plain")));
    const done = await finished("pair");
    assert.equal(reason(done), "Succeeded", JSON.stringify(done.status?.conditions));
    assert.equal(sends("pair").length, 1, "the goal was sent once");
    assert.equal(standby.elector?.isLeader, false, "the standby took the lease");
    const lease = await cp.kubeConfig.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: "agentgate-controller", namespace: "agentgate-system" });
    assert.equal(lease.spec?.holderIdentity, controller.elector?.identity);
  } finally {
    await standby.stop();
  }
});

test("a run whose AgentConfig vanished fails with ConfigNotFound", async () => {
  await cp.applyYaml(yaml(config("doomed", { approval: { required: true } }), run("orphan", "doomed")));
  await until("orphan to wait for approval", async () => ((await getRun("orphan")).status?.phase === "WaitingForApproval" ? true : undefined));
  await cp.kubectl(["delete", "agentconfig", "doomed", "-n", NS]);
  // Any change to the run makes the controller look again.
  await cp.kubectl(["label", "agentrun", "orphan", "-n", NS, "touched=yes"]);
  const done = await finished("orphan");
  assert.equal(reason(done), "ConfigNotFound", JSON.stringify(done.status?.conditions));
  assert.match(succeeded(done)?.message ?? "", /AgentConfig "doomed" no longer exists in namespace "qe"/);
});

test("an AgentConfig deleted while the agent acts: the task is cancelled and the run ends ConfigNotFound, once", async () => {
  kagent.setScript(`${NS}/fragile-run-agent`, { llmCalls: 4, stepDelayMs: 2000 });
  await cp.applyYaml(yaml(config("fragile"), run("fragile-run", "fragile")));
  const acting = await until("fragile-run to act", async () => {
    const r = await getRun("fragile-run");
    return r.status?.taskId ? r : undefined;
  });
  await cp.kubectl(["delete", "agentconfig", "fragile", "-n", NS]);
  await cp.kubectl(["label", "agentrun", "fragile-run", "-n", NS, "touched=yes"]);
  const done = await finished("fragile-run");
  assert.equal(reason(done), "ConfigNotFound", JSON.stringify(done.status?.conditions));
  assert.match(succeeded(done)?.message ?? "", /AgentConfig "fragile" no longer exists.*; task .* cancelled/);
  assert.deepEqual(calls("fragile-run", "tasks/cancel").map((c) => c.taskId), [acting.status?.taskId]);
  await until("the actor to end", () => Promise.resolve(controller.reconciler.running === 0 ? true : undefined));
  const after = await getRun("fragile-run");
  assert.equal(reason(after), "ConfigNotFound", "the actor did not overwrite the outcome");
  assert.equal(after.status?.completionTime, done.status?.completionTime);
  const terminal = (await events("fragile-run")).filter((e) => e.type === "Warning");
  assert.deepEqual(terminal.map((e) => e.reason), ["ConfigNotFound"], "one terminal Event");
});

test("a controller restart mid-run: the old one stops acting, another replica resumes the task from its recorded id, the goal went out once", async () => {
  kagent.setScript(`${NS}/restart-agent`, { llmCalls: 4, stepDelayMs: 700 });
  await cp.applyYaml(yaml(run("restart", "plain")));
  const acting = await until("restart to record its task", async () => {
    const r = await getRun("restart");
    return r.status?.taskId ? r : undefined;
  });
  const first = controller;
  await first.stop();
  assert.equal(first.reconciler.running, 0, "stop() returned with no actor left");
  const stopped = await getRun("restart");
  assert.equal(stopped.status?.phase, "Acting", "the first controller did not finish the run itself");
  assert.notEqual(kagent.task(acting.status?.taskId ?? "")?.status.state, "canceled", "stopping does not cancel the task");
  const writesAfterStop = JSON.stringify([...first.kube.requests]);
  const a2aMark = kagent.received.length;

  controller = await startTheController("second-leader");
  const done = await finished("restart");
  assert.equal(reason(done), "Succeeded", JSON.stringify(done.status?.conditions));
  assert.equal(controller.elector?.identity, "second-leader");
  assert.equal(JSON.stringify([...first.kube.requests]), writesAfterStop, "the first controller sent no API request after stop()");
  assert.equal(done.status?.taskId, acting.status?.taskId, "the same task");
  const resumed = kagent.received.slice(a2aMark).filter((c) => c.agent === `${NS}/restart-agent`);
  assert.ok(resumed.some((c) => (c.method === "tasks/get" || c.method === "tasks/resubscribe") && c.taskId === acting.status?.taskId), `the second controller followed the recorded task: ${resumed.map((c) => c.method).join(", ")}`);
  assert.equal(sends("restart").length, 1, "message/send|stream reached kagent once for this run");
  assert.equal(done.status?.usage?.totalTokens, 4 * 120, "the whole task's usage, each LLM call counted once across the restart");
  const lease = await cp.kubeConfig.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: "agentgate-controller", namespace: "agentgate-system" });
  assert.equal(lease.spec?.holderIdentity, "second-leader");
});

test("a tool server edited while a quiet agent acts (no progress writes) stops it: ConfigChanged, and kagent receives tasks/cancel", async () => {
  kagent.setScript(`${NS}/quiet-run-agent`, { llmCalls: 1, stepDelayMs: 20_000 });
  await cp.applyYaml(yaml(run("quiet-run", "plain")));
  await until("quiet-run's task to start", async () => ((await getRun("quiet-run")).status?.taskId ? true : undefined));
  // A change policy does not judge (its description): the digest still differs, and kagent would serve what it says now.
  await cp.kubectl(["patch", "remotemcpserver", "kagent-tool-server", "-n", "kagent", "--type=merge", "-p", JSON.stringify({ spec: { description: "kagent tools, edited" } })]);
  const done = await finished("quiet-run");
  assert.equal(reason(done), "ConfigChanged");
  assert.match(succeeded(done)?.message ?? "", /RemoteMCPServer "kagent\/kagent-tool-server" changed since the run was admitted/);
  assert.equal(calls("quiet-run", "tasks/cancel").length, 1);
});

// Last: it removes kagent's Agent API from the cluster.
test("without kagent's Agent API a run fails with KagentNotInstalled", async () => {
  await cp.kubectl(["delete", "crd", "agents.kagent.dev"]);
  await cp.applyYaml(yaml(run("no-kagent", "plain")));
  const done = await finished("no-kagent");
  assert.equal(reason(done), "KagentNotInstalled", JSON.stringify(done.status?.conditions));
  assert.match(succeeded(done)?.message ?? "", /install kagent/);
});

// After the above: kagent's main branch serves kagent.dev/v1alpha3 and no longer runs v1alpha2 Agents.
test("on kagent's main branch a run fails KagentUnsupported, and nothing is made for it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "kagent-main-"));
  const crd = (kind: string, plural: string) => ({ apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: `${plural}.kagent.dev` }, spec: { group: "kagent.dev", scope: "Namespaced", names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() }, versions: [{ name: "v1alpha3", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }] } });
  await writeFile(join(dir, "main.yaml"), yaml(crd("AgentTemplate", "agenttemplates"), crd("Harness", "harnesses")));
  await cp.installCRDs([join(dir, "main.yaml")]);
  const done = await until("a run to be refused as on kagent main", async () => {
    const name = `on-main-${String(Date.now() % 100000)}`;
    await cp.applyYaml(yaml(run(name, "plain")));
    const r = await finished(name);
    return reason(r) === "KagentUnsupported" ? r : undefined;
  });
  assert.match(succeeded(done)?.message ?? "", /serves kagent\.dev\/v1alpha3 \(AgentTemplate, Harness\): its main branch/);
  const name = done.metadata?.name ?? "";
  assert.equal((await cp.kubectl(["get", "serviceaccount", `agentgate-run-${name}`, "-n", NS], { allowFail: true })).code, 1, "no ServiceAccount was made");
  assert.equal(sends(name).length, 0, "no goal was sent");
});
