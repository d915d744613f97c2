// kagent.dev objects agentgate intercepts and reads (not owned).
import type { KubeObject } from "./kube.ts";

export const KAGENT_GROUP = "kagent.dev";
export const KAGENT_VERSION = "v1alpha2";
export const DEFAULT_MODEL_CONFIG = "default-model-config";

export interface McpServerTool {
  apiGroup?: string;
  kind?: string;
  name: string;
  namespace?: string;
  toolNames?: string[];
  requireApproval?: string[];
}

export interface AgentSpec {
  type?: "Declarative" | "BYO";
  description?: string;
  declarative?: {
    modelConfig?: string;
    systemMessage?: string;
    tools?: { type?: "McpServer" | "Agent"; mcpServer?: McpServerTool; agent?: { name: string; namespace?: string } }[];
    deployment?: { serviceAccountName?: string; [key: string]: unknown };
    [key: string]: unknown;
  };
  byo?: unknown;
}

export interface Agent extends KubeObject {
  spec?: AgentSpec;
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export interface ProviderBlock {
  baseUrl?: string;
  maxTokens?: number;
  maxCompletionTokens?: number;
  maxOutputTokens?: number;
  [key: string]: unknown;
}

export interface ModelConfigSpec {
  provider?: string;
  model?: string;
  openAI?: ProviderBlock;
  anthropic?: ProviderBlock;
  azureOpenAI?: ProviderBlock & { azureEndpoint?: string };
  gemini?: ProviderBlock;
  geminiVertexAI?: ProviderBlock;
  anthropicVertexAI?: ProviderBlock;
  ollama?: ProviderBlock & { host?: string };
  tls?: { disableVerify?: boolean; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ModelConfig extends KubeObject {
  spec?: ModelConfigSpec;
}

export interface RemoteMCPServer extends KubeObject {
  spec?: { url?: string; protocol?: string; [key: string]: unknown };
}
