// The run state machine (docs/api.md, docs/trust-chain.md) as one pure
// function: what a reconcile pass knows of a run in, the next Step out. It
// reads no clock, sends no request and holds no client, so every transition
// is tested as a table row (run-decide.test.ts); reconcile-run.ts performs
// the Steps. What a pass has not looked at yet is undefined in the view, and
// decide() asks for it with an `observe`/action Step before it judges on it:
// the requests a pass sends stay the ones, and in the order, the state
// machine needs.
import { AGENT_API_VERSION, STAMP, type AgentConfig, type AgentRun, type AgentRunStatus, type Guardrails, type Hook, type RunPhase, type Snapshot } from "../types/agent.ts";
import type { Agent } from "../types/kagent.ts";
import { isTerminal, type RunReason } from "./conditions.ts";
import type { HookRunResult } from "./hooks.ts";
import { agentReady } from "./kagent-agent.ts";
import type { KagentSupport } from "./kagent-version.ts";
import { names } from "./owned.ts";
import { nextDriftCheck } from "./config-drift.ts";
import type { AgentChoice } from "./shared-agent.ts";
import { checkClaimedPhase, deadlineOf, type HookOutcome, type Refused, type Trusted } from "./run-guards.ts";
import { egressNote, type ScopeEnvironment, type ScopeProblem } from "./scope.ts";

/** How often a run waiting on kagent or a hook is looked at again. */
export const POLL_MS = 1000;
export const DEFAULT_AGENT_READY_TIMEOUT_MS = 10 * 60_000;

/** What one pass knows of one run. Optional fields: undefined until the Step that finds them out was performed. */
export interface RunView {
  run: AgentRun;
  /** epoch ms, read by the executor once per decision */
  now: number;
  /** an actor of this process follows the run's agent */
  acting: boolean;
  /** an actor wrote this run's outcome and no pass has yet seen that write come back */
  outcomeUnseen: boolean;
  /** what kagent the cluster runs, as discovery last showed it */
  kagentSupport: KagentSupport | undefined;
  /** how long kagent has to report a new Agent Ready */
  agentReadyTimeoutMs: number;
  /** how often an acting run's ModelConfig and tool servers are compared with its snapshot */
  changeCheckMs: number;
  /** when that comparison last ran for this run (epoch ms) */
  lastChangeCheck: number | undefined;
  /** when this run began waiting for its shared Agent to be Ready (epoch ms; kept by the executor from a `wait` with agentWait) */
  agentWaitStart?: number | undefined;

  /** the signed decision and approval, judged (run-guards.ts) */
  trust?: Trusted | Refused;
  /** whether the run's AgentConfig still exists (deleting it is the kill switch) */
  configExists?: boolean;
  /** each pre-hook's PipelineRun as it stands, read only: for a phase the status claims */
  preHooks?: readonly HookOutcome[];
  /** the run's scope made, or why not */
  scope?: { env: ScopeEnvironment; problem?: ScopeProblem };
  /** the hooks of the current phase, driven one step */
  hooks?: HookRunResult;
  /** the run's kagent Agent before anything was applied */
  agent?: "absent" | "ours" | "foreign";
  /** what changed since admission (one line), or null when nothing did */
  changed?: string | null;
  /** why the run's calls cannot go through the run-time gateway, or null when they do (or need not) */
  route?: ScopeProblem | null;
  /** which Agent the run acts through: its own, or the one shared by its PipelineRun's runs (shared-agent.ts) */
  share?: AgentChoice;
  /** the Agent as kagent has it after apply, or "no-api" when kagent is not installed */
  applied?: Agent | "no-api";
}


export type Step =
  /** the run ended: forget what was kept for it */
  | { kind: "ended" }
  /** nothing to do now; come back after requeueAfterMs, or on the next watch event. agentWait: the run waits for its Agent to be Ready (the executor remembers since when) */
  | { kind: "wait"; requeueAfterMs?: number; agentWait?: true }
  | { kind: "observe"; what: "trust" | "config" | "agent" | "share" }
  | { kind: "observe"; what: "pre-hooks"; hooks: readonly Hook[] }
  /** the actor following the agent stops it and ends the run with this reason */
  | { kind: "stop-actor"; reason: RunReason; message: string }
  /**
   * End the run. releaseTask: cancel a kagent task nobody follows first and
   * say so in the message. Provenance is recorded only with both config and
   * guardrails.
   */
  | { kind: "finish"; reason: RunReason; message: string; releaseTask: boolean; config?: AgentConfig; guardrails?: Guardrails }
  /** the first status: Pending; the pass goes on with the run as written */
  | { kind: "admit" }
  | { kind: "transition"; phase: RunPhase; reason: RunReason; message: string; extra?: Partial<AgentRunStatus> }
  | { kind: "ensure-scope"; guardrails: Guardrails }
  /** compare the ModelConfig and tool servers with the snapshot; record: remember when, for the next check's period */
  | { kind: "check-config"; snapshot: Snapshot; record: boolean }
  | { kind: "ensure-route"; guardrails: Guardrails; trust: Trusted }
  | { kind: "run-hooks"; hooks: "pre" | "post"; config: AgentConfig }
  | { kind: "apply-agent"; config: AgentConfig; guardrails: Guardrails }
  | { kind: "start-actor"; config: AgentConfig; guardrails: Guardrails; deadline: number };

/** The AgentConfig as the run was admitted with it: what it runs, whatever the live one says now. */
export function snapshotConfig(snapshot: Snapshot, namespace: string): AgentConfig {
  return { apiVersion: AGENT_API_VERSION, kind: "AgentConfig", metadata: { name: snapshot.config.name, namespace }, spec: snapshot.config.spec };
}

/**
 * A kagent that no longer runs v1alpha2 Agents (its main branch) would
 * leave the run waiting: it fails KagentUnsupported before anything is made
 * for it. A task already started is followed whatever kagent is now.
 */
export function kagentRefuses(view: Pick<RunView, "run" | "kagentSupport">): string | undefined {
  const support = view.kagentSupport;
  if (support?.state !== "main" || view.run.status?.taskId !== undefined) return undefined;
  return support.message;
}

/** The next Step for the run as the view shows it. Pure. */
export function decide(view: RunView): Step {
  const { run } = view;
  if (isTerminal(run.status)) return { kind: "ended" };
  // The actor requeues the run as it ends; the informer's copy may not yet
  // carry what the actor wrote, and acting on that copy would finish the
  // run a second time (a second Event, provenance re-signed). The watch
  // event for the actor's write comes next.
  if (run.status?.phase === "Acting" && !view.acting && view.outcomeUnseen) return { kind: "wait" };
  const trust = view.trust;
  if (trust === undefined) return { kind: "observe", what: "trust" };
  if (!trust.ok) {
    if (view.acting) return { kind: "stop-actor", reason: trust.reason, message: trust.message };
    return { kind: "finish", reason: trust.reason, message: trust.message, releaseTask: true };
  }
  const ns = run.metadata?.namespace ?? "";
  const { guardrails } = trust;
  const config = snapshotConfig(trust.snapshot, ns);
  // Deleting the AgentConfig stops its runs (a kill switch); editing it
  // changes nothing for runs already admitted, which run their snapshot.
  if (view.configExists === undefined) return { kind: "observe", what: "config" };
  if (!view.configExists) {
    const message = `AgentConfig "${run.spec?.configRef?.name ?? ""}" no longer exists in namespace "${ns}"; recreate it and start a new AgentRun`;
    // The actor cancels the kagent task and ends the run, once.
    if (view.acting) return { kind: "stop-actor", reason: "ConfigNotFound", message };
    return { kind: "finish", reason: "ConfigNotFound", message, releaseTask: true, guardrails };
  }
  const phase = run.status?.phase;
  // A task a previous controller started and nobody follows now: an actor
  // resumes it, and ends it as a cancel or a timeout requires.
  const orphanTask = phase === "Acting" && !view.acting && run.status?.taskId !== undefined;
  if (run.spec?.status === "Cancelled" && !view.acting && !orphanTask) {
    const when = phase === "PostHooks" ? "during the post-hooks" : phase === "Acting" ? "before the goal reached kagent" : "before the agent acted";
    return { kind: "finish", reason: "Cancelled", message: `cancelled by spec.status: Cancelled ${when}`, releaseTask: false, config, guardrails };
  }
  // A phase the controller would not have written (the approval or a
  // pre-hook skipped), or an agentRef in a phase it never writes one in (a
  // claim on a colleague's shared Agent, parked in WaitingForApproval), is
  // refused before anything runs on its word.
  const agentRef = run.status?.agentRef?.name;
  if (!view.acting && (phase === "PreHooks" || phase === "Acting" || phase === "PostHooks" || agentRef !== undefined)) {
    if (view.preHooks === undefined) return { kind: "observe", what: "pre-hooks", hooks: config.spec?.preHooks ?? [] };
    const tampered = checkClaimedPhase(phase, trust, view.preHooks, run.status?.taskId, agentRef);
    if (tampered) return { kind: "finish", reason: tampered.reason, message: tampered.message, releaseTask: true, config, guardrails };
  }
  if (phase === undefined) return { kind: "admit" };
  const deadline = deadlineOf(trust);
  if (deadline !== undefined && view.now > deadline && !view.acting && !orphanTask) {
    return { kind: "finish", reason: "TimedOut", message: `the run did not finish within its timeout of ${guardrails.timeout}`, releaseTask: false, config, guardrails };
  }
  switch (phase) {
    case "Pending":
    case "WaitingForApproval":
      return decidePreparing(view, trust, config);
    case "PreHooks":
      return decideHooks(view, "pre", config, guardrails, () => ({ kind: "transition", phase: "Acting", reason: "Running", message: "pre-hooks succeeded" }));
    case "Acting":
      if (view.acting) return decideWhileActing(view, trust);
      return decideActing(view, trust, config, deadline ?? view.now + trust.timeoutMs);
    case "PostHooks":
      return decideHooks(view, "post", config, guardrails, () => ({ kind: "finish", reason: "Succeeded", message: "the agent reached its goal and the post-hooks succeeded", releaseTask: false, config, guardrails }));
    default:
      return { kind: "wait" };
  }
}

/** Pending and WaitingForApproval: wait for the approval, make the scope, go on to the hooks or the agent. */
export function decidePreparing(view: RunView, trust: Trusted, config: AgentConfig): Step {
  const { run } = view;
  const { guardrails } = trust;
  if (trust.startAt === undefined) {
    // The approval annotation's watch event brings the run back.
    if (run.status?.phase === "WaitingForApproval") return { kind: "wait" };
    return {
      kind: "transition",
      phase: "WaitingForApproval",
      reason: "WaitingForApproval",
      message: `waiting for a member of ${guardrails.approval.approverGroups.join(", ") || "the approver groups"} to approve: kubectl annotate agentrun ${run.metadata?.name ?? ""} -n ${run.metadata?.namespace ?? ""} ${STAMP.approvedBy}=<your user name> (the run's timeout of ${guardrails.timeout} starts once approved)`,
    };
  }
  const unsupported = kagentRefuses(view);
  if (unsupported !== undefined) return { kind: "finish", reason: "KagentUnsupported", message: unsupported, releaseTask: false, config, guardrails };
  if (view.scope === undefined) return { kind: "ensure-scope", guardrails };
  if (view.scope.problem) return { kind: "finish", reason: view.scope.problem.reason, message: view.scope.problem.message, releaseTask: false, config, guardrails };
  const next: RunPhase = (config.spec?.preHooks ?? []).length > 0 ? "PreHooks" : "Acting";
  const note = egressNote(guardrails, view.scope.env);
  // The watch event of this write brings the run to its next phase.
  return {
    kind: "transition",
    phase: next,
    reason: "Running",
    message: `${trust.approvedBy ? `approved by ${trust.approvedBy}; scope ready` : "scope ready"}${note ? `; ${note}` : ""}`,
    extra: { startTime: new Date(trust.startAt).toISOString() },
  };
}

/** PreHooks and PostHooks: drive the phase's hooks; each ends the run when it fails. */
export function decideHooks(view: RunView, hooks: "pre" | "post", config: AgentConfig, guardrails: Guardrails, succeeded: () => Step): Step {
  const done = view.hooks;
  if (done === undefined) return { kind: "run-hooks", hooks, config };
  switch (done.state) {
    case "running":
      return { kind: "wait", requeueAfterMs: POLL_MS };
    case "conflict":
      return { kind: "finish", reason: "ScopeConflict", message: done.message, releaseTask: false, config, guardrails };
    case "failed":
      return { kind: "finish", reason: hooks === "pre" ? "PreHookFailed" : "PostHookFailed", message: done.message, releaseTask: false, config, guardrails };
    case "succeeded":
      return succeeded();
  }
}

/**
 * kagent reads the run's ModelConfig and tool servers by name on every
 * reconcile of its Agent, so an edit while the agent acts (a policy-
 * compliant one, or any while the webhook is off) would change what an
 * approved run runs. The actor is stopped (ConfigChanged) as soon as a
 * digest differs; checked at most every changeCheckMs, and again then.
 */
export function decideWhileActing(view: RunView, trust: Trusted): Step {
  if (view.changed === undefined) {
    const next = nextDriftCheck(view.now, view.lastChangeCheck, view.changeCheckMs);
    // A pass between checks (a progress write, a retried error) asks for the
    // rest of the period, so a check is never left to a timer it replaced.
    if (!next.due) return { kind: "wait", requeueAfterMs: next.waitMs };
    return { kind: "check-config", snapshot: trust.snapshot, record: true };
  }
  if (view.changed !== null) return { kind: "stop-actor", reason: "ConfigChanged", message: view.changed };
  return { kind: "wait", requeueAfterMs: view.changeCheckMs };
}

/** The Agent the run acts through: its own, or its PipelineRun's shared one. */
export function agentName(view: Pick<RunView, "run" | "share">): string {
  return view.share?.kind === "shared" ? view.share.names.agent : names.agent(view.run.metadata?.name ?? "");
}

/** Acting with no actor: give the agent life (once), wait for kagent, then follow it. */
export function decideActing(view: RunView, trust: Trusted, config: AgentConfig, deadline: number): Step {
  const { run } = view;
  const { guardrails } = trust;
  const ns = run.metadata?.namespace ?? "";
  const runName = run.metadata?.name ?? "";
  const finish = (reason: RunReason, message: string): Step => ({ kind: "finish", reason, message, releaseTask: false, config, guardrails });
  if (view.agent === undefined) return { kind: "observe", what: "agent" };
  if (view.agent === "foreign") return finish("ScopeConflict", `kagent Agent "${names.agent(runName)}" already exists in namespace "${ns}" and was not made for this run, so agentgate does not take it over; delete it or create the run under another name`);
  if (view.agent === "absent" && view.applied === undefined) {
    // The first time the agent is given life: its scope is in place (even
    // if a status written by someone else skipped the step that makes it),
    // and what it will run is still what was admitted.
    const unsupported = kagentRefuses(view);
    if (unsupported !== undefined) return finish("KagentUnsupported", unsupported);
    if (view.scope === undefined) return { kind: "ensure-scope", guardrails };
    if (view.scope.problem) return finish(view.scope.problem.reason, view.scope.problem.message);
    if (view.changed === undefined) return { kind: "check-config", snapshot: trust.snapshot, record: false };
    if (view.changed !== null) return finish("ConfigChanged", view.changed);
    if (view.route === undefined) return { kind: "ensure-route", guardrails, trust };
    if (view.route !== null) return finish(view.route.reason, view.route.message);
  }
  // Which Agent (its own, or its PipelineRun's shared one) is chosen once everything the run's own needs is in place.
  if (view.share === undefined) return { kind: "observe", what: "share" };
  // A task the run left on a shared Agent it may no longer use is stopped by the finisher, whatever the run can still prove (run-finish.ts).
  if (view.share.kind === "refused") return finish(view.share.reason ?? "AgentFailed", view.share.message);
  if (view.applied === undefined) return { kind: "apply-agent", config, guardrails };
  if (view.applied === "no-api") return finish("KagentNotInstalled", "kagent is not installed in this cluster (no kagent.dev/v1alpha2 Agent API); install kagent and start a new AgentRun");
  const agent = view.applied;
  const taskId = run.status?.taskId;
  const ready = agentReady(agent);
  // kagent will not run this Agent (Accepted=False): waiting cannot help, say what kagent said.
  if (ready.state === "refused" && taskId === undefined) return finish("AgentRefused", ready.message);
  // A task that already exists is followed (and, if need be, cancelled) whatever the Agent reports now.
  if (!ready.ready && taskId === undefined) {
    // A run's own Agent was made for it, so its age is how long the run has
    // waited. A shared Agent may have served earlier steps for hours: a
    // later step that finds it briefly not Ready waits from when it began to.
    const since = view.share.kind === "shared"
      ? (view.agentWaitStart ?? view.now)
      : Date.parse(agent.metadata?.creationTimestamp ?? run.status?.startTime ?? new Date(view.now).toISOString());
    const limit = view.agentReadyTimeoutMs;
    if (view.now > deadline || view.now - since > limit) {
      return finish("AgentFailed", `kagent did not make Agent ${agentName(view)} Ready within ${String(Math.round(limit / 1000))} s: ${ready.message}`);
    }
    return { kind: "wait", requeueAfterMs: POLL_MS, agentWait: true };
  }
  const sent = run.status?.goal;
  if (sent && taskId === undefined) {
    return finish(
      "AgentFailed",
      `the controller stopped after it began sending the goal (A2A message ${sent.messageId}, ${sent.sentTime}) and before kagent's task id was recorded; the goal is not sent again, since kagent does not deduplicate messages and the agent could act twice. Look in kagent for a task of that message and stop it if it runs; create a new AgentRun to try again`,
    );
  }
  return { kind: "start-actor", config, guardrails, deadline };
}
