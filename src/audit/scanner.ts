// One audit scan: list every intercepted kind a page at a time, evaluate
// each object as the webhook would an UPDATE of it to itself, and bring
// agentgate's reports (PolicyReport and/or OpenReports, whichever is
// installed) in line: write only what changed, delete what no longer has
// objects, and record an Event on each object that newly fails. The lists
// are walked together namespace by namespace (namespace-stream.ts), each
// namespace's report written as soon as its objects are judged, so a scan
// holds a few namespaces' findings, not the cluster's.
import type { GatewayDeps } from "../gateway/admit.ts";
import { HANDLED_RESOURCES } from "../kube/resources.ts";
import type { Logger } from "../log.ts";
import type { UserInfo } from "../types/admission.ts";
import type { KubeObject } from "../types/kube.ts";
import type { Violation } from "../types/policy.ts";
import { catalogOf } from "./catalog.ts";
import { AUDIT_USER, auditObject } from "./evaluate.ts";
import { PagedList, Slots, walkByNamespace } from "./namespace-stream.ts";
import { describeError } from "../kube/errors.ts";
import type { AuditApi, Verb } from "./kube.ts";
import type { AuditMetrics } from "./metrics.ts";
import { ScanLookup } from "./scan-lookup.ts";
import { sumTallies, tallyOf, type Tally, type ViolationCount } from "./tally.ts";
import { REPORT_PAGE, ReportCursor, ReportSync, type WriteCounts } from "./report-sync.ts";
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  REPORT_APIS,
  REPORT_NAME,
  baselineOf,
  failureMessage,
  findingResults,
  newFailures,
  sortResults,
  storedResults,
  timestampOf,
  type NewFailure,
  type ObjectRef,
  type ReportApi,
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
  /**
   * Only this namespace (audit -n): its objects are listed and its report
   * written; other namespaces' reports and the cluster's are left as they are.
   */
  scope?: string;
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
  /**
   * Keep every object's findings in ScanResult.objects (what `-o json`
   * prints; the default). Off, objects is empty and a scan holds one
   * namespace's findings at a time, plus those of the few namespaces whose
   * reports are being written: its memory no longer grows with the cluster.
   */
  keepObjects?: boolean;
  /** each namespace's objects, sorted by kind and name, as soon as they are judged (namespaces in list order) */
  onNamespace?: (namespace: string, objects: readonly AuditedObject[]) => void;
}

export type { ViolationCount, WriteCounts };

export interface AuditedObject {
  ref: ObjectRef;
  allowed: boolean;
  violations: Violation[];
  results: ReportResult[];
}

export interface ScanResult {
  revision: string;
  startedAt: number;
  durationMs: number;
  /** sorted by namespace, kind, name; empty unless keepObjects */
  objects: AuditedObject[];
  /** objects judged */
  objectCount: number;
  /** the most objects whose findings the scan held at once (with keepObjects: every one) */
  heldObjects: number;
  byKind: Record<string, number>;
  /** kinds whose API is not served */
  absentKinds: string[];
  namespaces: number;
  summary: ReportSummary;
  /** violations by policy id and action, counted over every object */
  violations: ViolationCount[];
  /** per report API ("policyreport", "openreports"); absent when its CRD is not installed */
  reports: Partial<Record<ReportApi["name"], WriteCounts>>;
  /** report APIs skipped because their CRDs are not installed */
  skippedApis: string[];
  /** false when another scanner held the Lease (nothing was written) */
  wrote: boolean;
  events: number;
  apiCalls: Record<Verb, number> & { total: number };
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
    const scope = this.opts.scope;
    const keep = this.opts.keepObjects ?? true;
    const concurrency = this.opts.concurrency ?? 8;

    const reports: ScanResult["reports"] = {};
    const skippedApis: string[] = [];
    const mayWrite = this.opts.mayWrite ?? (() => true);
    const write = this.opts.write ?? true;
    const wrote = write && mayWrite();
    let installed: ReportApi[] = [];
    if (wrote) {
      const served = await api.servedGroupVersions();
      installed = REPORT_APIS.filter((a) => served.has(`${a.group}/${a.version}`));
      for (const a of REPORT_APIS) if (!installed.includes(a)) skippedApis.push(`${a.kind}.${a.group}/${a.version}`);
    }
    const counts = new Map<ReportApi, WriteCounts>(installed.map((a) => [a, { created: 0, updated: 0, deleted: 0, unchanged: 0, failed: 0 }]));
    const previous = this.previous;
    const nextBaseline = new Map<string, ResultStatus>();
    // Per namespace, what the scan's totals are summed from: a namespace judged again replaces its own.
    const tallies = new Map<string, Tally>();
    const kept: AuditedObject[] = [];
    let events = 0;
    let held = 0;
    let heldPeak = 0;
    const hold = (n: number) => {
      held += n;
      heldPeak = Math.max(heldPeak, held);
    };
    // Writes of a few namespaces at once, as the pages of stored reports were written before.
    const slots = new Slots(concurrency);

    const judge = async (item: KubeObject, resource: (typeof AUDITED_RESOURCES)[number], group: Map<string, AuditedObject>) => {
      const version = resource.versions[0] ?? "v1";
      const ref = refOf(item, resource.kind);
      if (ref.namespace === "" || deps.exemptNamespaces.has(ref.namespace)) return;
      let violations: Violation[];
      let allowed: boolean;
      let revision = engine.revision;
      try {
        const decision = await auditObject({ ...item, apiVersion: item.apiVersion ?? `${resource.group}/${version}`, kind: item.kind ?? resource.kind }, deps, user);
        if (decision.exempt) return;
        violations = decision.violations;
        allowed = decision.allowed;
        revision = decision.revision;
      } catch (err) {
        // The webhook would refuse the update (fail closed); the report says the object could not be evaluated.
        violations = [{ policy: "policy-evaluation", field: "", message: `agentgate could not evaluate this object: ${describeError(err)}`, action: "deny" }];
        allowed = false;
      }
      const key = ref.uid || `${ref.kind}/${ref.namespace}/${ref.name}`;
      if (!group.has(key)) hold(1);
      group.set(key, { ref, allowed, violations, results: findingResults({ ref, violations, revision }, catalog, timestamp) });
    };

    // Stored reports, walked alongside the namespaces: one cursor per report API.
    const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
    const cursors = installed.map((a) => new ReportCursor(a, new PagedList(api, { group: a.group, version: a.version, plural: a.plural }, { limit: REPORT_PAGE, labelSelector: selector, ...(scope !== undefined ? { namespace: scope } : {}) })));
    const relist = new Set<string>();
    const sync = new ReportSync({ api, log, mayWrite, maxBytes: this.opts.maxReportBytes, metrics: this.opts.metrics });

    /** One namespace judged: totals, output, then its reports and Events (in a slot), then its findings dropped. */
    const settle = async (ns: string, group: Map<string, AuditedObject>, stored: (KubeObject | undefined)[] | "read") => {
      const objects = [...group.values()].sort(compareObjects);
      group.clear();
      tallies.set(ns, tallyOf(objects));
      if (keep) kept.push(...objects);
      this.opts.onNamespace?.(ns, objects);
      const results = objects.flatMap((o) => o.results);
      sortResults(results);
      for (const [k, v] of baselineOf(results)) nextBaseline.set(k, v);
      const release = () => {
        if (!keep) held -= objects.length;
      };
      if (!wrote) {
        release();
        return;
      }
      await slots.run(async () => {
        try {
          const found = stored === "read" ? await Promise.all(installed.map((a) => sync.readStored(a, ns))) : stored;
          const failures: NewFailure[] = [];
          if (installed.length === 0) {
            if (previous) failures.push(...newFailures(results, previous));
          }
          for (let i = 0; i < installed.length; i++) {
            const reportApi = installed[i] as ReportApi;
            const item = found[i];
            const storedResultsOf = item ? storedResults(item) : [];
            // Events are decided against the first installed API's stored reports, then the previous scan.
            if (i === 0) {
              const before = baselineOf(storedResultsOf);
              failures.push(...newFailures(results, { get: (k: string) => before.get(k) ?? previous?.get(k) }));
            }
            await sync.write(reportApi, ns, results, item, counts.get(reportApi) as WriteCounts);
          }
          if (failures.length > 0 && mayWrite()) {
            // Two per namespace: with `concurrency` namespaces written at once, that is as many requests as before, when Events went out last.
            await pool(failures, 2, async (f) => {
              try {
                await api.createEvent({ ref: f.ref, reason: "PolicyViolation", type: "Warning", message: failureMessage(f) });
                events++;
                this.opts.metrics?.events.inc();
              } catch (err) {
                log.warn("cannot record audit event", { kind: f.ref.kind, namespace: f.ref.namespace, name: f.ref.name, error: describeError(err) });
              }
            });
          }
        } finally {
          release();
        }
      });
    };

    const lists = AUDITED_RESOURCES.map((r) => new PagedList(api, { group: r.group, version: r.versions[0] ?? "v1", plural: r.resource }, { limit: pageSize, ...(scope !== undefined ? { namespace: scope } : {}) }));
    await walkByNamespace(lists, {
      onDisorder: (ns) => relist.add(ns),
      onNamespace: async (ns, items) => {
        const group = new Map<string, AuditedObject>();
        for (const { list, object } of items) await judge(object, AUDITED_RESOURCES[list] as (typeof AUDITED_RESOURCES)[number], group);
        // Stored reports of namespaces passed over have no objects any more; this namespace's, if any, is compared.
        const stored: (KubeObject | undefined)[] = [];
        for (const c of cursors) stored.push(await c.advanceTo(ns, (passed) => this.passedReport(c, passed, tallies, relist, sync, slots, counts)));
        if (group.size > 0) await settle(ns, group, stored);
        else for (let i = 0; i < cursors.length; i++) {
          const item = stored[i];
          // Every object of the namespace was exempt: as with no objects, its report goes.
          if (item) await this.passedReport(cursors[i] as ReportCursor, item, tallies, relist, sync, slots, counts);
        }
      },
    });
    for (const c of cursors) await c.advanceTo(undefined, (passed) => this.passedReport(c, passed, tallies, relist, sync, slots, counts));
    // Namespaces listed out of order (never seen from an etcd-backed API server): judged again from their own
    // lists. Their first, partial pass may have written Events the second repeats; the reports come out right.
    for (const ns of [...relist].sort()) {
      log.warn("audit saw objects of a namespace out of list order; judging it again from its own lists", { namespace: ns });
      const group = new Map<string, AuditedObject>();
      for (const resource of AUDITED_RESOURCES) {
        await api.listAll({ group: resource.group, version: resource.versions[0] ?? "v1", plural: resource.resource }, { limit: pageSize, namespace: ns }, async (items) => {
          for (const item of items) await judge(item, resource, group);
        });
      }
      if (keep) for (let i = kept.length - 1; i >= 0; i--) if (kept[i]?.ref.namespace === ns) kept.splice(i, 1);
      if (group.size > 0) await settle(ns, group, "read");
      else {
        tallies.delete(ns);
        if (wrote) for (const a of installed) await slots.run(() => sync.remove(a, ns, counts.get(a) as WriteCounts));
      }
    }
    // Cluster-wide reports: audit judges no cluster-scoped object, so any of its own goes (not under -n).
    if (scope === undefined) {
      for (const a of installed) {
        await api.listAll({ group: a.group, version: a.version, plural: a.clusterPlural }, { limit: REPORT_PAGE, labelSelector: selector, cluster: true }, async (items) => {
          for (const item of items) if (item.metadata?.name === REPORT_NAME) await slots.run(() => sync.remove(a, "", counts.get(a) as WriteCounts));
        });
      }
    }
    await slots.drain();
    for (const [a, c] of counts) reports[a.name] = c;
    this.previous = nextBaseline;

    const total = sumTallies(tallies.values());
    if (keep) kept.sort(compareObjects);
    const durationMs = performance.now() - started;
    const apiCalls = { ...api.calls, total: api.totalCalls() };
    const result: ScanResult = {
      revision: engine.revision,
      startedAt,
      durationMs,
      objects: kept,
      objectCount: total.objects,
      heldObjects: heldPeak,
      byKind: total.byKind,
      absentKinds: AUDITED_RESOURCES.filter((_, i) => lists[i]?.absent).map((r) => r.kind),
      namespaces: tallies.size,
      summary: total.summary,
      violations: [...total.violations.values()],
      reports,
      skippedApis,
      wrote,
      events,
      apiCalls,
    };
    this.record(result);
    return result;
  }

  /** A stored report whose namespace the walk passed: deleted when the namespace has no objects, judged again when it has (out of order). */
  private async passedReport(cursor: ReportCursor, item: KubeObject, tallies: ReadonlyMap<string, Tally>, relist: Set<string>, sync: ReportSync, slots: Slots, counts: ReadonlyMap<ReportApi, WriteCounts>): Promise<void> {
    const ns = item.metadata?.namespace ?? "";
    if (tallies.has(ns)) {
      relist.add(ns);
      return;
    }
    await slots.run(() => sync.remove(cursor.api, ns, counts.get(cursor.api) as WriteCounts));
  }

  private record(r: ScanResult): void {
    const { metrics, log } = this.opts;
    if (metrics) {
      metrics.objects.reset();
      for (const resource of AUDITED_RESOURCES) metrics.objects.set({ kind: resource.kind }, r.byKind[resource.kind] ?? 0);
      for (const [kind, n] of Object.entries(r.byKind)) metrics.objectsScanned.inc({ kind }, n);
      metrics.violations.reset();
      for (const c of r.violations) metrics.violations.set({ policy: c.policy, action: c.action }, c.count);
      for (const result of ["pass", "fail", "warn", "error", "skip"] as const) metrics.results.set({ result }, r.summary[result]);
      metrics.duration.observe(r.durationMs / 1000);
      metrics.scans.inc({ outcome: "success" });
      metrics.lastSuccess.set((r.startedAt + r.durationMs) / 1000);
    }
    const writes = Object.fromEntries(Object.entries(r.reports).map(([k, c]) => [k, `created ${c.created}, updated ${c.updated}, deleted ${c.deleted}, unchanged ${c.unchanged}${c.failed > 0 ? `, failed ${c.failed}` : ""}`]));
    log.info("audit scan finished", {
      objects: r.objectCount,
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
