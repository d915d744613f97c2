// tekton.dev objects the controller creates and reads.
import type { Condition, KubeObject } from "./kube.ts";

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
