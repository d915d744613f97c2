// What audit writes: PolicyReport (wgpolicyk8s.io/v1alpha2) and its
// successor OpenReports Report (openreports.io/v1alpha1), one per namespace
// (and a cluster-wide one for cluster-scoped objects), one result per
// object × policy id. Pure functions only: building, fitting, comparing.
import { isDeepStrictEqual } from "node:util";
import { RESOURCES, type KubeResource } from "../kube/resources.ts";
import type { Action, Violation } from "../types/policy.ts";
import { renderViolation } from "../wire/messages.ts";
import type { Catalog } from "./catalog.ts";

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "agentgate";
export const SOURCE = "agentgate";
/** every report agentgate writes has this name (one per namespace, one cluster-wide) */
export const REPORT_NAME = "agentgate";
/** the policy id of a clean object's result when the bundles carry no catalog */
export const CATCH_ALL_POLICY = "agentgate";
/** the policy id under which the gateway reports a bundle that failed to evaluate */
const EVALUATION_FAILURE = "policy-evaluation";
export const ANNOTATION = {
  passOmitted: "agentgate.io/pass-results-omitted",
  truncated: "agentgate.io/results-truncated",
} as const;

export type ResultStatus = "pass" | "fail" | "warn" | "error" | "skip";

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid: string;
}

/** One object as audit saw it: what it is and what the gateway found. */
export interface Finding {
  ref: ObjectRef;
  /** every violation of the decision, all actions */
  violations: Violation[];
  /** the policy revision the decision was made under */
  revision: string;
}

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface ReportResult {
  source: string;
  policy: string;
  result: ResultStatus;
  message?: string;
  timestamp: Timestamp;
  resources: ObjectRef[];
  properties: Record<string, string>;
}

export interface ReportSummary {
  pass: number;
  fail: number;
  warn: number;
  error: number;
  skip: number;
}

export interface ReportApi {
  /** short name for logs, metrics and flags */
  name: "policyreport" | "openreports";
  group: string;
  version: string;
  kind: string;
  plural: string;
  clusterKind: string;
  clusterPlural: string;
  /** OpenReports carries the producer at the report level too */
  reportSource: boolean;
}

/** A report API from the namespaced and cluster-scoped kinds of the resource registry. */
function reportApi(name: ReportApi["name"], namespaced: KubeResource, cluster: KubeResource, reportSource: boolean): ReportApi {
  return { name, group: namespaced.group, version: namespaced.versions[0], kind: namespaced.kind, plural: namespaced.plural, clusterKind: cluster.kind, clusterPlural: cluster.plural, reportSource };
}

export const POLICY_REPORT: ReportApi = reportApi("policyreport", RESOURCES.policyReports, RESOURCES.clusterPolicyReports, false);

export const OPEN_REPORTS: ReportApi = reportApi("openreports", RESOURCES.openReports, RESOURCES.clusterOpenReports, true);

export const REPORT_APIS: readonly ReportApi[] = [POLICY_REPORT, OPEN_REPORTS];

export interface ReportObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
  };
  source?: string;
  summary: ReportSummary;
  results: ReportResult[];
}

export function timestampOf(ms: number): Timestamp {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

const STATUS_RANK: Record<ResultStatus, number> = { pass: 0, skip: 0, error: 1, warn: 2, fail: 3 };
const ACTION_RANK: Record<Action, number> = { warn: 0, dryrun: 1, deny: 2 };

function statusOf(policy: string, action: Action): ResultStatus {
  if (policy === EVALUATION_FAILURE) return "error";
  return action === "warn" ? "warn" : "fail";
}

/**
 * The results of one object: one per policy id with a finding (the worst of
 * its actions decides: deny and dryrun fail, warn warns, an evaluation
 * failure is an error), and a pass for every other policy id the catalog
 * lists for the kind; without a catalog, one `agentgate` pass for a clean
 * object.
 */
export function findingResults(finding: Finding, catalog: Catalog | undefined, timestamp: Timestamp): ReportResult[] {
  const byPolicy = new Map<string, Violation[]>();
  for (const v of finding.violations) {
    const list = byPolicy.get(v.policy);
    if (list) list.push(v);
    else byPolicy.set(v.policy, [v]);
  }
  const resources = [finding.ref];
  const results: ReportResult[] = [];
  for (const [policy, violations] of byPolicy) {
    const action = violations.reduce<Action>((worst, v) => (ACTION_RANK[v.action] > ACTION_RANK[worst] ? v.action : worst), "warn");
    results.push({
      source: SOURCE,
      policy,
      result: statusOf(policy, action),
      message: violations.map(renderViolation).join("\n"),
      timestamp,
      resources,
      properties: { action, enforced: action === "deny" ? "true" : "false", revision: finding.revision },
    });
  }
  const listed = catalog?.get(finding.ref.kind);
  if (listed) {
    for (const policy of listed) {
      if (!byPolicy.has(policy)) results.push({ source: SOURCE, policy, result: "pass", timestamp, resources, properties: { revision: finding.revision } });
    }
  } else if (byPolicy.size === 0) {
    results.push({ source: SOURCE, policy: CATCH_ALL_POLICY, result: "pass", timestamp, resources, properties: { revision: finding.revision } });
  }
  return results.sort((a, b) => a.policy.localeCompare(b.policy));
}

export function resultKey(r: ReportResult): string {
  const ref = r.resources[0];
  return `${ref?.uid ?? ""}\0${r.policy}`;
}

function compareResults(a: ReportResult, b: ReportResult): number {
  const ra = a.resources[0];
  const rb = b.resources[0];
  return (
    (ra?.kind ?? "").localeCompare(rb?.kind ?? "") ||
    (ra?.name ?? "").localeCompare(rb?.name ?? "") ||
    (ra?.uid ?? "").localeCompare(rb?.uid ?? "") ||
    a.policy.localeCompare(b.policy)
  );
}

export function sortResults(results: ReportResult[]): ReportResult[] {
  return results.sort(compareResults);
}

export function summarize(results: readonly ReportResult[]): ReportSummary {
  const summary: ReportSummary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of results) summary[r.result]++;
  return summary;
}

function withoutTimestamp(r: ReportResult): Omit<ReportResult, "timestamp"> {
  const { timestamp: _timestamp, ...rest } = r;
  return rest;
}

/** Same result apart from when it was found. */
export function sameResult(a: ReportResult, b: ReportResult): boolean {
  return isDeepStrictEqual(withoutTimestamp(a), withoutTimestamp(b));
}

/**
 * Results unchanged since the previous report keep the time they were first
 * found: a result's timestamp says since when it holds, and a scan that
 * finds nothing new writes nothing.
 */
export function carryTimestamps(next: ReportResult[], previous: readonly ReportResult[]): ReportResult[] {
  const before = new Map(previous.map((r) => [resultKey(r), r]));
  return next.map((r) => {
    const old = before.get(resultKey(r));
    return old && sameResult(r, old) ? { ...r, timestamp: old.timestamp } : r;
  });
}

/**
 * Keeps a report under the API server's object size limit: pass results go
 * first (the summary still counts them), then the last of the rest. Both are
 * said in annotations.
 */
export function fitResults(results: ReportResult[], maxBytes: number): { results: ReportResult[]; passOmitted: number; truncated: number } {
  const size = (r: ReportResult) => JSON.stringify(r).length + 1;
  let total = results.reduce((n, r) => n + size(r), 0);
  if (total <= maxBytes) return { results, passOmitted: 0, truncated: 0 };
  const kept = results.filter((r) => r.result !== "pass");
  const passOmitted = results.length - kept.length;
  total = kept.reduce((n, r) => n + size(r), 0);
  let truncated = 0;
  while (total > maxBytes && kept.length > 0) {
    const last = kept.pop();
    if (last) total -= size(last);
    truncated++;
  }
  return { results: kept, passOmitted, truncated };
}

export interface BuildOptions {
  /** budget for the serialized results (the API server refuses objects over 1.5 MiB) */
  maxBytes?: number;
}

export const DEFAULT_MAX_BYTES = 1024 * 1024;

/** The report of one namespace ("" for the cluster-wide one). `results` must be sorted. */
export function buildReport(api: ReportApi, namespace: string, results: ReportResult[], opts: BuildOptions = {}): ReportObject {
  const summary = summarize(results);
  const fitted = fitResults(results, opts.maxBytes ?? DEFAULT_MAX_BYTES);
  const annotations: Record<string, string> = {};
  if (fitted.passOmitted > 0) annotations[ANNOTATION.passOmitted] = String(fitted.passOmitted);
  if (fitted.truncated > 0) annotations[ANNOTATION.truncated] = String(fitted.truncated);
  const report: ReportObject = {
    apiVersion: `${api.group}/${api.version}`,
    kind: namespace === "" ? api.clusterKind : api.kind,
    metadata: {
      name: REPORT_NAME,
      ...(namespace === "" ? {} : { namespace }),
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    summary,
    results: fitted.results,
  };
  if (api.reportSource) report.source = SOURCE;
  return report;
}

/** The results of a report as stored, tolerating what another writer may have put there. */
export function storedResults(report: unknown): ReportResult[] {
  if (typeof report !== "object" || report === null) return [];
  const results = (report as { results?: unknown }).results;
  // A report another tool edited may hold anything; only well-formed entries are ours to compare.
  return Array.isArray(results)
    ? (results as unknown[]).filter((r): r is ReportResult => typeof r === "object" && r !== null && Array.isArray((r as { resources?: unknown }).resources))
    : [];
}

function ours(map: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (map?.[k] !== undefined) out[k] = map[k];
  return out;
}

/** Whether writing `desired` over `existing` would change anything but timestamps. */
export function reportChanged(existing: unknown, desired: ReportObject): boolean {
  if (typeof existing !== "object" || existing === null) return true;
  const e = existing as Partial<ReportObject>;
  if (e.kind !== desired.kind) return true;
  if (!isDeepStrictEqual(ours(e.metadata?.labels, [MANAGED_BY_LABEL]), desired.metadata.labels)) return true;
  const annotationKeys = Object.values(ANNOTATION);
  if (!isDeepStrictEqual(ours(e.metadata?.annotations, annotationKeys), ours(desired.metadata.annotations, annotationKeys))) return true;
  if ((e.source ?? undefined) !== desired.source) return true;
  if (!isDeepStrictEqual({ ...e.summary }, { ...desired.summary })) return true;
  const before = storedResults(existing);
  if (before.length !== desired.results.length) return true;
  return desired.results.some((r, i) => {
    const b = before[i];
    return b === undefined || !sameResult(r, b);
  });
}

export interface NewFailure {
  ref: ObjectRef;
  results: ReportResult[];
}

/** The events' baseline: result key → status, for the results that were not a pass. */
export interface Baseline {
  get(key: string): ResultStatus | undefined;
}

export function baselineOf(results: Iterable<ReportResult>): Map<string, ResultStatus> {
  const out = new Map<string, ResultStatus>();
  for (const r of results) if (r.result === "fail" || r.result === "warn" || r.result === "error") out.set(resultKey(r), r.result);
  return out;
}

/**
 * Objects with a result that got worse since the baseline (pass → warn,
 * pass/warn → fail): what earns an Event on the object. Evaluation errors
 * are the platform's problem, not the object's, and earn none.
 */
export function newFailures(results: Iterable<ReportResult>, baseline: Baseline): NewFailure[] {
  const byUid = new Map<string, NewFailure>();
  for (const r of results) {
    if (r.result !== "fail" && r.result !== "warn") continue;
    const before = baseline.get(resultKey(r)) ?? "pass";
    if (STATUS_RANK[r.result] <= STATUS_RANK[before]) continue;
    const ref = r.resources[0];
    if (!ref) continue;
    const entry = byUid.get(ref.uid);
    if (entry) entry.results.push(r);
    else byUid.set(ref.uid, { ref, results: [r] });
  }
  return [...byUid.values()];
}

/** One Event message for an object's new findings. */
export function failureMessage(failure: NewFailure): string {
  const lines = failure.results.map((r) => {
    const note = r.properties.action === "dryrun" ? " (dryrun: not enforced)" : r.result === "warn" ? " (warn)" : "";
    return `${r.message ?? `[${r.policy}]`}${note}`;
  });
  return `agentgate audit: ${lines.join("; ")}`.slice(0, 1024);
}
