// Context from the cluster: informer watch caches of the kinds policies
// refer to, with every cache miss confirmed by a direct read, so that
// `kubectl apply -f dir/` (ModelConfig, then the AgentConfig using it, a few
// milliseconds apart) is never refused because the cache lagged.
import * as k8s from "@kubernetes/client-node";
import type { KubeObject } from "../types/kube.ts";
import type { Logger } from "../log.ts";
import type { ContextKind, ObjectLookup } from "./lookup.ts";

interface WatchedKind {
  kind: Exclude<ContextKind, "Service">;
  group: string;
  version: string;
  plural: string;
}

export const WATCHED_KINDS: readonly WatchedKind[] = [
  { kind: "AgentConfig", group: "agent.tekton.dev", version: "v1alpha1", plural: "agentconfigs" },
  { kind: "ModelConfig", group: "kagent.dev", version: "v1alpha2", plural: "modelconfigs" },
  { kind: "RemoteMCPServer", group: "kagent.dev", version: "v1alpha2", plural: "remotemcpservers" },
  { kind: "MCPServer", group: "kagent.dev", version: "v1alpha1", plural: "mcpservers" },
  { kind: "Namespace", group: "", version: "v1", plural: "namespaces" },
];

type Cache = k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>;

function statusCode(err: unknown): number | undefined {
  if (err instanceof k8s.ApiException) return err.code;
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "number") return err.code;
  return undefined;
}

export class ClusterLookup implements ObjectLookup {
  private readonly caches = new Map<ContextKind, Cache>();
  private readonly synced = new Set<ContextKind>();
  /** kinds whose API is not served (kagent not installed): empty, and rechecked */
  private readonly absent = new Set<ContextKind>();
  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  private readonly kc: k8s.KubeConfig;
  private readonly log: Logger;
  private readonly onSync: (kind: string, synced: boolean) => void;
  private stopped = false;
  /** direct reads made to confirm a cache miss (for the closing figures and metrics) */
  confirmations = 0;

  constructor(kc: k8s.KubeConfig, log: Logger, onSync: (kind: string, synced: boolean) => void = () => undefined) {
    this.kc = kc;
    this.log = log;
    this.onSync = onSync;
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  /** Starts every informer; resolves once each has listed (or was found absent). */
  async start(): Promise<void> {
    await Promise.all(WATCHED_KINDS.map((w) => this.startKind(w)));
  }

  /** What is not synced yet, or undefined when everything is. */
  notSynced(): string | undefined {
    const pending = WATCHED_KINDS.filter((w) => !this.synced.has(w.kind)).map((w) => w.kind);
    return pending.length === 0 ? undefined : `watch caches not synced: ${pending.join(", ")}`;
  }

  private listFn(w: WatchedKind): k8s.ListPromise<k8s.KubernetesObject> {
    if (w.kind === "Namespace") return () => this.core.listNamespace();
    return async () =>
      (await this.custom.listCustomObjectForAllNamespaces({ group: w.group, version: w.version, resourcePlural: w.plural })) as k8s.KubernetesListObject<k8s.KubernetesObject>;
  }

  private async startKind(w: WatchedKind): Promise<void> {
    const path = w.group === "" ? `/api/${w.version}/${w.plural}` : `/apis/${w.group}/${w.version}/${w.plural}`;
    const informer = k8s.makeInformer(this.kc, path, this.listFn(w));
    informer.on("error", (err: unknown) => {
      if (this.stopped) return;
      const code = statusCode(err);
      if (code === 404) this.absent.add(w.kind);
      else this.log.warn("watch failed; restarting", { kind: w.kind, error: err instanceof Error ? err.message : String(err) });
      setTimeout(() => {
        if (!this.stopped) informer.start().then(() => { this.absent.delete(w.kind); }, () => undefined);
      }, code === 404 ? 30_000 : 2_000).unref();
    });
    this.caches.set(w.kind, informer);
    try {
      await informer.start();
    } catch (err) {
      if (statusCode(err) !== 404) throw new Error(`cannot list ${w.plural}.${w.group || "core"}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      this.absent.add(w.kind);
      this.log.info("API not served; its references resolve to null until it is", { kind: w.kind, apiVersion: `${w.group}/${w.version}` });
    }
    this.synced.add(w.kind);
    this.onSync(w.kind, true);
  }

  async get(kind: ContextKind, namespace: string, name: string): Promise<KubeObject | null> {
    if (kind !== "Service") {
      const cached = this.caches.get(kind)?.get(name, kind === "Namespace" ? undefined : namespace);
      if (cached) return cached as KubeObject;
    }
    return this.read(kind, namespace, name);
  }

  private async read(kind: ContextKind, namespace: string, name: string): Promise<KubeObject | null> {
    this.confirmations++;
    try {
      if (kind === "Namespace") return (await this.core.readNamespace({ name })) as KubeObject;
      if (kind === "Service") return (await this.core.readNamespacedService({ name, namespace })) as KubeObject;
      const w = WATCHED_KINDS.find((k) => k.kind === kind);
      if (!w) return null;
      return (await this.custom.getNamespacedCustomObject({ group: w.group, version: w.version, namespace, plural: w.plural, name })) as KubeObject;
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw new Error(`cannot read ${kind} ${namespace}/${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.caches.values()].map((c) => c.stop()));
  }
}
