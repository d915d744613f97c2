// A scan's reports against the stored ones: the stored reports of each
// report API walked in namespace order beside the scan (ReportCursor), and
// one namespace's report created, replaced when it changed, or deleted
// (ReportSync). scanner.ts decides what each namespace's report holds.
import type { Logger } from "../log.ts";
import type { KubeObject } from "../types/kube.ts";
import { describeError, statusCode } from "../kube/errors.ts";
import type { AuditApi } from "./kube.ts";
import type { AuditMetrics } from "./metrics.ts";
import { PagedList, namespaceKey } from "./namespace-stream.ts";
import { MANAGED_BY, MANAGED_BY_LABEL, REPORT_NAME, buildReport, carryTimestamps, reportChanged, storedResults, type ReportApi, type ReportResult } from "./report.ts";

export interface WriteCounts {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  failed: number;
}

/**
 * Stored reports are listed five a page: a report can hold up to
 * maxReportBytes (1 MiB by default), and a page is held as text, then
 * parsed, while its reports are compared. At 50 a page every report of a
 * 50-namespace cluster came in one page, and a 5,000-object scan peaked
 * ~70 MB higher (bench/audit-scale.ts).
 */
export const REPORT_PAGE = 5;

/** One report API's stored reports, walked in namespace order beside the scan. */
export class ReportCursor {
  readonly api: ReportApi;
  private readonly list: PagedList;
  constructor(api: ReportApi, list: PagedList) {
    this.api = api;
    this.list = list;
  }

  /**
   * Hands the reports of namespaces before `namespace` to onPassed and
   * returns that namespace's own, if stored; with undefined, every report
   * left goes to onPassed.
   */
  async advanceTo(namespace: string | undefined, onPassed: (item: KubeObject) => Promise<void>): Promise<KubeObject | undefined> {
    const target = namespace === undefined ? undefined : namespaceKey(namespace);
    try {
      for (;;) {
        const head = await this.list.peek();
        if (!head) return undefined;
        if (head.metadata?.name !== REPORT_NAME) {
          this.list.take();
          continue;
        }
        const key = namespaceKey(head.metadata.namespace ?? "");
        if (target !== undefined && key > target) return undefined;
        this.list.take();
        if (key === target) return head;
        await onPassed(head);
      }
    } finally {
      // A list restarted after an expired continue token (410) skips what was handled.
      if (target !== undefined) this.list.doneThrough = target;
    }
  }
}

/** Writes one namespace's report: created, replaced when changed (on its resourceVersion), or deleted. */
export class ReportSync {
  private readonly o: { api: AuditApi; log: Logger; mayWrite: () => boolean; maxBytes: number | undefined; metrics: AuditMetrics | undefined };
  constructor(o: ReportSync["o"]) {
    this.o = o;
  }

  private async attempt(reportApi: ReportApi, counts: WriteCounts, what: "create" | "update" | "delete", ns: string, fn: () => Promise<void>): Promise<void> {
    if (!this.o.mayWrite()) return;
    try {
      await fn();
      counts[what === "create" ? "created" : what === "update" ? "updated" : "deleted"]++;
      this.o.metrics?.reportWrites.inc({ api: reportApi.name, operation: what });
    } catch (err) {
      counts.failed++;
      const code = statusCode(err);
      // 409: written by someone else since it was listed; 403/404: namespace terminating. The next scan retries.
      const level = code === 409 || code === 403 || code === 404 ? "info" : "warn";
      this.o.log[level]("cannot write audit report", { api: reportApi.name, operation: what, namespace: ns || "(cluster)", error: describeError(err) });
    }
  }

  /** `results` sorted; `stored` the namespace's report as listed, if any. */
  async write(reportApi: ReportApi, ns: string, results: ReportResult[], stored: KubeObject | undefined, counts: WriteCounts): Promise<void> {
    const maxBytes = this.o.maxBytes;
    const desired = buildReport(reportApi, ns, carryTimestamps(results, stored ? storedResults(stored) : []), maxBytes === undefined ? {} : { maxBytes });
    if (!stored) {
      await this.attempt(reportApi, counts, "create", ns, () => this.o.api.createReport(reportApi, desired));
      return;
    }
    if (!reportChanged(stored, desired)) {
      counts.unchanged++;
      return;
    }
    desired.metadata.resourceVersion = stored.metadata?.resourceVersion ?? "";
    await this.attempt(reportApi, counts, "update", ns, () => this.o.api.replaceReport(reportApi, desired));
  }

  remove(reportApi: ReportApi, ns: string, counts: WriteCounts): Promise<void> {
    return this.attempt(reportApi, counts, "delete", ns, () => this.o.api.deleteReport(reportApi, ns, REPORT_NAME));
  }

  /** The namespace's report as stored (a namespace judged again reads its own). */
  async readStored(reportApi: ReportApi, ns: string): Promise<KubeObject | undefined> {
    let found: KubeObject | undefined;
    await this.o.api.listAll({ group: reportApi.group, version: reportApi.version, plural: reportApi.plural }, { limit: REPORT_PAGE, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`, namespace: ns }, (items) => {
      found ??= items.find((i) => i.metadata?.name === REPORT_NAME);
      return Promise.resolve();
    });
    return found;
  }
}
