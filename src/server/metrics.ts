// Prometheus metrics of the gateway, conventional names and base units.
import { X509Certificate } from "node:crypto";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { BundleMetrics } from "../policy/bundles/metrics.ts";
import { registerProcessMetrics } from "../process-metrics.ts";

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "agentgate_admission_requests_total",
    help: "Admission reviews answered, by webhook, resource, operation and decision (allowed, denied, exempt, error).",
    labelNames: ["webhook", "resource", "operation", "decision"] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: "agentgate_admission_duration_seconds",
    help: "Time from request body received to response written, by webhook.",
    labelNames: ["webhook"] as const,
    // Reaches past the webhook timeout (default 5 s, at most 30 s).
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly violations = new Counter({
    name: "agentgate_violations_total",
    help: "Policy findings, by policy id, action (deny, warn, dryrun), and the namespace and kind of the object judged.",
    labelNames: ["policy", "action", "namespace", "kind"] as const,
    registers: [this.registry],
  });
  readonly evaluationErrors = new Counter({
    name: "agentgate_policy_evaluation_errors_total",
    help: "Bundle evaluations that failed (the request was refused: fail closed).",
    labelNames: ["bundle"] as const,
    registers: [this.registry],
  });
  /** the bundle store's (agentgate_bundle_*) */
  readonly bundles = new BundleMetrics(this.registry);
  readonly overloaded = new Counter({
    name: "agentgate_admission_overload_total",
    help: "Admission reviews denied unevaluated because the in-flight limit (Helm gateway.maxInFlight) was reached, by webhook.",
    labelNames: ["webhook"] as const,
    registers: [this.registry],
  });
  readonly badRequests = new Counter({
    name: "agentgate_bad_requests_total",
    help: "Requests refused with HTTP 4xx before evaluation (malformed, too large, unknown resource).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly cacheSynced = new Gauge({
    name: "agentgate_cache_synced",
    help: "1 when the watch cache of a kind has synced, 0 otherwise.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  readonly certificateExpiry = new Gauge({
    name: "agentgate_serving_certificate_expiry_timestamp_seconds",
    help: "notAfter of the serving certificate in use, as a Unix time (alert well before it).",
    registers: [this.registry],
  });
  readonly certificateLoads = new Counter({
    name: "agentgate_serving_certificate_loads_total",
    help: "Serving certificates put into use, by where they came from (generated, files, secret).",
    labelNames: ["source"] as const,
    registers: [this.registry],
  });

  /** agentgate_build_info, with process_* and nodejs_* (component="gateway") */
  readonly buildInfo = registerProcessMetrics(this.registry, "gateway");

  /** Records a serving certificate put into use; unparsable PEM leaves the expiry as it was. */
  certificateLoaded(certPem: string, source: "generated" | "files" | "secret"): void {
    this.certificateLoads.inc({ source });
    try {
      this.certificateExpiry.set(Math.floor(new X509Certificate(certPem).validToDate.getTime() / 1000));
    } catch {
      // The TLS layer already rejected or accepted it; the metric is best effort.
    }
  }
}
