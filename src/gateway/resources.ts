// The one list of what agentgate intercepts and why. The server refuses
// anything else, and the webhook configurations (webhooks.ts, and the
// chart's, rendered from the same list) register exactly these, so the two
// cannot drift.
import type { GroupVersionResource } from "../types/admission.ts";

export type ResourceRole =
  /** evaluated by the policy bundles and the gateway's own checks */
  | "agent"
  /** per-run objects the controller makes: only agentgate changes them */
  | "managed"
  /** NetworkPolicies: none but agentgate's may select an agent's pods */
  | "netpol"
  /** PipelineRuns and CustomRuns: stamped with their signed creator */
  | "creator"
  /** anything that runs a pod, and token requests: none but kagent's chain may use a run's ServiceAccount */
  | "workload";

export interface HandledResource {
  group: string;
  versions: string[];
  resource: string;
  kind: string;
  role: ResourceRole;
}

export const AGENT_GROUP = "agent.tekton.dev";
export const KAGENT_GROUP = "kagent.dev";
export const TEKTON_GROUP = "tekton.dev";

export const HANDLED_RESOURCES: readonly HandledResource[] = [
  { group: AGENT_GROUP, versions: ["v1alpha1"], resource: "agentconfigs", kind: "AgentConfig", role: "agent" },
  { group: AGENT_GROUP, versions: ["v1alpha1"], resource: "agentruns", kind: "AgentRun", role: "agent" },
  { group: KAGENT_GROUP, versions: ["v1alpha2"], resource: "agents", kind: "Agent", role: "agent" },
  { group: KAGENT_GROUP, versions: ["v1alpha2"], resource: "modelconfigs", kind: "ModelConfig", role: "agent" },
  { group: KAGENT_GROUP, versions: ["v1alpha2"], resource: "remotemcpservers", kind: "RemoteMCPServer", role: "agent" },
  // kmcp's MCPServer (kagent.dev/v1alpha1, served by every supported kagent): a tool server kind a config may name, judged like the others.
  { group: KAGENT_GROUP, versions: ["v1alpha1"], resource: "mcpservers", kind: "MCPServer", role: "agent" },
  { group: "", versions: ["v1"], resource: "serviceaccounts", kind: "ServiceAccount", role: "managed" },
  { group: "rbac.authorization.k8s.io", versions: ["v1"], resource: "roles", kind: "Role", role: "managed" },
  { group: "rbac.authorization.k8s.io", versions: ["v1"], resource: "rolebindings", kind: "RoleBinding", role: "managed" },
  { group: "networking.k8s.io", versions: ["v1"], resource: "networkpolicies", kind: "NetworkPolicy", role: "netpol" },
  // Where Cilium runs: its policies add up with NetworkPolicies, and a run's public hosts are allowed by name in one.
  { group: "cilium.io", versions: ["v2"], resource: "ciliumnetworkpolicies", kind: "CiliumNetworkPolicy", role: "netpol" },
  { group: TEKTON_GROUP, versions: ["v1"], resource: "pipelineruns", kind: "PipelineRun", role: "creator" },
  { group: TEKTON_GROUP, versions: ["v1beta1"], resource: "customruns", kind: "CustomRun", role: "creator" },
  { group: "", versions: ["v1"], resource: "pods", kind: "Pod", role: "workload" },
  { group: "", versions: ["v1"], resource: "replicationcontrollers", kind: "ReplicationController", role: "workload" },
  { group: "apps", versions: ["v1"], resource: "deployments", kind: "Deployment", role: "workload" },
  { group: "apps", versions: ["v1"], resource: "replicasets", kind: "ReplicaSet", role: "workload" },
  { group: "apps", versions: ["v1"], resource: "statefulsets", kind: "StatefulSet", role: "workload" },
  { group: "apps", versions: ["v1"], resource: "daemonsets", kind: "DaemonSet", role: "workload" },
  { group: "batch", versions: ["v1"], resource: "jobs", kind: "Job", role: "workload" },
  { group: "batch", versions: ["v1"], resource: "cronjobs", kind: "CronJob", role: "workload" },
  // A legacy token Secret is a token request the token controller answers.
  { group: "", versions: ["v1"], resource: "secrets", kind: "Secret", role: "workload" },
];

export function findResource(gvr: GroupVersionResource): HandledResource | undefined {
  return HANDLED_RESOURCES.find((r) => r.group === gvr.group && r.resource === gvr.resource && r.versions.includes(gvr.version));
}

export function findByKind(group: string, kind: string): HandledResource | undefined {
  return HANDLED_RESOURCES.find((r) => r.group === group && r.kind === kind);
}

export function byRole(role: ResourceRole): HandledResource[] {
  return HANDLED_RESOURCES.filter((r) => r.role === role);
}
