// The thin controller end to end: a real API server, agentgate's webhook
// stamping runs, a fake kagent A2A endpoint, and the test playing kagent's
// controller (Agent Ready) and Tekton (PipelineRun status).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { A2ADriver } from "../../src/controller/a2a-driver.ts";
import { startController, type RunningController } from "../../src/controller/controller.ts";
import { ProvenanceSigner } from "../../src/controller/provenance-recorder.ts";
import { webhookConfigurations } from "../../src/gateway/webhooks.ts";
import { logger } from "../../src/log.ts";
import { verifyEnvelope } from "../../src/provenance/envelope.ts";
import type { AgentRun } from "../../src/types/agent.ts";
import type { CustomRun } from "../../src/types/tekton.ts";
import { startFakeKagent, type FakeKagent } from "../support/a2a-server.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CONTROLLER_USER = "system:serviceaccount:agentgate-system:agentgate-controller";
const NS = "qe";

let cp: ControlPlane;
let gateway: RunningGateway;
let kagent: FakeKagent;
let controller: RunningController;
let custom: k8s.CustomObjectsApi;
let controllerKc: k8s.KubeConfig;
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

function run(name: string, configName: string, spec: Record<string, unknown> = {}) {
  return { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name, namespace: NS }, spec: { configRef: { name: configName }, goal: `goal of ${name}`, ...spec } };
}

async function getRun(name: string): Promise<AgentRun> {
  return (await custom.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: NS, plural: "agentruns", name })) as AgentRun;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const finished = (name: string) =>
  until(`${name} to finish`, async () => {
    const r = await getRun(name);
    return r.status?.phase === "Succeeded" || r.status?.phase === "Failed" ? r : undefined;
  });

const reason = (r: AgentRun) => r.status?.conditions?.find((c) => c.type === "Succeeded")?.reason;

async function startTheController(): Promise<RunningController> {
  return startController({
    kubeConfig: controllerKc,
    kagentUrl: kagent.url,
    driver: new A2ADriver(kagent.url, logger),
    provenance: new ProvenanceSigner(keys.privateKey),
    log: logger,
    leaderElect: true,
    leaseNamespace: "agentgate-system",
  });
}

/** Plays kagent's controller (Agents become Ready) and Tekton (PipelineRuns succeed, unless named *-fail). */
async function playKagentAndTekton(): Promise<void> {
  while (playing) {
    try {
      const agents = (await custom.listNamespacedCustomObject({ group: "kagent.dev", version: "v1alpha2", namespace: NS, plural: "agents" })) as { items: { metadata: { name: string }; status?: { conditions?: unknown[] } }[] };
      for (const a of agents.items) {
        if (a.status?.conditions?.length) continue;
        await cp.kubectl(["patch", "agent", a.metadata.name, "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "", lastTransitionTime: new Date().toISOString() }] } })], { allowFail: true });
      }
      const prs = (await custom.listNamespacedCustomObject({ group: "tekton.dev", version: "v1", namespace: NS, plural: "pipelineruns" })) as { items: { metadata: { name: string }; spec: { pipelineRef: { name: string } }; status?: { conditions?: unknown[] } }[] };
      for (const pr of prs.items) {
        if (pr.status?.conditions?.length) continue;
        const ok = !pr.spec.pipelineRef.name.endsWith("-fail");
        await cp.kubectl(["patch", "pipelinerun", pr.metadata.name, "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { conditions: [{ type: "Succeeded", status: ok ? "True" : "False", reason: ok ? "Succeeded" : "Failed", message: ok ? "" : "task lint failed", lastTransitionTime: new Date().toISOString() }] } })], { allowFail: true });
      }
    } catch {
      // the API server is going away at the end
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  logger.level = "warn";
  cp = await startControlPlane({ controllerManager: true, crds: [join(ROOT, "charts/agentgate/crds"), join(ROOT, "test/support/crds")] });
  custom = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  controllerKc = new k8s.KubeConfig();
  controllerKc.loadFromFile(await cp.kubeconfigFor(CONTROLLER_USER, ["system:masters"]));
  gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [], kubeconfig: cp.kubeconfigPath, offline: false, namespace: "agentgate-system", serviceAccount: "system:serviceaccount:agentgate-system:agentgate", trustedUser: [CONTROLLER_USER], drainSeconds: 0 });
  const hooks = webhookConfigurations({ name: "agentgate", target: { url: `https://127.0.0.1:${gateway.port}`, caBundle: gateway.caCert ?? "" }, exemptNamespaces: ["kube-system", "agentgate-system"] });
  kagent = await startFakeKagent({ defaultScript: { llmCalls: 2, promptTokens: 100, completionTokens: 20, resultText: "12 test cases written" } });
  await cp.applyYaml(
    yaml(
      hooks.validating,
      hooks.mutating,
      { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "kagent" } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "agentgate-system" } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", description: "kagent tools" } },
      // the Service behind the tool server's URL: its pods listen on 8090
      { apiVersion: "v1", kind: "Service", metadata: { name: "kagent-tools", namespace: "kagent" }, spec: { selector: { app: "kagent-tools" }, ports: [{ name: "mcp", port: 8084, targetPort: 8090 }] } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: NS }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet", apiKeySecret: "k", apiKeySecretKey: "k" } },
      config("writer", { preHooks: [{ pipelineRef: { name: "checkout" } }], postHooks: [{ pipelineRef: { name: "publish" } }] }),
      config("tight", { tokenBudget: 150 }),
      config("gated", { approval: { required: true } }),
      config("hooks-fail", { preHooks: [{ pipelineRef: { name: "lint-fail" } }] }),
      config("plain"),
    ),
  );
  void playKagentAndTekton();
  controller = await startTheController();
});

after(async () => {
  playing = false;
  await controller.stop();
  await gateway.close();
  await kagent.close();
  await cp.stop();
});

test("a run goes Pending → PreHooks → Acting → PostHooks → Succeeded with usage, results and signed provenance", async () => {
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
  const results = Object.fromEntries((done.status?.results ?? []).map((r) => [r.name, r.value]));
  assert.equal(results.result, "12 test cases written");
  assert.match(results["provenance-digest"] ?? "", /^sha256:[0-9a-f]{64}$/);
  const envelope = done.status?.provenance;
  assert.ok(envelope);
  assert.equal(verifyEnvelope(envelope, keys.publicKey).ok, true);
  const tampered = { ...envelope, payload: Buffer.from(Buffer.from(envelope.payload, "base64").toString().replace("qe/happy", "qe/other")).toString("base64") };
  assert.equal(verifyEnvelope(tampered, keys.publicKey).ok, false);
  // post-hooks got the results as params
  const post = (await custom.getNamespacedCustomObject({ group: "tekton.dev", version: "v1", namespace: NS, plural: "pipelineruns", name: "happy-post-0" })) as { spec: { params?: { name: string; value: string }[] } };
  assert.ok(post.spec.params?.some((p) => p.name === "result" && p.value === "12 test cases written"));
});

test("the run's scope has exactly the stamped rules and goes away with the run", async () => {
  const role = JSON.parse((await cp.kubectl(["get", "role", "happy-role", "-n", NS, "-o", "json"])).stdout) as { rules: unknown; metadata: { labels: Record<string, string> } };
  assert.deepEqual(role.rules, [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }]);
  assert.equal(role.metadata.labels["app.kubernetes.io/managed-by"], "agentgate");
  for (const kind of ["serviceaccount/happy-sa", "rolebinding/happy-binding", "networkpolicy/happy-netpol"]) {
    assert.equal((await cp.kubectl(["get", kind, "-n", NS], { allowFail: true })).code, 0, kind);
  }
  type Peer = { ipBlock?: { cidr: string }; namespaceSelector?: unknown; podSelector?: { matchLabels: Record<string, string> } };
  const np = JSON.parse((await cp.kubectl(["get", "networkpolicy", "happy-netpol", "-n", NS, "-o", "json"])).stdout) as { spec: { podSelector: unknown; egress: { to: Peer[]; ports?: { port: number }[] }[]; ingress: { from: Peer[]; ports: { port: number }[] }[] } };
  const kagentPort = Number(new URL(kagent.url).port);
  assert.deepEqual(np.spec.egress.map((e) => e.ports?.map((p) => p.port).join(",") ?? "any"), ["53,53", String(kagentPort), "443", "8090"], "DNS, kagent's controller, the model endpoint, the MCP server's pods on their targetPort; no API server rule since the test cluster publishes no endpoints");
  assert.deepEqual(np.spec.egress[3]?.to, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kagent" } }, podSelector: { matchLabels: { app: "kagent-tools" } } }], "the pods behind the tool server's Service");
  assert.deepEqual(np.spec.ingress, [{ from: [{ ipBlock: { cidr: "127.0.0.1/32" } }], ports: [{ port: 8080, protocol: "TCP" }] }], "kagent's controller reaches the agent on its A2A port");
  assert.deepEqual(np.spec.podSelector, { matchLabels: { app: "kagent", kagent: "happy-agent" } }, "the labels kagent gives the Agent's pods");
  await cp.kubectl(["delete", "agentrun", "happy", "-n", NS]);
  await until("scope objects to be garbage-collected", async () => {
    const left = await cp.kubectl(["get", "serviceaccount,role,rolebinding,networkpolicy", "-n", NS, "-l", "agent.tekton.dev/run=happy", "-o", "name"]);
    return left.stdout.trim() === "" ? true : undefined;
  });
});

test("a token budget exceeded cancels the task: BudgetExceeded", async () => {
  kagent.setScript(`${NS}/tight-run-agent`, { llmCalls: 5, stepDelayMs: 100 });
  await cp.applyYaml(yaml(run("tight-run", "tight")));
  const done = await finished("tight-run");
  assert.equal(reason(done), "BudgetExceeded", JSON.stringify(done.status?.conditions));
  assert.ok(kagent.received.some((c) => c.agent === `${NS}/tight-run-agent` && /cancel/i.test(c.method)), "tasks/cancel was called");
});

test("spec.status: Cancelled stops the agent: Cancelled", async () => {
  kagent.setScript(`${NS}/cancel-me-agent`, { llmCalls: 4, stepDelayMs: 2000 });
  await cp.applyYaml(yaml(run("cancel-me", "plain")));
  await until("cancel-me to act", async () => ((await getRun("cancel-me")).status?.taskId ? true : undefined));
  await cp.kubectl(["patch", "agentrun", "cancel-me", "-n", NS, "--type=merge", "-p", '{"spec":{"status":"Cancelled"}}']);
  const done = await finished("cancel-me");
  assert.equal(reason(done), "Cancelled");
});

test("the timeout stops the agent: TimedOut", async () => {
  kagent.setScript(`${NS}/slow-agent`, { llmCalls: 4, stepDelayMs: 2000 });
  await cp.applyYaml(yaml(run("slow", "plain", { timeout: "4s" })));
  const done = await finished("slow");
  assert.equal(reason(done), "TimedOut");
});

test("a failing pre-hook fails the run with PreHookFailed", async () => {
  await cp.applyYaml(yaml(run("lint", "hooks-fail")));
  const done = await finished("lint");
  assert.equal(reason(done), "PreHookFailed");
  assert.match(done.status?.conditions?.[0]?.message ?? "", /lint-fail.*failed: Failed: task lint failed/);
});

test("a run needing approval waits until an approver approves", async () => {
  await cp.applyYaml(yaml(run("needs-ok", "gated")));
  await until("WaitingForApproval", async () => ((await getRun("needs-ok")).status?.phase === "WaitingForApproval" ? true : undefined));
  const bob = await cp.kubeconfigFor("bob", ["agent-approvers", "system:masters"]);
  await cp.kubectl(["--kubeconfig", bob, "annotate", "agentrun", "needs-ok", "-n", NS, "agent.tekton.dev/approved-by=bob"]);
  const done = await finished("needs-ok");
  assert.equal(reason(done), "Succeeded");
});

test("a Tekton CustomRun becomes an AgentRun whose outcome and results come back", async () => {
  await cp.applyYaml(
    yaml({
      apiVersion: "tekton.dev/v1beta1",
      kind: "CustomRun",
      metadata: { name: "pr-1-agent", namespace: NS, labels: { "tekton.dev/pipelineRun": "pr-1" } },
      spec: { customRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" }, params: [{ name: "configRef", value: "plain" }, { name: "goal", value: "write tests" }, { name: "hints", value: ["repo: payments"] }] },
    }),
  );
  const cr = await until("the CustomRun to finish", async () => {
    const c = (await custom.getNamespacedCustomObject({ group: "tekton.dev", version: "v1beta1", namespace: NS, plural: "customruns", name: "pr-1-agent" })) as CustomRun;
    return c.status?.conditions?.some((x) => x.type === "Succeeded" && x.status !== "Unknown") ? c : undefined;
  });
  assert.equal(cr.status?.conditions?.[0]?.status, "True");
  assert.ok(cr.status?.results?.some((r) => r.name === "result" && r.value === "12 test cases written"));
  const owned = await getRun("pr-1-agent");
  assert.equal(owned.metadata?.ownerReferences?.[0]?.kind, "CustomRun");
  assert.deepEqual(owned.spec?.context?.hints, ["repo: payments"]);
});

test("two replicas: only the lease holder acts, and the goal goes out once", async () => {
  const standby = await startController({
    kubeConfig: controllerKc,
    kagentUrl: kagent.url,
    driver: new A2ADriver(kagent.url, logger),
    provenance: new ProvenanceSigner(keys.privateKey),
    log: logger,
    leaderElect: true,
    leaseNamespace: "agentgate-system",
    identity: "standby-replica",
  });
  try {
    await cp.applyYaml(yaml(run("pair", "plain")));
    const done = await finished("pair");
    assert.equal(reason(done), "Succeeded", JSON.stringify(done.status?.conditions));
    assert.equal(kagent.sendCount(`${done.metadata?.uid ?? ""}-attempt-1`), 1, "the goal was sent once");
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
  assert.match(done.status?.conditions?.find((c) => c.type === "Succeeded")?.message ?? "", /AgentConfig "doomed" no longer exists in namespace "qe"/);
});

test("a controller restart mid-run resumes the task without sending the goal again", async () => {
  kagent.setScript(`${NS}/restart-agent`, { llmCalls: 4, stepDelayMs: 700 });
  await cp.applyYaml(yaml(run("restart", "plain")));
  const acting = await until("restart to record its task", async () => {
    const r = await getRun("restart");
    return r.status?.taskId ? r : undefined;
  });
  await controller.stop();
  controller = await startTheController();
  const done = await finished("restart");
  assert.equal(reason(done), "Succeeded", JSON.stringify(done.status?.conditions));
  assert.equal(kagent.sendCount(`${acting.metadata?.uid ?? ""}-attempt-1`), 1, "the goal was sent once");
  assert.equal(done.status?.usage?.totalTokens, 4 * 120, "each LLM call counted once across the restart");
});

// Last: it removes kagent's Agent API from the cluster.
test("without kagent's Agent API a run fails with KagentNotInstalled", async () => {
  await cp.kubectl(["delete", "crd", "agents.kagent.dev"]);
  await cp.applyYaml(yaml(run("no-kagent", "plain")));
  const done = await finished("no-kagent");
  assert.equal(reason(done), "KagentNotInstalled", JSON.stringify(done.status?.conditions));
  assert.match(done.status?.conditions?.find((c) => c.type === "Succeeded")?.message ?? "", /install kagent/);
});
