// A scan's totals, one namespace's share at a time: objects by kind, report
// results by status, violations by policy and action. Namespaces are judged
// and forgotten as the scan walks on (namespace-stream.ts); their tallies
// are what the scan keeps for its result and metrics.
import { summarize, type ReportSummary, type ResultStatus } from "./report.ts";
import type { AuditedObject } from "./scanner.ts";

export interface ViolationCount {
  policy: string;
  action: string;
  count: number;
}

/** One namespace's share of a scan's totals. */
export interface Tally {
  objects: number;
  byKind: Record<string, number>;
  summary: ReportSummary;
  violations: Map<string, ViolationCount>;
}

export function tallyOf(objects: readonly AuditedObject[]): Tally {
  const byKind: Record<string, number> = {};
  const violations = new Map<string, ViolationCount>();
  for (const o of objects) {
    byKind[o.ref.kind] = (byKind[o.ref.kind] ?? 0) + 1;
    for (const v of o.violations) {
      const key = `${v.policy}\0${v.action}`;
      const entry = violations.get(key);
      if (entry) entry.count++;
      else violations.set(key, { policy: v.policy, action: v.action, count: 1 });
    }
  }
  return { objects: objects.length, byKind, summary: summarize(objects.flatMap((o) => o.results)), violations };
}

export function sumTallies(tallies: Iterable<Tally>): Tally {
  const total: Tally = { objects: 0, byKind: {}, summary: { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 }, violations: new Map() };
  for (const t of tallies) {
    total.objects += t.objects;
    for (const [k, n] of Object.entries(t.byKind)) total.byKind[k] = (total.byKind[k] ?? 0) + n;
    for (const k of Object.keys(total.summary) as ResultStatus[]) total.summary[k] += t.summary[k];
    for (const [k, v] of t.violations) {
      const entry = total.violations.get(k);
      if (entry) entry.count += v.count;
      else total.violations.set(k, { ...v });
    }
  }
  return total;
}
