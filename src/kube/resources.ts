// The one table of the Kubernetes resources agentgate reads, writes or
// intercepts. Everything that names a group, version or plural derives from
// it: the webhook's handled list (and the chart's webhooks, rendered from
// files/handled-resources.json), the controller's GVRs and informers, the
// gateway's watch caches, provenance's apiVersions, and the chart tests that
// check each ClusterRole grants what the code calls. One table, so adding a
// version of a CRD cannot leave one of them behind.
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

export interface KubeResource {
  group: string;
  /** the versions agentgate speaks; the first is the one it reads and writes */
  versions: readonly [string, ...string[]];
  kind: string;
  plural: string;
  namespaced: boolean;
  /** what the admission webhooks do with it; absent: not intercepted */
  role?: ResourceRole;
}

export const AGENT_GROUP = "agent.tekton.dev";
export const KAGENT_GROUP = "kagent.dev";
export const TEKTON_GROUP = "tekton.dev";

/** A namespaced resource; the kind stays a literal type, so code that names one gets its kind checked. */
const ns = <K extends string>(group: string, version: string, kind: K, plural: string, role?: ResourceRole): KubeResource & { kind: K } => ({ group, versions: [version], kind, plural, namespaced: true, ...(role ? { role } : {}) });

/**
 * Keyed for the code that names one; the order is the webhook's (and
 * files/handled-resources.json's), so keep new intercepted kinds where their
 * role's others are.
 */
export const RESOURCES = {
  agentConfigs: ns(AGENT_GROUP, "v1alpha1", "AgentConfig", "agentconfigs", "agent"),
  agentRuns: ns(AGENT_GROUP, "v1alpha1", "AgentRun", "agentruns", "agent"),
  agents: ns(KAGENT_GROUP, "v1alpha2", "Agent", "agents", "agent"),
  modelConfigs: ns(KAGENT_GROUP, "v1alpha2", "ModelConfig", "modelconfigs", "agent"),
  remoteMcpServers: ns(KAGENT_GROUP, "v1alpha2", "RemoteMCPServer", "remotemcpservers", "agent"),
  // kmcp's MCPServer (kagent.dev/v1alpha1, served by every supported kagent): a tool server kind a config may name, judged like the others.
  mcpServers: ns(KAGENT_GROUP, "v1alpha1", "MCPServer", "mcpservers", "agent"),
  serviceAccounts: ns("", "v1", "ServiceAccount", "serviceaccounts", "managed"),
  roles: ns("rbac.authorization.k8s.io", "v1", "Role", "roles", "managed"),
  roleBindings: ns("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "managed"),
  networkPolicies: ns("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "netpol"),
  // Where Cilium runs: its policies add up with NetworkPolicies, and a run's public hosts are allowed by name in one.
  ciliumNetworkPolicies: ns("cilium.io", "v2", "CiliumNetworkPolicy", "ciliumnetworkpolicies", "netpol"),
  pipelineRuns: ns(TEKTON_GROUP, "v1", "PipelineRun", "pipelineruns", "creator"),
  customRuns: ns(TEKTON_GROUP, "v1beta1", "CustomRun", "customruns", "creator"),
  pods: ns("", "v1", "Pod", "pods", "workload"),
  replicationControllers: ns("", "v1", "ReplicationController", "replicationcontrollers", "workload"),
  deployments: ns("apps", "v1", "Deployment", "deployments", "workload"),
  replicaSets: ns("apps", "v1", "ReplicaSet", "replicasets", "workload"),
  statefulSets: ns("apps", "v1", "StatefulSet", "statefulsets", "workload"),
  daemonSets: ns("apps", "v1", "DaemonSet", "daemonsets", "workload"),
  jobs: ns("batch", "v1", "Job", "jobs", "workload"),
  cronJobs: ns("batch", "v1", "CronJob", "cronjobs", "workload"),
  // A legacy token Secret is a token request the token controller answers.
  secrets: ns("", "v1", "Secret", "secrets", "workload"),
  // Read, never intercepted.
  namespaces: { group: "", versions: ["v1"], kind: "Namespace", plural: "namespaces", namespaced: false },
  services: ns("", "v1", "Service", "services"),
  configMaps: ns("", "v1", "ConfigMap", "configmaps"),
  leases: ns("coordination.k8s.io", "v1", "Lease", "leases"),
  // audit's reports, in whichever of the two report APIs is installed (audit/report.ts)
  policyReports: ns("wgpolicyk8s.io", "v1alpha2", "PolicyReport", "policyreports"),
  clusterPolicyReports: { group: "wgpolicyk8s.io", versions: ["v1alpha2"], kind: "ClusterPolicyReport", plural: "clusterpolicyreports", namespaced: false },
  openReports: ns("openreports.io", "v1alpha1", "Report", "reports"),
  clusterOpenReports: { group: "openreports.io", versions: ["v1alpha1"], kind: "ClusterReport", plural: "clusterreports", namespaced: false },
} as const satisfies Record<string, KubeResource>;

export type ResourceName = keyof typeof RESOURCES;

/** A resource as the custom-objects API addresses it, at the version agentgate speaks. */
export interface Gvr {
  group: string;
  version: string;
  plural: string;
}

export function gvrOf(r: KubeResource): Gvr {
  return { group: r.group, version: r.versions[0], plural: r.plural };
}

/** "apiVersion" of the version agentgate speaks ("v1" for the core group). */
export function apiVersionOf(r: KubeResource): string {
  return r.group === "" ? r.versions[0] : `${r.group}/${r.versions[0]}`;
}

/** The URL path of a list over all namespaces (an informer's watch path). */
export function listPath(r: KubeResource, namespace?: string): string {
  const base = r.group === "" ? `/api/${r.versions[0]}` : `/apis/${r.group}/${r.versions[0]}`;
  return namespace !== undefined && r.namespaced ? `${base}/namespaces/${namespace}/${r.plural}` : `${base}/${r.plural}`;
}

export function resourceByKind(group: string, kind: string): KubeResource | undefined {
  return Object.values(RESOURCES).find((r: KubeResource) => r.group === group && r.kind === kind);
}

/**
 * What the webhooks intercept, in the shape files/handled-resources.json
 * holds (`resource` is the plural, as the webhook rule and the
 * AdmissionRequest name it).
 */
export interface HandledResource {
  group: string;
  versions: string[];
  resource: string;
  kind: string;
  role: ResourceRole;
}

export const HANDLED_RESOURCES: readonly HandledResource[] = Object.values(RESOURCES).flatMap((r: KubeResource) =>
  r.role ? [{ group: r.group, versions: [...r.versions], resource: r.plural, kind: r.kind, role: r.role }] : [],
);

export function findResource(gvr: GroupVersionResource): HandledResource | undefined {
  return HANDLED_RESOURCES.find((r) => r.group === gvr.group && r.resource === gvr.resource && r.versions.includes(gvr.version));
}

export function findByKind(group: string, kind: string): HandledResource | undefined {
  return HANDLED_RESOURCES.find((r) => r.group === group && r.kind === kind);
}

export function byRole(role: ResourceRole): HandledResource[] {
  return HANDLED_RESOURCES.filter((r) => r.role === role);
}
