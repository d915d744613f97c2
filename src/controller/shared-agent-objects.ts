// What a PipelineRun's shared kagent Agent is made of: the Agent and its
// scope (ServiceAccount, Role, RoleBinding, NetworkPolicy), built by the
// same functions as a run's own (kagent-agent.ts, scope.ts) for the share's
// name, then owned by the PipelineRun instead of a run, so the garbage
// collector takes them with it. Pure; shared-agent-keeper.ts applies them.
//
// The share's name stands in for a run's name everywhere, so every guard
// keyed on a run's names holds for it too: the ServiceAccount starts with
// agentgate-run- (run-identity: only kagent's Deployment of Agent
// <share>-agent runs as it), the NetworkPolicy selects kagent's labels for
// <share>-agent, and everything carries agentgate's label (managed-object).
import { AGENT_API_VERSION, type AgentConfig, type AgentRun, type Guardrails } from "../types/agent.ts";
import type { Agent } from "../types/kagent.ts";
import type { KubeObject, ObjectMeta } from "../types/kube.ts";
import { kagentAgent, type KagentRuntime } from "./kagent-agent.ts";
import { GVR } from "./kube.ts";
import { names as runNames } from "./owned.ts";
import { scopeObjects, type ScopeEnvironment } from "./scope.ts";
import { SHARE_LABEL, shareKey, type PipelineRunRef, type ShareKeyInputs, type ShareNames } from "./shared-agent.ts";

/** Stands in for the share's name while its key is computed: the key covers what is made, not what it is called. */
const KEY_PLACEHOLDER = "share";

function shareRun(namespace: string, name: string): AgentRun {
  return { apiVersion: AGENT_API_VERSION, kind: "AgentRun", metadata: { name, namespace } };
}

function sharedAgentSpec(namespace: string, name: string, config: AgentConfig, guardrails: Guardrails, runtime: KagentRuntime): Agent {
  return kagentAgent(shareRun(namespace, name), config, guardrails, { serviceAccountName: runNames.serviceAccount(name), runtime });
}

/** The share's key for a run's decision: its config as admitted, what its guardrails materialise, and the Agent that makes. */
export function keyFor(i: Omit<ShareKeyInputs, "agentSpec" | "guardrails"> & { guardrails: Guardrails; runtime: KagentRuntime }): string {
  const config: AgentConfig = { apiVersion: AGENT_API_VERSION, kind: "AgentConfig", metadata: { name: i.snapshot.config.name, namespace: i.namespace }, spec: i.snapshot.config.spec };
  const agent = sharedAgentSpec(i.namespace, KEY_PLACEHOLDER, config, i.guardrails, i.runtime);
  return shareKey({ ...i, agentSpec: agent.spec });
}

function reown(meta: ObjectMeta | undefined, names: ShareNames, pr: PipelineRunRef): ObjectMeta {
  return {
    ...meta,
    labels: { ...meta?.labels, [SHARE_LABEL]: names.share },
    // No blockOwnerDeletion: the controller holds no right on pipelineruns/finalizers, and nothing needs the PipelineRun kept.
    ownerReferences: [{ apiVersion: `${GVR.pipelineRuns.group}/${GVR.pipelineRuns.version}`, kind: "PipelineRun", name: pr.name, uid: pr.uid, controller: true }],
  };
}

export interface SharedObjects {
  /** ServiceAccount, Role, RoleBinding and (strict) NetworkPolicy, in the order they are made */
  scope: KubeObject[];
  agent: Agent;
}

/** The share's Agent and scope, owned by the PipelineRun. */
export function sharedObjects(namespace: string, names: ShareNames, pr: PipelineRunRef, config: AgentConfig, guardrails: Guardrails, env: ScopeEnvironment, runtime: KagentRuntime): SharedObjects {
  const run = shareRun(namespace, names.share);
  const scope = scopeObjects(run, guardrails, env).map((o) => ({ ...o, metadata: reown(o.metadata, names, pr) }));
  const agent = sharedAgentSpec(namespace, names.share, config, guardrails, runtime);
  const spec = agent.spec ?? { type: "Declarative" };
  return {
    scope,
    agent: {
      ...agent,
      metadata: reown(agent.metadata, names, pr),
      spec: { ...spec, description: `agentgate: the AgentRuns of PipelineRun ${namespace}/${pr.name} (uid ${pr.uid}) of AgentConfig ${config.metadata?.name ?? ""}, one at a time` },
    },
  };
}

/** The names of a share's scope objects (for deleting them when its PipelineRun ends). */
export function sharedScopeRefs(namespace: string, names: ShareNames): { apiVersion: string; kind: string; namespace: string; name: string }[] {
  const n = names.share;
  return [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", namespace, name: runNames.roleBinding(n) },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", namespace, name: runNames.role(n) },
    { apiVersion: "v1", kind: "ServiceAccount", namespace, name: runNames.serviceAccount(n) },
  ];
}
