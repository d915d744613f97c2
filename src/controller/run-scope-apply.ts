// Makes what a run acts with before its agent is given life: its scope
// (ServiceAccount, Role, RoleBinding, NetworkPolicy) and, when calls go
// through agentgate's run-time gateway, its route there. Never takes over an
// object of the same name the run did not make.
import { CALLS_AUDIENCE } from "../calls/caller.ts";
import { emptyLedger } from "../calls/ledger.ts";
import type { AgentRun, Guardrails } from "../types/agent.ts";
import type { ModelConfig } from "../types/kagent.ts";
import type { KubeObject } from "../types/kube.ts";
import { agentRoute, callsSecret, routedObjects, secretOfRoutedModel, tokenLifetimeSeconds, unroutable } from "./calls-route.ts";
import { describeError, GVR, statusCode } from "./kube.ts";
import { names, ownedByRun } from "./owned.ts";
import { DEFAULT_AGENT_READY_TIMEOUT_MS } from "./run-decide.ts";
import type { Trusted } from "./run-guards.ts";
import type { RunReconcilerOptions } from "./run-options.ts";
import { scopeObjects, type ScopeEnvironment, type ScopeProblem } from "./scope.ts";

/**
 * Makes the run's ServiceAccount, Role, RoleBinding and NetworkPolicy, or
 * says why not: an object of that name that this run did not make (made in
 * advance to be adopted, or left by another run) is never taken over.
 */
export async function ensureScope(opts: RunReconcilerOptions, run: AgentRun, guardrails: Guardrails): Promise<{ env: ScopeEnvironment; problem?: ScopeProblem }> {
  const env = await opts.scopeEnvironment(guardrails);
  const objects = scopeObjects(run, guardrails, env);
  for (const object of objects) {
    const existing = await opts.kube.getObject({ apiVersion: object.apiVersion ?? "", kind: object.kind ?? "", namespace: object.metadata?.namespace ?? "", name: object.metadata?.name ?? "" });
    if (existing && !ownedByRun(existing.metadata, run)) {
      return { env, problem: { reason: "ScopeConflict", message: `${object.kind ?? ""} "${object.metadata?.name ?? ""}" already exists in namespace "${object.metadata?.namespace ?? ""}" and was not made for this run, so agentgate does not take it over; delete it or create the run under another name` } };
    }
  }
  for (const object of objects) {
    try {
      await opts.kube.apply(object);
    } catch (err) {
      // 403: the controller does not hold what the Role asks for (the
      // ceiling), so neither does the run; 422: the object is invalid.
      // Either way retrying cannot help.
      const code = statusCode(err);
      if (code === 403 || code === 422) return { env, problem: { reason: "ScopeRefused", message: `the API server refused ${object.kind ?? ""} "${object.metadata?.name ?? ""}": ${describeError(err)}` } };
      throw err;
    }
  }
  return { env };
}

/**
 * When calls go through agentgate's run-time gateway: the run's call
 * token (a token of the run's ServiceAccount for the gateway's audience,
 * in a Secret of the run's), and the ModelConfig and RemoteMCPServers
 * kagent is given in place of the config's, pointing at the gateway.
 * Returns why not, or undefined.
 */
export async function ensureRoute(opts: RunReconcilerOptions, run: AgentRun, guardrails: Guardrails, trust: Trusted): Promise<ScopeProblem | undefined> {
  const calls = opts.calls;
  if (!calls) return undefined;
  const kube = opts.kube;
  const ns = run.metadata?.namespace ?? "";
  const runName = run.metadata?.name ?? "";
  const pin = trust.snapshot.modelConfig;
  const model = pin ? ((await kube.get(GVR.modelConfigs, pin.namespace, pin.name)) as ModelConfig | null) : null;
  const refused = unroutable(guardrails, trust.snapshot, ns, model);
  if (refused !== undefined || !model) return { reason: "ScopeRefused", message: refused ?? "no ModelConfig" };
  // The ledger first: the gateway takes a run's calls only once it exists, and never starts one itself.
  await calls.ledgers.open(emptyLedger({ namespace: ns, name: runName, uid: run.metadata?.uid ?? "" }, guardrails.tokenBudget));
  const route = agentRoute(run, guardrails);
  const mine = new Map<string, KubeObject | null>();
  for (const [gvr, name] of [[GVR.modelConfigs, route.modelConfig] as const, ...[...route.toolServers.values()].map((n) => [GVR.remoteMcpServers, n] as const)]) {
    const existing = await kube.get(gvr, ns, name);
    if (existing && !ownedByRun(existing.metadata, run)) return { reason: "ScopeConflict", message: `kagent ${gvr === GVR.modelConfigs ? "ModelConfig" : "RemoteMCPServer"} "${name}" already exists in namespace "${ns}" and was not made for this run, so agentgate does not take it over; delete it or create the run under another name` };
    mine.set(name, existing);
  }
  // A pass that made the Secret before (a restart in between) left its name in the run's ModelConfig.
  let secretName = secretOfRoutedModel(mine.get(route.modelConfig) ?? null);
  try {
    if (secretName === undefined) {
      const token = await kube.serviceAccountToken(ns, names.serviceAccount(runName), CALLS_AUDIENCE, tokenLifetimeSeconds(trust.timeoutMs, opts.agentReadyTimeoutMs ?? DEFAULT_AGENT_READY_TIMEOUT_MS));
      secretName = await kube.createSecret(ns, callsSecret(run, token));
    }
    for (const object of routedObjects(run, guardrails, model, secretName, calls.baseUrl)) await kube.apply(object);
  } catch (err) {
    const code = statusCode(err);
    if (code === 403 || code === 422) return { reason: "ScopeRefused", message: `the API server refused what sends the run's calls through agentgate's run-time gateway: ${describeError(err)}` };
    throw err;
  }
  return undefined;
}
