// tekton.dev objects the controller creates and reads.
import { isRecord, type Condition, type KubeObject } from "./kube.ts";

export interface Param {
  name: string;
  value: unknown;
}

export interface PipelineRun extends KubeObject {
  spec?: { pipelineRef?: { name: string }; params?: Param[]; [key: string]: unknown };
  status?: { conditions?: Condition[]; results?: { name: string; value: unknown }[]; startTime?: string; completionTime?: string };
}

export interface CustomRun extends KubeObject {
  spec?: {
    customRef?: { apiVersion: string; kind: string; name?: string };
    params?: Param[];
    status?: string;
    statusMessage?: string;
    timeout?: string;
    [key: string]: unknown;
  };
  status?: {
    conditions?: Condition[];
    results?: { name: string; value: string }[];
    startTime?: string;
    completionTime?: string;
    observedGeneration?: number;
    extraFields?: unknown;
  };
}

/**
 * A CustomRun whose customRef names an AgentRun of any agent.tekton.dev
 * version: what the gateway judges (the controller acts on the version it
 * serves). Other custom tasks are Tekton's business.
 */
export function customRunOfAgentRun(object: KubeObject | null | undefined): boolean {
  const spec: unknown = object?.spec;
  const ref = isRecord(spec) && isRecord(spec.customRef) ? spec.customRef : undefined;
  return ref?.kind === "AgentRun" && typeof ref.apiVersion === "string" && ref.apiVersion.startsWith("agent.tekton.dev/");
}
