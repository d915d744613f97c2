// The agent runtime as the run reconciler sees it: kagent over A2A.
import type { Logger } from "../log.ts";
import { A2AClient, kagentAgentUrl, userMessage } from "./a2a/client.ts";
import { followTask } from "./a2a/run.ts";
import type { ActParams, ActingOutcome, AgentDriver } from "./driver.ts";

export class A2ADriver implements AgentDriver {
  private readonly kagentUrl: string;
  private readonly log: Logger;

  constructor(kagentUrl: string, log: Logger) {
    this.kagentUrl = kagentUrl;
    this.log = log;
  }

  async act(p: ActParams): Promise<ActingOutcome> {
    const url = kagentAgentUrl(this.kagentUrl, p.agent.namespace, p.agent.name);
    const client = new A2AClient(url);
    // Hints travel as extra text parts after the goal, as the proposal's
    // context.hints are meant to be read.
    const message = userMessage([p.goal, ...p.hints.map((h) => `Hint: ${h}`)], {
      messageId: p.messageId,
      metadata: { "agent.tekton.dev/run": `${p.run.metadata?.namespace ?? ""}/${p.run.metadata?.name ?? ""}` },
    });
    if (p.taskId) this.log.info("resuming the agent's task; the goal is not sent again", { agent: url, taskId: p.taskId });
    const outcome = await followTask(client, message, {
      budgetTokens: p.budgetTokens,
      maxIterations: p.maxIterations,
      deadline: p.deadline,
      signal: p.signal,
      isCancelled: p.isCancelled,
      beforeSend: p.beforeSend,
      onProgress: p.onProgress,
      onTaskId: p.onTaskId,
      onPause: (pause) => { p.onPause(pause.message); },
      onResume: p.onResume,
      ...(p.taskId ? { taskId: p.taskId } : {}),
    });
    return {
      reason: outcome.reason,
      message: outcome.message,
      usage: outcome.usage,
      results: outcome.results,
      iterations: outcome.iterations,
      ...(outcome.taskId ? { taskId: outcome.taskId } : {}),
    };
  }

  async cancel(agent: { namespace: string; name: string }, taskId: string): Promise<void> {
    await new A2AClient(kagentAgentUrl(this.kagentUrl, agent.namespace, agent.name)).cancelTask(taskId, AbortSignal.timeout(5000));
  }
}
