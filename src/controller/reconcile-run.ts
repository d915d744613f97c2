// The run state machine (SPEC §5). No policy here: the guardrails come from
// the stamp the webhook wrote; this carries them out and records what
// happened.
import { STAMP, type AgentConfig, type AgentRun, type AgentRunStatus, type Guardrails, type Hook, type RunPhase, type Usage } from "../types/agent.ts";
import { parseExtendedDurationNs } from "../policy/builtins/duration.ts";
import { parseGuardrails } from "../guardrails/stamps.ts";
import type { Logger } from "../log.ts";
import type { PipelineRun } from "../types/tekton.ts";
import type { Agent } from "../types/kagent.ts";
import { isTerminal, phaseFor, succeededCondition, type RunReason } from "./conditions.ts";
import type { ActingOutcome, AgentDriver, ProvenanceRecorder } from "./driver.ts";
import { hookPipelineRun, hookState } from "./hooks.ts";
import { agentReady, kagentAgent } from "./kagent-agent.ts";
import { GVR, Kube, describeError, statusCode } from "./kube.ts";
import { names } from "./owned.ts";
import { scopeObjects, type ScopeEnvironment } from "./scope.ts";

const ZERO_USAGE: Usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0, toolCalls: 0 };
const POLL_MS = 1000;
const ACTED_MEMORY_MS = 10 * 60_000;

export interface RunReconcilerOptions {
  kube: Kube;
  driver: AgentDriver;
  provenance: ProvenanceRecorder;
  log: Logger;
  /** the API server's endpoints and the Services a strict NetworkPolicy names, read when the scope is made */
  scopeEnvironment: (guardrails: Guardrails) => Promise<ScopeEnvironment>;
  /** asks for another reconcile of a run (the actor finished) */
  requeue: (key: string) => void;
  /** how long to wait for kagent to report an Agent Ready */
  agentReadyTimeoutMs?: number;
}

interface Actor {
  promise: Promise<void>;
}

function key(run: AgentRun): string {
  return `${run.metadata?.namespace ?? ""}/${run.metadata?.name ?? ""}`;
}

const DEFAULT_TIMEOUT_MS = 15 * 60_000;
// setTimeout's limit: a longer delay fires at once (Node warns), which would
// turn a month-long approval wait into a busy loop.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A run's timeout in milliseconds, parsed as the policy parsed it when it
 * admitted the run (OPA's time.parse_duration_ns: Go units plus d, w, y), so
 * a "1d" the webhook allowed is a day here too.
 */
export function runTimeoutMs(timeout: string): number {
  try {
    return Number(parseExtendedDurationNs(timeout) / 1_000_000n);
  } catch {
    return DEFAULT_TIMEOUT_MS;
  }
}

/** When to look again at a run that waits (for approval) until its deadline. */
export function waitRequeueMs(deadline: number, now: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(1000, deadline - now));
}

export class RunReconciler {
  private readonly actors = new Map<string, Actor>();
  private readonly opts: RunReconcilerOptions;

  constructor(opts: RunReconcilerOptions) {
    this.opts = opts;
  }

  get kube(): Kube {
    return this.opts.kube;
  }

  private async setStatus(run: AgentRun, patch: Partial<AgentRunStatus>): Promise<AgentRun> {
    const updated = (await this.kube.patchStatus(GVR.agentRuns, run.metadata?.namespace ?? "", run.metadata?.name ?? "", patch)) as AgentRun;
    return updated;
  }

  private async transition(run: AgentRun, phase: RunPhase, reason: RunReason, message: string, extra: Partial<AgentRunStatus> = {}): Promise<AgentRun> {
    const previous = run.status?.phase;
    const updated = await this.setStatus(run, {
      phase,
      conditions: succeededCondition("Unknown", reason, message, run.status?.conditions),
      ...extra,
    });
    if (previous !== phase) {
      this.opts.log.info("run phase", { run: key(run), from: previous ?? "", to: phase, reason, message });
      await this.kube.event(run, "Normal", phase, message);
    }
    return updated;
  }

  /** Ends the run: results, provenance, the final condition. */
  private async finish(run: AgentRun, reason: RunReason, message: string, facts: { config?: AgentConfig | null; guardrails?: Guardrails; usage?: Usage; results?: { name: string; value: string }[]; iterations?: number } = {}): Promise<void> {
    const finishedOn = new Date().toISOString();
    const usage = facts.usage ?? run.status?.usage ?? ZERO_USAGE;
    let results = facts.results ?? run.status?.results ?? [];
    let provenanceNote = "";
    let provenance: AgentRunStatus["provenance"];
    if (facts.config && facts.guardrails) {
      try {
        const record = await this.recordProvenance(run, facts.config, facts.guardrails, usage, results, reason, finishedOn);
        provenance = record.envelope;
        results = [...results.filter((r) => r.name !== "provenance-digest"), { name: "provenance-digest", value: record.digest }];
        if (!record.signed) provenanceNote = " (provenance recorded unsigned: no --provenance-key-secret)";
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
    await this.setStatus(run, status);
    this.opts.log.info("run finished", { run: key(run), reason, message, usage });
    await this.kube.event(run, reason === "Succeeded" ? "Normal" : "Warning", reason, `${message}${provenanceNote}`);
  }

  private async recordProvenance(run: AgentRun, config: AgentConfig, guardrails: Guardrails, usage: Usage, results: { name: string; value: string }[], outcome: string, finishedOn: string) {
    const ns = run.metadata?.namespace ?? "";
    const agent = (await this.kube.get(GVR.agents, ns, names.agent(run.metadata?.name ?? ""))) as Agent | null;
    const modelName = config.spec?.modelConfigRef?.name;
    const modelNs = config.spec?.modelConfigRef?.namespace ?? ns;
    const model = modelName ? await this.kube.get(GVR.modelConfigs, modelNs, modelName) : null;
    const toolServers = [];
    for (const t of guardrails.tools) {
      const [tns = "", tname = ""] = t.server.split("/");
      const obj = t.kind === "RemoteMCPServer" ? await this.kube.get({ group: "kagent.dev", version: "v1alpha2", plural: "remotemcpservers" }, tns, tname) : null;
      toolServers.push({ namespace: tns, name: tname, kind: t.kind, spec: obj?.spec ?? null });
    }
    return this.opts.provenance.record({
      run,
      config,
      guardrails,
      agent: agent ? { namespace: ns, name: agent.metadata?.name ?? "", spec: agent.spec } : null,
      modelConfig: model && modelName ? { namespace: modelNs, name: modelName, spec: model.spec } : null,
      toolServers,
      usage,
      results,
      policyRevision: run.metadata?.annotations?.[STAMP.policyRevision] ?? "",
      startedOn: run.status?.startTime ?? finishedOn,
      finishedOn,
      outcome,
    });
  }

  async reconcile(run: AgentRun): Promise<{ requeueAfterMs?: number }> {
    const uid = run.metadata?.uid ?? "";
    const acting = this.actors.has(key(run));
    if (isTerminal(run.status)) {
      if (!acting) this.acted.delete(uid);
      return {};
    }
    // The actor requeues the run as it ends; the informer's copy may not yet
    // carry what the actor wrote, and acting on that copy would finish the
    // run a second time (a second Event, provenance re-signed). The watch
    // event for the actor's write comes next.
    if (run.status?.phase === "Acting" && !acting && this.acted.has(uid)) return {};
    if (!acting) this.acted.delete(uid);
    const ns = run.metadata?.namespace ?? "";
    const guardrails = parseGuardrails(run.metadata?.annotations?.[STAMP.guardrails]);
    if (!guardrails) {
      await this.finish(run, "PolicyDenied", `the run carries no ${STAMP.guardrails} stamp, so agentgate's webhook did not admit it; check the webhook configuration and create the run again`);
      return {};
    }
    const configName = run.spec?.configRef?.name ?? "";
    const config = (await this.kube.get(GVR.agentConfigs, ns, configName)) as AgentConfig | null;
    if (!config) {
      await this.finish(run, "ConfigNotFound", `AgentConfig "${configName}" no longer exists in namespace "${ns}"; recreate it and start a new AgentRun`, { guardrails });
      return {};
    }
    const phase = run.status?.phase;
    const actor = this.actors.get(key(run));
    if (run.spec?.status === "Cancelled" && !actor) {
      await this.finish(run, "Cancelled", "cancelled by spec.status: Cancelled before the agent acted", { config, guardrails });
      return {};
    }
    if (!run.status?.startTime) {
      run = await this.transition(run, "Pending", "Pending", "admitted; preparing the run", { startTime: new Date().toISOString(), usage: ZERO_USAGE, iterations: 0 });
    }
    const deadline = Date.parse(run.status?.startTime ?? new Date().toISOString()) + runTimeoutMs(guardrails.timeout);
    if (Date.now() > deadline && !actor) {
      await this.finish(run, "TimedOut", `the run did not finish within its timeout of ${guardrails.timeout}`, { config, guardrails });
      return {};
    }

    if (phase === undefined || phase === "Pending" || phase === "WaitingForApproval") {
      const approver = run.metadata?.annotations?.[STAMP.approvedBy];
      if (guardrails.approval.required && !approver) {
        if (phase !== "WaitingForApproval") {
          await this.transition(
            run,
            "WaitingForApproval",
            "WaitingForApproval",
            `waiting for a member of ${guardrails.approval.approverGroups.join(", ") || "the approver groups"} to approve: kubectl annotate agentrun ${run.metadata?.name ?? ""} -n ${ns} ${STAMP.approvedBy}=<your user name>`,
          );
        }
        return { requeueAfterMs: waitRequeueMs(deadline, Date.now()) };
      }
      const env = await this.opts.scopeEnvironment(guardrails);
      for (const object of scopeObjects(run, guardrails, env)) await this.kube.apply(object);
      const next: RunPhase = (config.spec?.preHooks ?? []).length > 0 ? "PreHooks" : "Acting";
      await this.transition(run, next, "Running", approver ? `approved by ${approver}; scope ready` : "scope ready");
      return { requeueAfterMs: 0 };
    }

    if (phase === "PreHooks") {
      const done = await this.runHooks(run, config.spec?.preHooks ?? [], "pre", []);
      if (done === "running") return { requeueAfterMs: POLL_MS };
      if (done !== "succeeded") {
        await this.finish(run, "PreHookFailed", done, { config, guardrails });
        return {};
      }
      await this.transition(run, "Acting", "Running", "pre-hooks succeeded");
      return { requeueAfterMs: 0 };
    }

    if (phase === "Acting") {
      if (actor) return {};
      return this.act(run, config, guardrails, deadline);
    }

    if (phase === "PostHooks") {
      const done = await this.runHooks(run, config.spec?.postHooks ?? [], "post", run.status?.results ?? []);
      if (done === "running") return { requeueAfterMs: POLL_MS };
      if (done !== "succeeded") {
        await this.finish(run, "PostHookFailed", done, { config, guardrails });
        return {};
      }
      await this.finish(run, "Succeeded", "the agent reached its goal and the post-hooks succeeded", { config, guardrails });
    }
    return {};
  }

  /** "running", "succeeded", or why a hook failed. */
  private async runHooks(run: AgentRun, hooks: Hook[], kind: "pre" | "post", results: { name: string; value: string }[]): Promise<string> {
    const ns = run.metadata?.namespace ?? "";
    const runName = run.metadata?.name ?? "";
    for (const [i, hook] of hooks.entries()) {
      const name = kind === "pre" ? names.preHook(runName, i) : names.postHook(runName, i);
      let pr = (await this.kube.get(GVR.pipelineRuns, ns, name)) as PipelineRun | null;
      if (!pr) {
        try {
          pr = (await this.kube.create(GVR.pipelineRuns, ns, hookPipelineRun(run, hook, name, results))) as PipelineRun;
          await this.kube.event(run, "Normal", kind === "pre" ? "PreHookStarted" : "PostHookStarted", `PipelineRun ${name} (pipeline ${hook.pipelineRef.name})`);
        } catch (err) {
          if (statusCode(err) === 404) return `Tekton Pipelines is not installed (no PipelineRun API), so ${kind}-hook pipeline "${hook.pipelineRef.name}" cannot run`;
          throw err;
        }
      }
      const state = hookState(pr);
      if (state.state === "running") return "running";
      if (state.state === "failed") return `${kind}-hook PipelineRun ${name} (pipeline "${hook.pipelineRef.name}") failed: ${state.message}`;
    }
    return "succeeded";
  }

  private async act(run: AgentRun, config: AgentConfig, guardrails: Guardrails, deadline: number): Promise<{ requeueAfterMs?: number }> {
    const ns = run.metadata?.namespace ?? "";
    const runName = run.metadata?.name ?? "";
    const desired = kagentAgent(run, config, guardrails);
    let agent: Agent;
    try {
      agent = (await this.kube.apply(desired)) as Agent;
    } catch (err) {
      if (statusCode(err) === 404) {
        await this.finish(run, "KagentNotInstalled", "kagent is not installed in this cluster (no kagent.dev/v1alpha2 Agent API); install kagent and start a new AgentRun", { config, guardrails });
        return {};
      }
      throw err;
    }
    if (!run.status?.agentRef) {
      run = await this.setStatus(run, { agentRef: { name: names.agent(runName), namespace: ns } });
    }
    const ready = agentReady(agent);
    if (!ready.ready) {
      const waited = Date.now() - Date.parse(run.status?.startTime ?? new Date().toISOString());
      if (Date.now() > deadline || waited > (this.opts.agentReadyTimeoutMs ?? 10 * 60_000)) {
        await this.finish(run, "AgentFailed", `kagent did not make Agent ${names.agent(runName)} Ready: ${ready.message}`, { config, guardrails });
        return {};
      }
      return { requeueAfterMs: POLL_MS };
    }

    const k = key(run);
    const attempt = 1;
    const messageId = `${run.metadata?.uid ?? runName}-attempt-${attempt}`;
    let latest = run;
    const promise = (async () => {
      let outcome: ActingOutcome;
      let lastWrite = 0;
      try {
        outcome = await this.opts.driver.act({
          run,
          agent: { namespace: ns, name: names.agent(runName) },
          goal: run.spec?.goal ?? "",
          hints: run.spec?.context?.hints ?? [],
          messageId,
          ...(run.status?.taskId ? { taskId: run.status.taskId } : {}),
          budgetTokens: guardrails.tokenBudget,
          maxIterations: guardrails.maxIterations,
          deadline,
          isCancelled: () => this.cancelled.has(k),
          onTaskId: (taskId) => {
            void this.setStatus(latest, { taskId }).then((r) => { latest = r; }, () => undefined);
          },
          onProgress: (line, usage, iterations) => {
            this.opts.log.info("agent progress", { run: k, line, totalTokens: usage.totalTokens });
            if (Date.now() - lastWrite > 2000) {
              lastWrite = Date.now();
              void this.setStatus(latest, { usage, iterations }).catch(() => undefined);
              void this.kube.event(latest, "Normal", "AgentProgress", line);
            }
          },
        });
      } catch (err) {
        outcome = { reason: "AgentFailed", message: `talking to kagent failed: ${describeError(err)}`, usage: latest.status?.usage ?? ZERO_USAGE, results: [], iterations: latest.status?.iterations ?? 0 };
      }
      const fresh = ((await this.kube.get(GVR.agentRuns, ns, runName)) as AgentRun | null) ?? latest;
      if (outcome.reason !== "Succeeded") {
        await this.finish(fresh, outcome.reason, outcome.message, { config, guardrails, usage: outcome.usage, results: outcome.results, iterations: outcome.iterations });
      } else if ((config.spec?.postHooks ?? []).length > 0) {
        await this.setStatus(fresh, { phase: "PostHooks", usage: outcome.usage, results: outcome.results, iterations: outcome.iterations, ...(outcome.taskId ? { taskId: outcome.taskId } : {}) });
        await this.kube.event(fresh, "Normal", "PostHooks", "the agent finished; running post-hooks");
      } else {
        await this.finish(fresh, "Succeeded", outcome.message || "the agent reached its goal", { config, guardrails, usage: outcome.usage, results: outcome.results, iterations: outcome.iterations });
      }
      this.noteActed(run.metadata?.uid ?? "");
    })().finally(() => {
      this.actors.delete(k);
      this.cancelled.delete(k);
      this.opts.requeue(k);
    });
    this.actors.set(k, { promise });
    return {};
  }

  private readonly cancelled = new Set<string>();
  /** uid → when: runs whose actor wrote its outcome (terminal or PostHooks), until a reconcile sees that write */
  private readonly acted = new Map<string, number>();

  private noteActed(uid: string): void {
    const now = Date.now();
    // When the write's watch event arrives while the actor is still ending,
    // no later pass clears its marker: forget markers long past any cache lag.
    for (const [u, at] of this.acted) if (now - at > ACTED_MEMORY_MS) this.acted.delete(u);
    this.acted.set(uid, now);
  }

  /** Called on every run event: a running actor learns of a cancel at once. */
  observe(run: AgentRun): void {
    if (run.spec?.status === "Cancelled" && this.actors.has(key(run))) this.cancelled.add(key(run));
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.actors.values()].map((a) => a.promise));
  }

  get running(): number {
    return this.actors.size;
  }
}

