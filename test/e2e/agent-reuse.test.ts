// Agents reused within a PipelineRun (docs/kagent.md, "Agents shared within
// a PipelineRun"), end to end under real Tekton Pipelines
// (test/support/tekton.ts): alice starts PipelineRuns whose tasks refer to
// AgentRuns, Tekton makes the CustomRuns, agentgate's gateway stamps them
// and its controller makes the AgentRuns, which share one kagent Agent and
// one A2A context per PipelineRun and AgentConfig; Tekton ends the
// PipelineRun and the shared Agent goes. The test stands in only for what
// cannot run here: kagent (test/support/a2a-server.ts, Agents marked Ready)
// and the kubelet, which ends the pods of the pipelines' plain tasks (a
// "gate" task is held until the test lets it end). The forger is mallory,
// a real user with edit rights on runs and Tekton objects in the namespace.
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
import { ProvenanceSigner, embeddedBundles } from "../../src/controller/provenance-recorder.ts";
import { webhookConfigurations } from "../../src/gateway/webhooks.ts";
import { logger } from "../../src/log.ts";
import { RUN_LABEL, type AgentRun } from "../../src/types/agent.ts";
import type { Condition } from "../../src/types/kube.ts";
import { PublishedKeys } from "../../src/signing/cluster-keyring.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import { exemptNamespaces } from "../../src/gateway/exemptions.ts";
import { startFakeKagent, type AgentScript, type FakeKagent } from "../support/a2a-server.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { startKubeletStandIn, startTekton, tektonCrdDir, type KubeletStandIn, type RunningTekton } from "../support/tekton.ts";
import { until } from "../support/until.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CONTROLLER_USER = "system:serviceaccount:agentgate-system:agentgate-controller";
const NS = "reuse";
const SIGNING = { namespace: "agentgate-system", name: "agentgate-signing" };

let cp: ControlPlane;
let tekton: RunningTekton;
let kubelet: KubeletStandIn;
let gateway: RunningGateway;
let kagent: FakeKagent;
let controller: RunningController;
let controllerKubeConfig: k8s.KubeConfig;
let controllerBundles: Awaited<ReturnType<typeof embeddedBundles>>;
let custom: k8s.CustomObjectsApi;
let published: PublishedKeys;
let playing = true;
/** kubeconfigs: the PipelineRuns' creator, an editor of the namespace */
let alice: string;
let mallory: string;
const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
/** TaskRuns ("<pipelinerun>-gate") whose pod the kubelet stand-in may end */
const released = new Set<string>();
/** scripts for the Agents serving a PipelineRun, by its name (set as the Agent appears, before its goal) */
const scripts = new Map<string, AgentScript>();

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");

function config(name: string, systemPrompt = "You test the payments service.") {
  return {
    apiVersion: "agent.tekton.dev/v1alpha1",
    kind: "AgentConfig",
    metadata: { name, namespace: NS },
    spec: {
      modelConfigRef: { name: "claude" },
      systemPrompt,
      toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }],
      rbac: { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }] },
    },
  };
}

type Task = Record<string, unknown>;
const agentTask = (name: string, configName: string, goal: string, runAfter: string[] = []): Task => ({
  name,
  taskRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" },
  params: [{ name: "configRef", value: configName }, { name: "goal", value: goal }],
  ...(runAfter.length > 0 ? { runAfter } : {}),
});
/** A plain task the kubelet stand-in holds until the test releases it: the PipelineRun stays running meanwhile. */
const gateTask = (runAfter: string[]): Task => ({ name: "gate", runAfter, taskSpec: { steps: [{ name: "wait", image: "busybox", script: "true" }] } });
const pipeline = (name: string, tasks: Task[]) => ({ apiVersion: "tekton.dev/v1", kind: "Pipeline", metadata: { name, namespace: NS }, spec: { tasks } });

async function as(kubeconfig: string, manifest: unknown, allowFail = false) {
  return cp.kubectl(["create", "-f", "-", "-o", "json", "--kubeconfig", kubeconfig], { stdin: yaml(manifest), allowFail });
}

/** A PipelineRun alice starts; Tekton runs it. */
async function pipelineRun(name: string, pipelineName: string): Promise<{ name: string; uid: string }> {
  const out = await as(alice, { apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { name, namespace: NS }, spec: { pipelineRef: { name: pipelineName } } });
  const pr = JSON.parse(out.stdout) as { metadata: { uid: string; annotations?: Record<string, string> } };
  assert.equal(pr.metadata.annotations?.["agent.tekton.dev/created-by"], "alice", "the gateway stamped the PipelineRun's creator");
  return { name, uid: pr.metadata.uid };
}

/** A CustomRun mallory makes herself, claiming alice's PipelineRun as its owner (as Tekton's would). */
function customRun(pr: { name: string; uid: string }, name: string, configName: string, goal: string) {
  return {
    apiVersion: "tekton.dev/v1beta1",
    kind: "CustomRun",
    metadata: { name, namespace: NS, labels: { "tekton.dev/pipelineRun": pr.name }, ownerReferences: [{ apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: pr.name, uid: pr.uid, controller: true }] },
    spec: { customRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" }, params: [{ name: "configRef", value: configName }, { name: "goal", value: goal }] },
  };
}

const pipelineRunDone = (name: string) =>
  until(`PipelineRun ${name} to finish`, async () => {
    const pr = (await custom.getNamespacedCustomObject({ group: "tekton.dev", version: "v1", namespace: NS, plural: "pipelineruns", name })) as { status?: { conditions?: Condition[] } };
    const c = pr.status?.conditions?.find((x) => x.type === "Succeeded");
    return c && c.status !== "Unknown" ? c : undefined;
  }, { timeoutMs: 90_000 });

async function getRun(name: string): Promise<AgentRun> {
  return (await custom.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: NS, plural: "agentruns", name })) as AgentRun;
}

const finished = (name: string) =>
  until(`${name} to finish`, async () => {
    const r = await getRun(name).catch(() => undefined);
    return r?.status?.phase === "Succeeded" || r?.status?.phase === "Failed" ? r : undefined;
  });

const reason = (r: AgentRun) => r.status?.conditions?.find((c) => c.type === "Succeeded")?.reason;

async function events(name: string): Promise<{ reason: string; message: string }[]> {
  const out = await cp.kubectl(["get", "events", "-n", NS, "--field-selector", `involvedObject.name=${name},involvedObject.kind=AgentRun`, "-o", "json"]);
  return (JSON.parse(out.stdout) as { items: { reason: string; message: string }[] }).items;
}

const eventOf = (run: string, why: string) => until(`the ${why} Event on ${run}`, async () => (await events(run)).find((e) => e.reason === why));

/** The goals kagent received for an Agent, with the contextId each was sent in. */
function goalsTo(agent: string): { messageId: string | undefined; contextId: string | undefined }[] {
  return kagent.received
    .filter((c) => c.agent === `${NS}/${agent}` && (c.method === "message/send" || c.method === "message/stream") && c.refusal === undefined)
    .map((c) => ({ messageId: c.messageId, contextId: (c.params as { message?: { contextId?: string } } | undefined)?.message?.contextId }));
}

const exists = async (kind: string, name: string) => (await cp.kubectl(["get", kind, name, "-n", NS], { allowFail: true })).code === 0;

/** The PipelineRun an Agent serves: its owner when shared, else its run's. */
async function pipelineRunOf(agent: { metadata: { labels?: Record<string, string>; ownerReferences?: { kind: string; name: string }[] } }): Promise<string | undefined> {
  const owner = agent.metadata.ownerReferences?.find((o) => o.kind === "PipelineRun");
  if (owner) return owner.name;
  const run = agent.metadata.labels?.[RUN_LABEL];
  return run ? (await getRun(run).catch(() => undefined))?.metadata?.labels?.["tekton.dev/pipelineRun"] : undefined;
}

/** Plays kagent's controller: every Agent becomes Ready, with its PipelineRun's script if it has one. */
async function playKagent(): Promise<void> {
  while (playing) {
    try {
      const agents = (await custom.listNamespacedCustomObject({ group: "kagent.dev", version: "v1alpha2", namespace: NS, plural: "agents" })) as { items: { metadata: { name: string; labels?: Record<string, string>; ownerReferences?: { kind: string; name: string }[] }; status?: { conditions?: unknown[] } }[] };
      for (const a of agents.items) {
        if (a.status?.conditions?.length) continue;
        const script = scripts.get((await pipelineRunOf(a)) ?? "");
        if (script) kagent.setScript(`${NS}/${a.metadata.name}`, script);
        await cp.kubectl(["patch", "agent", a.metadata.name, "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "", lastTransitionTime: new Date().toISOString() }] } })], { allowFail: true });
      }
    } catch {
      // the API server is going away at the end
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  logger.level = "warn";
  const bundles = await embeddedBundles(logger);
  cp = await startControlPlane({
    controllerManager: true,
    crds: [join(ROOT, "charts/agentgate/files/crds"), ...["agents", "modelconfigs", "remotemcpservers", "mcpservers"].map((k) => join(ROOT, `test/support/crds/kagent.dev_${k}.yaml`))],
    serverSideCrds: [tektonCrdDir()],
  });
  custom = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  tekton = await startTekton(cp);
  kubelet = startKubeletStandIn(cp, (pod) => (pod.taskRun.endsWith("-gate") && !released.has(pod.taskRun) ? undefined : { exitCode: 0 }));
  const controllerKc = new k8s.KubeConfig();
  controllerKc.loadFromFile(await cp.kubeconfigFor(CONTROLLER_USER, ["system:masters"]));
  alice = await cp.kubeconfigFor("alice", ["system:masters"]);
  mallory = await cp.kubeconfigFor("mallory", []);
  gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [], kubeconfig: cp.kubeconfigPath, offline: false, namespace: "agentgate-system", serviceAccount: "system:serviceaccount:agentgate-system:agentgate", trustedUser: [CONTROLLER_USER], drainSeconds: 0, signingKeys: `${SIGNING.namespace}/${SIGNING.name}` });
  published = new PublishedKeys(kubeApiOf(controllerKc), SIGNING, logger, 1000);
  const hooks = webhookConfigurations({ name: "agentgate", target: { url: `https://127.0.0.1:${gateway.port}`, caBundle: gateway.caCert ?? "" }, exemptNamespaces: ["kube-system", "agentgate-system", "tekton-pipelines"] });
  kagent = await startFakeKagent({ defaultScript: { llmCalls: 1, promptTokens: 100, completionTokens: 20, resultText: "done" } });
  await cp.applyYaml(
    yaml(
      hooks.validating,
      hooks.mutating,
      ...[NS, "kagent", "agentgate-system"].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })),
      // What the serviceaccount controller (not run here) makes in every namespace: the gate tasks run as it.
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: NS } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", description: "kagent tools", allowedNamespaces: { from: "All" } } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: NS }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet", apiKeySecret: "k", apiKeySecretKey: "k" } },
      // mallory edits the namespace's runs and Tekton objects, and approves nothing
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "runs-editor", namespace: NS }, rules: [{ apiGroups: ["agent.tekton.dev", "tekton.dev"], resources: ["*"], verbs: ["*"] }] },
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "mallory-edits", namespace: NS }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "runs-editor" }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "mallory" }] },
      config("tester"),
      config("shifty"),
      // A test lifecycle: set up, run, then a gate the test holds while it tries to join.
      pipeline("lifecycle", [agentTask("setup", "tester", "set up the test database"), agentTask("run", "tester", "run the tests against it", ["setup"]), gateTask(["run"])]),
      // The config may change at the gate, between the two steps.
      pipeline("shifting", [agentTask("first", "shifty", "first step"), gateTask(["first"]), agentTask("second", "shifty", "second step", ["gate"])]),
      // Two steps at once.
      pipeline("parallel", [agentTask("left", "tester", "test the left half"), agentTask("right", "tester", "test the right half")]),
    ),
  );
  void playKagent();
  await published.start();
  await until("the gateway to publish its signing keys", async () => (published.notReady() === undefined ? true : (await published.read().catch(() => undefined), undefined)));
  controllerKubeConfig = controllerKc;
  controllerBundles = bundles;
  controller = await startTheController();
});

function startTheController(): Promise<RunningController> {
  return startController({
    kubeConfig: controllerKubeConfig,
    keyring: published,
    exemptNamespaces: exemptNamespaces("agentgate-system"),
    kagentUrl: kagent.url,
    driver: new A2ADriver(kagent.url, logger),
    provenance: new ProvenanceSigner(keys.privateKey, controllerBundles),
    log: logger,
    leaderElect: false,
    leaseNamespace: "agentgate-system",
    agentReadyTimeoutMs: 8000,
    capabilitiesIntervalMs: 300,
  });
}

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

test("two AgentRuns of one PipelineRun with the same AgentConfig share one Agent and one A2A context; a forged step does not join; the Agent goes when the PipelineRun ends", async () => {
  const pr = await pipelineRun("nightly", "lifecycle");
  const first = await finished("nightly-setup");
  assert.equal(reason(first), "Succeeded", JSON.stringify(first.status?.conditions));
  const shared = first.status?.agentRef;
  assert.match(shared?.name ?? "", /^share-[0-9a-f]{20}-agent$/, "the run acts through the PipelineRun's shared Agent");
  assert.match(shared?.contextId ?? "", /^agentgate-[0-9a-f]{40}$/);
  assert.match((await eventOf("nightly-setup", "AgentShared")).message, new RegExp(`PipelineRun nightly \\(uid ${pr.uid}\\)`));

  const second = await finished("nightly-run");
  assert.equal(reason(second), "Succeeded", JSON.stringify(second.status?.conditions));
  assert.deepEqual(second.status?.agentRef, shared, "the second step acts through the same Agent, in the same context");
  // kagent saw both goals on the one Agent, in the one context, each its own task.
  assert.deepEqual(goalsTo(shared?.name ?? ""), [
    { messageId: `${first.metadata?.uid ?? ""}-attempt-1`, contextId: shared?.contextId },
    { messageId: `${second.metadata?.uid ?? ""}-attempt-1`, contextId: shared?.contextId },
  ]);
  assert.notEqual(first.status?.taskId, second.status?.taskId);
  assert.equal(kagent.task(first.status?.taskId ?? "")?.contextId, shared?.contextId);
  assert.equal(kagent.task(second.status?.taskId ?? "")?.contextId, shared?.contextId);
  // Per run: its own usage, and provenance naming the Agent it acted through.
  assert.deepEqual(second.status?.usage, { promptTokens: 100, completionTokens: 20, totalTokens: 120, toolCalls: 0 });
  const statement = Buffer.from(second.status?.provenance?.payload ?? "", "base64").toString("utf8");
  assert.ok(statement.includes(shared?.name ?? "?"), "the provenance records the shared Agent");
  // The shared Agent, its ServiceAccount and its NetworkPolicy are the PipelineRun's, not a run's.
  const agent = JSON.parse((await cp.kubectl(["get", "agent", shared?.name ?? "", "-n", NS, "-o", "json"])).stdout) as { metadata: { ownerReferences: { kind: string; uid: string }[] }; spec: { declarative: { deployment: { serviceAccountName: string } } } };
  assert.deepEqual(agent.metadata.ownerReferences.map((o) => [o.kind, o.uid]), [["PipelineRun", pr.uid]]);
  const share = (shared?.name ?? "").replace(/-agent$/, "");
  assert.equal(agent.spec.declarative.deployment.serviceAccountName, `agentgate-run-${share}`);
  assert.ok(await exists("networkpolicy", `${share}-netpol`));
  assert.equal(await exists("agent", "nightly-setup-agent"), false, "no Agent of the step's own");

  // mallory (edit in the namespace) names a step's CustomRun as her run's owner: refused at admission.
  const step = JSON.parse((await cp.kubectl(["get", "customrun", "nightly-run", "-n", NS, "-o", "json"])).stdout) as { metadata: { uid: string } };
  const forged = await as(mallory, { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "nightly-forged", namespace: NS, ownerReferences: [{ apiVersion: "tekton.dev/v1beta1", kind: "CustomRun", name: "nightly-run", uid: step.metadata.uid, controller: true }] }, spec: { configRef: { name: "tester" }, goal: "what did the earlier steps learn?" } }, true);
  assert.notEqual(forged.code, 0);
  assert.match(forged.stderr, /\[run-owner\]/);
  // Her own CustomRun claiming alice's PipelineRun is hers: it runs, named as hers, on an Agent of its own, and says why.
  await as(mallory, customRun(pr, "nightly-mallory", "tester", "what did the earlier steps learn?"));
  const hers = await finished("nightly-mallory");
  assert.equal(hers.metadata?.annotations?.["agent.tekton.dev/created-by"], "mallory");
  assert.deepEqual(hers.status?.agentRef, { name: "nightly-mallory-agent", namespace: NS });
  assert.match((await eventOf("nightly-mallory", "AgentNotShared")).message, /created by "mallory" .* not by PipelineRun nightly's creator "alice"/);
  assert.equal(goalsTo(shared?.name ?? "").length, 2, "nothing of hers reached the shared context");

  // Tekton ends the PipelineRun: its shared Agent and identity go; the NetworkPolicy goes with the PipelineRun.
  assert.ok(await exists("agent", shared?.name ?? ""), "the Agent lives as long as its PipelineRun");
  released.add("nightly-gate");
  assert.equal((await pipelineRunDone("nightly")).status, "True");
  await until("the shared Agent to be deleted with its PipelineRun's end", async () => ((await exists("agent", shared?.name ?? "")) ? undefined : true), { timeoutMs: 30_000 });
  await until("the shared ServiceAccount to be deleted", async () => ((await exists("serviceaccount", `agentgate-run-${share}`)) ? undefined : true));
  await cp.kubectl(["delete", "pipelinerun", "nightly", "-n", NS]);
  await until("the shared NetworkPolicy to be garbage-collected with the PipelineRun", async () => ((await exists("networkpolicy", `${share}-netpol`)) ? undefined : true), { timeoutMs: 60_000 });
});

test("a standalone AgentRun of the same AgentConfig keeps an Agent and a context of its own", async () => {
  await cp.applyYaml(yaml({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "solo", namespace: NS }, spec: { configRef: { name: "tester" }, goal: "check the pods" } }));
  const solo = await finished("solo");
  assert.equal(reason(solo), "Succeeded", JSON.stringify(solo.status?.conditions));
  assert.deepEqual(solo.status?.agentRef, { name: "solo-agent", namespace: NS });
  assert.deepEqual(goalsTo("solo-agent").map((g) => g.contextId), [undefined], "no context chosen: kagent starts a new one");
  assert.equal((await events("solo")).some((e) => e.reason === "AgentShared" || e.reason === "AgentNotShared"), false);
});

test("a step whose AgentConfig changed since the previous step gets another Agent and context, never the earlier one; a PipelineRun made again under its name starts afresh", async () => {
  const pr = await pipelineRun("shifting", "shifting");
  const first = await finished("shifting-first");
  assert.equal(reason(first), "Succeeded", JSON.stringify(first.status?.conditions));
  await cp.kubectl(["patch", "agentconfig", "shifty", "-n", NS, "--type=merge", "-p", JSON.stringify({ spec: { systemPrompt: "You test the payments service, and may read its logs." } })]);
  released.add("shifting-gate");
  const second = await finished("shifting-second");
  assert.equal(reason(second), "Succeeded", JSON.stringify(second.status?.conditions));
  assert.match(second.status?.agentRef?.name ?? "", /^share-/);
  assert.notEqual(second.status?.agentRef?.name, first.status?.agentRef?.name);
  assert.notEqual(second.status?.agentRef?.contextId, first.status?.agentRef?.contextId);
  assert.equal(goalsTo(first.status?.agentRef?.name ?? "").length, 1, "the earlier Agent got only the earlier step's goal");
  assert.equal((await pipelineRunDone("shifting")).status, "True");
  // Made again under the same name: another uid, so another context.
  await cp.kubectl(["delete", "pipelinerun", "shifting", "-n", NS]);
  await until("the old PipelineRun's runs to be garbage-collected", async () => ((await exists("agentrun", "shifting-first")) ? undefined : true), { timeoutMs: 60_000 });
  released.delete("shifting-gate");
  const again = await pipelineRun("shifting", "shifting");
  assert.notEqual(again.uid, pr.uid);
  const third = await finished("shifting-first");
  assert.equal(reason(third), "Succeeded", JSON.stringify(third.status?.conditions));
  assert.notEqual(third.status?.agentRef?.name, second.status?.agentRef?.name);
  assert.notEqual(third.status?.agentRef?.contextId, second.status?.agentRef?.contextId, "keyed on the PipelineRun's uid, not its name");
  released.add("shifting-gate");
  await pipelineRunDone("shifting");
});

test("two steps of one PipelineRun at once never share one context: one acts through the shared Agent, the other gets its own and says why", async () => {
  scripts.set("sideways", { llmCalls: 3, stepDelayMs: 1000, promptTokens: 100, completionTokens: 20 });
  await pipelineRun("sideways", "parallel");
  const [left, right] = await Promise.all([finished("sideways-left"), finished("sideways-right")]);
  for (const r of [left, right]) assert.equal(reason(r), "Succeeded", JSON.stringify(r.status?.conditions));
  const sharing = [left, right].filter((r) => r.status?.agentRef?.name.startsWith("share-"));
  const alone = [left, right].filter((r) => r.status?.agentRef?.name === `${r.metadata?.name ?? ""}-agent`);
  assert.equal(sharing.length, 1, JSON.stringify([left.status?.agentRef, right.status?.agentRef]));
  assert.equal(alone.length, 1);
  assert.match((await eventOf(alone[0]?.metadata?.name ?? "", "AgentNotShared")).message, /two goals never share one context at once/);
  assert.equal(goalsTo(sharing[0]?.status?.agentRef?.name ?? "").length, 1);
  assert.equal((await pipelineRunDone("sideways")).status, "True");
  await until("the shared Agent to go with the PipelineRun's end", async () => ((await exists("agent", sharing[0]?.status?.agentRef?.name ?? "")) ? undefined : true), { timeoutMs: 30_000 });
});

test("a controller restarted while a step acts on the shared Agent resumes it there, and the next step still shares its context", async () => {
  scripts.set("restarted", { llmCalls: 3, stepDelayMs: 1000, promptTokens: 100, completionTokens: 20 });
  await pipelineRun("restarted", "lifecycle");
  const acting = await until("the first step to act", async () => {
    const r = await getRun("restarted-setup").catch(() => undefined);
    return r?.status?.taskId ? r : undefined;
  });
  await controller.stop();
  controller = await startTheController();
  const first = await finished("restarted-setup");
  assert.equal(reason(first), "Succeeded", JSON.stringify(first.status?.conditions));
  assert.equal(first.status?.taskId, acting.status?.taskId, "the task was resumed, not started again");
  const second = await finished("restarted-run");
  assert.equal(reason(second), "Succeeded", JSON.stringify(second.status?.conditions));
  assert.deepEqual(second.status?.agentRef, first.status?.agentRef);
  assert.deepEqual(goalsTo(first.status?.agentRef?.name ?? "").map((g) => g.contextId), [first.status?.agentRef?.contextId, first.status?.agentRef?.contextId], "each goal sent once, both in the one context");
  released.add("restarted-gate");
  await pipelineRunDone("restarted");
  await until("the shared Agent to go with the PipelineRun's end", async () => ((await exists("agent", first.status?.agentRef?.name ?? "")) ? undefined : true), { timeoutMs: 30_000 });
});

test("a PipelineRun a ServiceAccount of the namespace created: an editor impersonating that ServiceAccount makes a CustomRun under it with the same creator, and it still does not join the shared context", async () => {
  // The ServiceAccount stands in for a Tekton Triggers EventListener; mallory may impersonate the namespace's ServiceAccounts.
  const trigger = "el-trigger";
  const sa = `system:serviceaccount:${NS}:${trigger}`;
  await cp.applyYaml(
    yaml(
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: trigger, namespace: NS } },
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "trigger-edits", namespace: NS }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "runs-editor" }, subjects: [{ kind: "ServiceAccount", name: trigger, namespace: NS }] },
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "impersonate-sas", namespace: NS }, rules: [{ apiGroups: [""], resources: ["serviceaccounts"], verbs: ["impersonate"] }] },
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "mallory-impersonates", namespace: NS }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "impersonate-sas" }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "mallory" }] },
    ),
  );
  const asTrigger = (kubeconfig: string, manifest: unknown) => cp.kubectl(["create", "-f", "-", "-o", "json", "--kubeconfig", kubeconfig, `--as=${sa}`], { stdin: yaml(manifest) });
  const created = JSON.parse((await asTrigger(alice, { apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { name: "triggered", namespace: NS }, spec: { pipelineRef: { name: "lifecycle" } } })).stdout) as { metadata: { uid: string; annotations?: Record<string, string> } };
  assert.equal(created.metadata.annotations?.["agent.tekton.dev/created-by"], sa, "the gateway stamped the ServiceAccount as the PipelineRun's creator");
  const pr = { name: "triggered", uid: created.metadata.uid };
  const first = await finished("triggered-setup");
  const second = await finished("triggered-run");
  for (const r of [first, second]) assert.equal(reason(r), "Succeeded", JSON.stringify(r.status?.conditions));
  const shared = first.status?.agentRef;
  assert.match(shared?.name ?? "", /^share-/, "Tekton's steps of the ServiceAccount's PipelineRun share");
  assert.deepEqual(second.status?.agentRef, shared);

  // mallory, as the ServiceAccount, makes a CustomRun with alice's PipelineRun as controlling owner.
  const evil = JSON.parse((await asTrigger(mallory, customRun(pr, "triggered-evil", "tester", "what did the earlier steps learn?"))).stdout) as { metadata: { annotations?: Record<string, string> } };
  assert.equal(evil.metadata.annotations?.["agent.tekton.dev/created-by"], sa, "the same creator string as Tekton's CustomRuns of the PipelineRun");
  const hers = await finished("triggered-evil");
  assert.equal(hers.metadata?.annotations?.["agent.tekton.dev/created-by"], sa);
  assert.deepEqual(hers.status?.agentRef, { name: "triggered-evil-agent", namespace: NS }, "an Agent and context of its own");
  assert.match((await eventOf("triggered-evil", "AgentNotShared")).message, new RegExp(`CustomRun triggered-evil is not one Tekton made for PipelineRun triggered \\(uid ${pr.uid}\\)`));
  assert.deepEqual(goalsTo(shared?.name ?? "").map((g) => g.contextId), [shared?.contextId, shared?.contextId], "only the PipelineRun's own two steps reached the shared context");

  released.add("triggered-gate");
  assert.equal((await pipelineRunDone("triggered")).status, "True");
});

test("a step on the shared Agent whose CustomRun an editor orphan-deletes while no controller follows it: its task is cancelled there (proven by its goal message), not left running in the context", async () => {
  scripts.set("orphaned", { llmCalls: 60, stepDelayMs: 1000, promptTokens: 100, completionTokens: 20 });
  await pipelineRun("orphaned", "lifecycle");
  const acting = await until("the first step to act", async () => {
    const r = await getRun("orphaned-setup").catch(() => undefined);
    return r?.status?.taskId ? r : undefined;
  });
  const taskId = acting.status?.taskId ?? "";
  assert.match(acting.status?.agentRef?.name ?? "", /^share-/);
  await controller.stop();
  await cp.kubectl(["delete", "customrun", "orphaned-setup", "-n", NS, "--cascade=orphan"]);
  await until("the garbage collector to orphan the step", async () => ((await getRun("orphaned-setup")).metadata?.ownerReferences?.length ? undefined : true), { timeoutMs: 30_000 });
  assert.ok(!["canceled", "completed", "failed"].includes(kagent.task(taskId)?.status.state ?? ""), "the task runs on while nobody follows it");
  controller = await startTheController();
  const ended = await finished("orphaned-setup");
  assert.equal(reason(ended), "AgentFailed", JSON.stringify(ended.status?.conditions));
  assert.match(ended.status?.conditions?.[0]?.message ?? "", new RegExp(`kagent task ${taskId} on shared Agent share-[0-9a-f]{20}-agent cancelled`));
  assert.equal(kagent.task(taskId)?.status.state, "canceled", "the task no longer runs in the PipelineRun's context");
  await cp.kubectl(["delete", "pipelinerun", "orphaned", "-n", NS, "--wait=false"]);
  await cp.kubectl(["delete", "agentrun", "orphaned-setup", "-n", NS, "--wait=false"]);
});

test("between steps the shared Agent holds no rights: its RoleBinding and Role are gone while no step holds it, back while the next step acts", async () => {
  scripts.set("stepwise", { llmCalls: 3, stepDelayMs: 1000, promptTokens: 100, completionTokens: 20 });
  await cp.applyYaml(yaml(pipeline("stepwise", [agentTask("first", "tester", "first step"), gateTask(["first"]), agentTask("second", "tester", "second step", ["gate"])])));
  await pipelineRun("stepwise", "stepwise");
  const first = await until("the first step to act", async () => {
    const r = await getRun("stepwise-first").catch(() => undefined);
    return r?.status?.taskId ? r : undefined;
  });
  const share = (first.status?.agentRef?.name ?? "").replace(/-agent$/, "");
  assert.match(share, /^share-[0-9a-f]{20}$/);
  assert.ok(await exists("rolebinding", `${share}-binding`), "the step acting holds the share's rights");
  assert.equal(reason(await finished("stepwise-first")), "Succeeded");
  await until("the share's RoleBinding to go once no step holds it", async () => ((await exists("rolebinding", `${share}-binding`)) ? undefined : true), { timeoutMs: 30_000 });
  assert.equal(await exists("role", `${share}-role`), false);
  assert.ok(await exists("agent", `${share}-agent`), "the Agent stays for the next step");
  released.add("stepwise-gate");
  await until("the second step to act", async () => {
    const r = await getRun("stepwise-second").catch(() => undefined);
    return r?.status?.taskId ? r : undefined;
  });
  assert.ok(await exists("rolebinding", `${share}-binding`), "made again for the step that holds the share");
  assert.ok(await exists("role", `${share}-role`));
  const second = await finished("stepwise-second");
  assert.equal(reason(second), "Succeeded", JSON.stringify(second.status?.conditions));
  assert.equal(second.status?.agentRef?.name, `${share}-agent`);
  assert.equal((await pipelineRunDone("stepwise")).status, "True");
});

test("a controller restarted between two steps no longer knows who held the shared Agent: it is deleted in the foreground and made afresh only once gone (garbage collection completes it through the gateway), and the next step shares the context on it", async () => {
  scripts.set("between", { llmCalls: 1, promptTokens: 100, completionTokens: 20 });
  await cp.applyYaml(yaml(pipeline("between", [agentTask("first", "tester", "first step"), gateTask(["first"]), agentTask("second", "tester", "second step", ["gate"])])));
  await pipelineRun("between", "between");
  const first = await finished("between-first");
  assert.equal(reason(first), "Succeeded", JSON.stringify(first.status?.conditions));
  const agentName = first.status?.agentRef?.name ?? "";
  assert.match(agentName, /^share-/);
  const uidOf = async () => ((JSON.parse((await cp.kubectl(["get", "agent", agentName, "-n", NS, "-o", "json"], { allowFail: true })).stdout || "{}") as { metadata?: { uid?: string } }).metadata?.uid);
  const before = await uidOf();
  assert.ok(before);
  await controller.stop();
  controller = await startTheController();
  released.add("between-gate");
  const second = await finished("between-second");
  assert.equal(reason(second), "Succeeded", JSON.stringify(second.status?.conditions));
  assert.deepEqual(second.status?.agentRef, first.status?.agentRef, "the same share and context");
  const after = await uidOf();
  assert.ok(after === undefined || after !== before, "the Agent the forgotten holder left was deleted (foreground) and made again");
  assert.deepEqual(goalsTo(agentName).map((g) => g.contextId), [first.status?.agentRef?.contextId, first.status?.agentRef?.contextId]);
  assert.equal((await pipelineRunDone("between")).status, "True");
});
