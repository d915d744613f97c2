// A run's pre- and post-hooks driven against the cluster: their PipelineRuns
// made (as the run's hook account unless a hook names its own) and read.
import type { AgentRun, Hook } from "../types/agent.ts";
import type { PipelineRun } from "../types/tekton.ts";
import { hookPipelineRun, hookServiceAccount, hookState, type HookRunResult } from "./hooks.ts";
import { GVR, statusCode, type Kube } from "./kube.ts";
import { names, ownedByRun } from "./owned.ts";
import type { HookOutcome } from "./run-guards.ts";

const hookName = (run: AgentRun, kind: "pre" | "post", i: number): string => (kind === "pre" ? names.preHook(run.metadata?.name ?? "", i) : names.postHook(run.metadata?.name ?? "", i));

/** Starts the first hook not yet started and says where the hooks stand: they run one after another. */
export async function runHooks(kube: Kube, run: AgentRun, hooks: readonly Hook[], kind: "pre" | "post", results: { name: string; value: string }[]): Promise<HookRunResult> {
  const ns = run.metadata?.namespace ?? "";
  for (const [i, hook] of hooks.entries()) {
    const name = hookName(run, kind, i);
    let pr = (await kube.get(GVR.pipelineRuns, ns, name)) as PipelineRun | null;
    if (pr && !ownedByRun(pr.metadata, run)) return { state: "conflict", message: `PipelineRun "${name}" already exists and was not made for this run, so it is not taken for its ${kind}-hook; delete it or create the run under another name` };
    if (!pr) {
      if (hook.serviceAccountName === undefined) {
        const account = hookServiceAccount(run);
        const existing = await kube.getObject({ apiVersion: "v1", kind: "ServiceAccount", namespace: ns, name: account.metadata?.name ?? "" });
        if (existing && !ownedByRun(existing.metadata, run)) return { state: "conflict", message: `ServiceAccount "${account.metadata?.name ?? ""}" already exists and was not made for this run, so its hooks do not run as it; delete it or create the run under another name` };
        if (!existing) await kube.apply(account);
      }
      try {
        pr = (await kube.create(GVR.pipelineRuns, ns, hookPipelineRun(run, hook, name, results))) as PipelineRun;
        await kube.event(run, "Normal", kind === "pre" ? "PreHookStarted" : "PostHookStarted", `PipelineRun ${name} (pipeline ${hook.pipelineRef.name})`);
      } catch (err) {
        if (statusCode(err) === 404) return { state: "failed", message: `Tekton Pipelines is not installed (no PipelineRun API), so ${kind}-hook pipeline "${hook.pipelineRef.name}" cannot run` };
        throw err;
      }
    }
    const state = hookState(pr);
    if (state.state === "running") return { state: "running" };
    if (state.state === "failed") return { state: "failed", message: `${kind}-hook PipelineRun ${name} (pipeline "${hook.pipelineRef.name}") failed: ${state.message}` };
  }
  return { state: "succeeded" };
}

/** Each hook's PipelineRun as it stands, read only ("absent" when none of the run's exists). */
export async function hookOutcomes(kube: Kube, run: AgentRun, hooks: readonly Hook[], kind: "pre" | "post"): Promise<HookOutcome[]> {
  const out: HookOutcome[] = [];
  for (const i of hooks.keys()) {
    const name = hookName(run, kind, i);
    let pr: PipelineRun | null;
    try {
      pr = (await kube.get(GVR.pipelineRuns, run.metadata?.namespace ?? "", name)) as PipelineRun | null;
    } catch (err) {
      if (statusCode(err) === 404) pr = null;
      else throw err;
    }
    if (!pr || !ownedByRun(pr.metadata, run)) {
      out.push("absent");
      continue;
    }
    out.push(hookState(pr).state);
  }
  return out;
}
