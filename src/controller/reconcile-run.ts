// The run reconciler: carries out, one Step at a time, what the run state
// machine (run-decide.ts, pure) decides for a run, and keeps what outlives a
// pass: the actors following agents, when each run's config was last
// compared, the Agents the runs of one PipelineRun share (shared-agent-
// keeper.ts). No policy here: the guardrails come from the stamp the webhook
// wrote; this carries them out and records what happened.
import type { AgentConfig, AgentRun, Guardrails } from "../types/agent.ts";
import { verifyApproval } from "../guardrails/approval-stamp.ts";
import { verifyDecision } from "../guardrails/decision.ts";
import type { LedgerState } from "../calls/ledger.ts";
import type { KubeObject } from "../types/kube.ts";
import type { Agent } from "../types/kagent.ts";
import { CancelRefusedError } from "./a2a-driver.ts";
import { changedSinceAdmission } from "./config-drift.ts";
import { hookOutcomes, runHooks } from "./hook-runs.ts";
import { preHookParams } from "./hooks.ts";
import { kagentAgent } from "./kagent-agent.ts";
import { describeError, GVR, statusCode, type Kube } from "./kube.ts";
import { names, ownedByRun } from "./owned.ts";
import { Actor, type ActTarget } from "./run-actor.ts";
import { agentRoute } from "./calls-route.ts";
import { CallAnnouncer } from "./run-call-events.ts";
import { agentName, decide, DEFAULT_AGENT_READY_TIMEOUT_MS, type RunView, type Step } from "./run-decide.ts";
import { RunFinisher } from "./run-finish.ts";
import { trustRun } from "./run-guards.ts";
import { budgetSpent } from "./run-ledger.ts";
import type { RunReconcilerOptions } from "./run-options.ts";
import { RunProvenance } from "./run-provenance.ts";
import { ensureRoute, ensureScope } from "./run-scope-apply.ts";
import { runKey, RunStatusWriter, ZERO_USAGE } from "./run-status.ts";
import { AgentgateError } from "../errors.ts";
import { SharedAgentKeeper } from "./shared-agent-keeper.ts";
import { isSharedAgent } from "./shared-agent.ts";

export type { RunCalls, RunReconcilerOptions } from "./run-options.ts";

/** How often a running agent's ModelConfig and tool servers are compared with its snapshot. */
const CHANGE_CHECK_MS = 15_000;
const ACTED_MEMORY_MS = 10 * 60_000;
/**
 * A pass takes a handful of Steps (observe, make, write); more means decide()
 * asks again for what a Step already found, and looping on it would hang
 * the work queue.
 */
const MAX_STEPS_PER_PASS = 32;

/** decide() did not settle within a pass: a bug in the state machine, not in the run. */
export class RunDecisionLoopError extends AgentgateError {
  override name = "RunDecisionLoopError";
  readonly run: string;
  readonly lastStep: Step["kind"];

  constructor(run: string, lastStep: Step["kind"]) {
    super("internal", `the run state machine took ${String(MAX_STEPS_PER_PASS)} steps for run ${run} without settling (last: ${lastStep})`);
    this.run = run;
    this.lastStep = lastStep;
  }
}

type PassResult = { requeueAfterMs?: number };

export class RunReconciler {
  private readonly actors = new Map<string, Actor>();
  /** run uid → when its snapshot was last compared while it acted */
  private readonly changeChecked = new Map<string, number>();
  /** run uid → when it began waiting for its shared Agent to be Ready (run-decide.ts counts the Agent-readiness timeout from it) */
  private readonly agentWaits = new Map<string, number>();
  /** uid → when: runs whose actor wrote its outcome (terminal or PostHooks), until a reconcile sees that write */
  private readonly acted = new Map<string, number>();
  private readonly opts: RunReconcilerOptions;
  private readonly writer: RunStatusWriter;
  private readonly finisher: RunFinisher;
  private readonly announcer: CallAnnouncer;
  /** Agents shared by the runs of one PipelineRun: the choice, the claim, their end with the PipelineRun */
  private readonly shared: SharedAgentKeeper;
  private stopping = false;

  constructor(opts: RunReconcilerOptions) {
    this.opts = opts;
    this.writer = new RunStatusWriter(opts.kube, opts.log);
    this.shared = new SharedAgentKeeper(opts, opts.shareSweepMs);
    this.finisher = new RunFinisher(opts, this.writer, new RunProvenance(opts.kube, opts.provenance, opts.log), this.shared);
    this.announcer = new CallAnnouncer(opts.kube, opts.log);
  }

  get kube(): Kube {
    return this.opts.kube;
  }

  /** The controller leads: every share in the cluster is watched from now on (once), runs or not (shared-agent-keeper.ts resume). */
  resumeShares(): Promise<void> {
    return this.stopping ? Promise.resolve() : this.shared.resume();
  }

  async reconcile(run: AgentRun): Promise<PassResult> {
    if (this.stopping) return {};
    // Reconciling means leading: the shares in the cluster are watched from now on (once).
    void this.shared.resume();
    const uid = run.metadata?.uid ?? "";
    const actor = this.actors.get(runKey(run));
    const view: RunView = {
      run,
      now: Date.now(),
      acting: actor !== undefined,
      outcomeUnseen: this.acted.has(uid),
      kagentSupport: undefined,
      agentReadyTimeoutMs: this.opts.agentReadyTimeoutMs ?? DEFAULT_AGENT_READY_TIMEOUT_MS,
      changeCheckMs: this.opts.changeCheckMs ?? CHANGE_CHECK_MS,
      lastChangeCheck: undefined,
    };
    let last: Step["kind"] = "wait";
    for (let i = 0; i < MAX_STEPS_PER_PASS; i++) {
      // What decide() reads of the clock and of this process is read fresh for each Step, as a pass always did.
      view.now = Date.now();
      view.kagentSupport = this.opts.kagentSupport?.();
      view.lastChangeCheck = this.changeChecked.get(uid);
      view.agentWaitStart = this.agentWaits.get(uid);
      const step = decide(view);
      last = step.kind;
      const result = await this.perform(step, view, actor);
      if (result) return result;
    }
    throw new RunDecisionLoopError(runKey(run), last);
  }

  /** Carries out one Step: a result ends the pass; undefined means the view learnt something and decide() goes on. */
  private async perform(step: Step, view: RunView, actor: Actor | undefined): Promise<PassResult | undefined> {
    const run = view.run;
    const ns = run.metadata?.namespace ?? "";
    const uid = run.metadata?.uid ?? "";
    switch (step.kind) {
      case "ended":
        this.shared.ended(run);
        this.changeChecked.delete(uid);
        this.agentWaits.delete(uid);
        if (!actor) this.acted.delete(uid);
        return {};
      case "wait":
        if (step.agentWait === true && !this.agentWaits.has(uid)) this.agentWaits.set(uid, view.now);
        return step.requeueAfterMs !== undefined ? { requeueAfterMs: step.requeueAfterMs } : {};
      case "observe":
        await this.observeFor(step, view, actor);
        return undefined;
      case "stop-actor":
        actor?.requestStop({ reason: step.reason, message: step.message });
        return {};
      case "finish": {
        const agent = await this.provenAgent(view);
        const note = step.releaseTask ? await this.releaseTask(run) : "";
        await this.finisher.finish(run, step.reason, `${step.message}${note}`, { ...(step.config ? { config: step.config } : {}), ...(step.guardrails ? { guardrails: step.guardrails } : {}), ...(agent !== undefined ? { agent } : {}) });
        return {};
      }
      case "admit":
        view.run = await this.writer.transition(run, "Pending", "Pending", "admitted; preparing the run", { usage: ZERO_USAGE, iterations: 0 });
        return undefined;
      case "transition":
        await this.writer.transition(run, step.phase, step.reason, step.message, step.extra);
        return {};
      case "ensure-scope":
        view.scope = await ensureScope(this.opts, run, step.guardrails);
        return undefined;
      case "check-config":
        if (step.record) this.changeChecked.set(uid, Date.now());
        view.changed = (await changedSinceAdmission(this.kube, ns, step.snapshot)) ?? null;
        return undefined;
      case "ensure-route":
        view.route = (await ensureRoute(this.opts, run, step.guardrails, step.trust)) ?? null;
        return undefined;
      case "run-hooks":
        view.hooks = step.hooks === "pre"
          ? await runHooks(this.kube, run, step.config.spec?.preHooks ?? [], "pre", preHookParams(run, step.config))
          : await runHooks(this.kube, run, step.config.spec?.postHooks ?? [], "post", run.status?.results ?? []);
        return undefined;
      case "apply-agent":
        await this.applyAgent(view, step.config, step.guardrails);
        return undefined;
      case "start-actor":
        this.agentWaits.delete(uid);
        this.startActor(run, step.config, step.guardrails, step.deadline, { agent: { namespace: ns, name: agentName(view) }, ...(view.share?.kind === "shared" ? { contextId: view.share.names.contextId } : {}) });
        return {};
    }
  }

  private async observeFor(step: Extract<Step, { kind: "observe" }>, view: RunView, actor: Actor | undefined): Promise<void> {
    const run = view.run;
    const ns = run.metadata?.namespace ?? "";
    switch (step.what) {
      case "trust": {
        // Past the guard on an actor's unseen write: that write was seen, or there was none.
        if (!actor) this.acted.delete(run.metadata?.uid ?? "");
        // Nothing is read from the run that agentgate did not sign: the
        // guardrails and what to run come from the verified decision, the clock
        // from the run's creation or its signed approval.
        const [decision, approval] = await Promise.all([verifyDecision(run, this.opts.keyring.resolve), verifyApproval(run, this.opts.keyring.resolve)]);
        view.trust = trustRun({ run, exempt: this.opts.exemptNamespaces.has(ns), decision, approval, now: Date.now() });
        return;
      }
      case "config":
        view.configExists = Boolean(await this.kube.get(GVR.agentConfigs, ns, run.spec?.configRef?.name ?? ""));
        return;
      case "pre-hooks":
        view.preHooks = await hookOutcomes(this.kube, run, step.hooks, "pre");
        return;
      case "share":
        // decide() asks only once the run is trusted
        view.share = view.trust?.ok === true ? await this.shared.choose(run, view.trust) : { kind: "own" };
        return;
      case "agent": {
        // The Agent the run acts through: its own, or the shared one its status records (proven again when it is chosen).
        const own = names.agent(run.metadata?.name ?? "");
        const recorded = run.status?.agentRef?.name ?? own;
        let existing: KubeObject | null;
        try {
          existing = await this.kube.get(GVR.agents, ns, recorded);
        } catch (err) {
          if (statusCode(err) !== 404) throw err;
          existing = null;
        }
        if (recorded !== own) view.agent = existing && isSharedAgent(existing.metadata, recorded) ? "ours" : "absent";
        else view.agent = !existing ? "absent" : ownedByRun(existing.metadata, run) ? "ours" : "foreign";
        return;
      }
    }
  }

  /**
   * Applies the run's kagent Agent and records it in the run's status the
   * first time. A shared Agent is recorded first: the record is the claim
   * other runs of the PipelineRun see (shared-agent-keeper.ts).
   */
  private async applyAgent(view: RunView, config: AgentConfig, guardrails: Guardrails): Promise<void> {
    const run = view.run;
    const ns = run.metadata?.namespace ?? "";
    const runName = run.metadata?.name ?? "";
    const share = view.share ?? { kind: "own" };
    if (share.kind === "shared") {
      if (!run.status?.agentRef) {
        const { names: n, pipelineRun: pr } = share;
        view.run = await this.writer.set(run, { agentRef: { name: n.agent, namespace: ns, contextId: n.contextId } });
        await this.kube.event(view.run, "Normal", "AgentShared", `acts through kagent Agent ${n.agent}, shared by the AgentRuns of PipelineRun ${pr.name} (uid ${pr.uid}) with the same AgentConfig and decision, in A2A context ${n.contextId}`);
      }
      const applied = await this.shared.apply(view.run, share, config, guardrails);
      if ("conflict" in applied) view.share = { kind: "refused", reason: "ScopeConflict", message: applied.conflict };
      // Its Agent being deleted did not go in time: the step fails rather than send its goal where a task may still run.
      else if ("failed" in applied) view.share = { kind: "refused", reason: "AgentFailed", message: applied.failed };
      else view.applied = applied.agent;
      return;
    }
    if (share.kind === "own" && share.why !== undefined && !run.status?.agentRef) await this.kube.event(run, "Normal", "AgentNotShared", share.why);
    const desired = kagentAgent(run, config, guardrails, {
      serviceAccountName: names.serviceAccount(runName),
      ...(this.opts.kagentRuntime ? { runtime: this.opts.kagentRuntime } : {}),
      ...(this.opts.calls ? { route: agentRoute(run, guardrails) } : {}),
    });
    try {
      view.applied = (await this.kube.apply(desired)) as Agent;
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      view.applied = "no-api";
      return;
    }
    if (!run.status?.agentRef) view.run = await this.writer.set(run, { agentRef: { name: names.agent(runName), namespace: ns } });
  }

  /**
   * The Agent the run acts through: its own, or the shared one its status
   * names once proven to be its PipelineRun's share (a status written while
   * the webhooks were off must not point the run's cancel or provenance at
   * another PipelineRun's Agent). Undefined when it cannot be proven.
   */
  private async provenAgent(view: RunView): Promise<string | undefined> {
    const run = view.run;
    const own = names.agent(run.metadata?.name ?? "");
    const recorded = run.status?.agentRef?.name ?? own;
    if (recorded === own) return own;
    if (view.share?.kind === "shared") return view.share.names.agent === recorded ? recorded : undefined;
    const choice = view.trust?.ok === true ? await this.shared.choose(run, view.trust) : undefined;
    return choice?.kind === "shared" && choice.names.agent === recorded ? recorded : undefined;
  }

  /**
   * A run that ends while its kagent task may be running on its own Agent
   * and nobody follows it (a restart in between): cancel the task. Returns a
   * note for the run's message. A task on a shared Agent is the finisher's,
   * whatever the run can still prove (run-finish.ts stopSharedTask): it is
   * cancelled there once proven the run's by its goal message, or the shared
   * Agent is deleted.
   */
  private async releaseTask(run: AgentRun): Promise<string> {
    const taskId = run.status?.taskId;
    const own = names.agent(run.metadata?.name ?? "");
    if (run.status?.phase !== "Acting" || taskId === undefined || (run.status.agentRef !== undefined && run.status.agentRef.name !== own)) return "";
    const agent = { namespace: run.metadata?.namespace ?? "", name: own };
    try {
      await this.opts.driver.cancel(agent, taskId);
      return `; kagent task ${taskId} cancelled`;
    } catch (err) {
      // kagent's Python runtime refuses every cancel: the agent stops when
      // its Agent goes, which finishing the run does next.
      if (err instanceof CancelRefusedError) return `; kagent refused to cancel task ${taskId} (${err.kagentMessage}); the agent is stopped by deleting Agent ${agent.namespace}/${agent.name}`;
      return `; cancelling kagent task ${taskId} failed: ${describeError(err)}`;
    }
  }

  private startActor(run: AgentRun, config: AgentConfig, guardrails: Guardrails, deadline: number, target: ActTarget): void {
    if (this.stopping) return;
    const k = runKey(run);
    const actor = new Actor({ opts: this.opts, writer: this.writer, finisher: this.finisher }, run);
    actor.promise = actor
      .follow(config, guardrails, deadline, target)
      .then((wroteOutcome) => { if (wroteOutcome) this.noteActed(run.metadata?.uid ?? ""); })
      .catch((err: unknown) => { this.opts.log.error("the run's actor failed", { run: k, error: describeError(err) }); })
      .finally(() => {
        this.actors.delete(k);
        if (!this.stopping) this.opts.requeue(k);
      });
    this.actors.set(k, actor);
  }

  private noteActed(uid: string): void {
    const now = Date.now();
    // When the write's watch event arrives while the actor is still ending,
    // no later pass clears its marker: forget markers long past any cache lag.
    for (const [u, at] of this.acted) if (now - at > ACTED_MEMORY_MS) this.acted.delete(u);
    this.acted.set(uid, now);
  }

  /** Called on every run event: a running actor learns of a cancel at once. */
  observe(run: AgentRun): void {
    if (run.spec?.status === "Cancelled") this.actors.get(runKey(run))?.requestStop({ reason: "Cancelled", message: "cancelled by spec.status: Cancelled" });
  }

  /**
   * A run's ledger changed at the run-time gateway: an Event per new call,
   * and once its budget is spent the agent is stopped, BudgetExceeded with
   * the exact count (the gateway already refuses its next model call).
   */
  observeLedger(state: LedgerState): void {
    this.announcer.announce(state);
    const spent = budgetSpent(state);
    if (spent === undefined) return;
    const actor = this.actors.get(`${state.run.namespace}/${state.run.name}`);
    if (actor?.runUid === state.run.uid) actor.requestStop({ reason: "BudgetExceeded", message: spent });
  }

  /**
   * Stops every actor without cancelling its kagent task (the next leader
   * resumes it from status.taskId) and waits until each has settled, its
   * writes included: after this resolves the reconciler writes nothing.
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    const sweeps = this.shared.stop();
    for (const actor of this.actors.values()) actor.requestShutdown();
    await Promise.all([this.drain(), sweeps]);
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.actors.values()].map((a) => a.promise));
  }

  get running(): number {
    return this.actors.size;
  }
}
