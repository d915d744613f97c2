// The run state machine (docs/api.md, docs/trust-chain.md). No policy here: the guardrails come from
// the stamp the webhook wrote; this carries them out and records what
// happened.
import { AGENT_API_VERSION, STAMP, type AgentConfig, type AgentRun, type AgentRunStatus, type Guardrails, type Hook, type RunPhase, type Snapshot, type ToolServerKind, type Usage } from "../types/agent.ts";
import { verifyApproval } from "../guardrails/approval-stamp.ts";
import { parsePolicyDigests, verifyDecision } from "../guardrails/decision.ts";
import type { Keyring } from "../signing/keyring.ts";
import type { KubeObject } from "../types/kube.ts";
import type { Logger } from "../log.ts";
import type { PipelineRun } from "../types/tekton.ts";
import type { Agent } from "../types/kagent.ts";
import { isTerminal, phaseFor, succeededCondition, type RunReason } from "./conditions.ts";
import type { ActingOutcome, AgentDriver, ProvenanceRecorder } from "./driver.ts";
import { hookPipelineRun, hookServiceAccount, hookState, preHookParams } from "./hooks.ts";
import { agentReady, kagentAgent, type KagentRuntime } from "./kagent-agent.ts";
import type { KagentSupport } from "./kagent-version.ts";
import { CancelRefusedError } from "./a2a-driver.ts";
import { GVR, Kube, describeError, statusCode } from "./kube.ts";
import { names, ownedByRun, RUN_LABEL } from "./owned.ts";
import { checkClaimedPhase, deadlineOf, trustRun, type HookOutcome, type Trusted } from "./run-guards.ts";
import { changedSinceAdmission, nextDriftCheck } from "./config-drift.ts";
import { egressNote, scopeObjects, type ScopeEnvironment } from "./scope.ts";
import { CALLS_AUDIENCE } from "../calls/caller.ts";
import { closeStep, emptyLedger, NoLedger, type LedgerState, type LedgerStore } from "../calls/ledger.ts";
import type { ModelConfig } from "../types/kagent.ts";
import { agentRoute, callsSecret, routedObjects, secretOfRoutedModel, tokenLifetimeSeconds, unroutable } from "./calls-route.ts";
import { budgetSpent, callEvent, callsRecord, usageOfLedger, type CallsUnreadable } from "./run-ledger.ts";

const ZERO_USAGE: Usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0, toolCalls: 0 };
const POLL_MS = 1000;
/** How often a running agent's ModelConfig and tool servers are compared with its snapshot. */
const CHANGE_CHECK_MS = 15_000;
const ACTED_MEMORY_MS = 10 * 60_000;
/** How long a run's end waits for calls in flight to settle in its ledger, so its provenance counts them (what is still out is said so). */
const LEDGER_SETTLE_MS = 10_000;
/**
 * How long a clean stop waits, when the goal is on its way to kagent, for
 * kagent to name the task and for its id to be written: the next leader can
 * then resume the task instead of failing the run.
 */
const SEND_WINDOW_WAIT_MS = 10_000;
/** Attempts at a write the run cannot go on without (the goal marker, the task id). */
const PERSIST_ATTEMPTS = 5;

export interface RunReconcilerOptions {
  kube: Kube;
  driver: AgentDriver;
  provenance: ProvenanceRecorder;
  log: Logger;
  /** the API server's endpoints and the Services a strict NetworkPolicy names, read when the scope is made */
  scopeEnvironment: (guardrails: Guardrails) => Promise<ScopeEnvironment>;
  /** asks for another reconcile of a run (the actor finished) */
  requeue: (key: string) => void;
  /** how long to wait for kagent to report an Agent Ready */
  agentReadyTimeoutMs?: number;
  /** how often a running agent's ModelConfig and tool servers are compared with its snapshot (default 15 s) */
  changeCheckMs?: number;
  /** verifies the decisions and approvals the gateway signed */
  keyring: Keyring;
  /** namespaces agentgate's webhooks never see: their runs are never acted on */
  exemptNamespaces: ReadonlySet<string>;
  /** the runtime the run's Agent asks kagent for (default go, which honours tasks/cancel) */
  kagentRuntime?: KagentRuntime;
  /** what the cluster's kagent is, as discovery showed it; undefined when not known */
  kagentSupport?: () => KagentSupport | undefined;
  /** runs' model and tool calls go through agentgate's run-time gateway (--calls-url) */
  calls?: RunCalls;
}

export interface RunCalls {
  /** the gateway's URL as the agents' pods reach it */
  baseUrl: string;
  /** the ledgers the gateway keeps: usage, budget and trace of each run; opened, closed and removed by the controller */
  ledgers: Pick<LedgerStore, "open" | "update" | "read" | "remove">;
}

/** Why the controller itself stops an acting agent. */
interface StopRequest {
  reason: RunReason;
  message: string;
}

/** The shutdown that aborts an actor: it stops following and writes nothing more. */
class Shutdown extends Error {
  override name = "Shutdown";
}

/** The goal could not be marked as being sent, so it was not sent; a later pass tries again. */
class GoalNotSent extends Error {
  override name = "GoalNotSent";
}

/** One run's agent at work, followed until it ends or the controller stops. */
class Actor {
  readonly abort = new AbortController();
  stop: StopRequest | undefined;
  promise: Promise<void> = Promise.resolve();
  /** the goal is on its way and its task id not yet written */
  private sending = false;
  private shuttingDown = false;
  private writes: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  /** the run's uid: a later run of the same name is another run */
  readonly runUid: string;

  constructor(log: Logger, runUid: string) {
    this.log = log;
    this.runUid = runUid;
  }

  requestStop(stop: StopRequest): void {
    this.stop ??= stop;
  }

  /**
   * Stops following at once, except while the goal is on its way: then it
   * waits (bounded) until the task id is written, so that the next leader
   * resumes the task rather than finding a goal sent to an unknown task.
   */
  requestShutdown(): void {
    this.shuttingDown = true;
    if (!this.sending) {
      this.abort.abort(new Shutdown("the controller is stopping"));
      return;
    }
    setTimeout(() => { this.abort.abort(new Shutdown("the controller is stopping")); }, SEND_WINDOW_WAIT_MS).unref();
  }

  beginSend(): void {
    this.sending = true;
  }

  endSend(): void {
    this.sending = false;
    if (this.shuttingDown) this.abort.abort(new Shutdown("the controller is stopping"));
  }

  /** Runs status writes one after another, so the outcome is the last one written. */
  write(what: string, fn: () => Promise<unknown>): void {
    this.writes = this.writes.then(fn).then(
      () => undefined,
      (err: unknown) => { this.log.warn("status write failed", { what, error: describeError(err) }); },
    );
  }

  get written(): Promise<void> {
    return this.writes;
  }
}

function key(run: AgentRun): string {
  return `${run.metadata?.namespace ?? ""}/${run.metadata?.name ?? ""}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const scopeReason = (why: string): RunReason => (why.startsWith("ScopeRefused: ") ? "ScopeRefused" : "ScopeConflict");

/** The AgentConfig as the run was admitted with it: what it runs, whatever the live one says now. */
export function snapshotConfig(snapshot: Snapshot, namespace: string): AgentConfig {
  return { apiVersion: AGENT_API_VERSION, kind: "AgentConfig", metadata: { name: snapshot.config.name, namespace }, spec: snapshot.config.spec };
}

export class RunReconciler {
  private readonly actors = new Map<string, Actor>();
  /** run uid → when its snapshot was last compared while it acted */
  private readonly changeChecked = new Map<string, number>();
  /** what the last scope was made from (Cilium present or not), for the run's condition */
  private readonly opts: RunReconcilerOptions;
  private stopping = false;

  constructor(opts: RunReconcilerOptions) {
    this.opts = opts;
  }

  get kube(): Kube {
    return this.opts.kube;
  }

  private async setStatus(run: AgentRun, patch: Partial<AgentRunStatus>): Promise<AgentRun> {
    return (await this.kube.patchStatus(GVR.agentRuns, run.metadata?.namespace ?? "", run.metadata?.name ?? "", patch)) as AgentRun;
  }

  /** A write the run cannot go on without, retried a few times; throws the last error. */
  private async persist(run: AgentRun, patch: Partial<AgentRunStatus>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.setStatus(run, patch);
        return;
      } catch (err) {
        if (attempt >= PERSIST_ATTEMPTS || statusCode(err) === 404) throw err;
        await sleep(200 * 2 ** attempt);
      }
    }
  }

  /**
   * Writes a terminal (or PostHooks) status only over the version it was
   * computed from, and never over a run that already ended: two writers (a
   * stale pass, a replica that just lost the Lease) cannot finish a run twice.
   * Null when someone else ended it first or it is gone.
   */
  private async writeOutcome(run: AgentRun, status: Partial<AgentRunStatus>): Promise<AgentRun | null> {
    const ns = run.metadata?.namespace ?? "";
    const name = run.metadata?.name ?? "";
    let current: AgentRun | null = run;
    for (let attempt = 1; ; attempt++) {
      if (isTerminal(current.status)) return null;
      try {
        return (await this.kube.patchStatus(GVR.agentRuns, ns, name, status, current.metadata?.resourceVersion)) as AgentRun;
      } catch (err) {
        const code = statusCode(err);
        if (code === 404) return null;
        if (code !== 409 || attempt >= PERSIST_ATTEMPTS) throw err;
        current = (await this.kube.get(GVR.agentRuns, ns, name)) as AgentRun | null;
        if (!current) return null;
      }
    }
  }

  private async transition(run: AgentRun, phase: RunPhase, reason: RunReason, message: string, extra: Partial<AgentRunStatus> = {}): Promise<AgentRun> {
    const previous = run.status?.phase;
    const updated = await this.setStatus(run, {
      phase,
      conditions: succeededCondition("Unknown", reason, message, run.status?.conditions),
      ...extra,
    });
    if (previous !== phase) {
      this.opts.log.info("run phase", { run: key(run), from: previous ?? "", to: phase, reason, message });
      await this.kube.event(run, "Normal", phase, message);
    }
    return updated;
  }

  /** Ends the run once: results, provenance, the final condition; then stops what it left running. */
  private async finish(run: AgentRun, reason: RunReason, message: string, facts: { config?: AgentConfig | null; guardrails?: Guardrails; usage?: Usage; results?: { name: string; value: string }[]; iterations?: number } = {}): Promise<void> {
    if (isTerminal(run.status)) return;
    const finishedOn = new Date().toISOString();
    const closed = await this.closeLedger(run);
    const ledger = closed && "state" in closed ? closed.state : undefined;
    // What agentgate counted is exact; kagent's usage metadata is what the agent chose to report.
    const usage = ledger ? usageOfLedger(ledger) : (facts.usage ?? run.status?.usage ?? ZERO_USAGE);
    let results = facts.results ?? run.status?.results ?? [];
    let provenanceNote = "";
    let provenance: AgentRunStatus["provenance"];
    if (facts.config && facts.guardrails) {
      try {
        const record = await this.recordProvenance(run, facts.config, facts.guardrails, usage, results, reason, finishedOn, closed);
        provenance = record.envelope;
        results = [...results.filter((r) => r.name !== "provenance-digest"), { name: "provenance-digest", value: record.digest }];
        if (!record.signed) provenanceNote = " (provenance recorded unsigned: no --provenance-key-secret)";
      } catch (err) {
        provenanceNote = ` (provenance not recorded: ${describeError(err)})`;
      }
    }
    const status: Partial<AgentRunStatus> = {
      phase: phaseFor(reason),
      completionTime: finishedOn,
      conditions: succeededCondition(reason === "Succeeded" ? "True" : "False", reason, `${message}${provenanceNote}`, run.status?.conditions),
      usage,
      results,
      ...(facts.iterations !== undefined ? { iterations: facts.iterations } : {}),
      ...(provenance ? { provenance } : {}),
      ...(run.status?.startTime ? {} : { startTime: finishedOn }),
    };
    const written = await this.writeOutcome(run, status);
    if (!written) {
      this.opts.log.info("run already ended elsewhere; not finishing it again", { run: key(run), reason });
      return;
    }
    this.opts.log.info("run finished", { run: key(run), reason, message, usage });
    await this.kube.event(run, reason === "Succeeded" ? "Normal" : "Warning", reason, `${message}${provenanceNote}`);
    // A hook can still run only when the run ended in a hook phase for a reason other than the hooks' own outcome.
    const hookMayRun = (run.status?.phase === "PreHooks" || run.status?.phase === "PostHooks") && !["Succeeded", "PreHookFailed", "PostHookFailed"].includes(reason);
    await this.cleanUp(written, hookMayRun);
  }

  /**
   * What a finished run leaves running: its kagent Agent (kagent keeps its
   * Deployment and pod up as long as the Agent exists) and any hook
   * PipelineRun still going (Tekton stops it on spec.status: Cancelled). The
   * rest goes with the run through owner references.
   */
  private async cleanUp(run: AgentRun, hookMayRun: boolean): Promise<void> {
    const ns = run.metadata?.namespace ?? "";
    const runName = run.metadata?.name ?? "";
    try {
      if (run.status?.agentRef && (await this.kube.delete(GVR.agents, ns, names.agent(runName)))) {
        this.opts.log.info("deleted the run's kagent Agent", { run: key(run), agent: names.agent(runName) });
      }
    } catch (err) {
      this.opts.log.warn("cannot delete the run's kagent Agent", { run: key(run), error: describeError(err) });
    }
    // The run's identity goes with it: nobody can mint its token or run as
    // it once it ended. The NetworkPolicy stays (with the run, until the run
    // is deleted): it selects only this run's agent pods, and keeps them
    // confined while kagent takes them down.
    for (const ref of [
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", name: names.roleBinding(runName) },
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", name: names.role(runName) },
      { apiVersion: "v1", kind: "ServiceAccount", name: names.serviceAccount(runName) },
      // the hooks' account: a hook still running is cancelled below
      { apiVersion: "v1", kind: "ServiceAccount", name: names.hookServiceAccount(runName) },
    ]) {
      try {
        const object = await this.kube.getObject({ ...ref, namespace: ns });
        if (object && ownedByRun(object.metadata, run)) await this.kube.deleteObject({ ...ref, namespace: ns });
      } catch (err) {
        this.opts.log.warn("cannot delete the run's scope", { run: key(run), object: `${ref.kind}/${ref.name}`, error: describeError(err) });
      }
    }
    // The ledger's trace is in the provenance now; calls the gateway still
    // took in the moment the run ended find the run ended, or are swept
    // (observeLedger).
    const uid = run.metadata?.uid ?? "";
    if (this.opts.calls && uid !== "") {
      await this.opts.calls.ledgers.remove(uid).catch((err: unknown) => { this.opts.log.warn("cannot delete the run's ledger at the run-time gateway", { run: key(run), error: describeError(err) }); });
    }
    if (!hookMayRun) return;
    try {
      const hooks = (await this.kube.list(GVR.pipelineRuns, ns, `${RUN_LABEL}=${runName}`)) as PipelineRun[];
      for (const pr of hooks) {
        const ours = pr.metadata?.ownerReferences?.some((o) => o.uid === run.metadata?.uid);
        if (!ours || hookState(pr).state !== "running" || pr.spec?.status === "Cancelled") continue;
        await this.kube.patch(GVR.pipelineRuns, ns, pr.metadata?.name ?? "", { spec: { status: "Cancelled" } });
        await this.kube.event(run, "Normal", "HookCancelled", `PipelineRun ${pr.metadata?.name ?? ""} cancelled: the run ended`);
      }
    } catch (err) {
      // no Tekton installed means no hook to stop
      if (statusCode(err) !== 404) this.opts.log.warn("cannot cancel the run's hook PipelineRuns", { run: key(run), error: describeError(err) });
    }
  }

  /**
   * Closes the run's ledger at the run-time gateway (no call is started in
   * its name from then on), waits a little for calls in flight to settle,
   * and returns it for the run's usage and provenance. Undefined when the
   * run has none (not sent through the gateway); one that cannot be closed
   * or read is said so in the provenance, never taken for "no calls".
   */
  private async closeLedger(run: AgentRun): Promise<{ state: LedgerState } | CallsUnreadable | undefined> {
    const uid = run.metadata?.uid ?? "";
    const calls = this.opts.calls;
    if (!calls || uid === "") return undefined;
    // The run's Agent is made only once its ledger is open: a run that has one and no ledger lost it.
    const routed = run.status?.agentRef !== undefined;
    let lastError: unknown;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        let state = await calls.ledgers.update(uid, closeStep);
        // Calls begun before the close settle: model calls' reservations, tool calls in flight.
        for (const until = Date.now() + LEDGER_SETTLE_MS; (state.reserved > 0 || (state.inFlight ?? 0) > 0) && Date.now() < until; ) {
          await sleep(200);
          state = (await calls.ledgers.read(uid)) ?? state;
        }
        return { state };
      } catch (err) {
        if (err instanceof NoLedger) {
          if (!routed) return undefined;
          lastError = err;
          break;
        }
        lastError = err;
        await sleep(500 * attempt);
      }
    }
    this.opts.log.warn("cannot close the run's ledger at the run-time gateway; its provenance says so", { run: key(run), error: describeError(lastError) });
    return { unreadable: `the run's ledger at agentgate's run-time gateway could not be closed and read: ${describeError(lastError)}` };
  }

  private async recordProvenance(run: AgentRun, config: AgentConfig, guardrails: Guardrails, usage: Usage, results: { name: string; value: string }[], outcome: string, finishedOn: string, ledger: { state: LedgerState } | CallsUnreadable | undefined) {
    const ns = run.metadata?.namespace ?? "";
    const agent = (await this.kube.get(GVR.agents, ns, names.agent(run.metadata?.name ?? ""))) as Agent | null;
    const modelName = config.spec?.modelConfigRef?.name;
    const modelNs = config.spec?.modelConfigRef?.namespace ?? ns;
    const model = modelName ? await this.kube.get(GVR.modelConfigs, modelNs, modelName) : null;
    const toolServers = [];
    for (const t of guardrails.tools) {
      const [tns = "", tname = ""] = t.server.split("/");
      toolServers.push({ namespace: tns, name: tname, kind: t.kind, spec: await this.toolServerSpec(t.kind, tns, tname) });
    }
    return this.opts.provenance.record({
      run,
      config,
      guardrails,
      ...(agent ? { agentRuntime: { runtime: typeof agent.spec?.declarative?.runtime === "string" ? agent.spec.declarative.runtime : "", images: await this.agentImages(ns, agent.metadata?.name ?? "") } } : {}),
      agent: agent ? { namespace: ns, name: agent.metadata?.name ?? "", spec: agent.spec } : null,
      modelConfig: model && modelName ? { namespace: modelNs, name: modelName, spec: model.spec } : null,
      toolServers,
      usage,
      results,
      policyRevision: run.metadata?.annotations?.[STAMP.policyRevision] ?? "",
      // Signed with the decision the reconciler verified before acting; stamps never change after admission.
      policyDigests: parsePolicyDigests(run.metadata?.annotations?.[STAMP.policyDigests]),
      startedOn: run.status?.startTime ?? finishedOn,
      finishedOn,
      outcome,
      ...(ledger ? { calls: "state" in ledger ? callsRecord(ledger.state) : ledger } : {}),
    });
  }

  /** The images of the Deployment kagent made for the Agent (named as the Agent); none when it cannot be read. */
  private async agentImages(namespace: string, name: string): Promise<string[]> {
    try {
      const d = await this.kube.getObject({ apiVersion: "apps/v1", kind: "Deployment", namespace, name });
      const spec = d?.spec as { template?: { spec?: { containers?: { image?: string }[] } } } | undefined;
      return (spec?.template?.spec?.containers ?? []).map((c) => c.image ?? "").filter((i) => i !== "");
    } catch (err) {
      this.opts.log.info("cannot read the agent's Deployment for its image; provenance records none", { namespace, name, error: describeError(err) });
      return [];
    }
  }

  /** The spec of a tool server as the run used it; null when it is gone. */
  private async toolServerSpec(kind: ToolServerKind, namespace: string, name: string): Promise<unknown> {
    if (kind === "Service") {
      try {
        return (await this.kube.core.readNamespacedService({ name, namespace })).spec ?? null;
      } catch (err) {
        if (statusCode(err) === 404) return null;
        throw err;
      }
    }
    return (await this.kube.get(kind === "MCPServer" ? GVR.mcpServers : GVR.remoteMcpServers, namespace, name))?.spec ?? null;
  }

  async reconcile(run: AgentRun): Promise<{ requeueAfterMs?: number }> {
    if (this.stopping) return {};
    const uid = run.metadata?.uid ?? "";
    const actor = this.actors.get(key(run));
    if (isTerminal(run.status)) {
      this.changeChecked.delete(uid);
      if (!actor) this.acted.delete(uid);
      return {};
    }
    // The actor requeues the run as it ends; the informer's copy may not yet
    // carry what the actor wrote, and acting on that copy would finish the
    // run a second time (a second Event, provenance re-signed). The watch
    // event for the actor's write comes next.
    if (run.status?.phase === "Acting" && !actor && this.acted.has(uid)) return {};
    if (!actor) this.acted.delete(uid);
    const ns = run.metadata?.namespace ?? "";
    // Nothing is read from the run that agentgate did not sign: the
    // guardrails and what to run come from the verified decision, the clock
    // from the run's creation or its signed approval.
    const [decision, approval] = await Promise.all([verifyDecision(run, this.opts.keyring.resolve), verifyApproval(run, this.opts.keyring.resolve)]);
    const trust = trustRun({ run, exempt: this.opts.exemptNamespaces.has(ns), decision, approval, now: Date.now() });
    if (!trust.ok) {
      if (actor) {
        actor.requestStop({ reason: trust.reason, message: trust.message });
        return {};
      }
      await this.finish(run, trust.reason, `${trust.message}${await this.releaseTask(run)}`);
      return {};
    }
    const { guardrails } = trust;
    const config = snapshotConfig(trust.snapshot, ns);
    const configName = run.spec?.configRef?.name ?? "";
    // Deleting the AgentConfig stops its runs (a kill switch); editing it
    // changes nothing for runs already admitted, which run their snapshot.
    if (!(await this.kube.get(GVR.agentConfigs, ns, configName))) {
      const message = `AgentConfig "${configName}" no longer exists in namespace "${ns}"; recreate it and start a new AgentRun`;
      if (actor) {
        // The actor cancels the kagent task and ends the run, once.
        actor.requestStop({ reason: "ConfigNotFound", message });
        return {};
      }
      await this.finish(run, "ConfigNotFound", `${message}${await this.releaseTask(run)}`, { guardrails });
      return {};
    }
    const phase = run.status?.phase;
    // A task a previous controller started and nobody follows now: an actor
    // resumes it, and ends it as a cancel or a timeout requires.
    const orphanTask = phase === "Acting" && !actor && run.status?.taskId !== undefined;
    if (run.spec?.status === "Cancelled" && !actor && !orphanTask) {
      const when = phase === "PostHooks" ? "during the post-hooks" : phase === "Acting" ? "before the goal reached kagent" : "before the agent acted";
      await this.finish(run, "Cancelled", `cancelled by spec.status: Cancelled ${when}`, { config, guardrails });
      return {};
    }
    // A phase the controller would not have written (the approval or a
    // pre-hook skipped) is refused before anything runs on its word.
    if (!actor && (phase === "PreHooks" || phase === "Acting" || phase === "PostHooks")) {
      const tampered = checkClaimedPhase(phase, trust, await this.hookOutcomes(run, config.spec?.preHooks ?? [], "pre"), run.status?.taskId);
      if (tampered) {
        await this.finish(run, tampered.reason, `${tampered.message}${await this.releaseTask(run)}`, { config, guardrails });
        return {};
      }
    }
    if (phase === undefined) {
      run = await this.transition(run, "Pending", "Pending", "admitted; preparing the run", { usage: ZERO_USAGE, iterations: 0 });
    }
    const deadline = deadlineOf(trust);
    if (deadline !== undefined && Date.now() > deadline && !actor && !orphanTask) {
      await this.finish(run, "TimedOut", `the run did not finish within its timeout of ${guardrails.timeout}`, { config, guardrails });
      return {};
    }

    if (phase === undefined || phase === "Pending" || phase === "WaitingForApproval") {
      if (trust.startAt === undefined) {
        if (phase !== "WaitingForApproval") {
          await this.transition(
            run,
            "WaitingForApproval",
            "WaitingForApproval",
            `waiting for a member of ${guardrails.approval.approverGroups.join(", ") || "the approver groups"} to approve: kubectl annotate agentrun ${run.metadata?.name ?? ""} -n ${ns} ${STAMP.approvedBy}=<your user name> (the run's timeout of ${guardrails.timeout} starts once approved)`,
          );
        }
        // The approval annotation's watch event brings the run back.
        return {};
      }
      if (await this.refusedByKagent(run, config, guardrails)) return {};
      const { env, conflict } = await this.ensureScope(run, guardrails);
      if (conflict) {
        await this.finish(run, scopeReason(conflict), conflict.replace(/^ScopeRefused: /, ""), { config, guardrails });
        return {};
      }
      const next: RunPhase = (config.spec?.preHooks ?? []).length > 0 ? "PreHooks" : "Acting";
      // The watch event of this write brings the run to its next phase.
      const note = egressNote(guardrails, env);
      await this.transition(run, next, "Running", `${trust.approvedBy ? `approved by ${trust.approvedBy}; scope ready` : "scope ready"}${note ? `; ${note}` : ""}`, { startTime: new Date(trust.startAt).toISOString() });
      return {};
    }

    if (phase === "PreHooks") {
      const done = await this.runHooks(run, config.spec?.preHooks ?? [], "pre", preHookParams(run, config));
      if (done === "running") return { requeueAfterMs: POLL_MS };
      if (done !== "succeeded") {
        await this.finish(run, done.startsWith("ScopeConflict: ") ? "ScopeConflict" : "PreHookFailed", done.replace(/^ScopeConflict: /, ""), { config, guardrails });
        return {};
      }
      await this.transition(run, "Acting", "Running", "pre-hooks succeeded");
      return {};
    }

    if (phase === "Acting") {
      if (actor) return this.watchWhileActing(run, trust, actor);
      return this.act(run, config, trust, deadline ?? Date.now() + trust.timeoutMs);
    }

    if (phase === "PostHooks") {
      const done = await this.runHooks(run, config.spec?.postHooks ?? [], "post", run.status?.results ?? []);
      if (done === "running") return { requeueAfterMs: POLL_MS };
      if (done !== "succeeded") {
        await this.finish(run, done.startsWith("ScopeConflict: ") ? "ScopeConflict" : "PostHookFailed", done.replace(/^ScopeConflict: /, ""), { config, guardrails });
        return {};
      }
      await this.finish(run, "Succeeded", "the agent reached its goal and the post-hooks succeeded", { config, guardrails });
    }
    return {};
  }

  /**
   * A kagent that no longer runs v1alpha2 Agents (its main branch) would
   * leave the run waiting: it fails KagentUnsupported before anything is
   * made for it. A task already started is followed whatever kagent is now.
   */
  private async refusedByKagent(run: AgentRun, config: AgentConfig, guardrails: Guardrails): Promise<boolean> {
    const support = this.opts.kagentSupport?.();
    if (support?.state !== "main" || run.status?.taskId !== undefined) return false;
    await this.finish(run, "KagentUnsupported", support.message, { config, guardrails });
    return true;
  }

  /**
   * kagent reads the run's ModelConfig and tool servers by name on every
   * reconcile of its Agent, so an edit while the agent acts (a policy-
   * compliant one, or any while the webhook is off) would change what an
   * approved run runs. The actor is stopped (ConfigChanged) as soon as a
   * digest differs; checked at most every changeCheckMs, and again then.
   */
  private async watchWhileActing(run: AgentRun, trust: Trusted, actor: Actor): Promise<{ requeueAfterMs?: number }> {
    const uid = run.metadata?.uid ?? "";
    const every = this.opts.changeCheckMs ?? CHANGE_CHECK_MS;
    const next = nextDriftCheck(Date.now(), this.changeChecked.get(uid), every);
    // A pass between checks (a progress write, a retried error) asks for the
    // rest of the period, so a check is never left to a timer it replaced.
    if (!next.due) return { requeueAfterMs: next.waitMs };
    this.changeChecked.set(uid, Date.now());
    const changed = await changedSinceAdmission(this.kube, run.metadata?.namespace ?? "", trust.snapshot);
    if (changed !== undefined) {
      actor.requestStop({ reason: "ConfigChanged", message: changed });
      return {};
    }
    return { requeueAfterMs: every };
  }

  /**
   * When calls go through agentgate's run-time gateway: the run's call
   * token (a token of the run's ServiceAccount for the gateway's audience,
   * in a Secret of the run's), and the ModelConfig and RemoteMCPServers
   * kagent is given in place of the config's, pointing at the gateway.
   * Returns why not (ScopeRefused or ScopeConflict words), or undefined.
   */
  private async ensureRoute(run: AgentRun, guardrails: Guardrails, trust: Trusted): Promise<string | undefined> {
    const calls = this.opts.calls;
    if (!calls) return undefined;
    const ns = run.metadata?.namespace ?? "";
    const runName = run.metadata?.name ?? "";
    const pin = trust.snapshot.modelConfig;
    const model = pin ? ((await this.kube.get(GVR.modelConfigs, pin.namespace, pin.name)) as ModelConfig | null) : null;
    const refused = unroutable(guardrails, trust.snapshot, ns, model);
    if (refused !== undefined || !model) return `ScopeRefused: ${refused ?? "no ModelConfig"}`;
    // The ledger first: the gateway takes a run's calls only once it exists, and never starts one itself.
    await calls.ledgers.open(emptyLedger({ namespace: ns, name: runName, uid: run.metadata?.uid ?? "" }, guardrails.tokenBudget));
    const route = agentRoute(run, guardrails);
    const mine = new Map<string, KubeObject | null>();
    for (const [gvr, name] of [[GVR.modelConfigs, route.modelConfig] as const, ...[...route.toolServers.values()].map((n) => [GVR.remoteMcpServers, n] as const)]) {
      const existing = await this.kube.get(gvr, ns, name);
      if (existing && !ownedByRun(existing.metadata, run)) return `kagent ${gvr === GVR.modelConfigs ? "ModelConfig" : "RemoteMCPServer"} "${name}" already exists in namespace "${ns}" and was not made for this run, so agentgate does not take it over; delete it or create the run under another name`;
      mine.set(name, existing);
    }
    // A pass that made the Secret before (a restart in between) left its name in the run's ModelConfig.
    let secretName = secretOfRoutedModel(mine.get(route.modelConfig) ?? null);
    try {
      if (secretName === undefined) {
        const token = await this.kube.serviceAccountToken(ns, names.serviceAccount(runName), CALLS_AUDIENCE, tokenLifetimeSeconds(trust.timeoutMs, this.opts.agentReadyTimeoutMs ?? 10 * 60_000));
        secretName = await this.kube.createSecret(ns, callsSecret(run, token));
      }
      for (const object of routedObjects(run, guardrails, model, secretName, calls.baseUrl)) await this.kube.apply(object);
    } catch (err) {
      const code = statusCode(err);
      if (code === 403 || code === 422) return `ScopeRefused: the API server refused what sends the run's calls through agentgate's run-time gateway: ${describeError(err)}`;
      throw err;
    }
    return undefined;
  }

  /**
   * A run's ledger changed at the run-time gateway: once its budget is
   * spent the agent is stopped, BudgetExceeded with the exact count (the
   * gateway already refuses its next model call).
   */
  observeLedger(state: LedgerState): void {
    this.announceCalls(state);
    const spent = budgetSpent(state);
    if (spent === undefined) return;
    const actor = this.actors.get(`${state.run.namespace}/${state.run.name}`);
    if (actor?.runUid === state.run.uid) actor.requestStop({ reason: "BudgetExceeded", message: spent });
  }

  /** run uid → the last traced call an Event was written for */
  private readonly callsAnnounced = new Map<string, number>();
  private readonly startedAt = Date.now();
  private announcements: Promise<void> = Promise.resolve();

  /**
   * An Event on the run per traced call, in order (`kubectl describe`,
   * `agentgate logs -f`): what the agent did as it does it. A ledger first
   * seen after this controller started announces only calls made since;
   * the earlier ones are in the trace the provenance carries.
   */
  private announceCalls(state: LedgerState): void {
    const uid = state.run.uid;
    const last = this.callsAnnounced.get(uid);
    const fresh = state.trace.filter((e) => (last === undefined ? Date.parse(e.at) >= this.startedAt : e.seq > last));
    const newest = state.trace.at(-1)?.seq;
    if (newest !== undefined) {
      // Kept past the run's end (a call may land as it ends); the oldest runs are forgotten first.
      if (last === undefined && this.callsAnnounced.size >= 10_000) this.callsAnnounced.delete(this.callsAnnounced.keys().next().value ?? "");
      this.callsAnnounced.set(uid, Math.max(last ?? 0, newest));
    }
    if (fresh.length === 0) return;
    const involved: KubeObject = { apiVersion: AGENT_API_VERSION, kind: "AgentRun", metadata: { name: state.run.name, namespace: state.run.namespace, uid } };
    this.announcements = this.announcements.then(async () => {
      for (const entry of fresh) {
        const e = callEvent(entry, state);
        await this.kube.event(involved, e.type, e.reason, e.message).catch((err: unknown) => { this.opts.log.warn("cannot write a call's Event", { run: `${state.run.namespace}/${state.run.name}`, error: describeError(err) }); });
      }
    });
  }

  /**
   * Makes the run's ServiceAccount, Role, RoleBinding and NetworkPolicy, or
   * says why not: an object of that name that this run did not make (made in
   * advance to be adopted, or left by another run) is never taken over.
   */
  private async ensureScope(run: AgentRun, guardrails: Guardrails): Promise<{ env: ScopeEnvironment; conflict?: string }> {
    const env = await this.opts.scopeEnvironment(guardrails);
    const objects = scopeObjects(run, guardrails, env);
    for (const object of objects) {
      const existing = await this.kube.getObject({ apiVersion: object.apiVersion ?? "", kind: object.kind ?? "", namespace: object.metadata?.namespace ?? "", name: object.metadata?.name ?? "" });
      if (existing && !ownedByRun(existing.metadata, run)) {
        return { env, conflict: `${object.kind ?? ""} "${object.metadata?.name ?? ""}" already exists in namespace "${object.metadata?.namespace ?? ""}" and was not made for this run, so agentgate does not take it over; delete it or create the run under another name` };
      }
    }
    for (const object of objects) {
      try {
        await this.kube.apply(object);
      } catch (err) {
        // 403: the controller does not hold what the Role asks for (the
        // ceiling), so neither does the run; 422: the object is invalid.
        // Either way retrying cannot help.
        const code = statusCode(err);
        if (code === 403 || code === 422) return { env, conflict: `ScopeRefused: the API server refused ${object.kind ?? ""} "${object.metadata?.name ?? ""}": ${describeError(err)}` };
        throw err;
      }
    }
    return { env };
  }

  /** Each hook's PipelineRun as it stands, read only ("absent" when none of the run's exists). */
  private async hookOutcomes(run: AgentRun, hooks: Hook[], kind: "pre" | "post"): Promise<HookOutcome[]> {
    const runName = run.metadata?.name ?? "";
    const out: HookOutcome[] = [];
    for (const i of hooks.keys()) {
      const name = kind === "pre" ? names.preHook(runName, i) : names.postHook(runName, i);
      let pr: PipelineRun | null;
      try {
        pr = (await this.kube.get(GVR.pipelineRuns, run.metadata?.namespace ?? "", name)) as PipelineRun | null;
      } catch (err) {
        if (statusCode(err) === 404) pr = null;
        else throw err;
      }
      if (!pr || !ownedByRun(pr.metadata, run)) {
        out.push("absent");
        continue;
      }
      const state = hookState(pr).state;
      out.push(state);
    }
    return out;
  }

  /**
   * A run that ends without its config while its kagent task may be running
   * and nobody follows it (a restart in between): cancel the task. Returns a
   * note for the run's message.
   */
  private async releaseTask(run: AgentRun): Promise<string> {
    const taskId = run.status?.taskId;
    if (run.status?.phase !== "Acting" || taskId === undefined) return "";
    const agent = { namespace: run.metadata?.namespace ?? "", name: names.agent(run.metadata?.name ?? "") };
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

  /** "running", "succeeded", or why a hook failed. */
  private async runHooks(run: AgentRun, hooks: Hook[], kind: "pre" | "post", results: { name: string; value: string }[]): Promise<string> {
    const ns = run.metadata?.namespace ?? "";
    const runName = run.metadata?.name ?? "";
    for (const [i, hook] of hooks.entries()) {
      const name = kind === "pre" ? names.preHook(runName, i) : names.postHook(runName, i);
      let pr = (await this.kube.get(GVR.pipelineRuns, ns, name)) as PipelineRun | null;
      if (pr && !ownedByRun(pr.metadata, run)) return `ScopeConflict: PipelineRun "${name}" already exists and was not made for this run, so it is not taken for its ${kind}-hook; delete it or create the run under another name`;
      if (!pr) {
        if (hook.serviceAccountName === undefined) {
          const account = hookServiceAccount(run);
          const existing = await this.kube.getObject({ apiVersion: "v1", kind: "ServiceAccount", namespace: ns, name: account.metadata?.name ?? "" });
          if (existing && !ownedByRun(existing.metadata, run)) return `ScopeConflict: ServiceAccount "${account.metadata?.name ?? ""}" already exists and was not made for this run, so its hooks do not run as it; delete it or create the run under another name`;
          if (!existing) await this.kube.apply(account);
        }
        try {
          pr = (await this.kube.create(GVR.pipelineRuns, ns, hookPipelineRun(run, hook, name, results))) as PipelineRun;
          await this.kube.event(run, "Normal", kind === "pre" ? "PreHookStarted" : "PostHookStarted", `PipelineRun ${name} (pipeline ${hook.pipelineRef.name})`);
        } catch (err) {
          if (statusCode(err) === 404) return `Tekton Pipelines is not installed (no PipelineRun API), so ${kind}-hook pipeline "${hook.pipelineRef.name}" cannot run`;
          throw err;
        }
      }
      const state = hookState(pr);
      if (state.state === "running") return "running";
      if (state.state === "failed") return `${kind}-hook PipelineRun ${name} (pipeline "${hook.pipelineRef.name}") failed: ${state.message}`;
    }
    return "succeeded";
  }

  private async act(run: AgentRun, config: AgentConfig, trust: Trusted, deadline: number): Promise<{ requeueAfterMs?: number }> {
    const ns = run.metadata?.namespace ?? "";
    const runName = run.metadata?.name ?? "";
    const { guardrails } = trust;
    let existing: KubeObject | null;
    try {
      existing = await this.kube.get(GVR.agents, ns, names.agent(runName));
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      existing = null;
    }
    if (existing && !ownedByRun(existing.metadata, run)) {
      await this.finish(run, "ScopeConflict", `kagent Agent "${names.agent(runName)}" already exists in namespace "${ns}" and was not made for this run, so agentgate does not take it over; delete it or create the run under another name`, { config, guardrails });
      return {};
    }
    if (!existing) {
      // The first time the agent is given life: its scope is in place (even
      // if a status written by someone else skipped the step that makes it),
      // and what it will run is still what was admitted.
      if (await this.refusedByKagent(run, config, guardrails)) return {};
      const { conflict } = await this.ensureScope(run, guardrails);
      const changed = conflict === undefined ? await changedSinceAdmission(this.kube, ns, trust.snapshot) : undefined;
      const unrouted = conflict === undefined && changed === undefined ? await this.ensureRoute(run, guardrails, trust) : undefined;
      const why = conflict ?? changed ?? unrouted;
      if (why !== undefined) {
        await this.finish(run, changed === undefined ? scopeReason(why) : "ConfigChanged", why.replace(/^ScopeRefused: /, ""), { config, guardrails });
        return {};
      }
    }
    const desired = kagentAgent(run, config, guardrails, {
      serviceAccountName: names.serviceAccount(runName),
      ...(this.opts.kagentRuntime ? { runtime: this.opts.kagentRuntime } : {}),
      ...(this.opts.calls ? { route: agentRoute(run, guardrails) } : {}),
    });
    let agent: Agent;
    try {
      agent = (await this.kube.apply(desired)) as Agent;
    } catch (err) {
      if (statusCode(err) === 404) {
        await this.finish(run, "KagentNotInstalled", "kagent is not installed in this cluster (no kagent.dev/v1alpha2 Agent API); install kagent and start a new AgentRun", { config, guardrails });
        return {};
      }
      throw err;
    }
    if (!run.status?.agentRef) {
      run = await this.setStatus(run, { agentRef: { name: names.agent(runName), namespace: ns } });
    }
    const taskId = run.status?.taskId;
    const ready = agentReady(agent);
    // kagent will not run this Agent (Accepted=False): waiting cannot help, say what kagent said.
    if (ready.state === "refused" && taskId === undefined) {
      await this.finish(run, "AgentRefused", ready.message, { config, guardrails });
      return {};
    }
    // A task that already exists is followed (and, if need be, cancelled) whatever the Agent reports now.
    if (!ready.ready && taskId === undefined) {
      const since = Date.parse(agent.metadata?.creationTimestamp ?? run.status?.startTime ?? new Date().toISOString());
      const limit = this.opts.agentReadyTimeoutMs ?? 10 * 60_000;
      if (Date.now() > deadline || Date.now() - since > limit) {
        await this.finish(run, "AgentFailed", `kagent did not make Agent ${names.agent(runName)} Ready within ${String(Math.round(limit / 1000))} s: ${ready.message}`, { config, guardrails });
        return {};
      }
      return { requeueAfterMs: POLL_MS };
    }
    const sent = run.status?.goal;
    if (sent && taskId === undefined) {
      await this.finish(
        run,
        "AgentFailed",
        `the controller stopped after it began sending the goal (A2A message ${sent.messageId}, ${sent.sentTime}) and before kagent's task id was recorded; the goal is not sent again, since kagent does not deduplicate messages and the agent could act twice. Look in kagent for a task of that message and stop it if it runs; create a new AgentRun to try again`,
        { config, guardrails },
      );
      return {};
    }
    this.startActor(run, config, guardrails, deadline);
    return {};
  }

  private startActor(run: AgentRun, config: AgentConfig, guardrails: Guardrails, deadline: number): void {
    if (this.stopping) return;
    const k = key(run);
    const ns = run.metadata?.namespace ?? "";
    const runName = run.metadata?.name ?? "";
    // One run, one attempt: a run is never retried (a retry is a new
    // AgentRun), so this id names the only goal message the run ever sends.
    const messageId = `${run.metadata?.uid ?? runName}-attempt-1`;
    const actor = new Actor(this.opts.log, run.metadata?.uid ?? "");
    if (run.spec?.status === "Cancelled") actor.requestStop({ reason: "Cancelled", message: "cancelled by spec.status: Cancelled" });
    let conditions = run.status?.conditions;
    let lastProgress = 0;
    const note = (message: string, eventReason: string) => {
      conditions = succeededCondition("Unknown", "Running", message, conditions);
      const c = conditions;
      actor.write("condition", async () => {
        await this.setStatus(run, { conditions: c });
        await this.kube.event(run, "Normal", eventReason, message);
      });
    };
    const body = async (): Promise<void> => {
      let outcome: ActingOutcome;
      try {
        outcome = await this.opts.driver.act({
          run,
          agent: { namespace: ns, name: names.agent(runName) },
          goal: run.spec?.goal ?? "",
          hints: run.spec?.context?.hints ?? [],
          messageId,
          ...(run.status?.taskId ? { taskId: run.status.taskId } : {}),
          budgetTokens: guardrails.tokenBudget,
          maxIterations: guardrails.maxIterations,
          deadline,
          signal: actor.abort.signal,
          isCancelled: () => actor.stop?.message ?? false,
          beforeSend: async () => {
            actor.beginSend();
            try {
              await this.persist(run, { goal: { messageId, sentTime: new Date().toISOString() } });
            } catch (err) {
              actor.endSend();
              throw new GoalNotSent(`cannot record that the goal is being sent, so it was not sent: ${describeError(err)}`);
            }
          },
          onTaskId: async (id) => {
            try {
              await this.persist(run, { taskId: id });
            } catch (err) {
              // The task is followed all the same; only a restart from here on cannot resume it.
              this.opts.log.error("cannot record kagent's task id; a controller restart now would fail the run", { run: k, taskId: id, error: describeError(err) });
            } finally {
              actor.endSend();
            }
          },
          onProgress: (line, usage, iterations) => {
            this.opts.log.info("agent progress", { run: k, line, totalTokens: usage.totalTokens });
            if (Date.now() - lastProgress > 2000) {
              lastProgress = Date.now();
              actor.write("progress", async () => {
                await this.setStatus(run, { usage, iterations });
                await this.kube.event(run, "Normal", "AgentProgress", line);
              });
            }
          },
          onPause: (message) => {
            this.opts.log.info("agent waits for a human", { run: k, message });
            note(message, "WaitingForToolApproval");
          },
          onResume: () => { note("the agent works again after a human's decision in kagent", "AgentResumed"); },
        });
      } catch (err) {
        await actor.written;
        if (actor.abort.signal.aborted) {
          this.opts.log.info("stopped following the agent; its task keeps running for the next leader", { run: k });
          return;
        }
        if (err instanceof GoalNotSent) {
          this.opts.log.warn("goal not sent; trying again later", { run: k, error: err.message });
          return;
        }
        outcome = { reason: "AgentFailed", message: `talking to kagent failed: ${describeError(err)}`, usage: run.status?.usage ?? ZERO_USAGE, results: [], iterations: run.status?.iterations ?? 0 };
      }
      await actor.written;
      const fresh = ((await this.kube.get(GVR.agentRuns, ns, runName)) as AgentRun | null) ?? run;
      const stop = actor.stop;
      // A stop the controller asked for ends with its own reason (ConfigNotFound is no human's cancel).
      const reason = outcome.reason === "Cancelled" && stop ? stop.reason : outcome.reason;
      if (outcome.cancelRefused !== undefined) await this.kube.event(fresh, "Warning", "CancelRefused", `kagent refused to cancel the agent's task (${outcome.cancelRefused}); the agent is stopped by deleting its Agent`);
      if (reason !== "Succeeded") {
        await this.finish(fresh, reason, outcome.message, { config, guardrails, usage: outcome.usage, results: outcome.results, iterations: outcome.iterations });
      } else if ((config.spec?.postHooks ?? []).length > 0) {
        const written = await this.writeOutcome(fresh, { phase: "PostHooks", usage: outcome.usage, results: outcome.results, iterations: outcome.iterations, ...(outcome.taskId ? { taskId: outcome.taskId } : {}) });
        if (written) await this.kube.event(fresh, "Normal", "PostHooks", "the agent finished; running post-hooks");
      } else {
        await this.finish(fresh, "Succeeded", outcome.message || "the agent reached its goal", { config, guardrails, usage: outcome.usage, results: outcome.results, iterations: outcome.iterations });
      }
      this.noteActed(run.metadata?.uid ?? "");
    };
    actor.promise = body()
      .catch((err: unknown) => { this.opts.log.error("the run's actor failed", { run: k, error: describeError(err) }); })
      .finally(() => {
        this.actors.delete(k);
        if (!this.stopping) this.opts.requeue(k);
      });
    this.actors.set(k, actor);
  }

  /** uid → when: runs whose actor wrote its outcome (terminal or PostHooks), until a reconcile sees that write */
  private readonly acted = new Map<string, number>();

  private noteActed(uid: string): void {
    const now = Date.now();
    // When the write's watch event arrives while the actor is still ending,
    // no later pass clears its marker: forget markers long past any cache lag.
    for (const [u, at] of this.acted) if (now - at > ACTED_MEMORY_MS) this.acted.delete(u);
    this.acted.set(uid, now);
  }

  /** Called on every run event: a running actor learns of a cancel at once. */
  observe(run: AgentRun): void {
    if (run.spec?.status === "Cancelled") this.actors.get(key(run))?.requestStop({ reason: "Cancelled", message: "cancelled by spec.status: Cancelled" });
  }

  /**
   * Stops every actor without cancelling its kagent task (the next leader
   * resumes it from status.taskId) and waits until each has settled, its
   * writes included: after this resolves the reconciler writes nothing.
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const actor of this.actors.values()) actor.requestShutdown();
    await this.drain();
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.actors.values()].map((a) => a.promise));
  }

  get running(): number {
    return this.actors.size;
  }
}
