// Where context objects come from: the watch cache in a cluster, files offline.
import type { KubeObject } from "../types/kube.ts";

export type ContextKind = "AgentConfig" | "ModelConfig" | "RemoteMCPServer" | "MCPServer" | "Service" | "Namespace" | "ServiceAccount" | "CustomRun" | "PipelineRun" | "Agent";

export interface ObjectLookup {
  /** The object, or null when it does not exist. Namespace lookups pass namespace "". */
  get(kind: ContextKind, namespace: string, name: string): Promise<KubeObject | null>;
}
