// Names and ownership of everything the controller creates for a run: all
// owned by the AgentRun (garbage-collected with it) and labelled as
// agentgate's (guarded by the managed-object check).
import { AGENT_API_VERSION, MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_LABEL, RUN_SERVICE_ACCOUNT_PREFIX, type AgentRun } from "../types/agent.ts";
import type { ObjectMeta, OwnerReference } from "../types/kube.ts";

export { RUN_LABEL };

export const names = {
  // A prefix the webhook configuration can match (see RUN_SERVICE_ACCOUNT_PREFIX).
  serviceAccount: (run: string) => `${RUN_SERVICE_ACCOUNT_PREFIX}${run}`,
  /** what the run's hooks run as unless a hook names another: made for the run, holding no rights */
  hookServiceAccount: (run: string) => `agentgate-hooks-${run}`,
  role: (run: string) => `${run}-role`,
  roleBinding: (run: string) => `${run}-binding`,
  networkPolicy: (run: string) => `${run}-netpol`,
  fqdnPolicy: (run: string) => `${run}-fqdn`,
  agent: (run: string) => `${run}-agent`,
  /** the ModelConfig kagent is given when calls go through agentgate's run-time gateway */
  routedModel: (run: string) => `${run}-model`,
  /** the RemoteMCPServer kagent is given for the run's i-th tool server, through the gateway */
  routedTools: (run: string, i: number) => `${run}-tools-${i}`,
  /** generateName of the Secret holding the run's call token */
  callsSecretPrefix: (run: string) => `${run}-calls-`,
  preHook: (run: string, i: number) => `${run}-pre-${i}`,
  postHook: (run: string, i: number) => `${run}-post-${i}`,
};

export function ownerReference(run: AgentRun): OwnerReference {
  return {
    apiVersion: AGENT_API_VERSION,
    kind: "AgentRun",
    name: run.metadata?.name ?? "",
    uid: run.metadata?.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function ownedMeta(run: AgentRun, name: string, extraLabels: Record<string, string> = {}): ObjectMeta {
  return {
    name,
    namespace: run.metadata?.namespace ?? "",
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_LABEL]: run.metadata?.name ?? "", ...extraLabels },
    ownerReferences: [ownerReference(run)],
  };
}

/**
 * Whether the run made this object: agentgate's label, which nobody else
 * may set (the managed-object check), and the run (same uid) as its
 * controlling owner. An owner reference alone proves nothing: anyone who
 * can create the object can write one naming the run's uid, and an object
 * made in advance would be adopted.
 */
export function ownedByRun(object: ObjectMeta | undefined, run: AgentRun): boolean {
  const uid = run.metadata?.uid;
  return uid !== undefined && uid !== "" && object?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE && object.ownerReferences?.some((o) => o.uid === uid && o.controller === true) === true;
}
