// What the admission, manifest and JSON-scan targets start from: the words
// of an AdmissionReview and the objects agentgate judges, and the cluster
// objects the offline lookup holds (so a run reaches its config and stamps).
import { HANDLED_RESOURCES } from "../src/kube/resources.ts";
import { PROFILE_LABEL, STAMP } from "../src/types/agent.ts";
import type { KubeObject } from "../src/types/kube.ts";

export const GATEWAY_USER = "system:serviceaccount:agentgate-system:agentgate";
export const AGENTGATE_NAMESPACE = "agentgate-system";

export const REVIEW_DICTIONARY: readonly string[] = [
  ...new Set([
    "admission.k8s.io/v1",
    "AdmissionReview",
    "request",
    "response",
    "uid",
    "kind",
    "resource",
    "subResource",
    "requestKind",
    "requestResource",
    "operation",
    "CREATE",
    "UPDATE",
    "DELETE",
    "CONNECT",
    "userInfo",
    "username",
    "groups",
    "object",
    "oldObject",
    "dryRun",
    "namespace",
    "name",
    "generateName",
    "metadata",
    "annotations",
    "labels",
    "ownerReferences",
    "spec",
    "status",
    "token",
    "ephemeralcontainers",
    "serviceAccountName",
    "goal",
    "configRef",
    "tokenBudget",
    "timeout",
    "maxIterations",
    "toolServers",
    "allowedTools",
    "requireApproval",
    "modelConfigRef",
    "networkPolicy",
    "strict",
    "qe",
    "kube-system",
    AGENTGATE_NAMESPACE,
    GATEWAY_USER,
    "system:serviceaccount:qe:agentrun-run",
    "agentrun-",
    PROFILE_LABEL,
    ...Object.values(STAMP),
    ...HANDLED_RESOURCES.flatMap((r) => [r.group, r.kind, r.resource, ...r.versions, `${r.group === "" ? "" : `${r.group}/`}${r.versions[0] ?? "v1"}`]),
    "",
  ]),
];

export const CLUSTER_OBJECTS: readonly KubeObject[] = [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: "qe", labels: {} } },
  { apiVersion: "v1", kind: "Namespace", metadata: { name: "leads", labels: { [PROFILE_LABEL]: "leads" } } },
  { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: "qe" }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022" } },
  {
    apiVersion: "kagent.dev/v1alpha2",
    kind: "RemoteMCPServer",
    metadata: { name: "kagent-tool-server", namespace: "kagent" },
    spec: { url: "http://kagent-tools.kagent:8084/mcp", allowedNamespaces: { from: "All" } },
  },
  {
    apiVersion: "agent.tekton.dev/v1alpha1",
    kind: "AgentConfig",
    metadata: { name: "writer", namespace: "qe" },
    spec: {
      modelConfigRef: { name: "claude" },
      toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"], requireApproval: ["k8s_get_resources"] }],
      tokenBudget: 200000,
      timeout: "30m",
      maxIterations: 10,
    },
  },
  { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "agentrun-run", namespace: "qe", labels: { "agent.tekton.dev/run": "run" } } },
];

const agentConfig: KubeObject = {
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentConfig",
  metadata: { name: "test-writer", namespace: "qe" },
  spec: {
    modelConfigRef: { name: "claude" },
    systemPrompt: "You write Tekton tests.",
    toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources", "k8s_describe_resource"] }],
    tokenBudget: 200000,
    timeout: "30m",
    maxIterations: 10,
  },
};

const agentRun: KubeObject = {
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentRun",
  metadata: { name: "run", namespace: "qe" },
  spec: { configRef: { name: "writer" }, goal: "Generate test cases for the refund flow.", tokenBudget: 50000 },
};

/** The objects seeds are made of, one of each role and a few shapes of each agent kind. */
export const SEED_OBJECTS: readonly KubeObject[] = [
  agentConfig,
  agentRun,
  { ...agentRun, metadata: { name: "forged", namespace: "qe", annotations: { [STAMP.createdBy]: "alice", [STAMP.guardrails]: '{"tokenBudget":1}' }, labels: { [STAMP.configLabel]: "writer" } } },
  { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { name: "helper", namespace: "qe" }, spec: { type: "Declarative", declarative: { modelConfig: "claude", systemMessage: "help", tools: [{ type: "McpServer", mcpServer: { name: "kagent-tool-server", kind: "RemoteMCPServer", toolNames: ["k8s_get_resources"] } }] } } },
  { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "gpt", namespace: "qe" }, spec: { provider: "OpenAI", model: "gpt-4o" } },
  { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "tools", namespace: "qe" }, spec: { url: "https://tools.example.com/mcp" } },
  { apiVersion: "kagent.dev/v1alpha1", kind: "MCPServer", metadata: { name: "mcp", namespace: "qe" }, spec: { deployment: { image: "mcp:1" } } },
  { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "np", namespace: "qe" }, spec: { podSelector: { matchLabels: { "agent.tekton.dev/run": "run" } }, egress: [{}] } },
  { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "qe" }, spec: { serviceAccountName: "agentrun-run", containers: [{ name: "c", image: "x" }] } },
  { apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { name: "pr", namespace: "qe", annotations: { [STAMP.creator]: "x" } }, spec: {} },
  { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "agentrun-run", namespace: "qe" } },
];

/** An AdmissionReview for one object, as the API server sends it. */
export function reviewOf(object: KubeObject, operation: "CREATE" | "UPDATE" | "DELETE", opts: { uid?: string; subResource?: string; user?: string; old?: KubeObject } = {}): Record<string, unknown> {
  const [group, version] = (object.apiVersion ?? "v1").includes("/") ? (object.apiVersion ?? "").split("/") : ["", object.apiVersion ?? "v1"];
  const resource = HANDLED_RESOURCES.find((r) => r.group === group && r.kind === object.kind)?.resource ?? `${(object.kind ?? "").toLowerCase()}s`;
  const gvk = { group, version, kind: object.kind };
  const gvr = { group, version, resource };
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: opts.uid ?? "705ab4f5-6393-11e8-b7cc-42010a800002",
      kind: gvk,
      resource: gvr,
      requestKind: gvk,
      requestResource: gvr,
      ...(opts.subResource !== undefined ? { subResource: opts.subResource } : {}),
      name: object.metadata?.name,
      namespace: object.metadata?.namespace,
      operation,
      userInfo: { username: opts.user ?? "alice", groups: ["developers", "system:authenticated"] },
      object: operation === "DELETE" ? null : object,
      oldObject: operation === "CREATE" ? null : (opts.old ?? object),
      dryRun: false,
      options: { apiVersion: "meta.k8s.io/v1", kind: `${operation[0] ?? ""}${operation.slice(1).toLowerCase()}Options` },
    },
  };
}
