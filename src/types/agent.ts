// agent.tekton.dev/v1alpha1: the AgentConfig and AgentRun APIs (docs/api.md).
import type { Condition, KubeObject, PolicyRule } from "./kube.ts";

export const AGENT_GROUP = "agent.tekton.dev";
export const AGENT_VERSION = "v1alpha1";
export const AGENT_API_VERSION = `${AGENT_GROUP}/${AGENT_VERSION}`;

export interface ObjectRef {
  name: string;
  namespace?: string;
}

export type ToolServerKind = "RemoteMCPServer" | "MCPServer" | "Service";

export interface ToolServer {
  ref: ObjectRef & { kind?: ToolServerKind; apiGroup?: string };
  allowedTools?: string[];
  requireApproval?: string[];
}

export interface Hook {
  name?: string;
  pipelineRef: { name: string };
  /** the ServiceAccount its PipelineRun runs as; default the run's hook ServiceAccount, which holds no rights */
  serviceAccountName?: string;
  params?: { name: string; value: string }[];
}

export interface AgentConfigSpec {
  modelConfigRef?: ObjectRef;
  systemPrompt?: string;
  toolServers?: ToolServer[];
  maxIterations?: number;
  timeout?: string;
  tokenBudget?: number;
  rbac?: { rules?: PolicyRule[] };
  networkPolicy?: "strict" | "permissive";
  approval?: { required?: boolean; approverGroups?: string[] };
  preHooks?: Hook[];
  postHooks?: Hook[];
}

export interface AgentConfig extends KubeObject {
  spec?: AgentConfigSpec;
}

export type RunPhase =
  | "Pending"
  | "WaitingForApproval"
  | "PreHooks"
  | "Acting"
  | "PostHooks"
  | "Succeeded"
  | "Failed";

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  toolCalls: number;
}

export interface DsseEnvelope {
  payloadType: string;
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

export interface AgentRunSpec {
  configRef?: { name: string };
  goal?: string;
  context?: { hints?: string[] };
  tokenBudget?: number;
  timeout?: string;
  maxIterations?: number;
  status?: "" | "Cancelled";
}

export interface AgentRunStatus {
  phase?: RunPhase;
  conditions?: Condition[];
  startTime?: string;
  completionTime?: string;
  iterations?: number;
  /** contextId: the A2A context the goal was sent in, when the controller chose one (an Agent shared within a PipelineRun) */
  agentRef?: { name: string; namespace: string; contextId?: string };
  usage?: Usage;
  results?: { name: string; value: string }[];
  provenance?: DsseEnvelope;
  /** written before the goal is sent to kagent; taskId follows once kagent names the task */
  goal?: { messageId: string; sentTime: string };
  taskId?: string;
  observedGeneration?: number;
}

export interface AgentRun extends KubeObject {
  spec?: AgentRunSpec;
  status?: AgentRunStatus;
}

/**
 * The annotations and label the gateway stamps on every AgentRun
 * (docs/trust-chain.md). `decision` signs the others with the run's
 * namespace, name and spec; `approval` signs an approval when it is given.
 */
export const STAMP = {
  createdBy: "agent.tekton.dev/created-by",
  policyRevision: "agent.tekton.dev/policy-revision",
  /** {"<bundle>": "sha256:<hex>"} of every bundle that judged the run, signed with the decision (provenance names each) */
  policyDigests: "agent.tekton.dev/policy-digests",
  guardrails: "agent.tekton.dev/guardrails",
  snapshot: "agent.tekton.dev/snapshot",
  decision: "agent.tekton.dev/decision",
  configLabel: "agent.tekton.dev/config",
  approvedBy: "agent.tekton.dev/approved-by",
  approval: "agent.tekton.dev/approval",
  /** on PipelineRuns and CustomRuns: the signed created-by of who made them */
  creator: "agent.tekton.dev/creator",
} as const;

export const PROFILE_LABEL = "agent.tekton.dev/guardrail-profile";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "agentgate";
/**
 * A run's ServiceAccount is named with this prefix, so the webhook
 * configuration can send only the pods and token requests that name one
 * (matchConditions cannot read the ServiceAccount's labels).
 */
export const RUN_SERVICE_ACCOUNT_PREFIX = "agentgate-run-";
/** The label on everything the controller makes for a run (and asks kagent to put on its pods): the run's name. */
export const RUN_LABEL = "agent.tekton.dev/run";

/** An egress destination the run's NetworkPolicy must allow. */
export interface EgressRule {
  /** what needs it: "model" or "mcp:<namespace>/<name>" */
  purpose: string;
  host: string;
  port: number;
  /** set when host is an in-cluster Service name */
  service?: { namespace: string; name: string };
}

/**
 * What the run will execute, frozen when it is admitted: the AgentConfig's
 * spec as it was then, and digests of the ModelConfig and tool servers it
 * named, which must still match when the agent starts.
 */
export interface Snapshot {
  config: { name: string; spec: AgentConfigSpec };
  /** sha256 of the canonical JSON of the ModelConfig's spec; null when none was found */
  modelConfig: { namespace: string; name: string; sha256: string } | null;
  /** "<namespace>/<name>" → sha256 of the server's spec, null when it did not exist */
  toolServers: Record<string, { kind: ToolServerKind; sha256: string | null }>;
}

/** The effective limits of one run, stamped as JSON on the AgentRun. */
export interface Guardrails {
  tokenBudget: number;
  timeout: string;
  maxIterations: number;
  networkPolicy: "strict" | "permissive";
  egress: EgressRule[];
  rbac: PolicyRule[];
  approval: { required: boolean; approverGroups: string[] };
  tools: { server: string; kind: ToolServerKind; allowedTools: string[]; requireApproval: string[] }[];
}
