// Fault injection between the controller and kagent's A2A endpoint (issue
// 18, item 2): the endpoint down when a run starts, the event stream cut or
// corrupted mid-run, answers slow or never given, bytes that are not HTTP, a
// 200 that is not an event stream. A fault proxy sits between the real
// controller and the stand-in kagent. Whatever the fault, each run ends in a
// defined phase whose message says what happened, none hangs, and kagent
// receives the goal at most once (kagent does not deduplicate messages: a
// goal sent twice is an agent acting twice).
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
import { startFakeKagent, type AgentScript, type FakeKagent } from "../support/a2a-server.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";
import { captureLogs, playKagentController, type CapturedLogs } from "../support/fault-kit.ts";
import { startFaultProxy, type Fault, type FaultProxy } from "../support/fault-proxy.ts";
import { stampedRun } from "../support/stamps.ts";
import { until } from "../support/until.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NS = "kagent-faults";
/** the controller's bound on one A2A call: short, so a call never answered fails the run within the test */
const A2A_TIMEOUT_MS = 3000;

let cp: ControlPlane;
let custom: k8s.CustomObjectsApi;
let kagent: FakeKagent;
let proxy: FaultProxy;
let controller: RunningController;
let player: { stop(): Promise<void> };
let logs: CapturedLogs;
const key = generateSigningKey();

const config: AgentConfig = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "plain", namespace: NS }, spec: { modelConfigRef: { name: "claude" }, systemPrompt: "You write tests." } };
const guardrails: Guardrails = { tokenBudget: 100_000, timeout: "1d", maxIterations: 20, networkPolicy: "strict", egress: [], rbac: [], approval: { required: false, approverGroups: [] }, tools: [] };

before(async () => {
  logs = captureLogs(logger, "info");
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  custom = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  kagent = await startFakeKagent({ defaultScript: { llmCalls: 3, stepDelayMs: 300, toolCallsPerCall: 0, resultText: "done" } });
  proxy = await startFaultProxy(kagent.url);
  await cp.applyYaml([{ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }, config].map((d) => stringify(d)).join("---\n"));
  player = playKagentController(cp.kubeConfig, NS);
  controller = await startController({
    kubeConfig: cp.kubeConfig,
    keyring: staticKeyring(undefined, [key]),
    exemptNamespaces: new Set(),
    kagentUrl: proxy.url,
    driver: new A2ADriver(proxy.url, logger, { timeoutMs: A2A_TIMEOUT_MS }),
    provenance: new ProvenanceSigner(),
    log: logger,
    leaderElect: false,
    leaseNamespace: NS,
  });
});

after(async () => {
  await controller.stop();
  await player.stop();
  await proxy.close();
  await kagent.close();
  await cp.stop();
  logs.stop();
});

interface Ended {
  run: AgentRun;
  reason: string;
  message: string;
  /** message/send and message/stream calls carrying this run's goal that reached kagent */
  goals: number;
}

/** winston appends a `message` field to the message: "run finished <why>" */
const RUN_FINISHED = /^run finished\b/;

/** Starts a run (stored as the webhook would stamp it) with the agent's script and the proxy's faults; resolves when it ended. */
async function runThrough(name: string, script: AgentScript, rule: (method: string) => Fault): Promise<Ended> {
  kagent.setScript(`${NS}/${name}-agent`, script);
  proxy.rule = rule;
  const run = await stampedRun({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name, namespace: NS }, spec: { configRef: { name: "plain" }, goal: `goal of ${name}` } }, config, guardrails, key);
  await cp.applyYaml(stringify(run));
  // Never hangs: the run reaches a phase of its own accord.
  const done = await until(`${name} to end`, async () => {
    const r = (await custom.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: NS, plural: "agentruns", name })) as AgentRun;
    return r.status?.phase === "Succeeded" || r.status?.phase === "Failed" ? r : undefined;
  });
  const c = done.status?.conditions?.find((x) => x.type === "Succeeded");
  // Ended once: logged just after the outcome is written (which this test may read first), and nothing acts on the run after.
  await until(`the controller to log ${name}'s end`, () => logs.find(RUN_FINISHED, { run: `${NS}/${name}` }).length > 0 && controller.reconciler.running === 0);
  assert.equal(logs.find(RUN_FINISHED, { run: `${NS}/${name}` }).length, 1, `${name} ended more than once`);
  proxy.rule = () => ({ kind: "pass" });
  return { run: done, reason: c?.reason ?? "", message: c?.message ?? "", goals: kagent.sendCount(`${done.metadata?.uid ?? ""}-attempt-1`) };
}

const methodIs = (m: string, fault: Fault) => (method: string): Fault => (method === m ? fault : { kind: "pass" });

test("kagent's endpoint down when the goal is sent: AgentFailed saying the connection was refused, nothing reached kagent; once it is up, the next run succeeds", async () => {
  await proxy.down();
  let down: Ended;
  try {
    down = await runThrough("while-down", {}, () => ({ kind: "pass" }));
  } finally {
    await proxy.up();
  }
  assert.equal(down.reason, "AgentFailed", down.message);
  assert.match(down.message, /^talking to kagent failed: A2A message\/stream http:\/\/127\.0\.0\.1:\d+\/api\/a2a\/kagent-faults\/while-down-agent\/: fetch failed \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)/);
  assert.equal(down.goals, 0);
  const up = await runThrough("after-up", {}, () => ({ kind: "pass" }));
  assert.equal(up.reason, "Succeeded", up.message);
  assert.equal(up.goals, 1);
});

test("the event stream reset after the task was named: the task is followed to its end (tasks/get, tasks/resubscribe), Succeeded with its whole usage, the goal sent once", async () => {
  const out = await runThrough("cut", { llmCalls: 4, stepDelayMs: 300 }, methodIs("message/stream", { kind: "cut-after-events", events: 2 }));
  assert.equal(out.reason, "Succeeded", out.message);
  assert.equal(out.goals, 1);
  assert.equal(out.run.status?.usage?.totalTokens, 4 * 120, "each LLM call counted once");
  assert.ok(proxy.calls.some((c) => c.method === "tasks/get" || c.method === "tasks/resubscribe"), "followed after the cut");
});

test("the event stream reset before the task was named: AgentFailed saying the stream broke, the goal not sent again, the run's Agent deleted", async () => {
  const out = await runThrough("cut-early", { llmCalls: 2, stepDelayMs: 300 }, methodIs("message/stream", { kind: "cut-after-events", events: 0 }));
  assert.equal(out.reason, "AgentFailed", out.message);
  assert.match(out.message, /^talking to kagent failed: A2A message\/stream \S+: fetch failed \(UND_ERR_SOCKET: other side closed\)/);
  assert.equal(out.goals, 1, "kagent took the goal once; it was not sent again");
  await until("the run's Agent to be deleted", async () => ((await cp.kubectl(["get", "agent", "cut-early-agent", "-n", NS], { allowFail: true })).code !== 0 ? true : undefined));
});

test("garbage in the event stream after the task was named: the task is polled to its end, Succeeded, the goal sent once", async () => {
  const out = await runThrough("garbled", { llmCalls: 3, stepDelayMs: 300 }, methodIs("message/stream", { kind: "garbage-event-after", events: 2 }));
  assert.equal(out.reason, "Succeeded", out.message);
  assert.equal(out.goals, 1);
  assert.equal(out.run.status?.usage?.totalTokens, 3 * 120);
});

test("every answer slow, within the client's bound: Succeeded, the goal sent once", async () => {
  const out = await runThrough("slow", { llmCalls: 2, stepDelayMs: 100 }, () => ({ kind: "delay", ms: A2A_TIMEOUT_MS / 3 }));
  assert.equal(out.reason, "Succeeded", out.message);
  assert.equal(out.goals, 1);
});

test("the goal's answer never comes: AgentFailed naming the bound, the goal not sent again, the run's Agent deleted", async () => {
  const out = await runThrough("unanswered", { llmCalls: 2, stepDelayMs: 100 }, methodIs("message/stream", { kind: "hang" }));
  assert.equal(out.reason, "AgentFailed", out.message);
  assert.match(out.message, new RegExp(`no answer within ${String(A2A_TIMEOUT_MS)} ms`));
  assert.equal(out.goals, 1, "kagent took the goal once; it was not sent again");
  await until("the run's Agent to be deleted", async () => ((await cp.kubectl(["get", "agent", "unanswered-agent", "-n", NS], { allowFail: true })).code !== 0 ? true : undefined));
});

test("bytes that are not HTTP instead of the goal's answer: AgentFailed naming the parse error, the goal not sent again", async () => {
  const out = await runThrough("not-http", { llmCalls: 2 }, methodIs("message/stream", { kind: "garbage-bytes" }));
  assert.equal(out.reason, "AgentFailed", out.message);
  assert.match(out.message, /^talking to kagent failed: A2A message\/stream \S+: fetch failed \(Response does not match the HTTP\/1\.1 protocol/);
  assert.equal(out.goals, 1);
});

test("a 200 page that is not an event stream after kagent took the goal: AgentFailed saying what came back, the goal not sent again (no message/send fallback)", async () => {
  const out = await runThrough("html", { llmCalls: 2 }, () => ({ kind: "garbage-http" }));
  assert.equal(out.reason, "AgentFailed", out.message);
  assert.match(out.message, /unexpected content type "text\/html; charset=utf-8"/);
  assert.equal(out.goals, 1, "the goal reached kagent once");
});
