// Audit's verbs against the API server, each counted: paged lists, API
// discovery, report writes and Events. The counts go in the scan's log line,
// its metrics and the scale benchmark.
import * as k8s from "@kubernetes/client-node";
import type { KubeObject } from "../types/kube.ts";
import type { ReportApi, ReportObject } from "./report.ts";
import { describeError, statusCode, withRetry } from "../kube/errors.ts";
import { PooledKubeConfig } from "../kube/pooled-config.ts";
import type { Gvr } from "../kube/resources.ts";

export type Verb = "list" | "discovery" | "create" | "update" | "delete" | "event";

export interface Page {
  items: KubeObject[];
  continue?: string;
}

export interface EventInput {
  ref: { apiVersion: string; kind: string; name: string; namespace: string; uid: string };
  reason: string;
  message: string;
  type: "Normal" | "Warning";
}

export class AuditApi {
  readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  private readonly apis: k8s.ApisApi;
  readonly calls: Record<Verb, number> = { list: 0, discovery: 0, create: 0, update: 0, delete: 0, event: 0 };
  /** told of every call, for metrics */
  onCall: (verb: Verb) => void = () => undefined;

  private readonly kc: PooledKubeConfig;

  constructor(kc: k8s.KubeConfig) {
    this.kc = new PooledKubeConfig(kc);
    this.custom = this.kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = this.kc.makeApiClient(k8s.CoreV1Api);
    this.apis = this.kc.makeApiClient(k8s.ApisApi);
  }

  /** Closes its pooled connections. */
  close(): Promise<void> {
    return this.kc.closePool();
  }

  private count(verb: Verb): void {
    this.calls[verb]++;
    this.onCall(verb);
  }

  totalCalls(): number {
    return Object.values(this.calls).reduce((a, b) => a + b, 0);
  }

  resetCalls(): void {
    for (const verb of Object.keys(this.calls) as Verb[]) this.calls[verb] = 0;
  }

  /** "group/version" of every API group version the server serves. */
  async servedGroupVersions(): Promise<Set<string>> {
    this.count("discovery");
    const list = await withRetry(() => this.apis.getAPIVersions(), { read: true });
    const out = new Set<string>();
    for (const g of list.groups) for (const v of g.versions) out.add(v.groupVersion);
    return out;
  }

  /** One page of a list over all namespaces, or one (`namespace`), or of a cluster-scoped resource (`cluster`). */
  async listPage(gvr: Gvr, opts: { limit: number; continue?: string; labelSelector?: string; cluster?: boolean; namespace?: string }): Promise<Page> {
    this.count("list");
    const params = {
      group: gvr.group,
      version: gvr.version,
      limit: opts.limit,
      ...(opts.continue ? { _continue: opts.continue } : {}),
      ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}),
    };
    const list = (await withRetry(() =>
      opts.cluster
        ? this.custom.listClusterCustomObject({ ...params, plural: gvr.plural })
        : opts.namespace !== undefined
          ? this.custom.listNamespacedCustomObject({ ...params, namespace: opts.namespace, plural: gvr.plural })
          : this.custom.listCustomObjectForAllNamespaces({ ...params, resourcePlural: gvr.plural }),
      { read: true },
    )) as { items?: KubeObject[]; metadata?: { continue?: string } };
    const next = list.metadata?.continue;
    return { items: list.items ?? [], ...(next ? { continue: next } : {}) };
  }

  /**
   * Every object, a page at a time. Returns false when the API is not served
   * (404). A continue token that expired mid-list (410) restarts the list:
   * `onPage` must tolerate seeing an object twice.
   */
  async listAll(gvr: Gvr, opts: { limit: number; labelSelector?: string; cluster?: boolean; namespace?: string }, onPage: (items: KubeObject[]) => Promise<void>): Promise<boolean> {
    let cont: string | undefined;
    let restarts = 0;
    for (;;) {
      let page: Page;
      try {
        page = await this.listPage(gvr, { ...opts, ...(cont ? { continue: cont } : {}) });
      } catch (err) {
        const code = statusCode(err);
        if (code === 404) return false;
        if (code === 410 && restarts < 3) {
          restarts++;
          cont = undefined;
          continue;
        }
        throw new Error(`cannot list ${gvr.plural}.${gvr.group}: ${describeError(err)}`, { cause: err });
      }
      await onPage(page.items);
      if (!page.continue) return true;
      cont = page.continue;
    }
  }

  async createReport(api: ReportApi, report: ReportObject): Promise<void> {
    this.count("create");
    const ns = report.metadata.namespace;
    await withRetry(() =>
      ns
        ? this.custom.createNamespacedCustomObject({ group: api.group, version: api.version, namespace: ns, plural: api.plural, body: report })
        : this.custom.createClusterCustomObject({ group: api.group, version: api.version, plural: api.clusterPlural, body: report }),
    );
  }

  /** Replaces a report; `report.metadata.resourceVersion` makes it conditional. */
  async replaceReport(api: ReportApi, report: ReportObject): Promise<void> {
    this.count("update");
    const { name, namespace: ns } = report.metadata;
    await withRetry(() =>
      ns
        ? this.custom.replaceNamespacedCustomObject({ group: api.group, version: api.version, namespace: ns, plural: api.plural, name, body: report })
        : this.custom.replaceClusterCustomObject({ group: api.group, version: api.version, plural: api.clusterPlural, name, body: report }),
    );
  }

  async deleteReport(api: ReportApi, namespace: string, name: string): Promise<void> {
    this.count("delete");
    try {
      await withRetry(() =>
        namespace
          ? this.custom.deleteNamespacedCustomObject({ group: api.group, version: api.version, namespace, plural: api.plural, name })
          : this.custom.deleteClusterCustomObject({ group: api.group, version: api.version, plural: api.clusterPlural, name }),
      );
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  }

  async createEvent(e: EventInput): Promise<void> {
    this.count("event");
    const time = new Date();
    await withRetry(() => this.core.createNamespacedEvent({
      namespace: e.ref.namespace,
      body: {
        metadata: { generateName: `${e.ref.name}.`, namespace: e.ref.namespace },
        involvedObject: { apiVersion: e.ref.apiVersion, kind: e.ref.kind, name: e.ref.name, namespace: e.ref.namespace, uid: e.ref.uid },
        type: e.type,
        reason: e.reason,
        message: e.message,
        source: { component: "agentgate-audit" },
        reportingComponent: "agentgate-audit",
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      },
    }));
  }
}
