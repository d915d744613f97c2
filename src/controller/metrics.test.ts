// The controller's run gauges: runs by phase and the age of each phase's
// oldest run, as the "runs stuck" alert (charts/agentgate/files/
// prometheus-rules.yaml) reads them; only a leader exports them.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AgentRun, RunPhase } from "../types/agent.ts";
import { ControllerMetrics, runPhaseStats } from "./metrics.ts";

const NOW = Date.parse("2030-01-01T12:00:00Z");
const ago = (seconds: number): string => new Date(NOW - seconds * 1000).toISOString();

function run(name: string, createdSecondsAgo: number, phase?: RunPhase, startedSecondsAgo?: number): AgentRun {
  return {
    apiVersion: "agent.tekton.dev/v1alpha1",
    kind: "AgentRun",
    metadata: { name, namespace: "team-a", creationTimestamp: ago(createdSecondsAgo) },
    ...(phase ? { status: { phase, ...(startedSecondsAgo !== undefined ? { startTime: ago(startedSecondsAgo) } : {}) } } : {}),
  };
}

test("runs by phase; a started run ages from its startTime, one not started from its creation, an ended one not at all", () => {
  const stats = runPhaseStats([
    run("fresh", 5),
    run("preparing", 600, "Pending"),
    run("waiting", 7200, "WaitingForApproval"),
    // approved an hour after it was made: its timeout began then
    run("acting", 7200, "Acting", 3600),
    run("acting-young", 100, "Acting", 90),
    run("hooks", 300, "PostHooks", 250),
    run("old-done", 86_400, "Succeeded", 86_000),
    run("old-failed", 86_400, "Failed"),
  ], NOW);
  const view = Object.fromEntries([...stats].map(([phase, s]) => [phase, [s.runs, s.oldestSeconds]]));
  assert.deepEqual(view, {
    New: [1, 5],
    Pending: [1, 600],
    WaitingForApproval: [1, 7200],
    PreHooks: [0, 0],
    Acting: [2, 3600],
    PostHooks: [1, 250],
    Succeeded: [1, 0],
    Failed: [1, 0],
  });
});

test("a started run without startTime falls back to its creation; a run without either is counted, not aged; a clock behind the cluster's is not negative", () => {
  const noStart = run("no-start", 900, "PreHooks");
  const undated: AgentRun = { metadata: { name: "undated" }, status: { phase: "Acting" } };
  const future = run("future", -30, "Pending");
  const stats = runPhaseStats([noStart, undated, future], NOW);
  assert.deepEqual(stats.get("PreHooks"), { runs: 1, oldestSeconds: 900 });
  assert.deepEqual(stats.get("Acting"), { runs: 1, oldestSeconds: 0 });
  assert.deepEqual(stats.get("Pending"), { runs: 1, oldestSeconds: 0 });
});

async function series(metrics: ControllerMetrics, name: string): Promise<Record<string, number>> {
  const json = await metrics.registry.getMetricsAsJSON();
  const values = json.find((m) => m.name === name)?.values ?? [];
  return Object.fromEntries(values.map((v) => [String(v.labels.phase), v.value]));
}

test("the registry exports the run gauges only while a source is given (the leader), read at every scrape", async () => {
  const metrics = new ControllerMetrics({ defaultMetrics: false, now: () => NOW });
  assert.deepEqual(await series(metrics, "agentgate_controller_runs"), {}, "a standby exports no run series");
  let runs: AgentRun[] | undefined = [run("a", 60, "Acting", 50), run("b", 1200, "Pending")];
  metrics.readRunsFrom(() => runs);
  assert.deepEqual(await series(metrics, "agentgate_controller_runs"), { New: 0, Pending: 1, WaitingForApproval: 0, PreHooks: 0, Acting: 1, PostHooks: 0, Succeeded: 0, Failed: 0 });
  assert.deepEqual(await series(metrics, "agentgate_controller_oldest_run_seconds"), { New: 0, Pending: 1200, WaitingForApproval: 0, PreHooks: 0, Acting: 50, PostHooks: 0 });
  runs = [run("b", 1200, "Failed")];
  assert.deepEqual(await series(metrics, "agentgate_controller_oldest_run_seconds"), { New: 0, Pending: 0, WaitingForApproval: 0, PreHooks: 0, Acting: 0, PostHooks: 0 }, "read again at the next scrape");
  runs = undefined;
  assert.deepEqual(await series(metrics, "agentgate_controller_runs"), {}, "leadership lost: the series go");
});

test("the process metrics carry the standard names and component=controller, with agentgate_build_info", async () => {
  const metrics = new ControllerMetrics();
  const text = await metrics.registry.metrics();
  assert.match(text, /^process_cpu_user_seconds_total\{component="controller"\} /m);
  assert.match(text, /^nodejs_heap_size_used_bytes\{component="controller"\} /m);
  assert.match(text, /^agentgate_build_info\{version="\d+\.\d+\.\d+[^"]*",node="v\d+[^"]*",component="controller"\} 1$/m);
  assert.doesNotMatch(text, /^agentgate_controller_process_/m, "no longer under the controller's prefix");
});
