// The bundle store's Prometheus metrics. Every process that holds bundles
// (the gateway, audit) registers the same names, so one dashboard shows
// which bundles each has in force and which versions it refused.
import { Counter, Gauge, type Registry } from "prom-client";

export class BundleMetrics {
  readonly bundleInfo: Gauge<"bundle" | "revision" | "digest">;
  readonly bundleActivations: Counter<"bundle" | "origin">;
  readonly bundleFailures: Counter<"bundle" | "stage">;
  readonly bundleLastActivation: Gauge<"bundle">;
  readonly bundleLastFailure: Gauge<"bundle">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.bundleInfo = new Gauge({
      name: "agentgate_bundle_info",
      help: "The bundles in force (value 1), by name, revision and digest.",
      labelNames: ["bundle", "revision", "digest"] as const,
      registers,
    });
    this.bundleActivations = new Counter({
      name: "agentgate_bundle_activations_total",
      help: "Bundle versions put in force, by bundle and origin (file, http, oci, cache, embedded).",
      labelNames: ["bundle", "origin"] as const,
      registers,
    });
    this.bundleFailures = new Counter({
      name: "agentgate_bundle_failures_total",
      help: "Bundle versions that could not be fetched or were refused (the last good one stays in force), by bundle and stage (fetch, signature, load, config: the policy config does not match the bundle's data.agentgate.config_schema).",
      labelNames: ["bundle", "stage"] as const,
      registers,
    });
    this.bundleLastActivation = new Gauge({
      name: "agentgate_bundle_last_activation_timestamp_seconds",
      help: "Unix time the bundle's version in force was activated.",
      labelNames: ["bundle"] as const,
      registers,
    });
    this.bundleLastFailure = new Gauge({
      name: "agentgate_bundle_last_failure_timestamp_seconds",
      help: "Unix time of the bundle's last fetch failure or refused version.",
      labelNames: ["bundle"] as const,
      registers,
    });
  }

  setBundles(bundles: readonly { name: string; revision: string; digest: string }[]): void {
    this.bundleInfo.reset();
    for (const b of bundles) this.bundleInfo.set({ bundle: b.name, revision: b.revision, digest: b.digest }, 1);
  }
}
