// One audit scan: list every intercepted kind a page at a time, evaluate
// each object as the webhook would an UPDATE of it to itself, then bring
// agentgate's reports (PolicyReport and/or OpenReports, whichever is
// installed) in line, write only what changed, delete what no longer has
// objects, and record an Event on each object that newly fails.
import type { ObjectLookup } from "../context/lookup.ts";
import type { GatewayDeps } from "../gateway/admit.ts";
import { HANDLED_RESOURCES } from "../gateway/resources.ts";
import type { Logger } from "../log.ts";
import type { UserInfo } from "../types/admission.ts";
import type { KubeObject } from "../types/kube.ts";
import type { Violation } from "../types/policy.ts";
import { catalogOf } from "./catalog.ts";
import { AUDIT_USER, auditObject } from "./evaluate.ts";
import { describeError, statusCode, type AuditApi, type Verb } from "./kube.ts";
import type { AuditMetrics } from "./metrics.ts";
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  REPORT_APIS,
  REPORT_NAME,
  baselineOf,
  buildReport,
  carryTimestamps,
  failureMessage,
  findingResults,
  newFailures,
  reportChanged,
  sortResults,
  storedResults,
  summarize,
  timestampOf,
  type ObjectRef,
  type ReportApi,
  type ReportObject,
  type ReportResult,
  type ReportSummary,
  type ResultStatus,
} from "./report.ts";

/** The kinds audit scans: every resource the policy bundles evaluate. */
export const AUDITED_RESOURCES = HANDLED_RESOURCES.filter((r) => r.role === "agent");

export interface ScannerOptions {
  api: AuditApi;
  /** the webhook's dependencies: same engine, same lookup (watch cache), same exemptions */
  deps: GatewayDeps;
  log: Logger;
  metrics?: AuditMetrics;
  /** `limit` of every list call */
  pageSize?: number;
  /** who the evaluated UPDATE requests come from */
  user?: UserInfo;
  /** whether this scanner may write now (holds the Lease); checked before every write */
  mayWrite?: () => boolean;
  /** write reports and events at all (false: only evaluate, e.g. `-o json` without writing) */
  write?: boolean;
  /** size budget of one report's results */
  maxReportBytes?: number;
  /** parallel report writes and events */
  concurrency?: number;
  now?: () => number;
}

export interface AuditedObject {
  ref: ObjectRef;
  allowed: boolean;
  violations: Violation[];
  results: ReportResult[];
}

export interface WriteCounts {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  failed: number;
}

export interface ScanResult {
  revision: string;
  startedAt: number;
  durationMs: number;
  /** sorted by namespace, kind, name */
  objects: AuditedObject[];
  byKind: Record<string, number>;
  /** kinds whose API is not served */
  absentKinds: string[];
  namespaces: number;
  summary: ReportSummary;
  /** per report API ("policyreport", "openreports"); absent when its CRD is not installed */
  reports: Partial<Record<ReportApi["name"], WriteCounts>>;
  /** report APIs skipped because their CRDs are not installed */
  skippedApis: string[];
  /** false when another scanner held the Lease (nothing was written) */
  wrote: boolean;
  events: number;
  apiCalls: Record<Verb, number> & { total: number };
}

/** Memoizes lookups for one scan: a reference shared by many objects is resolved (and a miss confirmed) once. */
class ScanLookup implements ObjectLookup {
  private readonly memo = new Map<string, Promise<KubeObject | null>>();
  private readonly inner: ObjectLookup;
  constructor(inner: ObjectLookup) {
    this.inner = inner;
  }
  get(kind: Parameters<ObjectLookup["get"]>[0], namespace: string, name: string): Promise<KubeObject | null> {
    const key = `${kind}\0${namespace}\0${name}`;
    let hit = this.memo.get(key);
    if (!hit) {
      hit = this.inner.get(kind, namespace, name);
      this.memo.set(key, hit);
    }
    return hit;
  }
}

async function pool<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  const worker = async () => {
    for (let next = it.next(); !next.done; next = it.next()) await fn(next.value);
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
}

function refOf(object: KubeObject, kind: string): ObjectRef {
  return {
    apiVersion: object.apiVersion ?? "",
    kind: object.kind ?? kind,
    name: object.metadata?.name ?? "",
    namespace: object.metadata?.namespace ?? "",
    uid: object.metadata?.uid ?? "",
  };
}

function compareObjects(a: AuditedObject, b: AuditedObject): number {
  return a.ref.namespace.localeCompare(b.ref.namespace) || a.ref.kind.localeCompare(b.ref.kind) || a.ref.name.localeCompare(b.ref.name);
}

export class AuditScanner {
  private readonly opts: ScannerOptions;
  /** non-pass results of the previous scan: the events' baseline where no report says otherwise */
  private previous: Map<string, ResultStatus> | undefined;

  constructor(opts: ScannerOptions) {
    this.opts = opts;
  }

  async scan(): Promise<ScanResult> {
    const { api, log } = this.opts;
    const now = this.opts.now ?? Date.now;
    const startedAt = now();
    const started = performance.now();
    api.resetCalls();
    const engine = this.opts.deps.engine();
    const catalog = catalogOf(engine.bundles.map((b) => b.bundle.data));
    const deps: GatewayDeps = { ...this.opts.deps, engine: () => engine, lookup: new ScanLookup(this.opts.deps.lookup) };
    const user = this.opts.user ?? AUDIT_USER;
    const timestamp = timestampOf(startedAt);
    const pageSize = this.opts.pageSize ?? 500;

    const found = new Map<string, AuditedObject>();
    const byKind: Record<string, number> = {};
    const absentKinds: string[] = [];
    for (const resource of AUDITED_RESOURCES) {
      const version = resource.versions[0] ?? "v1";
      const served = await api.listAll({ group: resource.group, version, plural: resource.resource }, { limit: pageSize }, async (items) => {
        for (const item of items) {
          const ref = refOf(item, resource.kind);
          if (ref.namespace === "" || deps.exemptNamespaces.has(ref.namespace)) continue;
          let violations: Violation[];
          let allowed: boolean;
          let revision = engine.revision;
          try {
            const decision = await auditObject({ ...item, apiVersion: item.apiVersion ?? `${resource.group}/${version}`, kind: item.kind ?? resource.kind }, deps, user);
            if (decision.exempt) continue;
            violations = decision.violations;
            allowed = decision.allowed;
            revision = decision.revision;
          } catch (err) {
            // The webhook would refuse the update (fail closed); the report says the object could not be evaluated.
            violations = [{ policy: "policy-evaluation", field: "", message: `agentgate could not evaluate this object: ${describeError(err)}`, action: "deny" }];
            allowed = false;
          }
          const key = ref.uid || `${ref.kind}/${ref.namespace}/${ref.name}`;
          if (!found.has(key)) byKind[resource.kind] = (byKind[resource.kind] ?? 0) + 1;
          found.set(key, { ref, allowed, violations, results: findingResults({ ref, violations, revision }, catalog, timestamp) });
        }
      });
      if (!served) absentKinds.push(resource.kind);
    }
    const objects = [...found.values()].sort(compareObjects);
    found.clear();

    const byNamespace = resultsByNamespace(objects);

    const allResults = objects.flatMap((o) => o.results);
    const summary = summarize(allResults);
    const reports: ScanResult["reports"] = {};
    const skippedApis: string[] = [];
    let events = 0;
    const mayWrite = this.opts.mayWrite ?? (() => true);
    const write = this.opts.write ?? true;
    const wrote = write && mayWrite();
    if (wrote) {
      const served = await api.servedGroupVersions();
      const installed = REPORT_APIS.filter((a) => served.has(`${a.group}/${a.version}`));
      for (const a of REPORT_APIS) if (!installed.includes(a)) skippedApis.push(`${a.kind}.${a.group}/${a.version}`);
      // Events are decided against the first installed API's stored reports, then the previous scan.
      const failures: ReturnType<typeof newFailures> = [];
      let eventsDecided = installed.length === 0;
      if (installed.length === 0 && this.previous) {
        failures.push(...newFailures(allResults, this.previous));
      }
      for (const reportApi of installed) {
        const decideEvents = !eventsDecided;
        eventsDecided = true;
        reports[reportApi.name] = await this.syncReports(reportApi, byNamespace, (stored, desired) => {
          if (!decideEvents) return;
          const before = baselineOf(stored);
          const previous = this.previous;
          failures.push(...newFailures(desired, { get: (k: string) => before.get(k) ?? previous?.get(k) }));
        });
      }
      if (mayWrite()) {
        await pool(failures, this.opts.concurrency ?? 8, async (f) => {
          try {
            await api.createEvent({ ref: f.ref, reason: "PolicyViolation", type: "Warning", message: failureMessage(f) });
            events++;
            this.opts.metrics?.events.inc();
          } catch (err) {
            log.warn("cannot record audit event", { kind: f.ref.kind, namespace: f.ref.namespace, name: f.ref.name, error: describeError(err) });
          }
        });
      }
    }
    this.previous = baselineOf(allResults);

    const durationMs = performance.now() - started;
    const apiCalls = { ...api.calls, total: api.totalCalls() };
    const result: ScanResult = {
      revision: engine.revision,
      startedAt,
      durationMs,
      objects,
      byKind,
      absentKinds,
      namespaces: byNamespace.size,
      summary,
      reports,
      skippedApis,
      wrote,
      events,
      apiCalls,
    };
    this.record(result);
    return result;
  }

  /**
   * Brings one report API's reports in line with the scan, a page of stored
   * reports at a time: unchanged reports are left alone, changed ones
   * replaced (conditionally, on their resourceVersion), reports of
   * namespaces with no scanned object any more deleted, missing ones created.
   */
  private async syncReports(
    reportApi: ReportApi,
    byNamespace: ReadonlyMap<string, ReportResult[]>,
    onCompare: (stored: ReportResult[], desired: ReportResult[]) => void,
  ): Promise<WriteCounts> {
    const { api, log } = this.opts;
    const counts: WriteCounts = { created: 0, updated: 0, deleted: 0, unchanged: 0, failed: 0 };
    const seen = new Set<string>();
    const mayWrite = this.opts.mayWrite ?? (() => true);
    const concurrency = this.opts.concurrency ?? 8;
    const maxBytes = this.opts.maxReportBytes;
    const build = (ns: string, stored: readonly ReportResult[]): ReportObject =>
      buildReport(reportApi, ns, carryTimestamps(byNamespace.get(ns) ?? [], stored), maxBytes === undefined ? {} : { maxBytes });
    const attempt = async (what: "create" | "update" | "delete", ns: string, fn: () => Promise<void>) => {
      if (!mayWrite()) return;
      try {
        await fn();
        counts[what === "create" ? "created" : what === "update" ? "updated" : "deleted"]++;
        this.opts.metrics?.reportWrites.inc({ api: reportApi.name, operation: what });
      } catch (err) {
        counts.failed++;
        const code = statusCode(err);
        // 409: written by someone else since it was listed; 403/404: namespace terminating. The next scan retries.
        const level = code === 409 || code === 403 || code === 404 ? "info" : "warn";
        log[level]("cannot write audit report", { api: reportApi.name, operation: what, namespace: ns || "(cluster)", error: describeError(err) });
      }
    };

    const handleStored = async (item: KubeObject, cluster: boolean) => {
      if (item.metadata?.name !== REPORT_NAME) return;
      const ns = cluster ? "" : (item.metadata.namespace ?? "");
      seen.add(ns);
      const stored = storedResults(item);
      if (!byNamespace.has(ns)) {
        await attempt("delete", ns, () => api.deleteReport(reportApi, ns, REPORT_NAME));
        return;
      }
      const desired = build(ns, stored);
      onCompare(stored, byNamespace.get(ns) ?? []);
      if (!reportChanged(item, desired)) {
        counts.unchanged++;
        return;
      }
      desired.metadata.resourceVersion = item.metadata.resourceVersion ?? "";
      await attempt("update", ns, () => api.replaceReport(reportApi, desired));
    };

    const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
    // A report can hold up to maxReportBytes (1 MiB by default), and a page
    // is held as text, then parsed, while its reports are compared: five per
    // page bounds that whatever the cluster's size. At 50 per page every
    // report of a 50-namespace cluster came in one page, and a 5,000-object
    // scan peaked ~70 MB higher (bench/audit-scale.ts).
    const limit = 5;
    await api.listAll({ group: reportApi.group, version: reportApi.version, plural: reportApi.plural }, { limit, labelSelector: selector }, (items) =>
      pool(items, concurrency, (item) => handleStored(item, false)),
    );
    await api.listAll({ group: reportApi.group, version: reportApi.version, plural: reportApi.clusterPlural }, { limit, labelSelector: selector, cluster: true }, (items) =>
      pool(items, concurrency, (item) => handleStored(item, true)),
    );
    const missing = [...byNamespace.keys()].filter((ns) => !seen.has(ns));
    await pool(missing, concurrency, async (ns) => {
      onCompare([], byNamespace.get(ns) ?? []);
      await attempt("create", ns, () => api.createReport(reportApi, build(ns, [])));
    });
    return counts;
  }

  private record(r: ScanResult): void {
    const { metrics, log } = this.opts;
    if (metrics) {
      metrics.objects.reset();
      for (const resource of AUDITED_RESOURCES) metrics.objects.set({ kind: resource.kind }, r.byKind[resource.kind] ?? 0);
      for (const [kind, n] of Object.entries(r.byKind)) metrics.objectsScanned.inc({ kind }, n);
      metrics.violations.reset();
      const counts = new Map<string, { policy: string; action: string; n: number }>();
      for (const o of r.objects) {
        for (const v of o.violations) {
          const key = `${v.policy}\0${v.action}`;
          const entry = counts.get(key);
          if (entry) entry.n++;
          else counts.set(key, { policy: v.policy, action: v.action, n: 1 });
        }
      }
      for (const c of counts.values()) metrics.violations.set({ policy: c.policy, action: c.action }, c.n);
      for (const result of ["pass", "fail", "warn", "error", "skip"] as const) metrics.results.set({ result }, r.summary[result]);
      metrics.duration.observe(r.durationMs / 1000);
      metrics.scans.inc({ outcome: "success" });
      metrics.lastSuccess.set((r.startedAt + r.durationMs) / 1000);
    }
    const writes = Object.fromEntries(Object.entries(r.reports).map(([k, c]) => [k, `created ${c.created}, updated ${c.updated}, deleted ${c.deleted}, unchanged ${c.unchanged}${c.failed > 0 ? `, failed ${c.failed}` : ""}`]));
    log.info("audit scan finished", {
      objects: r.objects.length,
      byKind: r.byKind,
      namespaces: r.namespaces,
      pass: r.summary.pass,
      fail: r.summary.fail,
      warn: r.summary.warn,
      error: r.summary.error,
      reports: r.wrote ? writes : "not written (another scanner holds the lease, or writing is off)",
      ...(r.skippedApis.length > 0 ? { notInstalled: r.skippedApis } : {}),
      ...(r.absentKinds.length > 0 ? { kindsNotServed: r.absentKinds } : {}),
      events: r.events,
      durationMs: Math.round(r.durationMs),
      apiCalls: r.apiCalls,
      revision: r.revision,
    });
  }
}

/** Results of the scan's objects grouped per namespace, each list sorted: what the reports hold. */
export function resultsByNamespace(objects: readonly AuditedObject[]): Map<string, ReportResult[]> {
  const out = new Map<string, ReportResult[]>();
  for (const o of objects) {
    const list = out.get(o.ref.namespace);
    if (list) list.push(...o.results);
    else out.set(o.ref.namespace, [...o.results]);
  }
  for (const results of out.values()) sortResults(results);
  return out;
}
