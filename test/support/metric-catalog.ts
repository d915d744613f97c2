// Every series name agentgate's processes can export, with its label names,
// read from the registries the code builds (the gateway's with its denial
// Events counter, the controller's, audit's), and the metric selectors a
// PromQL expression makes: what the chart's alerts and dashboard are checked
// against, so renaming a metric fails their tests.
import * as k8s from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import { AuditMetrics } from "../../src/audit/metrics.ts";
import { ControllerMetrics } from "../../src/controller/metrics.ts";
import { logger } from "../../src/log.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import { createDenialEvents } from "../../src/server/denial-events.ts";
import { GatewayMetrics } from "../../src/server/metrics.ts";

/** Labels Prometheus adds to every series of a target the chart's monitors scrape. */
export const TARGET_LABELS: readonly string[] = ["namespace", "pod", "container", "service", "endpoint", "job", "instance", "app_kubernetes_io_component"];

/** series name → the label names its samples carry (besides TARGET_LABELS) */
export type Catalog = Map<string, Set<string>>;

interface RegisteredMetric {
  name: string;
  type: string;
  labelNames?: readonly string[];
}

function add(catalog: Catalog, registry: Registry): void {
  for (const metric of registry.getMetricsAsArray() as unknown as RegisteredMetric[]) {
    const labels = new Set(metric.labelNames ?? []);
    const merge = (name: string, extra: string[] = []) => {
      const known = catalog.get(name) ?? new Set<string>();
      for (const l of [...labels, ...extra]) known.add(l);
      catalog.set(name, known);
    };
    if (metric.type === "histogram") {
      merge(`${metric.name}_bucket`, ["le"]);
      merge(`${metric.name}_sum`);
      merge(`${metric.name}_count`);
    } else if (metric.type === "summary") {
      merge(metric.name, ["quantile"]);
      merge(`${metric.name}_sum`);
      merge(`${metric.name}_count`);
    } else {
      merge(metric.name);
    }
  }
}

export function metricCatalog(): Catalog {
  const catalog: Catalog = new Map();
  const gateway = new GatewayMetrics();
  // serve registers this counter beside the gateway's when it runs against a cluster.
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: "c", server: "https://127.0.0.1:1" }], users: [{ name: "u" }], contexts: [{ name: "x", cluster: "c", user: "u" }], currentContext: "x" });
  createDenialEvents(kubeApiOf(kc), logger, gateway.registry);
  add(catalog, gateway.registry);
  add(catalog, new ControllerMetrics().registry);
  add(catalog, new AuditMetrics().registry);
  return catalog;
}

export interface Selector {
  metric: string;
  labels: string[];
}

const KEYWORDS = new Set(["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "inf", "nan", "atan2"]);

/**
 * The metric selectors of a PromQL expression: each metric name with the
 * label names its matchers use. Not a parser: strings, grouping clauses and
 * ranges are cut out, then every identifier that is neither a keyword nor
 * called as a function is a metric name.
 */
export function selectors(expr: string): Selector[] {
  const found: Selector[] = [];
  // Matchers first, while they still sit beside their metric name.
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/'(?:[^'\\]|\\.)*'/g, "''");
  const bare = withoutStrings
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\[[^\]]*\]/g, " ");
  for (const m of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    const labels = [...(m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1] ?? "");
    found.push({ metric: m[1] ?? "", labels });
  }
  const noMatchers = bare.replace(/\{[^}]*\}/g, " ");
  for (const m of noMatchers.matchAll(/(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()/g)) {
    const name = m[1] ?? "";
    if (KEYWORDS.has(name.toLowerCase())) continue;
    if (!found.some((s) => s.metric === name)) found.push({ metric: name, labels: [] });
  }
  return found;
}

/** What is wrong with an expression's selectors against the catalog; empty when every name and label exists. */
export function unknownSelectors(expr: string, catalog: Catalog): string[] {
  const problems: string[] = [];
  for (const s of selectors(expr)) {
    const labels = catalog.get(s.metric);
    if (!labels) {
      problems.push(`${s.metric}: no such metric`);
      continue;
    }
    for (const l of s.labels) if (!labels.has(l) && !TARGET_LABELS.includes(l)) problems.push(`${s.metric}: no label ${l}`);
  }
  return problems;
}
