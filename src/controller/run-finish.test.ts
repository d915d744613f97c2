// The end of a run, against an API server and a kagent held in memory: a
// run recorded on an Agent shared within its PipelineRun that ends while
// its task may still run has that task cancelled (proven its own by its
// goal message) or, failing that, the shared Agent deleted, before its end
// is written; and only a run's own Agent is deleted with it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { logger } from "../log.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, type AgentRun, type AgentRunStatus } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import type { Gvr } from "../kube/resources.ts";
import type { ObjectRef } from "./kube.ts";
import { A2AError } from "./a2a/client.ts";
import { RpcCode } from "./a2a/types.ts";
import { RunFinisher } from "./run-finish.ts";
import type { RunReconcilerOptions } from "./run-options.ts";
import type { RunProvenance } from "./run-provenance.ts";
import type { RunStatusWriter } from "./run-status.ts";
import { SHARE_LABEL } from "./shared-agent.ts";
import { SharedAgentKeeper, type SharedAgentDeps } from "./shared-agent-keeper.ts";

logger.level = "warn";
const NS = "qe";
const SHARE = "share-0123456789abcdef0123";
const SHARED = `${SHARE}-agent`;

/** What the finisher did, in order: "cancel <agent> <task> <messageId>", "delete <Kind>/<name>", "write <phase>". */
function world(opts: { cancel?: (messageId: string | undefined) => Promise<void>; objects?: KubeObject[]; runs?: AgentRun[]; noGc?: boolean } = {}) {
  const log: string[] = [];
  const objects = new Map<string, KubeObject>((opts.objects ?? []).map((o) => [`${o.kind ?? ""}/${o.metadata?.name ?? ""}`, o]));
  const propagation: string[] = [];
  const kube = {
    get: (gvr: Gvr, _ns: string, name: string) => Promise.resolve(gvr.plural === "agents" ? (objects.get(`Agent/${name}`) ?? null) : null),
    delete: (gvr: Gvr, _ns: string, name: string, policy = "Background") => {
      log.push(`delete Agent/${name}`);
      propagation.push(policy);
      const there = objects.get(`Agent/${name}`);
      // With no garbage collector a foreground deletion never completes: the Agent stays, being deleted.
      if (opts.noGc === true && there) return Promise.resolve(Boolean(objects.set(`Agent/${name}`, { ...there, metadata: { ...there.metadata, deletionTimestamp: "2026-12-07T10:00:00Z", finalizers: ["foregroundDeletion"] } })));
      return Promise.resolve(objects.delete(`Agent/${name}`));
    },
    getObject: (ref: ObjectRef) => Promise.resolve(objects.get(`${ref.kind}/${ref.name}`) ?? null),
    deleteObject: (ref: ObjectRef) => { log.push(`delete ${ref.kind}/${ref.name}`); return Promise.resolve(objects.delete(`${ref.kind}/${ref.name}`)); },
    event: () => Promise.resolve(),
    list: (gvr: Gvr) => Promise.resolve(gvr.plural === "agentruns" ? (opts.runs ?? []) : []),
  };
  const driver = {
    act: () => Promise.reject(new Error("unused")),
    cancel: (agent: { name: string }, taskId: string, messageId?: string) => { log.push(`cancel ${agent.name} ${taskId} ${messageId ?? "-"}`); return opts.cancel ? opts.cancel(messageId) : Promise.resolve(); },
  };
  const written: { run: AgentRun; status: Partial<AgentRunStatus> }[] = [];
  const writer = {
    writeOutcome: (run: AgentRun, status: Partial<AgentRunStatus>) => {
      log.push(`write ${status.phase ?? ""}`);
      written.push({ run, status });
      return Promise.resolve({ ...run, status: { ...run.status, ...status } });
    },
  };
  const keeper = new SharedAgentKeeper({ kube, log: logger } as unknown as SharedAgentDeps, 60_000, 300);
  const finisher = new RunFinisher({ kube, driver, log: logger } as unknown as RunReconcilerOptions, writer as unknown as RunStatusWriter, {} as RunProvenance, keeper);
  return { finisher, log, written, objects, propagation, keeper };
}

const run = (status: AgentRunStatus): AgentRun => ({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "step", namespace: NS, uid: "u1" }, status });
const onShare = (extra: Partial<AgentRunStatus> = {}): AgentRun => run({ phase: "Acting", taskId: "t1", agentRef: { name: SHARED, namespace: NS, contextId: "agentgate-x" }, ...extra });
const prOwned = { labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [SHARE_LABEL]: SHARE }, ownerReferences: [{ apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: "pr", uid: "pr-uid", controller: true }] };
const sharedAgent: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { name: SHARED, namespace: NS, ...prOwned } };
const messageOf = (w: { status: Partial<AgentRunStatus> }[]) => w[0]?.status.conditions?.find((c) => c.type === "Succeeded")?.message ?? "";

test("a run on a shared Agent ending with its task unfollowed (membership lost, config deleted, trust broken): the task, proven the run's by its goal message, is cancelled before the end is written; the Agent stays", async () => {
  const w = world({ objects: [sharedAgent] });
  await w.finisher.finish(onShare(), "AgentFailed", "no longer a step of its PipelineRun");
  assert.deepEqual(w.log, [`cancel ${SHARED} t1 u1-attempt-1`, "write Failed"]);
  assert.match(messageOf(w.written), /kagent task t1 on shared Agent .* cancelled/);
  assert.ok(w.objects.has(`Agent/${SHARED}`));
});

test("a task on a shared Agent that cannot be cancelled (refused, unreachable, not proven the run's): the shared Agent is deleted before the end is written", async () => {
  for (const why of ["kagent refused to cancel task t1", "fetch failed", "kagent task t1 is not this run's"]) {
    const w = world({ objects: [sharedAgent], cancel: () => Promise.reject(new Error(why)) });
    await w.finisher.finish(onShare(), "TimedOut", "the deadline passed", { agent: SHARED });
    assert.deepEqual(w.log, [`cancel ${SHARED} t1 u1-attempt-1`, `delete Agent/${SHARED}`, "write Failed"], why);
    assert.deepEqual(w.propagation, ["Foreground"], "deleted in the foreground: gone only once its pods are");
    assert.match(messageOf(w.written), new RegExp(`could not be cancelled \\(${why}\\), so shared Agent ${SHARED} was deleted`));
  }
});

test("the goal went out to a shared Agent and no task id came back: nothing to cancel, the shared Agent is deleted", async () => {
  const w = world({ objects: [sharedAgent] });
  await w.finisher.finish(onShare({ taskId: undefined, goal: { messageId: "u1-attempt-1", sentTime: "" } }), "AgentFailed", "the controller stopped mid-send", { agent: SHARED });
  assert.deepEqual(w.log, [`delete Agent/${SHARED}`, "write Failed"]);
});

test("nothing is stopped when the task is known ended, no goal went out, or the Agent the status names was not made for a share", async () => {
  const ended = world({ objects: [sharedAgent] });
  await ended.finisher.finish(onShare(), "BudgetExceeded", "over budget; task t1 cancelled", { taskEnded: true });
  assert.deepEqual(ended.log, ["write Failed"]);
  const unsent = world({ objects: [sharedAgent] });
  await unsent.finisher.finish(onShare({ taskId: undefined }), "ConfigNotFound", "config deleted");
  assert.deepEqual(unsent.log, ["write Failed"]);
  const foreign = world({ objects: [{ ...sharedAgent, metadata: { name: SHARED, namespace: NS } }] });
  await foreign.finisher.finish(onShare(), "AgentFailed", "forged status");
  assert.deepEqual(foreign.log, ["write Failed"]);
});

test("cleanUp deletes <run>-agent only when the run made it: not for a run that acted through a shared Agent and never made one", async () => {
  const someones: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { name: "step-agent", namespace: NS } };
  const shared = world({ objects: [sharedAgent, someones] });
  await shared.finisher.finish(onShare(), "Succeeded", "done", { taskEnded: true });
  assert.ok(shared.objects.has("Agent/step-agent"), "an Agent the run did not make is left alone");
  assert.equal(shared.log.some((l) => l.startsWith("delete Agent/")), false);
  const ownAgent: KubeObject = { ...someones, metadata: { name: "step-agent", namespace: NS, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE }, ownerReferences: [{ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", name: "step", uid: "u1", controller: true }] } };
  const own = world({ objects: [ownAgent] });
  await own.finisher.finish(run({ phase: "Acting", taskId: "t1", agentRef: { name: "step-agent", namespace: NS } }), "Succeeded", "done", { taskEnded: true });
  assert.equal(own.objects.has("Agent/step-agent"), false, "its own Agent goes with it");
});

test("a shared Agent is not deleted under another live run acting through it, nor for a task kagent does not have", async () => {
  const other: AgentRun = { ...onShare(), metadata: { name: "colleague", namespace: NS, uid: "u2" } };
  const held = world({ objects: [sharedAgent], runs: [other], cancel: () => Promise.reject(new Error("kagent task t1 is not this run's")) });
  await held.finisher.finish(onShare(), "AgentFailed", "forged status", { agent: SHARED });
  assert.deepEqual(held.log, [`cancel ${SHARED} t1 u1-attempt-1`, "write Failed"]);
  assert.match(messageOf(held.written), /is not deleted: run qe\/colleague acts through it/);
  const missing = world({ objects: [sharedAgent], cancel: () => Promise.reject(new A2AError("no such task", { method: "tasks/get", url: "http://kagent", code: RpcCode.TaskNotFound })) });
  await missing.finisher.finish(onShare(), "AgentFailed", "forged task id");
  assert.deepEqual(missing.log, [`cancel ${SHARED} t1 u1-attempt-1`, "write Failed"]);
});

test("a shared Agent the run's status names but its membership and decision do not (a status forged while the webhooks were off): its task is cancelled only if proven the run's, the Agent is never deleted for it", async () => {
  const w = world({ objects: [sharedAgent], cancel: () => Promise.reject(new Error("kagent task t1 is not this run's")) });
  await w.finisher.finish(onShare(), "AgentFailed", "no longer a step of its PipelineRun");
  assert.deepEqual(w.log, [`cancel ${SHARED} t1 u1-attempt-1`, "write Failed"]);
  assert.ok(w.objects.has(`Agent/${SHARED}`), "a colleague's share is not deleted on a forged agentRef");
  assert.match(messageOf(w.written), /is not deleted: it is not proven to be this run's share/);
  // Proven another share (the run's decision chose another Agent): not this one either.
  const other = world({ objects: [sharedAgent], cancel: () => Promise.reject(new Error("refused")) });
  await other.finisher.finish(onShare(), "AgentFailed", "changed", { agent: "share-ffffffffffffffffffff-agent" });
  assert.equal(other.log.some((l) => l.startsWith("delete")), false);
});

test("the share the run's end deletes goes scope first, through the keeper's claims, and its end waits until the Agent reads 404; with no garbage collector the wait is bounded and the end says so", async () => {
  const scope: KubeObject[] = [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: `agentgate-run-${SHARE}`, namespace: NS, ...prOwned } },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: `${SHARE}-role`, namespace: NS, ...prOwned } },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: `${SHARE}-binding`, namespace: NS, ...prOwned } },
  ];
  const w = world({ objects: [sharedAgent, ...scope], cancel: () => Promise.reject(new Error("refused")) });
  await w.finisher.finish(onShare(), "TimedOut", "the deadline passed", { agent: SHARED });
  assert.deepEqual(w.log, [`cancel ${SHARED} t1 u1-attempt-1`, `delete RoleBinding/${SHARE}-binding`, `delete Role/${SHARE}-role`, `delete ServiceAccount/agentgate-run-${SHARE}`, `delete Agent/${SHARED}`, "write Failed"]);
  // No garbage collector: the Agent stays, being deleted; the end is written after the bounded wait, saying so.
  const stuck = world({ objects: [sharedAgent], noGc: true, cancel: () => Promise.reject(new Error("refused")) });
  const started = Date.now();
  await stuck.finisher.finish(onShare(), "TimedOut", "the deadline passed", { agent: SHARED });
  assert.ok(Date.now() - started >= 300, "waited for the Agent to go");
  assert.deepEqual(stuck.log, [`cancel ${SHARED} t1 u1-attempt-1`, `delete Agent/${SHARED}`, "write Failed"]);
  assert.match(messageOf(stuck.written), /was deleted, and it is not gone yet: .*still there after 0 s \(being deleted since .*finalizers: foregroundDeletion\)/);
  // Another run's claim in the keeper: nothing is deleted.
  const claimed = world({ objects: [sharedAgent], cancel: () => Promise.reject(new Error("refused")) });
  (claimed.keeper as unknown as { claims: Map<string, string> }).claims.set(`${NS}/${SHARED}`, "u-next");
  await claimed.finisher.finish(onShare(), "TimedOut", "the deadline passed", { agent: SHARED });
  assert.deepEqual(claimed.log, [`cancel ${SHARED} t1 u1-attempt-1`, "write Failed"]);
  assert.match(messageOf(claimed.written), /is not deleted: another run of the PipelineRun has claimed it/);
});
