// Prometheus metrics of the controller. The run gauges are read from the
// leader's AgentRun watch cache at scrape time: a run the controller stopped
// moving (a wedged pass, hooks that never end, a deadline not enforced) shows
// as a phase whose oldest run keeps ageing, which a counter of what the
// controller did cannot show.
import { Counter, Gauge, Registry } from "prom-client";
import { registerProcessMetrics } from "../process-metrics.ts";
import type { AgentRun, RunPhase } from "../types/agent.ts";

/** A run's phase as the metrics label it; New: written by nobody yet (the controller has not seen it). */
export type PhaseLabel = RunPhase | "New";

export const PHASE_LABELS: readonly PhaseLabel[] = ["New", "Pending", "WaitingForApproval", "PreHooks", "Acting", "PostHooks", "Succeeded", "Failed"];

const TERMINAL: ReadonlySet<PhaseLabel> = new Set(["Succeeded", "Failed"]);
/** Phases whose runs have started their timeout (status.startTime). */
const STARTED: ReadonlySet<PhaseLabel> = new Set(["PreHooks", "Acting", "PostHooks"]);

export interface PhaseStats {
  runs: number;
  /** seconds; 0 when no run is in the phase, and for ended runs (their age says nothing) */
  oldestSeconds: number;
}

/**
 * Runs by phase, and for each phase not ended the age of its oldest run:
 * since status.startTime (the start of its timeout) once started, else since
 * its creation. A started run ends by its deadline whatever its phase, so
 * its age stays below the longest timeout the policy allows; one that
 * outgrows it was not ended by the controller.
 */
export function runPhaseStats(runs: Iterable<AgentRun>, nowMs: number): Map<PhaseLabel, PhaseStats> {
  const stats = new Map<PhaseLabel, PhaseStats>(PHASE_LABELS.map((p) => [p, { runs: 0, oldestSeconds: 0 }]));
  for (const run of runs) {
    const phase: PhaseLabel = run.status?.phase ?? "New";
    const entry = stats.get(phase);
    // A phase this version does not know (a newer controller wrote it) is not counted.
    if (!entry) continue;
    entry.runs++;
    if (TERMINAL.has(phase)) continue;
    const since = Date.parse((STARTED.has(phase) ? run.status?.startTime : undefined) ?? run.metadata?.creationTimestamp ?? "");
    if (Number.isNaN(since)) continue;
    entry.oldestSeconds = Math.max(entry.oldestSeconds, Math.max(0, (nowMs - since) / 1000));
  }
  return stats;
}

/** The runs the leader's watch cache holds; undefined while this replica does not lead (or has not synced). */
export type RunSource = () => Iterable<AgentRun> | undefined;

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly apiRequests = new Counter({
    name: "agentgate_controller_api_requests_total",
    help: "Requests sent to the Kubernetes API server, by verb and resource (watch streams excluded).",
    labelNames: ["verb", "resource"] as const,
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: "agentgate_controller_reconciles_total",
    help: "Reconciles, by kind and outcome.",
    labelNames: ["kind", "outcome"] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "agentgate_controller_leader",
    help: "1 while this replica leads (holds the Lease agentgate-controller, or runs without leader election).",
    registers: [this.registry],
  });
  readonly runsActing = new Gauge({
    name: "agentgate_controller_runs_acting",
    help: "Runs whose agent is acting now.",
    registers: [this.registry],
  });
  /** agentgate_build_info, with process_* and nodejs_* (component="controller") */
  readonly buildInfo: Gauge<"version" | "node" | "component">;

  private source: RunSource = () => undefined;

  constructor(opts: { defaultMetrics?: boolean; now?: () => number } = {}) {
    this.buildInfo = registerProcessMetrics(this.registry, "controller", opts.defaultMetrics ?? true);
    const now = opts.now ?? Date.now;
    // Standbys export no run series, so a sum over replicas is the leader's.
    const read = (): Map<PhaseLabel, PhaseStats> | undefined => {
      const runs = this.source();
      return runs === undefined ? undefined : runPhaseStats(runs, now());
    };
    new Gauge({
      name: "agentgate_controller_runs",
      help: "AgentRuns in the leading controller's cache, by phase (New: not yet seen by the controller). Only the leader exports it.",
      labelNames: ["phase"] as const,
      registers: [this.registry],
      collect(this: Gauge<"phase">) {
        this.reset();
        for (const [phase, s] of read() ?? []) this.set({ phase }, s.runs);
      },
    });
    new Gauge({
      name: "agentgate_controller_oldest_run_seconds",
      help: "For each phase a run has not ended in, the age of its oldest run: since status.startTime (its timeout's start) in PreHooks, Acting and PostHooks, since its creation before. 0 when the phase holds none. Only the leader exports it.",
      labelNames: ["phase"] as const,
      registers: [this.registry],
      collect(this: Gauge<"phase">) {
        this.reset();
        for (const [phase, s] of read() ?? []) if (!TERMINAL.has(phase)) this.set({ phase }, s.oldestSeconds);
      },
    });
  }

  /** Where the run gauges read from (the controller's AgentRun informer, while it leads). */
  readRunsFrom(source: RunSource): void {
    this.source = source;
  }
}
