// The controller's few verbs against the API server: server-side apply of
// what it owns, status merge patches, reads that treat 404 as absent.
import * as k8s from "@kubernetes/client-node";
import type { KubeObject } from "../types/kube.ts";
import { statusCode } from "../api-errors.ts";
import { PooledKubeConfig } from "../audit/kube.ts";
export { statusCode };

export const FIELD_MANAGER = "agentgate-controller";


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

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
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
  remoteMcpServers: { group: "kagent.dev", version: "v1alpha2", plural: "remotemcpservers" },
  // kmcp's MCPServer is still kagent.dev/v1alpha1
  mcpServers: { group: "kagent.dev", version: "v1alpha1", plural: "mcpservers" },
  pipelineRuns: { group: "tekton.dev", version: "v1", plural: "pipelineruns" },
  customRuns: { group: "tekton.dev", version: "v1beta1", plural: "customruns" },
} as const satisfies Record<string, Gvr>;

/**
 * The verb and resource of one API request, named as the API server's audit
 * log names them ("get", "list", "watch", "create", "update", "patch",
 * "delete", "deletecollection"), except that a server-side apply is "apply"
 * rather than "patch": it is the controller's main write and worth telling
 * apart. The resource is the plural, with the subresource after a slash
 * ("agentruns/status").
 */
export function classifyRequest(method: string, url: string, contentType = ""): { verb: string; resource: string } {
  const parsed = new URL(url, "https://api.invalid");
  const parts = parsed.pathname.split("/").filter((p) => p !== "");
  // /api/v1/... or /apis/<group>/<version>/...
  let rest = parts[0] === "api" ? parts.slice(2) : parts[0] === "apis" ? parts.slice(3) : parts;
  // namespaces/<ns>/<resource>/..., but namespaces/<ns>/status and /finalize are the Namespace's own subresources.
  if (rest[0] === "namespaces" && rest.length >= 3 && !(rest.length === 3 && (rest[2] === "status" || rest[2] === "finalize"))) rest = rest.slice(2);
  // An API group's resource list, which KubernetesObjectApi reads once per
  // apiVersion to learn whether a kind is namespaced.
  if (rest.length === 0) return { verb: "get", resource: "discovery" };
  const [plural = "", name, subresource] = rest;
  const resource = subresource ? `${plural}/${subresource}` : plural;
  const m = method.toUpperCase();
  let verb: string;
  if (m === "GET") verb = name !== undefined ? "get" : parsed.searchParams.get("watch") === "true" || parsed.searchParams.get("watch") === "1" ? "watch" : "list";
  else if (m === "POST") verb = "create";
  else if (m === "PUT") verb = "update";
  else if (m === "PATCH") verb = contentType.startsWith("application/apply-patch") ? "apply" : "patch";
  else if (m === "DELETE") verb = name !== undefined ? "delete" : "deletecollection";
  else verb = m.toLowerCase();
  return { verb, resource };
}

/** Told of every API request the controller sends, as it is sent. */
export type RequestListener = (verb: string, resource: string) => void;

function headerValue(headers: Record<string, string>, name: string): string {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? "" : headers[key] ?? "";
}

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
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster: set current-context to a context whose cluster exists");
    const inner = k8s.createConfiguration().httpApi;
    const counting: k8s.HttpLibrary = {
      send: (request) => {
        const { verb, resource } = classifyRequest(request.getHttpMethod(), request.getUrl(), headerValue(request.getHeaders(), "content-type"));
        const key = `${verb} ${resource}`;
        this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
        onRequest?.(verb, resource);
        return inner.send(request);
      },
    };
    // As KubeConfig.makeApiClient builds it, with the counting transport and
    // one connection pool: client-node otherwise makes an undici Agent, and a
    // TLS connection, for every request. A run sends ~50, so 10 runs at once
    // took the controller from 195 to 363 MiB of RSS and each run's time to
    // Acting grew with the number in flight (bench/controller-run.ts --runs).
    const configuration = k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(cluster.server, {}),
      authMethods: { default: new PooledKubeConfig(kc) },
      httpApi: counting,
      middleware: [k8s.setHeaderMiddleware("User-Agent", FIELD_MANAGER)],
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

  /** Deletes; false when it was already gone. */
  async delete(gvr: Gvr, namespace: string, name: string): Promise<boolean> {
    try {
      await this.custom.deleteNamespacedCustomObject({ ...gvr, namespace, name, propagationPolicy: "Background" });
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
