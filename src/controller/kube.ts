// The controller's few verbs against the API server: server-side apply of
// what it owns, status merge patches, reads that treat 404 as absent.
import * as k8s from "@kubernetes/client-node";
import type { KubeObject } from "../types/kube.ts";

export const FIELD_MANAGER = "agentgate-controller";

export function statusCode(err: unknown): number | undefined {
  if (err instanceof k8s.ApiException) return err.code;
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "number") return err.code;
  return undefined;
}

export function describeError(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body: unknown = err.body;
    if (typeof body === "string") {
      try {
        const parsed = JSON.parse(body) as { message?: string };
        if (parsed.message) return `${err.code}: ${parsed.message}`;
      } catch {
        return `${err.code}: ${body.slice(0, 300)}`;
      }
    }
    if (typeof body === "object" && body !== null && "message" in body) return `${err.code}: ${String((body).message)}`;
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

export interface Gvr {
  group: string;
  version: string;
  plural: string;
}

export const GVR = {
  agentRuns: { group: "agent.tekton.dev", version: "v1alpha1", plural: "agentruns" },
  agentConfigs: { group: "agent.tekton.dev", version: "v1alpha1", plural: "agentconfigs" },
  agents: { group: "kagent.dev", version: "v1alpha2", plural: "agents" },
  modelConfigs: { group: "kagent.dev", version: "v1alpha2", plural: "modelconfigs" },
  pipelineRuns: { group: "tekton.dev", version: "v1", plural: "pipelineruns" },
  customRuns: { group: "tekton.dev", version: "v1beta1", plural: "customruns" },
} as const satisfies Record<string, Gvr>;

export class Kube {
  readonly objects: k8s.KubernetesObjectApi;
  readonly custom: k8s.CustomObjectsApi;
  readonly core: k8s.CoreV1Api;
  readonly coordination: k8s.CoordinationV1Api;
  /** API calls made, by verb: the cost of a run, in the closing figures */
  readonly calls = new Map<string, number>();

  readonly kc: k8s.KubeConfig;

  constructor(kc: k8s.KubeConfig) {
    this.kc = kc;
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  }

  private count(verb: string): void {
    this.calls.set(verb, (this.calls.get(verb) ?? 0) + 1);
  }

  /** Creates or converges an owned object (server-side apply, forced: it is ours). */
  async apply(object: KubeObject): Promise<KubeObject> {
    this.count("apply");
    return (await this.objects.patch(object as k8s.KubernetesObject, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply)) as KubeObject;
  }

  async get(gvr: Gvr, namespace: string, name: string): Promise<KubeObject | null> {
    this.count("get");
    try {
      return (await this.custom.getNamespacedCustomObject({ ...gvr, namespace, name })) as KubeObject;
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw err;
    }
  }

  async create(gvr: Gvr, namespace: string, body: KubeObject): Promise<KubeObject> {
    this.count("create");
    return (await this.custom.createNamespacedCustomObject({ ...gvr, namespace, body })) as KubeObject;
  }

  async patch(gvr: Gvr, namespace: string, name: string, body: unknown): Promise<KubeObject> {
    this.count("patch");
    return (await this.custom.patchNamespacedCustomObject({ ...gvr, namespace, name, body }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch))) as KubeObject;
  }

  async patchStatus(gvr: Gvr, namespace: string, name: string, status: unknown): Promise<KubeObject> {
    this.count("patchStatus");
    return (await this.custom.patchNamespacedCustomObjectStatus({ ...gvr, namespace, name, body: { status } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch))) as KubeObject;
  }

  async event(involved: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    this.count("event");
    const now = new Date().toISOString();
    const ns = involved.metadata?.namespace ?? "default";
    await this.core
      .createNamespacedEvent({
        namespace: ns,
        body: {
          metadata: { generateName: `${involved.metadata?.name ?? "object"}.`, namespace: ns },
          involvedObject: { apiVersion: involved.apiVersion, kind: involved.kind, name: involved.metadata?.name, namespace: ns, uid: involved.metadata?.uid },
          reason,
          message: message.slice(0, 1024),
          type,
          source: { component: FIELD_MANAGER },
          firstTimestamp: now as unknown as Date,
          lastTimestamp: now as unknown as Date,
          count: 1,
          reportingComponent: FIELD_MANAGER,
        },
      })
      .catch(() => undefined);
  }
}
