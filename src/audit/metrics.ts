// Prometheus metrics of the audit scanner. Gauges describe the last
// completed scan (the state of the cluster), counters what the scanner did.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { BundleMetrics } from "../policy/bundles/metrics.ts";
import { registerProcessMetrics } from "../process-metrics.ts";

export class AuditMetrics {
  readonly registry = new Registry();
  readonly objects = new Gauge({
    name: "agentgate_audit_objects",
    help: "Objects evaluated by the last completed audit scan, by kind.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly violations = new Gauge({
    name: "agentgate_audit_violations",
    help: "Findings of the last completed audit scan, by policy id and action (deny, warn, dryrun).",
    labelNames: ["policy", "action"] as const,
    registers: [this.registry],
  });
  readonly results = new Gauge({
    name: "agentgate_audit_results",
    help: "Report results of the last completed audit scan, by result (pass, fail, warn, error).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly objectsScanned = new Counter({
    name: "agentgate_audit_objects_scanned_total",
    help: "Objects evaluated by audit scans, by kind.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly scans = new Counter({
    name: "agentgate_audit_scans_total",
    help: "Audit scans, by outcome (success, error).",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: "agentgate_audit_scan_duration_seconds",
    help: "Wall-clock time of one audit scan, listing to the last report write.",
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });
  readonly lastSuccess = new Gauge({
    name: "agentgate_audit_last_success_timestamp_seconds",
    help: "Unix time the last successful audit scan finished.",
    registers: [this.registry],
  });
  readonly apiCalls = new Counter({
    name: "agentgate_audit_api_calls_total",
    help: "Calls the audit scanner made to the API server, by verb (list, discovery, create, update, delete, event).",
    labelNames: ["verb"] as const,
    registers: [this.registry],
  });
  readonly reportWrites = new Counter({
    name: "agentgate_audit_report_writes_total",
    help: "Report writes, by report API (policyreport, openreports) and operation (create, update, delete).",
    labelNames: ["api", "operation"] as const,
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: "agentgate_audit_events_total",
    help: "Events recorded on objects that newly fail a policy.",
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "agentgate_audit_leader",
    help: "1 while this scanner holds the agentgate-audit Lease (or runs without leader election).",
    registers: [this.registry],
  });

  /** the bundle store's, with the gateway's names (agentgate_bundle_*) */
  readonly bundles = new BundleMetrics(this.registry);

  /** agentgate_build_info; with defaultMetrics, process_* and nodejs_* too (component="audit") */
  readonly buildInfo: Gauge<"version" | "node" | "component">;

  constructor(defaultMetrics = true) {
    this.buildInfo = registerProcessMetrics(this.registry, "audit", defaultMetrics);
  }
}
