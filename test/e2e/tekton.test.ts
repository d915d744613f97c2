// agentgate under real Tekton Pipelines (test/support/tekton.ts): a
// PipelineRun whose task refers to an AgentRun makes Tekton create the
// CustomRun, agentgate turns it into an AgentRun and hands the outcome and
// results back, and Tekton finishes the PipelineRun with them; cancelling
// or timing out the PipelineRun stops the agent; the hook PipelineRuns
// agentgate makes are reconciled by Tekton. Nobody here writes a CustomRun
// or a Tekton status: the test stands in only for what cannot run here,
// kagent (test/support/a2a-server.ts, and Agents marked Ready) and the
// kubelet, which ends the pods of hook TaskRuns (startKubeletStandIn).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { A2ADriver } from "../../src/controller/a2a-driver.ts";
import { startController, type RunningController } from "../../src/controller/controller.ts";
import { ProvenanceSigner, embeddedBundles } from "../../src/controller/provenance-recorder.ts";
import { exemptNamespaces } from "../../src/gateway/exemptions.ts";
import { webhookConfigurations } from "../../src/gateway/webhooks.ts";
import { logger } from "../../src/log.ts";
import { PublishedKeys } from "../../src/signing/cluster-keyring.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import { RUN_LABEL, STAMP, type AgentRun } from "../../src/types/agent.ts";
import type { Condition } from "../../src/types/kube.ts";
import { startFakeKagent, type AgentScript, type FakeKagent } from "../support/a2a-server.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { startKubeletStandIn, startTekton, tektonCrdDir, type KubeletStandIn, type RunningTekton } from "../support/tekton.ts";
import { until } from "../support/until.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CONTROLLER_USER = "system:serviceaccount:agentgate-system:agentgate-controller";
const SIGNING = { namespace: "agentgate-system", name: "agentgate-signing" };
const NS = "pipelines";
const RESULT = "12 test cases written";

let cp: ControlPlane;
let tekton: RunningTekton;
let kubelet: KubeletStandIn;
let gateway: RunningGateway;
let kagent: FakeKagent;
let published: PublishedKeys;
let controller: RunningController;
let custom: k8s.CustomObjectsApi;
let playing = true;

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");

interface TektonObject {
  metadata: { name: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[] };
  spec: { status?: string; statusMessage?: string; timeout?: string; serviceAccountName?: string; params?: { name: string; value: unknown }[] };
  status?: { conditions?: Condition[]; results?: { name: string; value: unknown }[] };
}

const get = async (plural: string, name: string, version = "v1"): Promise<TektonObject> =>
  (await custom.getNamespacedCustomObject({ group: "tekton.dev", version, namespace: NS, plural, name })) as TektonObject;
const getCustomRun = (name: string) => get("customruns", name, "v1beta1");
const getRun = async (name: string): Promise<AgentRun> => (await custom.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: NS, plural: "agentruns", name })) as AgentRun;
const succeeded = (o: { status?: { conditions?: Condition[] } }) => o.status?.conditions?.find((c) => c.type === "Succeeded");

/** Waits for Tekton to finish a PipelineRun (its Succeeded condition True or False). */
const pipelineRunDone = (name: string, timeoutMs = 90_000) =>
  until(`PipelineRun ${name} to finish`, async () => {
    const pr = await get("pipelineruns", name);
    const c = succeeded(pr);
    return c && c.status !== "Unknown" ? pr : undefined;
  }, { timeoutMs });
const runDone = (name: string) =>
  until(`AgentRun ${name} to finish`, async () => {
    const r = await getRun(name);
    return r.status?.phase === "Succeeded" || r.status?.phase === "Failed" ? r : undefined;
  });
const results = (o: { status?: { results?: { name: string; value: unknown }[] } }) => Object.fromEntries((o.status?.results ?? []).map((r) => [r.name, r.value]));
/** tasks/cancel calls the stand-in kagent received for a task. */
const cancels = (taskId: string | undefined) => kagent.received.filter((c) => c.method === "tasks/cancel" && c.taskId === taskId && c.refusal === undefined);
/** Goal messages kagent received that carry this text. */
const goalsSaying = (text: string) => kagent.received.filter((c) => (c.method === "message/send" || c.method === "message/stream") && JSON.stringify(c.params ?? {}).includes(text));

/**
 * Scripts for the agents of a PipelineRun's runs, by PipelineRun name: the
 * Agent a run acts through may be its own (<run>-agent) or one its
 * PipelineRun's runs share, so the stand-in kagent is given the script
 * when the Agent appears, before it is made Ready and sent the goal.
 */
const scripts = new Map<string, AgentScript>();

const agentTask = (config: string, extra: Record<string, unknown> = {}) => ({
  name: "agent",
  taskRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" },
  params: [{ name: "configRef", value: config }, { name: "goal", value: "$(params.goal)" }, { name: "hints", value: ["repo: payments", "branch: main"] }],
  ...extra,
});

/** A Pipeline whose agent task's result feeds the next task and the pipeline's results. */
const agentPipeline = (name: string, config: string, taskExtra: Record<string, unknown> = {}) => ({
  apiVersion: "tekton.dev/v1",
  kind: "Pipeline",
  metadata: { name, namespace: NS },
  spec: {
    params: [{ name: "goal", type: "string" }],
    tasks: [
      agentTask(config, taskExtra),
      { name: "report", params: [{ name: "answer", value: "$(tasks.agent.results.result)" }], taskSpec: { params: [{ name: "answer", type: "string" }], steps: [{ name: "print", image: "busybox", env: [{ name: "ANSWER", value: "$(params.answer)" }], script: 'echo "$ANSWER"' }] } },
    ],
    results: [
      { name: "answer", value: "$(tasks.agent.results.result)" },
      { name: "provenance-digest", value: "$(tasks.agent.results.provenance-digest)" },
    ],
  },
});

const pipelineRun = (name: string, pipeline: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: "tekton.dev/v1",
  kind: "PipelineRun",
  metadata: { name, namespace: NS },
  spec: { pipelineRef: { name: pipeline }, params: [{ name: "goal", value: `goal of ${name}` }], ...spec },
});

/** A hook Pipeline: one task given the params agentgate passes that it declares. */
const hookPipeline = (name: string, params: string[]) => ({
  apiVersion: "tekton.dev/v1",
  kind: "Pipeline",
  metadata: { name, namespace: NS },
  spec: {
    params: params.map((p) => ({ name: p, type: "string", default: "" })),
    tasks: [{ name: "hook", params: params.map((p) => ({ name: p, value: `$(params.${p})` })), taskSpec: { params: params.map((p) => ({ name: p, type: "string" })), steps: [{ name: "run", image: "busybox", script: "true" }] } }],
  },
});

const config = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentConfig",
  metadata: { name, namespace: NS },
  spec: { modelConfigRef: { name: "claude" }, systemPrompt: "You write tests.", rbac: { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }] }, ...spec },
});

/** The PipelineRun an Agent serves: its owner when shared, else its run's. */
async function pipelineRunOf(agent: { metadata: { labels?: Record<string, string>; ownerReferences?: { kind: string; name: string }[] } }): Promise<string | undefined> {
  const owner = agent.metadata.ownerReferences?.find((o) => o.kind === "PipelineRun");
  if (owner) return owner.name;
  const run = agent.metadata.labels?.[RUN_LABEL];
  return run ? (await getRun(run)).metadata?.labels?.["tekton.dev/pipelineRun"] : undefined;
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
        const conditions = [{ type: "Accepted", status: "True", reason: "Reconciled", message: "", lastTransitionTime: new Date().toISOString() }, { type: "Ready", status: "True", reason: "DeploymentReady", message: "", lastTransitionTime: new Date().toISOString() }];
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
  cp = await startControlPlane({
    controllerManager: true,
    crds: [join(ROOT, "charts/agentgate/files/crds"), ...["agents", "modelconfigs", "remotemcpservers", "mcpservers"].map((k) => join(ROOT, `test/support/crds/kagent.dev_${k}.yaml`))],
    serverSideCrds: [tektonCrdDir()],
  });
  custom = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  tekton = await startTekton(cp);
  // The kubelet's part: hook pods of pipelines named *-fail fail, *-hold keep running, the rest succeed.
  kubelet = startKubeletStandIn(cp, (pod) => (pod.pipeline?.endsWith("-hold") ? undefined : { exitCode: pod.pipeline?.endsWith("-fail") ? 1 : 0 }));
  gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [], kubeconfig: cp.kubeconfigPath, offline: false, namespace: SIGNING.namespace, serviceAccount: "system:serviceaccount:agentgate-system:agentgate", trustedUser: [CONTROLLER_USER], drainSeconds: 0, signingKeys: `${SIGNING.namespace}/${SIGNING.name}` });
  const hooks = webhookConfigurations({ name: "agentgate", target: { url: `https://127.0.0.1:${gateway.port}`, caBundle: gateway.caCert ?? "" }, exemptNamespaces: ["kube-system", "agentgate-system"] });
  kagent = await startFakeKagent({ defaultScript: { llmCalls: 2, promptTokens: 100, completionTokens: 20, resultText: RESULT } });
  await cp.applyYaml(
    yaml(
      hooks.validating,
      hooks.mutating,
      ...[NS, "agentgate-system"].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })),
      // What the serviceaccount controller (not run here) makes in every namespace: Tekton reads the account a TaskRun runs as, "default" unless named.
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: NS } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: NS }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet", apiKeySecret: "k", apiKeySecretKey: "k" } },
      config("plain"),
      config("hooked", { preHooks: [{ pipelineRef: { name: "scan" } }], postHooks: [{ pipelineRef: { name: "publish" } }] }),
      config("scan-fails", { preHooks: [{ pipelineRef: { name: "scan-fail" } }] }),
      config("scan-holds", { preHooks: [{ pipelineRef: { name: "scan-hold" } }] }),
      agentPipeline("agentic", "plain"),
      agentPipeline("agentic-hooked", "hooked"),
      agentPipeline("agentic-scan-fails", "scan-fails"),
      agentPipeline("agentic-scan-holds", "scan-holds"),
      agentPipeline("agentic-task-timeout", "plain", { timeout: "5s" }),
      hookPipeline("scan", ["agent-goal", "agent-hints"]),
      hookPipeline("scan-fail", ["agent-goal"]),
      hookPipeline("scan-hold", ["agent-goal"]),
      hookPipeline("publish", ["result"]),
    ),
  );
  void playKagent();
  const controllerKc = new k8s.KubeConfig();
  controllerKc.loadFromFile(await cp.kubeconfigFor(CONTROLLER_USER, ["system:masters"]));
  published = new PublishedKeys(kubeApiOf(controllerKc), SIGNING, logger, 1000);
  await published.start();
  await until("the gateway to publish its signing keys", async () => (published.notReady() === undefined ? true : (await published.read().catch(() => undefined), undefined)));
  const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
  controller = await startController({
    kubeConfig: controllerKc,
    keyring: published,
    exemptNamespaces: exemptNamespaces("agentgate-system"),
    kagentUrl: kagent.url,
    driver: new A2ADriver(kagent.url, logger),
    provenance: new ProvenanceSigner(keys.privateKey, await embeddedBundles(logger)),
    log: logger,
    leaderElect: false,
    leaseNamespace: "agentgate-system",
    agentReadyTimeoutMs: 8000,
    changeCheckMs: 500,
    capabilitiesIntervalMs: 300,
  });
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

test("a PipelineRun's AgentRun task: Tekton makes the CustomRun, agentgate the AgentRun, and the agent's results reach the next task and the PipelineRun, which ends Succeeded", async () => {
  // alice starts it: what the gateway stamps on Tekton's CustomRun can only be hers if Tekton's own account made it.
  const alice = await cp.kubeconfigFor("alice", ["system:masters"]);
  await cp.kubectl(["--kubeconfig", alice, "create", "-f", "-"], { stdin: yaml(pipelineRun("nightly", "agentic")) });
  const pr = await pipelineRunDone("nightly");
  assert.equal(succeeded(pr)?.status, "True", JSON.stringify(pr.status?.conditions));
  assert.equal(results(pr).answer, RESULT, "the agent's result is the pipeline's");
  assert.match(String(results(pr)["provenance-digest"]), /^sha256:[0-9a-f]{64}$/);

  const cr = await getCustomRun("nightly-agent");
  assert.deepEqual(cr.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid]), [["PipelineRun", "nightly", pr.metadata.uid]], "Tekton made the CustomRun for the PipelineRun");
  assert.equal(cr.metadata.annotations?.[STAMP.createdBy], "alice", "the gateway stamped the PipelineRun's creator on the CustomRun Tekton's account made");
  assert.equal(succeeded(cr)?.reason, "Succeeded");
  assert.equal(results(cr).result, RESULT);

  const run = await getRun("nightly-agent");
  assert.deepEqual(run.metadata?.ownerReferences?.map((o) => [o.kind, o.uid]), [["CustomRun", cr.metadata.uid]]);
  assert.equal(run.spec?.goal, "goal of nightly", "Tekton substituted the pipeline's param into the goal");
  assert.deepEqual(run.spec?.context?.hints, ["repo: payments", "branch: main"], "an array param arrives as hints");
  assert.equal(run.metadata?.annotations?.[STAMP.createdBy], "alice", "the run knows the human who started the pipeline");
  assert.equal(run.status?.phase, "Succeeded");

  const report = await get("taskruns", "nightly-report");
  assert.deepEqual(report.spec.params, [{ name: "answer", value: RESULT }], "the next task was given the agent's result");
  assert.equal(succeeded(report)?.status, "True", "its pod, ended by the kubelet stand-in, finished it");
});

test("deleting the PipelineRun deletes what was made for it, through Tekton's owner references and agentgate's: its CustomRun, the AgentRun and the next task's TaskRun", async () => {
  await cp.kubectl(["delete", "pipelinerun", "nightly", "-n", NS]);
  await until("the garbage collector to delete them", async () => {
    const left = await cp.kubectl(["get", "customrun/nightly-agent", "agentrun/nightly-agent", "taskrun/nightly-report", "-n", NS, "-o", "name", "--ignore-not-found"]);
    return left.stdout.trim() === "" ? true : undefined;
  });
});

test("cancelling the PipelineRun stops the agent: Tekton cancels the CustomRun, agentgate the AgentRun and kagent's task", async () => {
  scripts.set("halt", { llmCalls: 8, stepDelayMs: 1500 });
  await cp.applyYaml(yaml(pipelineRun("halt", "agentic")));
  const acting = await until("halt's agent to act", async () => {
    const r = await getRun("halt-agent").catch(() => undefined);
    return r?.status?.taskId ? r : undefined;
  });
  await cp.kubectl(["patch", "pipelinerun", "halt", "-n", NS, "--type=merge", "-p", '{"spec":{"status":"Cancelled"}}']);
  // Tekton calls the PipelineRun Cancelled once it has asked its CustomRun to cancel, without waiting for it.
  const pr = await pipelineRunDone("halt");
  assert.equal(succeeded(pr)?.reason, "Cancelled", JSON.stringify(pr.status?.conditions));
  const cr = await until("the CustomRun to end", async () => {
    const c = await getCustomRun("halt-agent");
    return succeeded(c)?.status === "False" ? c : undefined;
  });
  assert.equal(cr.spec.status, "RunCancelled", "Tekton cancelled the CustomRun");
  assert.equal(succeeded(cr)?.reason, "CustomRunCancelled", JSON.stringify(cr.status?.conditions));
  const run = await runDone("halt-agent");
  assert.equal(succeeded(run)?.reason, "Cancelled");
  assert.equal(cancels(acting.status?.taskId).length, 1, "kagent was asked to cancel the task");
  assert.equal(kagent.task(acting.status?.taskId ?? "")?.status.state, "canceled");
});

test("the PipelineRun's timeout stops the agent: Tekton times the PipelineRun out and cancels the CustomRun, agentgate the AgentRun and kagent's task", async () => {
  scripts.set("late", { llmCalls: 12, stepDelayMs: 1500 });
  await cp.applyYaml(yaml(pipelineRun("late", "agentic", { timeouts: { pipeline: "8s" } })));
  const acting = await until("late's agent to act", async () => {
    const r = await getRun("late-agent").catch(() => undefined);
    return r?.status?.taskId ? r : undefined;
  });
  const pr = await pipelineRunDone("late");
  assert.equal(succeeded(pr)?.reason, "PipelineRunTimeout", JSON.stringify(pr.status?.conditions));
  const cr = await until("the CustomRun to end", async () => {
    const c = await getCustomRun("late-agent");
    return succeeded(c)?.status === "False" ? c : undefined;
  });
  assert.equal(cr.spec.status, "RunCancelled", "Tekton cancelled the CustomRun when the pipeline timed out");
  assert.match(cr.spec.statusMessage ?? "", /timed out/);
  const run = await runDone("late-agent");
  assert.equal(succeeded(run)?.reason, "Cancelled");
  assert.equal(cancels(acting.status?.taskId).length, 1, "kagent was asked to cancel the task");
  assert.equal(kagent.task(acting.status?.taskId ?? "")?.status.state, "canceled");
});

test("a pipeline task's timeout reaches the CustomRun, which agentgate enforces (Tekton leaves it to the custom task): CustomRunTimedOut, kagent's task cancelled", async () => {
  scripts.set("slow-task", { llmCalls: 12, stepDelayMs: 1500 });
  await cp.applyYaml(yaml(pipelineRun("slow-task", "agentic-task-timeout")));
  const acting = await until("slow-task's agent to act", async () => {
    const r = await getRun("slow-task-agent").catch(() => undefined);
    return r?.status?.taskId ? r : undefined;
  });
  const pr = await pipelineRunDone("slow-task");
  assert.equal(succeeded(pr)?.status, "False", JSON.stringify(pr.status?.conditions));
  const cr = await getCustomRun("slow-task-agent");
  assert.equal(cr.spec.timeout, "5s", "Tekton copied the task's timeout");
  assert.equal(succeeded(cr)?.reason, "CustomRunTimedOut", JSON.stringify(cr.status?.conditions));
  assert.match(succeeded(cr)?.message ?? "", /^CustomRun slow-task-agent timed out after 5s: /);
  const run = await runDone("slow-task-agent");
  assert.equal(succeeded(run)?.reason, "Cancelled");
  assert.equal(run.spec?.timeout, undefined, "the CustomRun's timeout bounds the CustomRun; it is not made a run override the webhook would judge");
  assert.equal(cancels(acting.status?.taskId).length, 1, "kagent was asked to cancel the task");
  assert.equal(kagent.task(acting.status?.taskId ?? "")?.status.state, "canceled");
});

test("an AgentRun of the CustomRun's name that is not its own fails the task instead of lending it that run's results", async () => {
  await cp.applyYaml(yaml({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "taken-agent", namespace: NS }, spec: { configRef: { name: "plain" }, goal: "someone else's" } }));
  await runDone("taken-agent");
  await cp.applyYaml(yaml(pipelineRun("taken", "agentic")));
  const pr = await pipelineRunDone("taken");
  assert.equal(succeeded(pr)?.status, "False", JSON.stringify(pr.status?.conditions));
  assert.equal(results(pr).answer, undefined, "the other run's result is not the pipeline's");
  const cr = await getCustomRun("taken-agent");
  assert.equal(succeeded(cr)?.reason, "AgentRunNameTaken");
  assert.equal(cr.status?.results, undefined);
});

test("the hook PipelineRuns agentgate makes are reconciled by real Tekton: their TaskRuns run as the run's hook account, given the goal before and the result after", async () => {
  await cp.applyYaml(yaml(pipelineRun("hooked", "agentic-hooked")));
  const pr = await pipelineRunDone("hooked");
  assert.equal(succeeded(pr)?.status, "True", JSON.stringify(pr.status?.conditions));
  assert.equal(results(pr).answer, RESULT);
  for (const [hook, params] of [["hooked-agent-pre-0", { "agent-goal": "goal of hooked", "agent-hints": "repo: payments\nbranch: main" }], ["hooked-agent-post-0", { result: RESULT }]] as const) {
    const hookRun = await get("pipelineruns", hook);
    assert.match(succeeded(hookRun)?.message ?? "", /^Tasks Completed: 1 \(Failed: 0/, `${hook}: Tekton finished it: ${JSON.stringify(hookRun.status?.conditions)}`);
    const taskRun = await get("taskruns", `${hook}-hook`);
    assert.equal(taskRun.spec.serviceAccountName, "agentgate-hooks-hooked-agent", `${hook}'s TaskRun runs as the account made for the run's hooks`);
    assert.deepEqual(Object.fromEntries((taskRun.spec.params ?? []).map((p) => [p.name, p.value])), params, `${hook}'s task got agentgate's params`);
    assert.ok(kubelet.ended.includes(`${NS}/${hook}-hook-pod 0`), `${hook}'s pod was ended by the kubelet stand-in: ${kubelet.ended.join(", ")}`);
  }
});

test("a hook whose pod fails: Tekton fails its PipelineRun, the run ends PreHookFailed with Tekton's account, and the pipeline fails", async () => {
  await cp.applyYaml(yaml(pipelineRun("vetoed", "agentic-scan-fails")));
  const pr = await pipelineRunDone("vetoed");
  assert.equal(succeeded(pr)?.status, "False", JSON.stringify(pr.status?.conditions));
  const run = await runDone("vetoed-agent");
  assert.equal(succeeded(run)?.reason, "PreHookFailed");
  assert.match(succeeded(run)?.message ?? "", /pre-hook PipelineRun vetoed-agent-pre-0 \(pipeline "scan-fail"\) failed: Failed: Tasks Completed: 1 \(Failed: 1/);
  assert.equal(run.status?.taskId, undefined);
  assert.equal(goalsSaying("goal of vetoed").length, 0, "no goal was sent");
  assert.equal(succeeded(await getCustomRun("vetoed-agent"))?.reason, "PreHookFailed");
});

test("cancelling the PipelineRun while a hook runs: agentgate cancels the hook's PipelineRun and Tekton cancels its TaskRun", async () => {
  await cp.applyYaml(yaml(pipelineRun("stuck", "agentic-scan-holds")));
  await until("the hook's TaskRun", () => get("taskruns", "stuck-agent-pre-0-hook"));
  await cp.kubectl(["patch", "pipelinerun", "stuck", "-n", NS, "--type=merge", "-p", '{"spec":{"status":"Cancelled"}}']);
  assert.equal(succeeded(await pipelineRunDone("stuck"))?.reason, "Cancelled");
  assert.equal(succeeded(await runDone("stuck-agent"))?.reason, "Cancelled");
  const hook = await pipelineRunDone("stuck-agent-pre-0");
  assert.equal(hook.spec.status, "Cancelled", "agentgate cancelled the hook");
  assert.equal(succeeded(hook)?.reason, "Cancelled", `Tekton finished it as cancelled: ${JSON.stringify(hook.status?.conditions)}`);
  // Tekton marks the hook PipelineRun ended when it asks its TaskRun to cancel; the TaskRun's own reconcile ends it a moment later.
  const taskRun = await until("the hook's TaskRun ended", async () => {
    const t = await get("taskruns", "stuck-agent-pre-0-hook");
    return succeeded(t)?.reason !== "Pending" && succeeded(t)?.status !== "Unknown" ? t : undefined;
  });
  assert.equal(taskRun.spec.status, "TaskRunCancelled", "Tekton cancelled the hook's TaskRun");
  assert.equal(succeeded(taskRun)?.reason, "TaskRunCancelled");
});

// After the tests above, whose Tekton log it reads; before the one below, whose CustomRun agentgate refuses.
test("agentgate's webhooks refused none of Tekton's writes: its labels and status on the hook PipelineRuns, its CustomRuns, TaskRuns and pods", () => {
  const log = readFileSync(tekton.logPath, "utf8");
  const denials = log.split("\n").filter((l) => /admission webhook .* denied the request|forbidden/i.test(l));
  assert.deepEqual(denials, []);
  assert.match(log, /Creating a new CustomRun object/, "the log is Tekton's, and it made CustomRuns");
});

/** Whether agentgate's mutating webhook stamps a PipelineRun now (a server-side dry run, which calls it). */
async function stampsPipelineRuns(): Promise<boolean> {
  const r = await cp.kubectl(["create", "--dry-run=server", "-o", "json", "-f", "-"], { stdin: yaml(pipelineRun("probe", "agentic")) });
  return (JSON.parse(r.stdout) as TektonObject).metadata.annotations?.[STAMP.createdBy] !== undefined;
}

// Last: Tekton's log then names agentgate's refusal.
test("a PipelineRun stored while agentgate's webhooks were removed never runs its agent: Tekton is refused the CustomRun as a bad request, so the PipelineRun fails at once (CreateRunFailed) saying why", async () => {
  const saved = JSON.parse((await cp.kubectl(["get", "validatingwebhookconfiguration,mutatingwebhookconfiguration", "agentgate", "-o", "json"])).stdout) as { items: { apiVersion: string; kind: string; webhooks: unknown[] }[] };
  await cp.kubectl(["delete", "validatingwebhookconfiguration,mutatingwebhookconfiguration", "agentgate"]);
  await until("the webhooks to be gone", async () => !(await stampsPipelineRuns()));
  // Pending, so that Tekton does not start it before the webhooks are back.
  await cp.applyYaml(yaml(pipelineRun("unguarded", "agentic", { status: "PipelineRunPending" })));
  await cp.applyYaml(yaml(...saved.items.map((w) => ({ apiVersion: w.apiVersion, kind: w.kind, metadata: { name: "agentgate" }, webhooks: w.webhooks }))));
  await until("the webhooks to be back", stampsPipelineRuns);
  await cp.kubectl(["patch", "pipelinerun", "unguarded", "-n", NS, "--type=json", "-p", '[{"op":"remove","path":"/spec/status"}]']);
  const event = await until("Tekton's Event naming the refusal", async () => {
    const out = JSON.parse((await cp.kubectl(["get", "events", "-n", NS, "--field-selector", "involvedObject.name=unguarded,reason=RunsCreationFailed", "-o", "json"])).stdout) as { items: { message: string }[] };
    return out.items[0];
  });
  assert.match(event.message, /Failed to create CustomRuns \["unguarded-agent"\]: admission webhook "customruns\.agent\.tekton\.dev" denied the request: \[run-creator\] metadata\.ownerReferences: PipelineRun pipelines\/unguarded carries no agentgate creator stamp .*re-run the pipeline/);
  // Tekton fails a PipelineRun at once only on a 400 or 422 (pipelinerun.go handleRunCreationError); a 403 it retries until the PipelineRun times out (1 h by default).
  const failed = await until("the PipelineRun to fail", async () => {
    const c = succeeded(await get("pipelineruns", "unguarded"));
    return c?.status === "False" ? c : undefined;
  });
  assert.equal(failed.reason, "CreateRunFailed");
  assert.match(failed.message ?? "", /\[run-creator\] metadata\.ownerReferences: PipelineRun pipelines\/unguarded carries no agentgate creator stamp/);
  assert.equal((await cp.kubectl(["get", "customrun", "unguarded-agent", "-n", NS], { allowFail: true })).code, 1, "no CustomRun was made");
  assert.equal((await cp.kubectl(["get", "agentrun", "unguarded-agent", "-n", NS], { allowFail: true })).code, 1, "so no AgentRun either");
  assert.equal(goalsSaying("goal of unguarded").length, 0, "and no goal went to kagent");
});
