// Realistic admission traffic: the objects kubectl apply sends (with the
// last-applied annotation and managedFields), a mix of AgentRun,
// AgentConfig, Agent and ModelConfig, allowed and denied, and the context
// objects they refer to.
import { randomUUID } from "node:crypto";
import type { AdmissionReview } from "../src/types/admission.ts";
import type { KubeObject } from "../src/types/kube.ts";
import { requestFromManifest } from "../src/wire/from-manifest.ts";

// As the API server fills it between the webhooks: now (a run's signed decision must be this recent).
const created = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

function asApplied(object: KubeObject): KubeObject {
  const lastApplied = JSON.stringify(object);
  return {
    ...object,
    metadata: {
      ...object.metadata,
      uid: randomUUID(),
      creationTimestamp: created,
      annotations: { ...(object.metadata?.annotations ?? {}), "kubectl.kubernetes.io/last-applied-configuration": `${lastApplied}\n` },
      managedFields: [
        {
          manager: "kubectl-client-side-apply",
          operation: "Update",
          apiVersion: object.apiVersion,
          time: "2026-11-25T09:00:00Z",
          fieldsType: "FieldsV1",
          fieldsV1: {
            "f:metadata": { "f:annotations": { ".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {} } },
            "f:spec": Object.fromEntries(Object.keys((object.spec as Record<string, unknown> | undefined) ?? {}).map((k) => [`f:${k}`, {}])),
          },
        },
      ],
    },
  };
}

export const NAMESPACE = "qe";

export const contextObjects: KubeObject[] = [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE, labels: { "kubernetes.io/metadata.name": NAMESPACE, team: "quality" } } },
  {
    apiVersion: "kagent.dev/v1alpha2",
    kind: "ModelConfig",
    metadata: { name: "claude", namespace: NAMESPACE },
    spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022", apiKeySecret: "anthropic", apiKeySecretKey: "key", anthropic: { maxTokens: 4096 } },
  },
  {
    apiVersion: "kagent.dev/v1alpha2",
    kind: "ModelConfig",
    metadata: { name: "default-model-config", namespace: NAMESPACE },
    spec: { provider: "OpenAI", model: "gpt-4o-mini", apiKeySecret: "openai", apiKeySecretKey: "key", openAI: { maxTokens: 2048 } },
  },
  {
    apiVersion: "kagent.dev/v1alpha2",
    kind: "RemoteMCPServer",
    metadata: { name: "kagent-tool-server", namespace: "kagent" },
    // shared with the agents' namespaces, as kagent requires of a tool server in another namespace
    spec: { url: "http://kagent-tools.kagent:8084/mcp", protocol: "STREAMABLE_HTTP", description: "kagent's built-in Kubernetes tools", allowedNamespaces: { from: "All" } },
  },
];

const goodConfigSpec = {
  modelConfigRef: { name: "claude" },
  systemPrompt:
    "You are a QE assistant. You read the repository's Tekton pipelines and the service's API description and propose test cases. You never change cluster state. Explain each test case in two sentences and give its expected result.",
  toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources", "k8s_describe_resource"] }],
  tokenBudget: 200000,
  timeout: "30m",
  maxIterations: 10,
  rbac: { rules: [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list"] }] },
  networkPolicy: "strict",
};

export const agentConfig: KubeObject = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "test-writer", namespace: NAMESPACE }, spec: goodConfigSpec };

/** Objects to admit, each with whether the default bundle should admit it. */
export const trafficObjects: { object: KubeObject; admitted: boolean }[] = [
  { object: agentConfig, admitted: true },
  {
    object: {
      apiVersion: "agent.tekton.dev/v1alpha1",
      kind: "AgentConfig",
      metadata: { name: "cleanup-bot", namespace: NAMESPACE },
      spec: { ...goodConfigSpec, tokenBudget: 900000, timeout: "3h", rbac: { rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "delete"] }] } },
    },
    admitted: false,
  },
  {
    object: {
      apiVersion: "agent.tekton.dev/v1alpha1",
      kind: "AgentRun",
      metadata: { name: "write-tests-42", namespace: NAMESPACE },
      spec: { configRef: { name: "test-writer" }, goal: "Generate test cases for the payment service's refund flow, covering partial refunds, currency conversion and idempotent retries.", context: { hints: ["repo: payments", "see docs/refunds.md"] }, tokenBudget: 50000 },
    },
    admitted: true,
  },
  {
    object: {
      apiVersion: "agent.tekton.dev/v1alpha1",
      kind: "AgentRun",
      metadata: { name: "write-tests-43", namespace: NAMESPACE },
      spec: { configRef: { name: "test-writer" }, goal: "Generate load tests.", tokenBudget: 400000, timeout: "2h" },
    },
    admitted: false,
  },
  {
    object: {
      apiVersion: "kagent.dev/v1alpha2",
      kind: "Agent",
      metadata: { name: "k8s-reader", namespace: NAMESPACE },
      spec: {
        type: "Declarative",
        description: "Reads cluster state",
        declarative: {
          modelConfig: "claude",
          systemMessage: "You answer questions about the cluster.",
          tools: [{ type: "McpServer", mcpServer: { apiGroup: "kagent.dev", kind: "RemoteMCPServer", name: "kagent-tool-server", namespace: "kagent", toolNames: ["k8s_get_resources"] } }],
        },
      },
    },
    admitted: true,
  },
  {
    object: {
      apiVersion: "kagent.dev/v1alpha2",
      kind: "Agent",
      metadata: { name: "k8s-admin", namespace: NAMESPACE },
      spec: {
        type: "Declarative",
        declarative: {
          modelConfig: "claude",
          systemMessage: "You fix the cluster.",
          tools: [{ type: "McpServer", mcpServer: { apiGroup: "kagent.dev", kind: "RemoteMCPServer", name: "kagent-tool-server", namespace: "kagent", toolNames: ["k8s_get_resources", "k8s_delete_resource"] } }],
        },
      },
    },
    admitted: false,
  },
  {
    object: {
      apiVersion: "kagent.dev/v1alpha2",
      kind: "ModelConfig",
      metadata: { name: "gpt4o", namespace: NAMESPACE },
      spec: { provider: "OpenAI", model: "gpt-4o-2024-08-06", apiKeySecret: "openai", apiKeySecretKey: "key", openAI: { maxTokens: 4096, temperature: "0.2" } },
    },
    admitted: true,
  },
  {
    object: {
      apiVersion: "kagent.dev/v1alpha2",
      kind: "ModelConfig",
      metadata: { name: "fast", namespace: NAMESPACE },
      spec: { provider: "OpenAI", model: "gpt-3.5-turbo", apiKeySecret: "openai", apiKeySecretKey: "key", openAI: { maxTokens: 16384 }, tls: { disableVerify: true } },
    },
    admitted: false,
  },
];

/** AdmissionReviews as the API server sends them for kubectl apply (CREATE). */
export function admissionReviews(): { review: AdmissionReview; admitted: boolean }[] {
  return trafficObjects.map(({ object, admitted }) => {
    const request = requestFromManifest(asApplied(object), {
      operation: "CREATE",
      user: { username: "alice@example.com", uid: "5d1c0f6e", groups: ["qe-team", "system:authenticated"] },
    });
    return { review: { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request }, admitted };
  });
}
