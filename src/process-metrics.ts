// What every agentgate process exports besides its own metrics: prom-client's
// process and Node.js metrics under their standard names (process_*,
// nodejs_*), so dashboards and alerts written for any Node.js service work
// unchanged, and agentgate_build_info. Each carries a `component` label:
// the gateway, the controller and audit run the same image, and the names
// alone do not say which process a series came from. The component is set
// per metric rather than as the registry's default label, so agentgate's own
// series keep the label sets documented in docs/monitoring.md.
import { Gauge, collectDefaultMetrics, type Registry } from "prom-client";
import { VERSION } from "./version.ts";

export type Component = "gateway" | "controller" | "audit";

/**
 * Registers agentgate_build_info and, unless `withDefaults` is false (tests
 * that build many registries in one process), the process and Node.js
 * metrics. Returns the build info gauge.
 */
export function registerProcessMetrics(registry: Registry, component: Component, withDefaults = true): Gauge<"version" | "node" | "component"> {
  const buildInfo = new Gauge({
    name: "agentgate_build_info",
    help: "1, labelled with the agentgate version, the Node.js it runs on and the process (gateway, controller, audit).",
    labelNames: ["version", "node", "component"] as const,
    registers: [registry],
  });
  buildInfo.set({ version: VERSION, node: process.version, component }, 1);
  if (withDefaults) collectDefaultMetrics({ register: registry, labels: { component } });
  return buildInfo;
}
