// What the run reconciler needs from the agent runtime, so the state machine
// does not depend on A2A details. (What it needs from provenance is in
// provenance/facts.ts.)
import type { AgentRun, Usage } from "../types/agent.ts";

export type ActingReason = "Succeeded" | "BudgetExceeded" | "TimedOut" | "Cancelled" | "AgentFailed";

export interface ActingOutcome {
  reason: ActingReason;
  message: string;
  usage: Usage;
  results: { name: string; value: string }[];
  iterations: number;
  taskId?: string;
  /**
   * kagent's answer when it refused tasks/cancel and the task still ran
   * (its Python runtime refuses every cancel): the agent is only stopped by
   * deleting its Agent, and `message` says so.
   */
  cancelRefused?: string;
  /** the task was last read in a final state (completed, failed, canceled, rejected): nothing of it runs on */
  taskEnded?: boolean;
}

/**
 * The controller's side of one acting agent, as the driver talks back to it.
 * One object rather than loose callbacks: they share the actor's state (the
 * send window, the stop asked for), so they belong together.
 */
export interface ActSession {
  /** controller shutdown: stop following and reject, leaving the task running for the next leader */
  readonly signal: AbortSignal;
  /** why the controller stops the agent (spec.status: Cancelled, the config deleted), or false */
  isCancelled(): string | false;
  /** awaited before the goal is sent; a rejection means it is not sent */
  beforeSend(): Promise<void>;
  /** awaited as soon as kagent names the task, before anything else happens */
  onTaskId(taskId: string): Promise<void>;
  onProgress(line: string, usage: Usage, iterations: number): void;
  /** the agent waits for a human in kagent (a tool call to approve, a question) */
  onPause(message: string): void;
  onResume(): void;
}

export interface ActParams {
  run: AgentRun;
  agent: { namespace: string; name: string };
  goal: string;
  hints: string[];
  /** the goal message's A2A messageId, recorded in status.goal (kagent does not deduplicate by it) */
  messageId: string;
  /** the A2A context to send the goal in (an Agent shared within a PipelineRun); absent: kagent starts a new one */
  contextId?: string;
  /** set when a previous controller already sent the goal: resume, never resend */
  taskId?: string;
  budgetTokens: number;
  maxIterations: number;
  /** epoch ms */
  deadline: number;
  session: ActSession;
}

export interface AgentDriver {
  act(params: ActParams): Promise<ActingOutcome>;
  /**
   * Cancels a task nobody follows any more (its run ended while no
   * controller followed it). With goalMessageId, only a task whose history
   * opens with that message (the run's goal) is cancelled: any other is
   * refused (ForeignTaskError) and left alone, and one that cannot be read
   * is not cancelled (the read's error).
   */
  cancel(agent: { namespace: string; name: string }, taskId: string, goalMessageId?: string): Promise<void>;
}
