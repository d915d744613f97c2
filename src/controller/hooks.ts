// Pre- and post-hooks as Tekton PipelineRuns owned by the run.
import type { AgentConfig, AgentRun, Hook } from "../types/agent.ts";
import type { PipelineRun } from "../types/tekton.ts";
import type { KubeObject } from "../types/kube.ts";
import { names, ownedMeta } from "./owned.ts";

/**
 * A hook runs as the ServiceAccount it names (one policy allowed:
 * hook-pipeline), else as one made for the run that holds no rights: never
 * as the namespace's default account, whatever that one may do.
 */
export const hookAccount = (run: AgentRun, hook: Hook): string => hook.serviceAccountName ?? names.hookServiceAccount(run.metadata?.name ?? "");

export function hookPipelineRun(run: AgentRun, hook: Hook, name: string, extraParams: { name: string; value: string }[] = []): PipelineRun {
  const params = [...(hook.params ?? []), ...extraParams.filter((p) => !(hook.params ?? []).some((h) => h.name === p.name))];
  return {
    apiVersion: "tekton.dev/v1",
    kind: "PipelineRun",
    metadata: ownedMeta(run, name, { "agent.tekton.dev/hook": hook.name ?? hook.pipelineRef.name }),
    spec: { pipelineRef: { name: hook.pipelineRef.name }, taskRunTemplate: { serviceAccountName: hookAccount(run, hook) }, ...(params.length > 0 ? { params } : {}) },
  };
}

/** The run's hook ServiceAccount: no RoleBinding ever names it, and it mounts no token. */
export function hookServiceAccount(run: AgentRun): KubeObject {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: ownedMeta(run, names.hookServiceAccount(run.metadata?.name ?? "")), automountServiceAccountToken: false };
}

/**
 * What the agent will be sent, for a pre-hook to scan before it is (a
 * prompt-injection or secrets scanner): the goal, the hints one per line,
 * and the config's system prompt, each as a string param. Tekton lets a
 * PipelineRun pass params its Pipeline does not declare (tektoncd/pipeline
 * #2719), so a hook takes the ones it needs. Untrusted text: read them
 * through environment variables, never substituted into a script.
 */
export function preHookParams(run: AgentRun, config: AgentConfig): { name: string; value: string }[] {
  return [
    { name: "agent-goal", value: run.spec?.goal ?? "" },
    { name: "agent-hints", value: (run.spec?.context?.hints ?? []).join("\n") },
    { name: "agent-system-prompt", value: config.spec?.systemPrompt ?? "" },
  ];
}

export type HookState = { state: "running" } | { state: "succeeded" } | { state: "failed"; message: string };

/** Reads Tekton's Succeeded condition. */
export function hookState(pr: PipelineRun | null): HookState {
  const c = pr?.status?.conditions?.find((x) => x.type === "Succeeded");
  if (!c || c.status === "Unknown") return { state: "running" };
  if (c.status === "True") return { state: "succeeded" };
  return { state: "failed", message: `${c.reason}${c.message ? `: ${c.message}` : ""}` };
}

/**
 * Where a phase's hooks stand after one pass drove them: still running, all
 * succeeded, one failed (the run fails PreHookFailed or PostHookFailed), or a
 * PipelineRun or ServiceAccount of the hook's name is not the run's
 * (ScopeConflict: it is never taken over).
 */
export type HookRunResult =
  | { state: "running" }
  | { state: "succeeded" }
  | { state: "failed"; message: string }
  | { state: "conflict"; message: string };
