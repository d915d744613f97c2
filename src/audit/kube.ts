// Audit's verbs against the API server, each counted: paged lists, API
// discovery, report writes and Events. The counts go in the scan's log line,
// its metrics and the scale benchmark.
import * as k8s from "@kubernetes/client-node";
import type { KubeObject } from "../types/kube.ts";
import type { ReportApi, ReportObject } from "./report.ts";
import { statusCode } from "../api-errors.ts";
export { statusCode };

export interface Gvr {
  group: string;
  version: string;
  plural: string;
}

export type Verb = "list" | "discovery" | "create" | "update" | "delete" | "event";


export function describeError(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body: unknown = err.body;
    let message: string | undefined;
    if (typeof body === "string") {
      try {
        message = (JSON.parse(body) as { message?: string }).message;
      } catch {
        message = body.slice(0, 300);
      }
    } else if (typeof body === "object" && body !== null && "message" in body && typeof body.message === "string") {
      message = body.message;
    }
    return message ? `${err.code}: ${message}` : `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Seconds the server asked to wait (Retry-After), else 1; at most 10. */
function retryAfterMs(err: unknown): number {
  const header = err instanceof k8s.ApiException ? (err.headers as Record<string, string | undefined>)["retry-after"] : undefined;
  const seconds = Number(header ?? 1);
  return Math.min(10, Number.isFinite(seconds) && seconds > 0 ? seconds : 1) * 1000;
}

/**
 * Retries what the API server refuses with 429 (API Priority and Fairness
 * throttling, or a resource whose storage is still initializing right after
 * its CRD was established), waiting as it asks.
 */
export async function withRetry<T>(fn: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (statusCode(err) !== 429 || attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, retryAfterMs(err)));
    }
  }
}

/** How long one connection pool serves before TLS material (a rotated CA or client certificate) is read again. */
const POOL_MAX_AGE_MS = 5 * 60_000;

/**
 * A KubeConfig whose API clients share one connection pool. client-node
 * builds a new undici Agent for every request, so every request opens its
 * own TLS connection and the idle ones linger: at 5,000 objects the Events
 * and report writes of one scan took the process from ~250 MB to ~550 MB
 * peak RSS (measured by bench/audit-scale.ts), and cost a TLS handshake
 * each. Reusing the first Agent keeps connections alive across requests.
 */
export class PooledKubeConfig extends k8s.KubeConfig {
  private pooled: { dispatcher: NonNullable<ReturnType<k8s.RequestContext["getDispatcher"]>>; since: number } | undefined;

  constructor(from: k8s.KubeConfig) {
    super();
    this.loadFromOptions({ clusters: from.clusters, contexts: from.contexts, users: from.users, currentContext: from.currentContext });
  }

  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (!fresh) return;
    const now = Date.now();
    if (!this.pooled || now - this.pooled.since > POOL_MAX_AGE_MS) {
      // close() lets requests already on the old pool finish
      const old = this.pooled?.dispatcher;
      this.pooled = { dispatcher: fresh, since: now };
      if (old) void old.close().catch(() => undefined);
      return;
    }
    context.setDispatcher(this.pooled.dispatcher);
  }

  /** Closes the pooled connections (at the end of a run). */
  async closePool(): Promise<void> {
    const old = this.pooled?.dispatcher;
    this.pooled = undefined;
    await old?.close().catch(() => undefined);
  }
}

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
    const list = await withRetry(() => this.apis.getAPIVersions());
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
