// One run's agent at work: the driver acts, this follows it until it ends
// (or the controller stops) and writes what it did, one write after
// another. The Actor is the driver's session: the send window, the stop the
// controller asked for, progress and pauses.
import type { Logger } from "../log.ts";
import type { AgentConfig, AgentRun, Guardrails, Usage } from "../types/agent.ts";
import type { Condition } from "../types/kube.ts";
import { succeededCondition, type RunReason } from "./conditions.ts";
import type { ActingOutcome, ActSession } from "./driver.ts";
import { describeError, GVR } from "./kube.ts";
import type { RunFinisher } from "./run-finish.ts";
import type { RunReconcilerOptions } from "./run-options.ts";
import { runKey, ZERO_USAGE, type RunStatusWriter } from "./run-status.ts";
import { AgentgateError } from "../errors.ts";

/**
 * How long a clean stop waits, when the goal is on its way to kagent, for
 * kagent to name the task and for its id to be written: the next leader can
 * then resume the task instead of failing the run.
 */
const SEND_WINDOW_WAIT_MS = 10_000;
/** Progress is written at most this often: each write is an API request and a watch event. */
const PROGRESS_WRITE_MS = 2000;

/**
 * The A2A messageId of the run's goal. One run, one attempt: a run is never
 * retried (a retry is a new AgentRun), so this names the only goal message
 * the run ever sends, and a kagent task whose history opens with it is the
 * run's (run-finish.ts proves a task on a shared Agent by it).
 */
export function goalMessageId(run: AgentRun): string {
  return `${run.metadata?.uid ?? run.metadata?.name ?? ""}-attempt-1`;
}

/** Why the controller itself stops an acting agent. */
export interface StopRequest {
  reason: RunReason;
  message: string;
}

/** The shutdown that aborts an actor: it stops following and writes nothing more. */
class Shutdown extends AgentgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("internal", message, options);
  }
  override name = "Shutdown";
}

/** The goal could not be marked as being sent, so it was not sent; a later pass tries again. */
class GoalNotSent extends AgentgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("internal", message, options);
  }
  override name = "GoalNotSent";
}

/** The Agent the actor talks to, and the A2A context its goal goes in (set for an Agent shared within a PipelineRun). */
export interface ActTarget {
  agent: { namespace: string; name: string };
  contextId?: string;
}

export interface ActorDeps {
  opts: RunReconcilerOptions;
  writer: RunStatusWriter;
  finisher: RunFinisher;
}

export class Actor implements ActSession {
  private readonly abort = new AbortController();
  stop: StopRequest | undefined;
  promise: Promise<void> = Promise.resolve();
  /** the goal is on its way and its task id not yet written */
  private sending = false;
  private shuttingDown = false;
  private writes: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  private readonly deps: ActorDeps;
  private readonly run: AgentRun;
  /** the run's uid: a later run of the same name is another run */
  readonly runUid: string;
  /** the run's goal message (goalMessageId) */
  readonly messageId: string;
  private conditions: Condition[] | undefined;
  private lastProgress = 0;

  constructor(deps: ActorDeps, run: AgentRun) {
    this.deps = deps;
    this.log = deps.opts.log;
    this.run = run;
    this.runUid = run.metadata?.uid ?? "";
    this.messageId = goalMessageId(run);
    this.conditions = run.status?.conditions;
    if (run.spec?.status === "Cancelled") this.requestStop({ reason: "Cancelled", message: "cancelled by spec.status: Cancelled" });
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

  private endSend(): void {
    this.sending = false;
    if (this.shuttingDown) this.abort.abort(new Shutdown("the controller is stopping"));
  }

  /** Runs status writes one after another, so the outcome is the last one written. */
  private write(what: string, fn: () => Promise<unknown>): void {
    this.writes = this.writes.then(fn).then(
      () => undefined,
      (err: unknown) => { this.log.warn("status write failed", { what, error: describeError(err) }); },
    );
  }

  private note(message: string, eventReason: string): void {
    this.conditions = succeededCondition("Unknown", "Running", message, this.conditions);
    const c = this.conditions;
    this.write("condition", async () => {
      await this.deps.writer.set(this.run, { conditions: c });
      await this.deps.opts.kube.event(this.run, "Normal", eventReason, message);
    });
  }

  // ---- ActSession: what the driver tells the controller while it acts

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  isCancelled(): string | false {
    return this.stop?.message ?? false;
  }

  async beforeSend(): Promise<void> {
    this.sending = true;
    try {
      await this.deps.writer.persist(this.run, { goal: { messageId: this.messageId, sentTime: new Date().toISOString() } });
    } catch (err) {
      this.endSend();
      throw new GoalNotSent(`cannot record that the goal is being sent, so it was not sent: ${describeError(err)}`);
    }
  }

  async onTaskId(id: string): Promise<void> {
    try {
      await this.deps.writer.persist(this.run, { taskId: id });
    } catch (err) {
      // The task is followed all the same; only a restart from here on cannot resume it.
      this.log.error("cannot record kagent's task id; a controller restart now would fail the run", { run: runKey(this.run), taskId: id, error: describeError(err) });
    } finally {
      this.endSend();
    }
  }

  onProgress(line: string, usage: Usage, iterations: number): void {
    this.log.info("agent progress", { run: runKey(this.run), line, totalTokens: usage.totalTokens });
    if (Date.now() - this.lastProgress > PROGRESS_WRITE_MS) {
      this.lastProgress = Date.now();
      this.write("progress", async () => {
        await this.deps.writer.set(this.run, { usage, iterations });
        await this.deps.opts.kube.event(this.run, "Normal", "AgentProgress", line);
      });
    }
  }

  onPause(message: string): void {
    this.log.info("agent waits for a human", { run: runKey(this.run), message });
    this.note(message, "WaitingForToolApproval");
  }

  onResume(): void {
    this.note("the agent works again after a human's decision in kagent", "AgentResumed");
  }

  /**
   * Has the driver act and writes how the agent ended: the run finished, or
   * PostHooks when post-hooks follow. True when it wrote that outcome; false
   * when it stopped following (shutdown) or the goal was not sent.
   */
  async follow(config: AgentConfig, guardrails: Guardrails, deadline: number, target: ActTarget): Promise<boolean> {
    const { opts, writer, finisher } = this.deps;
    const run = this.run;
    const k = runKey(run);
    const ns = run.metadata?.namespace ?? "";
    const runName = run.metadata?.name ?? "";
    let outcome: ActingOutcome;
    try {
      outcome = await opts.driver.act({
        run,
        agent: target.agent,
        ...(target.contextId !== undefined ? { contextId: target.contextId } : {}),
        goal: run.spec?.goal ?? "",
        hints: run.spec?.context?.hints ?? [],
        messageId: this.messageId,
        ...(run.status?.taskId ? { taskId: run.status.taskId } : {}),
        budgetTokens: guardrails.tokenBudget,
        maxIterations: guardrails.maxIterations,
        deadline,
        session: this,
      });
    } catch (err) {
      await this.writes;
      if (this.abort.signal.aborted) {
        this.log.info("stopped following the agent; its task keeps running for the next leader", { run: k });
        return false;
      }
      if (err instanceof GoalNotSent) {
        this.log.warn("goal not sent; trying again later", { run: k, error: err.message });
        return false;
      }
      outcome = { reason: "AgentFailed", message: `talking to kagent failed: ${describeError(err)}`, usage: run.status?.usage ?? ZERO_USAGE, results: [], iterations: run.status?.iterations ?? 0 };
    }
    await this.writes;
    const fresh = ((await opts.kube.get(GVR.agentRuns, ns, runName)) as AgentRun | null) ?? run;
    const stop = this.stop;
    // A stop the controller asked for ends with its own reason (ConfigNotFound is no human's cancel).
    const reason = outcome.reason === "Cancelled" && stop ? stop.reason : outcome.reason;
    if (outcome.cancelRefused !== undefined) await opts.kube.event(fresh, "Warning", "CancelRefused", `kagent refused to cancel the agent's task (${outcome.cancelRefused}); the agent is stopped by deleting its Agent`);
    // taskEnded: only a task read in a final state is known to run no more (a refused or failed cancel leaves it running).
    const facts = { config, guardrails, usage: outcome.usage, results: outcome.results, iterations: outcome.iterations, agent: target.agent.name, taskEnded: outcome.taskEnded === true };
    if (reason !== "Succeeded") {
      await finisher.finish(fresh, reason, outcome.message, facts);
    } else if ((config.spec?.postHooks ?? []).length > 0) {
      // The condition says what happens now, not "pre-hooks succeeded" from Acting: `agentgate logs` prints it as the phase's line.
      const message = "the agent finished; running post-hooks";
      const written = await writer.writeOutcome(fresh, { phase: "PostHooks", conditions: succeededCondition("Unknown", "Running", message, fresh.status?.conditions), usage: outcome.usage, results: outcome.results, iterations: outcome.iterations, ...(outcome.taskId ? { taskId: outcome.taskId } : {}) });
      if (written) await opts.kube.event(fresh, "Normal", "PostHooks", message);
    } else {
      await finisher.finish(fresh, "Succeeded", outcome.message || "the agent reached its goal", facts);
    }
    return true;
  }
}
