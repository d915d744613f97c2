// The one list of what agentgate intercepts. The server refuses anything
// else, and the chart's webhook rules are rendered from the same list, so
// the two cannot drift.
import type { GroupVersionResource } from "../types/admission.ts";

export type ResourceRole =
  /** evaluated by the policy bundles and the gateway's own checks */
  | "agent"
  /** only guarded by the managed-object check */
  | "managed";

export interface HandledResource {
  group: string;
  versions: string[];
  resource: string;
  kind: string;
  role: ResourceRole;
  /** operations the validating webhook needs to see */
  operations: ("CREATE" | "UPDATE" | "DELETE")[];
  /** whether the mutating webhook needs to see it */
  mutate: boolean;
}

export const HANDLED_RESOURCES: readonly HandledResource[] = [
  { group: "agent.tekton.dev", versions: ["v1alpha1"], resource: "agentconfigs", kind: "AgentConfig", role: "agent", operations: ["CREATE", "UPDATE"], mutate: true },
  { group: "agent.tekton.dev", versions: ["v1alpha1"], resource: "agentruns", kind: "AgentRun", role: "agent", operations: ["CREATE", "UPDATE"], mutate: true },
  { group: "kagent.dev", versions: ["v1alpha2"], resource: "agents", kind: "Agent", role: "agent", operations: ["CREATE", "UPDATE"], mutate: false },
  { group: "kagent.dev", versions: ["v1alpha2"], resource: "modelconfigs", kind: "ModelConfig", role: "agent", operations: ["CREATE", "UPDATE"], mutate: false },
  { group: "kagent.dev", versions: ["v1alpha2"], resource: "remotemcpservers", kind: "RemoteMCPServer", role: "agent", operations: ["CREATE", "UPDATE"], mutate: false },
  { group: "", versions: ["v1"], resource: "serviceaccounts", kind: "ServiceAccount", role: "managed", operations: ["UPDATE", "DELETE"], mutate: false },
  { group: "rbac.authorization.k8s.io", versions: ["v1"], resource: "roles", kind: "Role", role: "managed", operations: ["UPDATE", "DELETE"], mutate: false },
  { group: "rbac.authorization.k8s.io", versions: ["v1"], resource: "rolebindings", kind: "RoleBinding", role: "managed", operations: ["UPDATE", "DELETE"], mutate: false },
  { group: "networking.k8s.io", versions: ["v1"], resource: "networkpolicies", kind: "NetworkPolicy", role: "managed", operations: ["UPDATE", "DELETE"], mutate: false },
];

export function findResource(gvr: GroupVersionResource): HandledResource | undefined {
  return HANDLED_RESOURCES.find(
    (r) => r.group === gvr.group && r.resource === gvr.resource && r.versions.includes(gvr.version),
  );
}

export function findByKind(group: string, kind: string): HandledResource | undefined {
  return HANDLED_RESOURCES.find((r) => r.group === group && r.kind === kind);
}
