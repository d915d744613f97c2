// Writes of an AgentRun's status: plain, retried, guarded against a second
// writer, and phase transitions with their log line and Event.
import type { AgentRun, AgentRunStatus, RunPhase, Usage } from "../types/agent.ts";
import type { Logger } from "../log.ts";
import { isTerminal, succeededCondition, type RunReason } from "./conditions.ts";
import { GVR, statusCode, type Kube } from "./kube.ts";

export const ZERO_USAGE: Usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0, toolCalls: 0 };
/** Attempts at a write the run cannot go on without (the goal marker, the task id). */
const PERSIST_ATTEMPTS = 5;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** namespace/name: the key runs are queued, followed and logged by */
export function runKey(run: AgentRun): string {
  return `${run.metadata?.namespace ?? ""}/${run.metadata?.name ?? ""}`;
}

export class RunStatusWriter {
  private readonly kube: Kube;
  private readonly log: Logger;

  constructor(kube: Kube, log: Logger) {
    this.kube = kube;
    this.log = log;
  }

  async set(run: AgentRun, patch: Partial<AgentRunStatus>): Promise<AgentRun> {
    return (await this.kube.patchStatus(GVR.agentRuns, run.metadata?.namespace ?? "", run.metadata?.name ?? "", patch)) as AgentRun;
  }

  /** A write the run cannot go on without, retried a few times; throws the last error. */
  async persist(run: AgentRun, patch: Partial<AgentRunStatus>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.set(run, patch);
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
  async writeOutcome(run: AgentRun, status: Partial<AgentRunStatus>): Promise<AgentRun | null> {
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

  async transition(run: AgentRun, phase: RunPhase, reason: RunReason, message: string, extra: Partial<AgentRunStatus> = {}): Promise<AgentRun> {
    const previous = run.status?.phase;
    const updated = await this.set(run, {
      phase,
      conditions: succeededCondition("Unknown", reason, message, run.status?.conditions),
      ...extra,
    });
    if (previous !== phase) {
      this.log.info("run phase", { run: runKey(run), from: previous ?? "", to: phase, reason, message });
      await this.kube.event(run, "Normal", phase, message);
    }
    return updated;
  }
}
