// The agent runtime as the run reconciler sees it: kagent over A2A.
import { agentMessageParts } from "../guardrails/agent-message.ts";
import type { Logger } from "../log.ts";
import { A2AClient, A2AError, kagentAgentUrl, userMessage } from "./a2a/client.ts";
import { firstUserMessageId, followTask, ForeignTaskError } from "./a2a/run.ts";
import type { TokenSource } from "./a2a/token.ts";
import { tokenFromFile } from "./a2a/token.ts";
import { TERMINAL_STATES } from "./a2a/types.ts";
import type { ActParams, ActingOutcome, AgentDriver } from "./driver.ts";
import { AgentgateError } from "../errors.ts";

export interface A2ADriverOptions {
  /**
   * A file holding the bearer token for kagent's trusted-proxy auth mode
   * (kagent v0.9.4+ answers 401 without `Authorization: Bearer <JWT>`), e.g.
   * a projected ServiceAccount token. Read again whenever it changes.
   */
  tokenFile?: string;
  /** instead of tokenFile (tests) */
  bearerToken?: TokenSource;
  /** bound on one A2A call; default the client's (30 s) */
  timeoutMs?: number;
}

/**
 * kagent answered tasks/cancel with an error and the task still runs (its
 * Python runtime refuses every cancel). The agent stops only when its
 * Agent is deleted.
 */
export class CancelRefusedError extends AgentgateError {
  override name = "CancelRefusedError";
  readonly taskId: string;
  /** what kagent said */
  readonly kagentMessage: string;

  constructor(agent: { namespace: string; name: string }, taskId: string, kagentMessage: string, cause: unknown) {
    super("unavailable", `kagent refused to cancel task ${taskId} of Agent ${agent.namespace}/${agent.name} (${kagentMessage}); the task is still running`, { cause });
    this.taskId = taskId;
    this.kagentMessage = kagentMessage;
  }
}

export class A2ADriver implements AgentDriver {
  private readonly kagentUrl: string;
  private readonly log: Logger;
  private readonly bearerToken: TokenSource | undefined;
  private readonly timeoutMs: number | undefined;

  constructor(kagentUrl: string, log: Logger, opts: A2ADriverOptions = {}) {
    this.kagentUrl = kagentUrl;
    this.log = log;
    this.bearerToken = opts.bearerToken ?? (opts.tokenFile !== undefined ? tokenFromFile(opts.tokenFile) : undefined);
    this.timeoutMs = opts.timeoutMs;
  }

  private client(agent: { namespace: string; name: string }): A2AClient {
    return new A2AClient(kagentAgentUrl(this.kagentUrl, agent.namespace, agent.name), {
      ...(this.bearerToken ? { bearerToken: this.bearerToken } : {}),
      ...(this.timeoutMs !== undefined ? { timeoutMs: this.timeoutMs } : {}),
    });
  }

  async act(p: ActParams): Promise<ActingOutcome> {
    const client = this.client(p.agent);
    // Exactly the parts the goal policy judged (agent-message.ts).
    const message = userMessage(agentMessageParts(p.goal, p.hints), {
      messageId: p.messageId,
      // One conversation for the steps of a PipelineRun that share an Agent (kagent's session is the context).
      ...(p.contextId !== undefined ? { contextId: p.contextId } : {}),
      metadata: { "agent.tekton.dev/run": `${p.run.metadata?.namespace ?? ""}/${p.run.metadata?.name ?? ""}` },
    });
    const s = p.session;
    if (p.taskId) this.log.info("resuming the agent's task; the goal is not sent again", { agent: client.url, taskId: p.taskId });
    const outcome = await followTask(client, message, {
      budgetTokens: p.budgetTokens,
      maxIterations: p.maxIterations,
      deadline: p.deadline,
      signal: s.signal,
      isCancelled: () => s.isCancelled(),
      beforeSend: () => s.beforeSend(),
      onProgress: (line, usage, iterations) => { s.onProgress(line, usage, iterations); },
      onTaskId: (id) => s.onTaskId(id),
      onPause: (pause) => { s.onPause(pause.message); },
      onResume: () => { s.onResume(); },
      // finishing the run deletes the run's own Agent, and a shared Agent whose task it cannot confirm ended (run-finish.ts)
      whenCancelRefused: `the agent is stopped by deleting Agent ${p.agent.namespace}/${p.agent.name}`,
      ...(p.taskId ? { taskId: p.taskId } : {}),
    });
    if (outcome.cancelRefused !== undefined) {
      this.log.warn("kagent refused to cancel the agent's task; it runs until its Agent is deleted", { agent: client.url, taskId: outcome.taskId, kagent: outcome.cancelRefused });
    }
    return {
      reason: outcome.reason,
      message: outcome.message,
      usage: outcome.usage,
      results: outcome.results,
      iterations: outcome.iterations,
      ...(outcome.taskId ? { taskId: outcome.taskId } : {}),
      ...(outcome.cancelRefused !== undefined ? { cancelRefused: outcome.cancelRefused } : {}),
      // a final state read, or a bare answer (no task was made)
      ...(TERMINAL_STATES.has(outcome.state) || outcome.reason === "Succeeded" ? { taskEnded: true } : {}),
    };
  }

  /**
   * Throws CancelRefusedError when kagent refuses and the task still runs;
   * with goalMessageId, ForeignTaskError for a task that is not proven to
   * be that goal's (its history opens with another message, or none).
   */
  async cancel(agent: { namespace: string; name: string }, taskId: string, goalMessageId?: string): Promise<void> {
    const client = this.client(agent);
    if (goalMessageId !== undefined) {
      // An Agent shared within a PipelineRun runs other runs' goals in the same context: the task is proven this goal's before it is touched.
      const task = await client.getTask(taskId, undefined, AbortSignal.timeout(5000));
      const first = firstUserMessageId(task);
      if (first !== goalMessageId) throw new ForeignTaskError(taskId, first ?? "(none kept)", goalMessageId);
      if (TERMINAL_STATES.has(task.status.state)) return;
    }
    try {
      await client.cancelTask(taskId, AbortSignal.timeout(5000));
    } catch (err) {
      if (!(err instanceof A2AError) || err.code === undefined) throw err;
      // TaskNotCancelable for a task that finished meanwhile is no refusal
      const task = await client.getTask(taskId, 0, AbortSignal.timeout(5000)).catch(() => undefined);
      if (task && TERMINAL_STATES.has(task.status.state)) return;
      throw new CancelRefusedError(agent, taskId, err.serverMessage ?? `JSON-RPC error ${String(err.code)}`, err);
    }
  }
}
