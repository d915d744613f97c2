// The run state machine as tables, one per phase: each row a run as a pass
// sees it (status, what the pass found out so far) and the Step decide()
// must take. A transition that changes breaks a row.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AgentRun, AgentRunStatus, Guardrails, Snapshot } from "../types/agent.ts";
import type { Agent } from "../types/kagent.ts";
import { decide, POLL_MS, snapshotConfig, type RunView, type Step } from "./run-decide.ts";
import type { Trusted } from "./run-guards.ts";

const CREATED = "2026-12-07T10:00:00Z";
const T0 = Date.parse(CREATED);
const MIN = 60_000;
const guardrails: Guardrails = { tokenBudget: 1000, timeout: "10m", maxIterations: 3, networkPolicy: "permissive", egress: [], rbac: [], approval: { required: false, approverGroups: ["leads"] }, tools: [] };
const snapshot: Snapshot = { config: { name: "writer", spec: { systemPrompt: "as approved" } }, modelConfig: null, toolServers: {} };
const withHooks: Snapshot = { ...snapshot, config: { name: "writer", spec: { preHooks: [{ pipelineRef: { name: "scan" } }], postHooks: [{ pipelineRef: { name: "publish" } }] } } };
const trusted = (over: Partial<Trusted> = {}): Trusted => ({ ok: true, guardrails, snapshot, createdBy: "alice", timeoutMs: 10 * MIN, startAt: T0, approvedBy: undefined, ...over });
const needsApproval = (over: Partial<Trusted> = {}): Trusted => trusted({ guardrails: { ...guardrails, approval: { required: true, approverGroups: ["leads"] } }, startAt: undefined, ...over });

function agentRun(status?: AgentRunStatus, spec: Partial<NonNullable<AgentRun["spec"]>> = {}): AgentRun {
  return { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "r1", namespace: "qe", uid: "u1", creationTimestamp: CREATED }, spec: { configRef: { name: "writer" }, goal: "write tests", ...spec }, ...(status ? { status } : {}) };
}

/** A pass that already verified the run, found its config, and (for claimed phases) its pre-hooks done. */
function view(over: Partial<RunView> = {}): RunView {
  return { run: agentRun(), now: T0 + MIN, acting: false, outcomeUnseen: false, kagentSupport: undefined, agentReadyTimeoutMs: 10 * MIN, changeCheckMs: 15_000, lastChangeCheck: undefined, trust: trusted(), configExists: true, preHooks: [], share: { kind: "own" }, ...over };
}

const readyAgent: Agent = { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { name: "r1-agent", namespace: "qe", creationTimestamp: CREATED }, status: { conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "" }] } };
const waitingAgent: Agent = { ...readyAgent, status: { conditions: [] } };
const refusedAgent: Agent = { ...readyAgent, status: { conditions: [{ type: "Accepted", status: "False", reason: "ReconcileFailed", message: "bad model" }] } };

type Expect = Partial<Record<string, unknown>> & { kind: Step["kind"]; message?: RegExp | string };
interface Row {
  name: string;
  view: Partial<RunView>;
  want: Expect;
}

function check(rows: Row[]): void {
  for (const row of rows) {
    test(row.name, () => {
      const step = decide(view(row.view)) as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(row.want)) {
        if (v instanceof RegExp) assert.match(String(step[k]), v, `${k} of ${JSON.stringify(step)}`);
        else assert.deepEqual(step[k], v, `${k} of ${JSON.stringify(step)}`);
      }
    });
  }
}

// ---- before any phase: what every pass judges first

check([
  { name: "a terminal run: forget it", view: { run: agentRun({ phase: "Succeeded" }) }, want: { kind: "ended" } },
  { name: "a failed run: forget it", view: { run: agentRun({ phase: "Failed" }) }, want: { kind: "ended" } },
  { name: "Acting, the actor's outcome not seen yet: wait for its watch event, do not finish twice", view: { run: agentRun({ phase: "Acting" }), outcomeUnseen: true }, want: { kind: "wait", requeueAfterMs: undefined } },
  { name: "not yet verified: verify first", view: { trust: undefined }, want: { kind: "observe", what: "trust" } },
  { name: "refused, no actor: finish with the refusal, releasing an orphan task", view: { trust: { ok: false, reason: "UnverifiedGuardrails", message: "no stamp" } }, want: { kind: "finish", reason: "UnverifiedGuardrails", message: "no stamp", releaseTask: true, config: undefined, guardrails: undefined } },
  { name: "refused while an actor follows: the actor stops the agent", view: { acting: true, trust: { ok: false, reason: "UnverifiedApproval", message: "forged" } }, want: { kind: "stop-actor", reason: "UnverifiedApproval", message: "forged" } },
  { name: "config not looked up yet", view: { configExists: undefined }, want: { kind: "observe", what: "config" } },
  { name: "config deleted (the kill switch): finish ConfigNotFound, no provenance", view: { configExists: false }, want: { kind: "finish", reason: "ConfigNotFound", message: /AgentConfig "writer" no longer exists in namespace "qe"/, releaseTask: true, config: undefined, guardrails } },
  { name: "config deleted while acting: the actor stops the agent", view: { acting: true, run: agentRun({ phase: "Acting" }), configExists: false }, want: { kind: "stop-actor", reason: "ConfigNotFound" } },
  { name: "cancelled before anything ran", view: { run: agentRun(undefined, { status: "Cancelled" }) }, want: { kind: "finish", reason: "Cancelled", message: "cancelled by spec.status: Cancelled before the agent acted", releaseTask: false } },
  { name: "cancelled during the post-hooks", view: { run: agentRun({ phase: "PostHooks", taskId: "t1" }, { status: "Cancelled" }) }, want: { kind: "finish", reason: "Cancelled", message: "cancelled by spec.status: Cancelled during the post-hooks" } },
  { name: "cancelled in Acting before the goal reached kagent", view: { run: agentRun({ phase: "Acting" }, { status: "Cancelled" }) }, want: { kind: "finish", reason: "Cancelled", message: "cancelled by spec.status: Cancelled before the goal reached kagent" } },
  { name: "cancelled with an orphan task: an actor resumes it and cancels it", view: { run: agentRun({ phase: "Acting", taskId: "t1" }, { status: "Cancelled" }), agent: "ours", applied: readyAgent }, want: { kind: "start-actor" } },
  { name: "a new run: admitted (Pending)", view: { run: agentRun() }, want: { kind: "admit" } },
  { name: "past its deadline, not acting: TimedOut", view: { run: agentRun({ phase: "Pending" }), now: T0 + 11 * MIN }, want: { kind: "finish", reason: "TimedOut", message: "the run did not finish within its timeout of 10m" } },
  { name: "past its deadline with an orphan task: the actor ends it", view: { run: agentRun({ phase: "Acting", taskId: "t1" }), now: T0 + 11 * MIN, agent: "ours", applied: readyAgent }, want: { kind: "start-actor", deadline: T0 + 10 * MIN } },
]);

// ---- a phase the controller did not write

check([
  { name: "claimed PreHooks: its pre-hooks are read first", view: { run: agentRun({ phase: "PreHooks" }), trust: trusted({ snapshot: withHooks }), preHooks: undefined }, want: { kind: "observe", what: "pre-hooks", hooks: [{ pipelineRef: { name: "scan" } }] } },
  { name: "claimed Acting with a pre-hook never run: StatusTampered", view: { run: agentRun({ phase: "Acting" }), trust: trusted({ snapshot: withHooks }), preHooks: ["absent"] }, want: { kind: "finish", reason: "StatusTampered", message: /pre-hook 0 has not run/, releaseTask: true } },
  { name: "claimed PostHooks without a task: StatusTampered", view: { run: agentRun({ phase: "PostHooks" }) }, want: { kind: "finish", reason: "StatusTampered", message: /the agent never ran/ } },
  { name: "claimed Acting, never approved: StatusTampered", view: { run: agentRun({ phase: "Acting" }), trust: needsApproval() }, want: { kind: "finish", reason: "StatusTampered", message: /never approved/ } },
  // The controller writes agentRef only once Acting: one in WaitingForApproval is a forged claim on a (colleague's) shared Agent, not parked forever.
  { name: "WaitingForApproval with an agentRef: StatusTampered, not parked", view: { run: agentRun({ phase: "WaitingForApproval", agentRef: { name: "share-0123-agent", namespace: "qe" } }), trust: needsApproval() }, want: { kind: "finish", reason: "StatusTampered", message: /agentRef names Agent share-0123-agent/, releaseTask: true } },
  { name: "WaitingForApproval with an agentRef: its pre-hooks are read first", view: { run: agentRun({ phase: "WaitingForApproval", agentRef: { name: "share-0123-agent", namespace: "qe" } }), trust: needsApproval(), preHooks: undefined }, want: { kind: "observe", what: "pre-hooks" } },
  { name: "an actor's own phase is not second-guessed", view: { acting: true, run: agentRun({ phase: "Acting" }), preHooks: undefined, trust: trusted({ snapshot: withHooks }) }, want: { kind: "check-config", record: true } },
]);

// ---- Pending and WaitingForApproval

const scopeReady = { env: {} };
check([
  { name: "Pending, approval needed: WaitingForApproval, naming the approvers", view: { run: agentRun({ phase: "Pending" }), trust: needsApproval() }, want: { kind: "transition", phase: "WaitingForApproval", reason: "WaitingForApproval", message: /waiting for a member of leads to approve: kubectl annotate agentrun r1 -n qe agent\.tekton\.dev\/approved-by=/ } },
  { name: "WaitingForApproval, still not approved: wait for the annotation's event", view: { run: agentRun({ phase: "WaitingForApproval" }), trust: needsApproval() }, want: { kind: "wait", requeueAfterMs: undefined } },
  { name: "kagent's main branch: KagentUnsupported before anything is made", view: { run: agentRun({ phase: "Pending" }), kagentSupport: { state: "main", versions: ["v1alpha3"], message: "kagent main" } }, want: { kind: "finish", reason: "KagentUnsupported", message: "kagent main" } },
  { name: "Pending, may start: make the scope", view: { run: agentRun({ phase: "Pending" }) }, want: { kind: "ensure-scope", guardrails } },
  { name: "scope conflict: ScopeConflict", view: { run: agentRun({ phase: "Pending" }), scope: { env: {}, problem: { reason: "ScopeConflict", message: "Role taken" } } }, want: { kind: "finish", reason: "ScopeConflict", message: "Role taken" } },
  { name: "scope refused: ScopeRefused", view: { run: agentRun({ phase: "Pending" }), scope: { env: {}, problem: { reason: "ScopeRefused", message: "over the ceiling" } } }, want: { kind: "finish", reason: "ScopeRefused", message: "over the ceiling" } },
  { name: "scope ready, no pre-hooks: Acting, the clock from the start", view: { run: agentRun({ phase: "Pending" }), scope: scopeReady }, want: { kind: "transition", phase: "Acting", reason: "Running", message: /^scope ready; networkPolicy: permissive/, extra: { startTime: new Date(T0).toISOString() } } },
  { name: "scope ready, pre-hooks: PreHooks", view: { run: agentRun({ phase: "Pending" }), scope: scopeReady, trust: trusted({ snapshot: withHooks }) }, want: { kind: "transition", phase: "PreHooks" } },
  { name: "approved: the message names the approver", view: { run: agentRun({ phase: "WaitingForApproval" }), scope: scopeReady, trust: needsApproval({ startAt: T0, approvedBy: "bob" }) }, want: { kind: "transition", phase: "Acting", message: /^approved by bob; scope ready/ } },
]);

// ---- PreHooks and PostHooks

const preHooks = { run: agentRun({ phase: "PreHooks" }), trust: trusted({ snapshot: withHooks }) };
const postHooks = { run: agentRun({ phase: "PostHooks", taskId: "t1", results: [{ name: "summary", value: "ok" }] }), trust: trusted({ snapshot: withHooks }), preHooks: ["succeeded" as const] };
check([
  { name: "PreHooks: drive them", view: preHooks, want: { kind: "run-hooks", hooks: "pre" } },
  { name: "PreHooks running: poll", view: { ...preHooks, hooks: { state: "running" } }, want: { kind: "wait", requeueAfterMs: POLL_MS } },
  { name: "PreHooks failed: PreHookFailed", view: { ...preHooks, hooks: { state: "failed", message: "lint failed" } }, want: { kind: "finish", reason: "PreHookFailed", message: "lint failed" } },
  { name: "PreHooks conflict: ScopeConflict", view: { ...preHooks, hooks: { state: "conflict", message: "PipelineRun taken" } }, want: { kind: "finish", reason: "ScopeConflict", message: "PipelineRun taken" } },
  { name: "PreHooks succeeded: Acting", view: { ...preHooks, hooks: { state: "succeeded" } }, want: { kind: "transition", phase: "Acting", reason: "Running", message: "pre-hooks succeeded" } },
  { name: "PostHooks: drive them", view: postHooks, want: { kind: "run-hooks", hooks: "post" } },
  { name: "PostHooks running: poll", view: { ...postHooks, hooks: { state: "running" } }, want: { kind: "wait", requeueAfterMs: POLL_MS } },
  { name: "PostHooks failed: PostHookFailed", view: { ...postHooks, hooks: { state: "failed", message: "publish failed" } }, want: { kind: "finish", reason: "PostHookFailed", message: "publish failed" } },
  { name: "PostHooks succeeded: Succeeded, with provenance", view: { ...postHooks, hooks: { state: "succeeded" } }, want: { kind: "finish", reason: "Succeeded", message: "the agent reached its goal and the post-hooks succeeded", guardrails } },
]);

// ---- Acting, no actor: give the agent life, wait for kagent, follow it

const acting = { run: agentRun({ phase: "Acting" }) };
const shared = { kind: "shared" as const, names: { share: "share-abc", agent: "share-abc-agent", contextId: "agentgate-abc" }, pipelineRun: { name: "pr", uid: "pr-uid" }, key: "abc" };
const fresh = { ...acting, agent: "absent" as const, scope: scopeReady, changed: null, route: null };
check([
  { name: "Acting: look for the run's Agent", view: acting, want: { kind: "observe", what: "agent" } },
  { name: "an Agent of that name not the run's: ScopeConflict", view: { ...acting, agent: "foreign" }, want: { kind: "finish", reason: "ScopeConflict", message: /kagent Agent "r1-agent" already exists in namespace "qe"/ } },
  { name: "no Agent yet, kagent main: KagentUnsupported", view: { ...acting, agent: "absent", kagentSupport: { state: "main", versions: [], message: "main" } }, want: { kind: "finish", reason: "KagentUnsupported" } },
  { name: "no Agent yet: its scope first", view: { ...acting, agent: "absent" }, want: { kind: "ensure-scope" } },
  { name: "no Agent yet, scope refused", view: { ...acting, agent: "absent", scope: { env: {}, problem: { reason: "ScopeRefused", message: "no" } } }, want: { kind: "finish", reason: "ScopeRefused" } },
  { name: "no Agent yet: what runs is compared with the snapshot", view: { ...acting, agent: "absent", scope: scopeReady }, want: { kind: "check-config", record: false, snapshot } },
  { name: "no Agent yet, the ModelConfig changed: ConfigChanged", view: { ...acting, agent: "absent", scope: scopeReady, changed: "ModelConfig changed" }, want: { kind: "finish", reason: "ConfigChanged", message: "ModelConfig changed" } },
  { name: "no Agent yet: the route through the gateway", view: { ...acting, agent: "absent", scope: scopeReady, changed: null }, want: { kind: "ensure-route" } },
  { name: "no route: its reason", view: { ...acting, agent: "absent", scope: scopeReady, changed: null, route: { reason: "ScopeConflict", message: "ModelConfig taken" } }, want: { kind: "finish", reason: "ScopeConflict", message: "ModelConfig taken" } },
  { name: "prepared: which Agent, its own or its PipelineRun's", view: { ...fresh, share: undefined }, want: { kind: "observe", what: "share" } },
  { name: "recorded on a shared Agent it may no longer use: AgentFailed", view: { ...fresh, share: { kind: "refused", message: "no longer a step" } }, want: { kind: "finish", reason: "AgentFailed", message: "no longer a step" } },
  { name: "an object of the shared Agent's names is someone else's: ScopeConflict", view: { ...fresh, share: { kind: "refused", reason: "ScopeConflict", message: "Role taken" } }, want: { kind: "finish", reason: "ScopeConflict", message: "Role taken" } },
  { name: "prepared: apply the Agent", view: fresh, want: { kind: "apply-agent" } },
  { name: "prepared, shared: apply the Agent", view: { ...fresh, share: shared }, want: { kind: "apply-agent" } },
  { name: "a shared Agent not Ready in time (counted from when this run began to wait): AgentFailed, naming it", view: { ...fresh, share: shared, applied: waitingAgent, now: T0 + 9 * MIN, agentReadyTimeoutMs: 5 * MIN, agentWaitStart: T0 + 3 * MIN }, want: { kind: "finish", reason: "AgentFailed", message: /did not make Agent share-abc-agent Ready/ } },
  { name: "a shared Agent made long before this run, not Ready as it comes: it waits, and the executor notes since when", view: { ...fresh, share: shared, applied: waitingAgent, now: T0 + 9 * MIN, agentReadyTimeoutMs: 5 * MIN }, want: { kind: "wait", requeueAfterMs: POLL_MS, agentWait: true } },
  { name: "a shared Agent not Ready for less than the timeout since this run began to wait: it waits", view: { ...fresh, share: shared, applied: waitingAgent, now: T0 + 9 * MIN, agentReadyTimeoutMs: 5 * MIN, agentWaitStart: T0 + 5 * MIN }, want: { kind: "wait", agentWait: true } },
  { name: "the run's Agent exists: apply it without preparing again", view: { ...acting, agent: "ours" }, want: { kind: "apply-agent" } },
  { name: "no Agent API: KagentNotInstalled", view: { ...fresh, applied: "no-api" }, want: { kind: "finish", reason: "KagentNotInstalled" } },
  { name: "kagent refused the Agent: AgentRefused", view: { ...fresh, applied: refusedAgent }, want: { kind: "finish", reason: "AgentRefused", message: /kagent did not accept the Agent \(ReconcileFailed\): bad model/ } },
  { name: "Agent not Ready yet: poll", view: { ...fresh, applied: waitingAgent }, want: { kind: "wait", requeueAfterMs: POLL_MS } },
  { name: "Agent not Ready in time: AgentFailed", view: { ...fresh, applied: waitingAgent, now: T0 + 9 * MIN, agentReadyTimeoutMs: 5 * MIN }, want: { kind: "finish", reason: "AgentFailed", message: /did not make Agent r1-agent Ready within 300 s/ } },
  { name: "the goal began to be sent and no task id was written: AgentFailed, never sent twice", view: { ...fresh, run: agentRun({ phase: "Acting", goal: { messageId: "u1-attempt-1", sentTime: CREATED } }), applied: readyAgent }, want: { kind: "finish", reason: "AgentFailed", message: /A2A message u1-attempt-1/ } },
  { name: "Ready: follow the agent until its deadline", view: { ...fresh, applied: readyAgent }, want: { kind: "start-actor", deadline: T0 + 10 * MIN } },
  { name: "a task already exists: followed whatever the Agent reports", view: { ...fresh, run: agentRun({ phase: "Acting", taskId: "t1" }), applied: refusedAgent }, want: { kind: "start-actor" } },
]);

// ---- Acting with an actor: compare what runs with the snapshot, on a period

const following = { acting: true, run: agentRun({ phase: "Acting", taskId: "t1" }) };
check([
  { name: "never compared: compare now, remembering when", view: following, want: { kind: "check-config", record: true } },
  { name: "compared 5 s ago: wait the rest of the period", view: { ...following, lastChangeCheck: T0 + MIN - 5000 }, want: { kind: "wait", requeueAfterMs: 10_000 } },
  { name: "changed: the actor stops the agent (ConfigChanged)", view: { ...following, changed: "tool server gone" }, want: { kind: "stop-actor", reason: "ConfigChanged", message: "tool server gone" } },
  { name: "unchanged: look again in a period", view: { ...following, changed: null }, want: { kind: "wait", requeueAfterMs: 15_000 } },
  { name: "cancelled while followed: left to the actor", view: { ...following, run: agentRun({ phase: "Acting", taskId: "t1" }, { status: "Cancelled" }), changed: null }, want: { kind: "wait", requeueAfterMs: 15_000 } },
  { name: "past the deadline while followed: left to the actor", view: { ...following, now: T0 + 11 * MIN, changed: null }, want: { kind: "wait" } },
]);

test("snapshotConfig: the run executes the AgentConfig as it was admitted, in the run's namespace", () => {
  const config = snapshotConfig({ config: { name: "writer", spec: { systemPrompt: "as approved", preHooks: [{ pipelineRef: { name: "scan" } }] } }, modelConfig: null, toolServers: {} }, "qe");
  assert.deepEqual(config, { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "writer", namespace: "qe" }, spec: { systemPrompt: "as approved", preHooks: [{ pipelineRef: { name: "scan" } }] } });
});
