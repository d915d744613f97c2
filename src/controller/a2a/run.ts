// Following one kagent task from the goal to an outcome the run reconciler can
// write: stream the events, meter usage, and stop the task (tasks/cancel) as
// soon as the token budget, the iteration bound, the deadline or a human's
// cancellation says so.
//
// Idempotency: kagent does not deduplicate by messageId, so a goal sent twice
// starts two tasks. The caller records that it is about to send (`beforeSend`,
// awaited before the message leaves), then the task id as soon as `onTaskId`
// reports it (also awaited, before anything else is read), and a restarted
// controller calls followTask with `taskId` set: the message is then never
// sent again; the task is re-read with tasks/get (which also rebuilds the
// usage from its history) and followed by tasks/resubscribe, or by polling
// where the server cannot stream.
//
// Human in the loop: a task in input-required or auth-required is paused, not
// ended. kagent parks a task there when the agent calls a tool listed in
// requireApproval (an `adk_request_confirmation` call naming the original
// tool) until a human approves or rejects it in kagent's UI, which resumes the
// same task. The follower keeps polling it, tells the caller (`onPause`,
// `onResume`), and the deadline, the budgets and cancellation still apply.
import type { A2AClient } from "./client.ts";
import { A2AError } from "./client.ts";
import type { A2AEvent, Message, Result, Task, TaskState, Usage } from "./types.ts";
import { RpcCode, TERMINAL_STATES } from "./types.ts";
import { TaskView } from "./task-view.ts";
import { UsageMeter } from "./usage.ts";
import { AgentgateError } from "../../errors.ts";

export type FollowReason = "Succeeded" | "BudgetExceeded" | "TimedOut" | "Cancelled" | "AgentFailed";

export interface FollowOptions {
  /** bound on totalTokens; 0 or absent: none */
  budgetTokens?: number;
  /** bound on LLM calls; 0 or absent: none */
  maxIterations?: number;
  /** epoch ms */
  deadline?: number;
  /** polled every checkIntervalMs; true (or why, as a string) stops the task with reason Cancelled */
  isCancelled?: () => boolean | string;
  onProgress?: (line: string, usage: Usage, iterations: number) => void;
  /** awaited just before the message is sent: record that it is being sent */
  beforeSend?: () => Promise<void>;
  /** called once, as soon as the server names the task, and awaited before anything else is read: record it to resume after a restart */
  onTaskId?: (taskId: string) => void | Promise<void>;
  /** the task stopped for a human (input-required, auth-required) */
  onPause?: (pause: Pause) => void;
  /** a paused task left the pause (working again, or finished) */
  onResume?: (state: TaskState) => void;
  /** aborting (controller shutdown) stops following without cancelling the task and rejects */
  signal?: AbortSignal;
  /** resume the task a previous attempt started; the message is not sent */
  taskId?: string;
  /** default true */
  stream?: boolean;
  /** default 1000 */
  pollIntervalMs?: number;
  /** how often deadline and isCancelled are checked; default 200 */
  checkIntervalMs?: number;
  /** bound on the tasks/cancel call and on waiting for a task id to cancel; default 5000 */
  cancelWaitMs?: number;
  /** what the message says after a refused cancel; default "the agent is still running" */
  whenCancelRefused?: string;
}

export interface FollowOutcome {
  reason: FollowReason;
  /** the last state the server reported ("unknown" when it answered with a bare message) */
  state: TaskState;
  taskId: string | undefined;
  contextId: string | undefined;
  usage: Usage;
  /** LLM calls observed */
  iterations: number;
  results: Result[];
  message: string;
  /**
   * Set when we asked kagent to cancel the task, kagent answered with a
   * JSON-RPC error, and the task was still not finished when read again:
   * what kagent said. kagent's Python runtime refuses every cancel
   * (-32603 "Cancellation is not supported"), so its agent runs on until
   * something else stops it.
   */
  cancelRefused?: string;
}

/** Why a task waits for a human. */
export interface Pause {
  state: TaskState;
  /** the tool call awaiting approval, when kagent says which */
  tool: string | undefined;
  /** one line for the run's condition and Event */
  message: string;
}

interface Stop {
  reason: Exclude<FollowReason, "Succeeded" | "AgentFailed">;
  message: string;
  at: number;
}

/** Sentinel abort reason: we interrupted our own request because we decided to stop. */
class StopRequested extends AgentgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("internal", message, options);
  }
  override name = "StopRequested";
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * A recorded task id that names another goal's task: kagent's history opens
 * with the user message that started the task, under the messageId its
 * sender chose, and this run's goal has another.
 */
export class ForeignTaskError extends AgentgateError {
  override name = "ForeignTaskError";
  readonly taskId: string;

  constructor(taskId: string, firstMessageId: string, goalMessageId: string) {
    super("input", `kagent task ${taskId} is not this run's: it was started by message ${firstMessageId}, not by the run's goal ${goalMessageId}; it is neither followed nor cancelled`);
    this.taskId = taskId;
  }
}

/** The messageId of the user message a task's history opens with, if kagent kept one. */
export function firstUserMessageId(task: Task): string | undefined {
  return task.history?.find((m) => m.role === "user")?.messageId;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Consecutive failed polls tolerated before giving up on a task we know. */
const MAX_POLL_FAILURES = 10;

export async function followTask(client: A2AClient, message: Message, opts: FollowOptions = {}): Promise<FollowOutcome> {
  const meter = new UsageMeter();
  const view = new TaskView();
  const stream = opts.stream ?? true;
  const pollMs = opts.pollIntervalMs ?? 1000;
  const cancelWaitMs = opts.cancelWaitMs ?? 5000;
  const budget = opts.budgetTokens ?? 0;
  const maxIterations = opts.maxIterations ?? 0;
  const external = opts.signal;
  external?.throwIfAborted();

  // Aborted by us to interrupt a stream or a poll when a stop condition fires,
  // or by the caller's signal.
  const ac = new AbortController();
  const onExternalAbort = (): void => ac.abort(external?.reason);
  external?.addEventListener("abort", onExternalAbort, { once: true });

  // an object, not a `let`: the checks assign it from callbacks the type checker cannot follow
  const halt: { stop: Stop | undefined } = { stop: undefined };
  const check = (): void => {
    if (!halt.stop) {
      const now = Date.now();
      const usage = meter.usage;
      const cancelled = opts.isCancelled?.();
      if (cancelled) halt.stop = { reason: "Cancelled", message: typeof cancelled === "string" ? cancelled : "the run was cancelled", at: now };
      else if (opts.deadline !== undefined && now >= opts.deadline) halt.stop = { reason: "TimedOut", message: `the deadline ${new Date(opts.deadline).toISOString()} passed`, at: now };
      else if (budget > 0 && usage.totalTokens > budget) halt.stop = { reason: "BudgetExceeded", message: `the token budget ${budget} was exceeded (${usage.totalTokens} tokens used)`, at: now };
      else if (maxIterations > 0 && meter.llmCalls > maxIterations) halt.stop = { reason: "BudgetExceeded", message: `the iteration bound ${maxIterations} was exceeded (${meter.llmCalls} LLM calls)`, at: now };
    }
    // Without a task id there is nothing to cancel yet: keep reading for it a
    // little while rather than losing the task, then give up on it.
    const stop = halt.stop;
    if (stop && !ac.signal.aborted && (view.taskId !== undefined || Date.now() - stop.at >= cancelWaitMs)) {
      ac.abort(new StopRequested(stop.message));
    }
  };
  const timer = setInterval(check, opts.checkIntervalMs ?? 200);

  // a function, not an expression: events change both behind the type checker's back
  const finished = (): boolean => view.done || halt.stop !== undefined;

  let paused = false;
  const absorb = async (ev: A2AEvent): Promise<void> => {
    const lines = meter.observe(ev);
    const revealed = view.observe(ev);
    if (revealed !== undefined && revealed !== opts.taskId) await opts.onTaskId?.(revealed);
    for (const line of lines) opts.onProgress?.(line, meter.usage, meter.llmCalls);
    if (view.paused && !paused) {
      paused = true;
      const tool = view.toolAwaitingApproval;
      const where = `kagent task ${view.taskId ?? "(unnamed)"}`;
      const message = tool
        ? `${where} is waiting for a human to approve tool call ${tool} in kagent`
        : `${where} is waiting for a human's input in kagent (${view.state})${view.statusText ? `: ${view.statusText}` : ""}`;
      opts.onPause?.({ state: view.state, tool, message });
    } else if (!view.paused && paused) {
      paused = false;
      // our own cancel ending a pause is no resumption
      if (!halt.stop) opts.onResume?.(view.state);
    }
    check();
  };

  /** Swallows the abort we caused ourselves; anything else propagates. */
  const settled = (err: unknown): void => {
    if (external?.aborted) throw external.reason;
    if (ac.signal.aborted && ac.signal.reason instanceof StopRequested) return;
    throw err;
  };

  // A resumed task is checked once to be this goal's before anything else is done with it.
  let ownerChecked = opts.taskId === undefined;
  const read = async (signal: AbortSignal): Promise<void> => {
    const task = await client.getTask(view.taskId ?? "", undefined, signal);
    if (!ownerChecked) {
      ownerChecked = true;
      const first = firstUserMessageId(task);
      if (first !== undefined && first !== message.messageId) throw new ForeignTaskError(task.id, first, message.messageId);
    }
    await absorb(task);
  };

  try {
    check();
    if (opts.taskId !== undefined) {
      view.taskId = opts.taskId;
      try {
        await read(ac.signal);
      } catch (err) {
        // a transient failure leaves the check to the next read
        if (!(err instanceof A2AError) || err.code === RpcCode.TaskNotFound) settled(err);
      }
    } else if (!halt.stop) {
      await opts.beforeSend?.();
      try {
        for await (const ev of client.send(message, { stream, signal: ac.signal })) {
          await absorb(ev);
          if (finished()) break;
        }
      } catch (err) {
        // A stream that broke after naming the task is followed by polling.
        if (view.taskId === undefined || !(err instanceof A2AError)) settled(err);
      }
    }

    let resubscribe = stream && client.streamingSupported;
    let failures = 0;
    while (view.taskId !== undefined && !finished()) {
      try {
        await read(ac.signal);
        failures = 0;
      } catch (err) {
        if (!(err instanceof A2AError)) settled(err);
        else if (err.code === RpcCode.TaskNotFound || ++failures >= MAX_POLL_FAILURES) throw err;
      }
      if (finished()) break;
      // A paused task has no event stream to join (a2a-python answers
      // TaskNotFound: its executor ended at the pause); poll until it works again.
      if (resubscribe && !view.paused) {
        try {
          for await (const ev of client.resubscribe(view.taskId, { signal: ac.signal })) {
            await absorb(ev);
            if (finished()) break;
          }
        } catch (err) {
          // refused or broken: polling carries on alone
          if (err instanceof A2AError) resubscribe = false;
          else settled(err);
        }
        if (finished()) break;
      }
      await sleep(pollMs, ac.signal);
    }
  } finally {
    clearInterval(timer);
    external?.removeEventListener("abort", onExternalAbort);
  }

  const stop = halt.stop;
  // what the agent did, before our cancel turns an interrupted task into a canceled one
  const endState = view.state;
  // Stopping (a paused task included): release the task.
  let cancelNote = "";
  /** kagent's answer to a tasks/cancel it refused */
  let refusal: string | undefined;
  if (view.taskId !== undefined && stop && !ownerChecked) {
    try {
      await read(AbortSignal.timeout(cancelWaitMs));
    } catch (err) {
      // never cancel another goal's task; an unreadable one is cancelled as before
      if (err instanceof ForeignTaskError) throw err;
    }
  }
  if (view.taskId !== undefined && stop && !TERMINAL_STATES.has(view.state)) {
    try {
      await absorb(await client.cancelTask(view.taskId, AbortSignal.timeout(cancelWaitMs)));
      cancelNote = `; task ${view.taskId} cancelled`;
    } catch (err) {
      if (err instanceof A2AError && err.code !== undefined) refusal = err.serverMessage ?? `JSON-RPC error ${String(err.code)}`;
      cancelNote = `; cancelling task ${view.taskId} failed: ${describe(err)}`;
    }
  } else if (stop && view.taskId === undefined) {
    cancelNote = "; kagent never named the task, so it could not be cancelled";
  }
  // One last read settles usage and results the stream may have missed.
  if (view.taskId !== undefined) {
    try {
      await absorb(await client.getTask(view.taskId, undefined, AbortSignal.timeout(cancelWaitMs)));
    } catch {
      // best effort: the streamed view stands
    }
  }
  // A refusal for a task that ended meanwhile (TaskNotCancelable) is no refusal.
  let cancelRefused: string | undefined;
  if (refusal !== undefined && view.taskId !== undefined && !TERMINAL_STATES.has(view.state)) {
    cancelRefused = refusal;
    cancelNote = `; kagent refused to cancel task ${view.taskId} (${refusal}); ${opts.whenCancelRefused ?? "the agent is still running"}`;
  }

  const base = { state: stop ? view.state : endState, taskId: view.taskId, contextId: view.contextId, usage: meter.usage, iterations: meter.llmCalls, results: view.results() };
  const task = view.taskId !== undefined ? `kagent task ${view.taskId}` : "the kagent agent";
  const said = view.statusText ? `: ${view.statusText}` : "";
  if (stop) return { ...base, reason: stop.reason, message: `${stop.message}${cancelNote}`, ...(cancelRefused !== undefined ? { cancelRefused } : {}) };
  switch (endState) {
    case "completed":
      return { ...base, reason: "Succeeded", message: `${task} completed` };
    case "failed":
      return { ...base, reason: "AgentFailed", message: `${task} failed${said}` };
    case "rejected":
      return { ...base, reason: "AgentFailed", message: `${task} was rejected${said}` };
    case "canceled":
      return { ...base, reason: "AgentFailed", message: `${task} was canceled outside agentgate${said}` };
    default:
      if (view.reply) return { ...base, reason: "Succeeded", message: `${task} answered without a task` };
      return { ...base, reason: "AgentFailed", message: `${task} ended in state ${endState}` };
  }
}
