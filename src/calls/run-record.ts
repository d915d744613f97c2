// The run a call speaks for, as agentgate decided it: read from the API
// server, its decision verified with agentgate's keys (the stamps alone are
// text anyone with `edit` can write), and only while it is Acting. Answers
// are kept a moment so a burst of calls costs one read.
import { verifyDecision } from "../guardrails/decision.ts";
import type { KeyResolver } from "../signing/detached.ts";
import type { AgentRun, Guardrails, Snapshot } from "../types/agent.ts";
import { CallRefused, type CallerRun } from "./caller.ts";

export interface ActingRun {
  namespace: string;
  name: string;
  uid: string;
  config: string;
  guardrails: Guardrails;
  snapshot: Snapshot;
  policyRevision: string;
}

export type RunReader = (namespace: string, name: string) => Promise<AgentRun | null>;

/** Why a run takes no calls now, or undefined when it is Acting. */
export function whyNotActing(run: AgentRun): string | undefined {
  if (run.metadata?.deletionTimestamp) return "it is being deleted";
  if (run.spec?.status === "Cancelled") return "it was cancelled";
  const phase = run.status?.phase ?? "Pending";
  if (phase !== "Acting") return `it is ${phase}, and calls are taken only while it is Acting`;
  return undefined;
}

interface Cached {
  at: number;
  answer: ActingRun | CallRefused;
}

export class RunRecords {
  private readonly cache = new Map<string, Cached>();
  private readonly read: RunReader;
  private readonly resolve: KeyResolver;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(read: RunReader, resolve: KeyResolver, opts: { ttlMs?: number; now?: () => number } = {}) {
    this.read = read;
    this.resolve = resolve;
    this.ttlMs = opts.ttlMs ?? 2000;
    this.now = opts.now ?? Date.now;
  }

  async acting(caller: CallerRun): Promise<ActingRun> {
    const key = `${caller.namespace}/${caller.name}`;
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < this.ttlMs) {
      if (hit.answer instanceof CallRefused) throw hit.answer;
      return hit.answer;
    }
    // A failed read throws and is not remembered: the next call asks again.
    const answer = await this.load(caller);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, { at: this.now(), answer });
    if (answer instanceof CallRefused) throw answer;
    return answer;
  }

  private async load(caller: CallerRun): Promise<ActingRun | CallRefused> {
    const label = `AgentRun ${caller.namespace}/${caller.name}`;
    let run: AgentRun | null;
    try {
      run = await this.read(caller.namespace, caller.name);
    } catch (err) {
      throw new CallRefused(503, `cannot read ${label} now (${err instanceof Error ? err.message : String(err)}); retry`);
    }
    if (!run) return new CallRefused(403, `${label} does not exist: a run's calls end with the run`);
    const check = await verifyDecision(run, this.resolve);
    if (!check.ok) return new CallRefused(403, `${label} has no decision agentgate can verify: ${check.why}`);
    const why = whyNotActing(run);
    if (why !== undefined) return new CallRefused(409, `${label} takes no calls: ${why}`);
    const d = check.decision;
    return { namespace: caller.namespace, name: caller.name, uid: run.metadata?.uid ?? "", config: d.snapshot.config.name, guardrails: d.guardrails, snapshot: d.snapshot, policyRevision: d.policyRevision };
  }
}
