// The controller's few verbs against the API server: server-side apply of
// what it owns, status merge patches, reads that treat 404 as absent.
import * as k8s from "@kubernetes/client-node";
import type { KubeObject } from "../types/kube.ts";
import { statusCode } from "../kube/errors.ts";
import { countingConfiguration, type RequestListener } from "../kube/client.ts";
import { gvrOf, RESOURCES, type Gvr } from "../kube/resources.ts";
// Where the controller's callers have always found them.
export { describeError, statusCode } from "../kube/errors.ts";
export type { Gvr };

export const FIELD_MANAGER = "agentgate-controller";


export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

/** The custom resources the controller reads and writes, at the version it speaks (src/kube/resources.ts). */
export const GVR = {
  agentRuns: gvrOf(RESOURCES.agentRuns),
  agentConfigs: gvrOf(RESOURCES.agentConfigs),
  agents: gvrOf(RESOURCES.agents),
  modelConfigs: gvrOf(RESOURCES.modelConfigs),
  remoteMcpServers: gvrOf(RESOURCES.remoteMcpServers),
  mcpServers: gvrOf(RESOURCES.mcpServers),
  pipelineRuns: gvrOf(RESOURCES.pipelineRuns),
  customRuns: gvrOf(RESOURCES.customRuns),
} as const satisfies Record<string, Gvr>;

/** KubernetesObjectApi.makeApiClient's default namespace, on a configuration of ours. */
class ObjectApi extends k8s.KubernetesObjectApi {
  constructor(configuration: k8s.Configuration, kc: k8s.KubeConfig) {
    super(configuration);
    this.setDefaultNamespace(kc);
  }

  /**
   * Server-side apply of the object exactly as given. KubernetesObjectApi.patch
   * first runs a built-in kind through the generated model's serializer, which
   * reads TypeScript property names: it drops a NetworkPolicy rule's `from`
   * (the model calls it `_from`) and any field the model lacks, so a policy
   * admitting kagent's controller would be stored admitting nobody.
   */
  async applyAsIs(object: k8s.KubernetesObject, fieldManager: string): Promise<k8s.KubernetesObject> {
    const path = await this.specUriPath(object, "patch");
    const ctx = this.configuration.baseServer.makeRequestContext(path, k8s.HttpMethod.PATCH);
    ctx.setHeaderParam("Accept", "application/json");
    ctx.setHeaderParam("Content-Type", k8s.PatchStrategy.ServerSideApply);
    ctx.setQueryParam("fieldManager", fieldManager);
    ctx.setQueryParam("force", "true");
    ctx.setBody(JSON.stringify(object));
    return this.requestPromise(ctx);
  }
}

export class Kube {
  private readonly objects: ObjectApi;
  readonly custom: k8s.CustomObjectsApi;
  readonly core: k8s.CoreV1Api;
  readonly coordination: k8s.CoordinationV1Api;
  /**
   * API requests sent, keyed "<verb> <resource>": the cost of a run. Counted
   * at the HTTP layer of every client made here, so calls that bypass the
   * helpers below (leases, informer lists, secrets) count too; watch streams
   * opened by informers do not go through it.
   */
  readonly requests = new Map<string, number>();

  readonly kc: k8s.KubeConfig;

  constructor(kc: k8s.KubeConfig, onRequest?: RequestListener) {
    this.kc = kc;
    const configuration = countingConfiguration(kc, FIELD_MANAGER, (verb, resource) => {
      const key = `${verb} ${resource}`;
      this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
      onRequest?.(verb, resource);
    });
    this.objects = new ObjectApi(configuration, kc);
    this.custom = new k8s.CustomObjectsApi(configuration);
    this.core = new k8s.CoreV1Api(configuration);
    this.coordination = new k8s.CoordinationV1Api(configuration);
  }

  /** Creates or converges an owned object (server-side apply, forced: it is ours). */
  async apply(object: KubeObject): Promise<KubeObject> {
    return (await this.objects.applyAsIs(object as k8s.KubernetesObject, FIELD_MANAGER)) as KubeObject;
  }

  /** Any kind by apiVersion and kind (a ServiceAccount, a Role…); null when it does not exist. */
  async getObject(ref: ObjectRef): Promise<KubeObject | null> {
    try {
      return (await this.objects.read({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } })) as KubeObject;
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw err;
    }
  }

  /** Deletes any kind; false when it was already gone. */
  async deleteObject(ref: ObjectRef): Promise<boolean> {
    try {
      await this.objects.delete({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } }, undefined, undefined, undefined, undefined, "Background");
      return true;
    } catch (err) {
      if (statusCode(err) === 404) return false;
      throw err;
    }
  }

  /** A token of a ServiceAccount for one audience (TokenRequest); it dies with the account. */
  async serviceAccountToken(namespace: string, name: string, audience: string, expirationSeconds: number): Promise<string> {
    const answer = await this.core.createNamespacedServiceAccountToken({ name, namespace, body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { audiences: [audience], expirationSeconds } } });
    const token = answer.status?.token;
    if (!token) throw new Error(`the API server answered the TokenRequest for ServiceAccount ${namespace}/${name} without a token`);
    return token;
  }

  /** Creates a Secret (never reads or changes one); returns the name the API server gave it. */
  async createSecret(namespace: string, body: KubeObject): Promise<string> {
    const created = await this.core.createNamespacedSecret({ namespace, body: body as k8s.V1Secret });
    return created.metadata?.name ?? "";
  }

  async get(gvr: Gvr, namespace: string, name: string): Promise<KubeObject | null> {
    try {
      return (await this.custom.getNamespacedCustomObject({ ...gvr, namespace, name })) as KubeObject;
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw err;
    }
  }

  async create(gvr: Gvr, namespace: string, body: KubeObject): Promise<KubeObject> {
    return (await this.custom.createNamespacedCustomObject({ ...gvr, namespace, body })) as KubeObject;
  }

  async patch(gvr: Gvr, namespace: string, name: string, body: unknown): Promise<KubeObject> {
    return (await this.custom.patchNamespacedCustomObject({ ...gvr, namespace, name, body }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch))) as KubeObject;
  }

  /**
   * Merge-patches the status. With a resourceVersion the patch is
   * conditional: the API server answers 409 Conflict when the object changed
   * since that version was read (someone else wrote it first).
   */
  async patchStatus(gvr: Gvr, namespace: string, name: string, status: unknown, resourceVersion?: string): Promise<KubeObject> {
    const body = resourceVersion === undefined ? { status } : { metadata: { resourceVersion }, status };
    return (await this.custom.patchNamespacedCustomObjectStatus({ ...gvr, namespace, name, body }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch))) as KubeObject;
  }

  async list(gvr: Gvr, namespace: string, labelSelector: string): Promise<KubeObject[]> {
    const list = (await this.custom.listNamespacedCustomObject({ ...gvr, namespace, labelSelector })) as { items?: KubeObject[] };
    return list.items ?? [];
  }

  /** Every namespace's objects of a resource that match the selector. */
  async listAll(gvr: Gvr, labelSelector: string): Promise<KubeObject[]> {
    const list = (await this.custom.listClusterCustomObject({ ...gvr, labelSelector })) as { items?: KubeObject[] };
    return list.items ?? [];
  }

  /**
   * Deletes; false when it was already gone. Foreground: the object stays
   * (with a deletionTimestamp) until the garbage collector has deleted its
   * dependents (kagent's Deployment, its ReplicaSet, their pods, each after
   * its grace period), so its absence means nothing of it runs. Without a
   * garbage collector it never goes: whoever waits for it bounds the wait.
   */
  async delete(gvr: Gvr, namespace: string, name: string, propagation: "Background" | "Foreground" = "Background"): Promise<boolean> {
    try {
      await this.custom.deleteNamespacedCustomObject({ ...gvr, namespace, name, propagationPolicy: propagation });
      return true;
    } catch (err) {
      if (statusCode(err) === 404) return false;
      throw err;
    }
  }

  async event(involved: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
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
