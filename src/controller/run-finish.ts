// The end of a run, once: its ledger closed, its provenance recorded, the
// final status written (over the version it was computed from), then what
// it left running stopped and its identity deleted.
import { closeStep, NoLedger, type LedgerState } from "../calls/ledger.ts";
import type { CallsUnreadable } from "../provenance/facts.ts";
import type { AgentConfig, AgentRun, AgentRunStatus, Guardrails, Usage } from "../types/agent.ts";
import type { PipelineRun } from "../types/tekton.ts";
import { isTerminal, phaseFor, succeededCondition, type RunReason } from "./conditions.ts";
import { hookState } from "./hooks.ts";
import { describeError, GVR, statusCode } from "./kube.ts";
import { names, ownedByRun, RUN_LABEL } from "./owned.ts";
import { goalMessageId } from "./run-actor.ts";
import { usageOfLedger } from "./run-ledger.ts";
import type { RunReconcilerOptions } from "./run-options.ts";
import type { RunProvenance } from "./run-provenance.ts";
import { runKey, sleep, ZERO_USAGE, type RunStatusWriter } from "./run-status.ts";
import { isSharedAgent } from "./shared-agent.ts";
import type { SharedAgentKeeper } from "./shared-agent-keeper.ts";
import { A2AError } from "./a2a/client.ts";
import { RpcCode } from "./a2a/types.ts";

/** How long a run's end waits for calls in flight to settle in its ledger, so its provenance counts them (what is still out is said so). */
const LEDGER_SETTLE_MS = 10_000;

/** What the run's end knows beyond its status; provenance is recorded only with both config and guardrails. */
export interface FinishFacts {
  config?: AgentConfig | null;
  guardrails?: Guardrails;
  usage?: Usage;
  results?: { name: string; value: string }[];
  iterations?: number;
  /** the kagent Agent the run acted through, as proven when it was chosen; absent: none is recorded in provenance */
  agent?: string;
  /** the run's kagent task was read in a final state (or cancelled, confirmed): nothing of it runs on */
  taskEnded?: boolean;
}

/** What the finisher asks of the keeper of shared Agents: a share's deletion goes through its claims. */
export type ShareStopper = Pick<SharedAgentKeeper, "deleteForEnd" | "taskMayRun">;

export class RunFinisher {
  private readonly opts: RunReconcilerOptions;
  private readonly writer: RunStatusWriter;
  private readonly provenance: RunProvenance;
  private readonly shares: ShareStopper | undefined;

  constructor(opts: RunReconcilerOptions, status: RunStatusWriter, provenance: RunProvenance, shares?: ShareStopper) {
    this.opts = opts;
    this.writer = status;
    this.provenance = provenance;
    this.shares = shares;
  }

  /** Ends the run once: results, provenance, the final condition; then stops what it left running. */
  async finish(run: AgentRun, reason: RunReason, said: string, facts: FinishFacts = {}): Promise<void> {
    if (isTerminal(run.status)) return;
    // Before the end is written: once it is, the run no longer holds its shared Agent, and the next step may send its goal there.
    const message = `${said}${await this.stopSharedTask(run, facts.taskEnded === true, facts.agent)}`;
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
        const record = await this.provenance.record(run, facts.config, facts.guardrails, usage, results, reason, finishedOn, closed, facts.agent);
        provenance = record.envelope;
        results = [...results.filter((r) => r.name !== "provenance-digest"), { name: "provenance-digest", value: record.digest }];
        if (!record.signed) provenanceNote = " (provenance recorded unsigned: no signing key configured, Helm provenance.keySecret)";
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
    const written = await this.writer.writeOutcome(run, status);
    if (!written) {
      this.opts.log.info("run already ended elsewhere; not finishing it again", { run: runKey(run), reason });
      return;
    }
    this.opts.log.info("run finished", { run: runKey(run), reason, message, usage });
    await this.opts.kube.event(run, reason === "Succeeded" ? "Normal" : "Warning", reason, `${message}${provenanceNote}`);
    // A hook can still run only when the run ended in a hook phase for a reason other than the hooks' own outcome.
    const hookMayRun = (run.status?.phase === "PreHooks" || run.status?.phase === "PostHooks") && !["Succeeded", "PreHookFailed", "PostHookFailed"].includes(reason);
    await this.cleanUp(written, hookMayRun);
  }

  /**
   * A run recorded on an Agent shared within its PipelineRun that ends
   * while its kagent task may still run (nobody followed it, its cancel
   * failed or was refused, the goal went out and no task id came back): the
   * Agent is the PipelineRun's, so finishing the run does not delete it, and
   * the task would run on unmetered and untimed, in the context the next
   * step sends its goal to. Whatever made the run end (its membership no
   * longer proves, the config deleted, trust broken), the task is cancelled
   * once proven this run's by its first message (the run's goal, not by
   * membership); if that cannot be done, the shared Agent is deleted, which
   * stops the task (the next step makes the Agent again). An Agent not made
   * for a share is never touched here.
   *
   * Deleted only when proven this run's share (`proven`: the Agent its
   * membership and decision chose, FinishFacts.agent), through the keeper
   * (its claims and holders), scope first, the Agent in the foreground, and
   * waited for until gone: a status written while the webhooks were off
   * may name any share of the namespace. One not proven, or not gone in
   * time, is not kept for the next step (the keeper deletes it before one
   * takes it, and no step's apply reuses an Agent being deleted). Returns a
   * note for the run's message.
   */
  private async stopSharedTask(run: AgentRun, taskEnded: boolean, proven: string | undefined): Promise<string> {
    const ns = run.metadata?.namespace ?? "";
    const recorded = run.status?.agentRef?.name;
    const taskId = run.status?.taskId;
    if (taskEnded || recorded === undefined || recorded === names.agent(run.metadata?.name ?? "")) return "";
    if (run.status?.phase !== "Acting" || (taskId === undefined && run.status.goal === undefined)) return "";
    const agent = { namespace: ns, name: recorded };
    try {
      const found = await this.opts.kube.get(GVR.agents, ns, recorded);
      if (!found || !isSharedAgent(found.metadata, recorded)) return "";
    } catch (err) {
      // Unread, it is not touched; the keeper deletes a share no live run holds (shared-agent-keeper.ts).
      this.opts.log.warn("cannot read the run's shared kagent Agent to stop its task", { run: runKey(run), agent: recorded, error: describeError(err) });
      this.shares?.taskMayRun(ns, recorded);
      return `; shared Agent ${recorded} could not be read to stop the run's task (${describeError(err)}); agentgate deletes it once no run holds it`;
    }
    let why: string;
    if (taskId !== undefined) {
      try {
        await this.opts.driver.cancel(agent, taskId, goalMessageId(run));
        return `; kagent task ${taskId} on shared Agent ${recorded} cancelled`;
      } catch (err) {
        // No task of that id: nothing of it runs.
        if (err instanceof A2AError && err.code === RpcCode.TaskNotFound) return `; kagent has no task ${taskId} on shared Agent ${recorded}, so nothing of it runs`;
        why = describeError(err);
      }
    } else {
      why = "the goal went out and kagent's task id was never recorded";
    }
    const task = `kagent task ${taskId ?? "(unknown)"} could not be cancelled (${why})`;
    if (proven !== recorded || !this.shares) {
      this.shares?.taskMayRun(ns, recorded);
      return `; ${task}, and shared Agent ${recorded} is not deleted: it is not proven to be this run's share (its membership or decision no longer names it); agentgate deletes it before the next step of its PipelineRun takes it`;
    }
    try {
      // Never under another live run acting through it, nor one that claimed it: the share's drop covers this run's task once nobody holds it.
      const done = await this.shares.deleteForEnd(run, recorded);
      if (!done.gone) {
        this.shares.taskMayRun(ns, recorded);
        return done.deleted ? `; ${task}, so shared Agent ${recorded} was deleted, and it is not gone yet: ${done.why}` : `; ${task}, and shared Agent ${recorded} is not deleted: ${done.why}`;
      }
      this.opts.log.info("deleted a shared kagent Agent to stop a run's task", { run: runKey(run), agent: recorded, why });
      await this.opts.kube.event(run, "Warning", "SharedAgentDeleted", `kagent task ${taskId ?? "(unknown)"} could not be cancelled (${why}); shared Agent ${recorded} was deleted to stop it, and the next step of the PipelineRun makes it again`);
      return `; kagent task ${taskId ?? "(unknown)"} could not be cancelled (${why}), so shared Agent ${recorded} was deleted to stop it`;
    } catch (err) {
      this.opts.log.warn("cannot delete a shared kagent Agent whose task may run", { run: runKey(run), agent: recorded, error: describeError(err) });
      return `; kagent task ${taskId ?? "(unknown)"} could not be cancelled (${why}) and deleting shared Agent ${recorded} failed (${describeError(err)}); agentgate deletes it once no run holds it`;
    }
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
      // Only the run's own: a run that acted through a shared Agent made none, and an Agent of that name may be anyone's.
      const own = run.status?.agentRef ? await this.opts.kube.get(GVR.agents, ns, names.agent(runName)) : null;
      if (own && ownedByRun(own.metadata, run) && (await this.opts.kube.delete(GVR.agents, ns, names.agent(runName)))) {
        this.opts.log.info("deleted the run's kagent Agent", { run: runKey(run), agent: names.agent(runName) });
      }
    } catch (err) {
      this.opts.log.warn("cannot delete the run's kagent Agent", { run: runKey(run), error: describeError(err) });
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
        const object = await this.opts.kube.getObject({ ...ref, namespace: ns });
        if (object && ownedByRun(object.metadata, run)) await this.opts.kube.deleteObject({ ...ref, namespace: ns });
      } catch (err) {
        this.opts.log.warn("cannot delete the run's scope", { run: runKey(run), object: `${ref.kind}/${ref.name}`, error: describeError(err) });
      }
    }
    // The ledger's trace is in the provenance now; calls the gateway still
    // took in the moment the run ended find the run ended, or are swept
    // (observeLedger).
    const uid = run.metadata?.uid ?? "";
    if (this.opts.calls && uid !== "") {
      await this.opts.calls.ledgers.remove(uid).catch((err: unknown) => { this.opts.log.warn("cannot delete the run's ledger at the run-time gateway", { run: runKey(run), error: describeError(err) }); });
    }
    if (!hookMayRun) return;
    try {
      const hooks = (await this.opts.kube.list(GVR.pipelineRuns, ns, `${RUN_LABEL}=${runName}`)) as PipelineRun[];
      for (const pr of hooks) {
        const ours = pr.metadata?.ownerReferences?.some((o) => o.uid === run.metadata?.uid);
        if (!ours || hookState(pr).state !== "running" || pr.spec?.status === "Cancelled") continue;
        await this.opts.kube.patch(GVR.pipelineRuns, ns, pr.metadata?.name ?? "", { spec: { status: "Cancelled" } });
        await this.opts.kube.event(run, "Normal", "HookCancelled", `PipelineRun ${pr.metadata?.name ?? ""} cancelled: the run ended`);
      }
    } catch (err) {
      // no Tekton installed means no hook to stop
      if (statusCode(err) !== 404) this.opts.log.warn("cannot cancel the run's hook PipelineRuns", { run: runKey(run), error: describeError(err) });
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
    this.opts.log.warn("cannot close the run's ledger at the run-time gateway; its provenance says so", { run: runKey(run), error: describeError(lastError) });
    return { unreadable: `the run's ledger at agentgate's run-time gateway could not be closed and read: ${describeError(lastError)}` };
  }
}
