// The chart's monitoring kit (values metrics.*), rendered by the real helm:
// every process serves /metrics on the port named metrics, the metrics
// Service selects them, the ServiceMonitor selects that Service and port (or
// the PodMonitor the pods), the gateway's NetworkPolicy lets the port in, and
// the alerts and the dashboard name only metrics and labels the processes'
// registries hold (collected in-process: a renamed metric fails here). The
// alerts' behaviour is tested by promtool in test/helm/promtool-rules.test.ts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PHASE_LABELS } from "../../src/controller/metrics.ts";
import { metricCatalog, selectors, unknownSelectors, type Catalog } from "../support/metric-catalog.ts";
import { helmIn, type ChartObject } from "../support/helm.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHART = join(ROOT, "charts/agentgate");
const WORK = mkdtempSync(join(tmpdir(), "agentgate-chart-monitoring-"));
const NS = "agentgate-system";

after(() => { rmSync(WORK, { recursive: true, force: true }); });

type Labels = Record<string, string>;
type Obj = ChartObject;
interface Container {
  name: string;
  args: string[];
  ports?: { name: string; containerPort: number }[];
}
interface PodTemplate {
  metadata: { labels: Labels };
  spec: { containers: Container[] };
}
interface Service {
  metadata: { name: string; labels: Labels };
  spec: { clusterIP?: string; publishNotReadyAddresses?: boolean; selector: Labels; ports: { name: string; port: number; targetPort: string }[] };
}
interface Monitor {
  metadata: { labels: Labels };
  spec: {
    selector: { matchLabels: Labels };
    namespaceSelector: { matchNames: string[] };
    endpoints?: { port: string; path: string; interval: string; scrapeTimeout?: string }[];
    podMetricsEndpoints?: { port: string; path: string; interval: string }[];
  };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Labels;
  annotations?: Labels;
}
interface PrometheusRule {
  metadata: { labels: Labels };
  spec: { groups: { name: string; rules: Rule[] }[] };
}

const chart = helmIn(WORK);
/** helm template with these values, refused or not */
const helm = (values: Record<string, unknown>) => chart.run(["template", "agentgate", CHART, "--namespace", NS, "-f", chart.valuesFile(values)]);
const render = (values: Record<string, unknown> = {}): Promise<Obj[]> => chart.render(values, "agentgate", NS);

const find = (objects: Obj[], kind: string, name?: string): Obj | undefined => objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
/** The object of that kind (and name), as the shape the caller reads. */
function must(objects: Obj[], kind: string, name?: string): unknown {
  const o = find(objects, kind, name);
  assert.ok(o, `${kind} ${name ?? ""} rendered`);
  return o;
}
const pods = (objects: Obj[]): { name: string; template: PodTemplate }[] =>
  objects.filter((o) => o.kind === "Deployment").map((o) => ({ name: o.metadata.name, template: (o as unknown as { spec: { template: PodTemplate } }).spec.template }));
const selects = (selector: Labels, labels: Labels): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);
const flag = (c: Container, name: string): string | undefined => c.args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
const alerts = (rule: PrometheusRule): Rule[] => rule.spec.groups.flatMap((g) => g.rules);
const ALL_ON = { audit: { enabled: true }, metrics: { prometheusRule: { enabled: true, thresholds: { bundleMaxAge: "1d" } }, dashboard: { enabled: true } } };

let catalog: Catalog;
before(() => { catalog = metricCatalog(); });

describe("metrics port and Service", () => {
  test("every process listens for /metrics on the port named metrics, and the headless Service selects each of them, ready or not", async () => {
    const objects = await render({ audit: { enabled: true } });
    const deployments = pods(objects);
    assert.deepEqual(deployments.map((d) => d.name).sort(), ["agentgate-audit", "agentgate-controller", "agentgate-gateway"]);
    const service = must(objects, "Service", "agentgate-metrics") as Service;
    assert.equal(service.spec.clusterIP, "None", "headless: each pod is scraped, never a balanced address");
    assert.equal(service.spec.publishNotReadyAddresses, true, "a gateway not ready yet still has its metrics scraped");
    assert.deepEqual(service.spec.ports, [{ name: "metrics", port: 9090, targetPort: "metrics", protocol: "TCP" }]);
    for (const { name, template } of deployments) {
      const c = template.spec.containers[0];
      assert.ok(c);
      assert.equal(flag(c, "--metrics-listen"), "0.0.0.0:9090", name);
      assert.equal(c.ports?.find((p) => p.name === "metrics")?.containerPort, 9090, `${name}: port named metrics`);
      assert.ok(selects(service.spec.selector, template.metadata.labels), `the metrics Service selects ${name}'s pods`);
    }
    const webhook = must(objects, "Service", "agentgate") as Service;
    assert.ok(!selects(webhook.spec.selector, (must(objects, "Deployment", "agentgate-controller") as { spec: { template: PodTemplate } }).spec.template.metadata.labels), "the webhook Service is still the gateway's only");
    for (const kind of ["ServiceMonitor", "PodMonitor", "PrometheusRule"]) assert.equal(find(objects, kind), undefined, `no ${kind} by default`);
    assert.equal(find(objects, "ConfigMap", "agentgate-dashboard"), undefined, "no dashboard by default");
  });

  test("metrics.port moves the flag, the ports, the Service and the NetworkPolicy rule together; a port taken by another listener is refused", async () => {
    const objects = await render({ metrics: { port: 9300 } });
    for (const { name, template } of pods(objects)) {
      const c = template.spec.containers[0];
      assert.ok(c);
      assert.equal(flag(c, "--metrics-listen"), "0.0.0.0:9300", name);
      assert.equal(c.ports?.find((p) => p.name === "metrics")?.containerPort, 9300, name);
    }
    assert.equal((must(objects, "Service", "agentgate-metrics") as Service).spec.ports[0]?.port, 9300);
    const np = must(objects, "NetworkPolicy", "agentgate-gateway") as { spec: { ingress: { ports: { port: number }[] }[] } };
    assert.ok(np.spec.ingress.some((r) => r.ports.some((p) => p.port === 9300)));
    for (const [port, why] of [[8443, /the gateway's webhook port/], [8081, /the controller's health port/]] as const) {
      const r = await helm({ metrics: { port } });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, why);
    }
    const calls = await helm({ gateway: { calls: { enabled: true, port: 9090 } } });
    assert.match(calls.stderr, /metrics\.port 9090 is gateway\.calls\.port/);
  });

  test("the gateway's NetworkPolicy lets the metrics port in: from metrics.networkPolicy.from, else from the webhook port's peers, else from anywhere", async () => {
    type NP = { spec: { ingress: { ports: { port: number; protocol: string }[]; from?: unknown[] }[] } };
    const rule = (objects: Obj[]) => (must(objects, "NetworkPolicy", "agentgate-gateway") as NP).spec.ingress.find((r) => r.ports.some((p) => p.port === 9090));
    const open = rule(await render());
    assert.deepEqual(open?.ports, [{ port: 9090, protocol: "TCP" }]);
    assert.equal(open?.from, undefined);
    const from = [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }];
    assert.deepEqual(rule(await render({ metrics: { networkPolicy: { from } } }))?.from, from);
    const webhookFrom = [{ ipBlock: { cidr: "10.0.0.0/24" } }];
    const np = must(await render({ gateway: { networkPolicy: { ingressFrom: webhookFrom } }, metrics: { networkPolicy: { from } } }), "NetworkPolicy", "agentgate-gateway") as NP;
    assert.deepEqual(np.spec.ingress.find((r) => r.ports.some((p) => p.port === 8443))?.from, webhookFrom, "each port keeps its own peers");
    // Without its own peers the metrics port is no wider than 8443, which served /metrics before it.
    assert.deepEqual(rule(await render({ gateway: { networkPolicy: { ingressFrom: webhookFrom } } }))?.from, webhookFrom);
  });
});

describe("ServiceMonitor and PodMonitor", () => {
  test("the ServiceMonitor selects the metrics Service (not the webhook's) by its labels and scrapes its port by name", async () => {
    const objects = await render({ metrics: { serviceMonitor: { enabled: true, interval: "15s", scrapeTimeout: "5s", labels: { release: "kube-prometheus-stack" } } } });
    const sm = must(objects, "ServiceMonitor", "agentgate") as Monitor;
    const services = objects.filter((o) => o.kind === "Service") as unknown as Service[];
    const selected = services.filter((s) => selects(sm.spec.selector.matchLabels, s.metadata.labels));
    assert.deepEqual(selected.map((s) => s.metadata.name), ["agentgate-metrics"]);
    assert.deepEqual(sm.spec.namespaceSelector.matchNames, [NS]);
    assert.equal(sm.metadata.labels.release, "kube-prometheus-stack", "what the Prometheus' serviceMonitorSelector matches");
    const endpoint = sm.spec.endpoints?.[0];
    assert.ok(endpoint);
    assert.ok(selected[0]?.spec.ports.some((p) => p.name === endpoint.port), `the Service has a port named ${endpoint.port}`);
    assert.deepEqual([endpoint.path, endpoint.interval, endpoint.scrapeTimeout], ["/metrics", "15s", "5s"]);
  });

  test("the PodMonitor selects every agentgate pod and scrapes the port they all name metrics; not together with a ServiceMonitor", async () => {
    const objects = await render({ audit: { enabled: true }, metrics: { podMonitor: { enabled: true, labels: { team: "platform" } } } });
    const pm = must(objects, "PodMonitor", "agentgate") as Monitor;
    assert.equal(pm.metadata.labels.team, "platform");
    const endpoint = pm.spec.podMetricsEndpoints?.[0];
    assert.ok(endpoint);
    const selected = pods(objects).filter((d) => selects(pm.spec.selector.matchLabels, d.template.metadata.labels));
    assert.equal(selected.length, 3);
    for (const d of selected) assert.ok(d.template.spec.containers[0]?.ports?.some((p) => p.name === endpoint.port), `${d.name} has a port named ${endpoint.port}`);
    const both = await helm({ metrics: { podMonitor: { enabled: true }, serviceMonitor: { enabled: true } } });
    assert.notEqual(both.code, 0);
    assert.match(both.stderr, /enable one of them; both would scrape every pod twice/);
  });
});

describe("PrometheusRule", () => {
  test("its alerts cover what an operator needs, and name only metrics and labels the processes export", async () => {
    const rule = must(await render({ ...ALL_ON, metrics: { ...ALL_ON.metrics, prometheusRule: { ...ALL_ON.metrics.prometheusRule, labels: { release: "kube-prometheus-stack" } } } }), "PrometheusRule", "agentgate") as PrometheusRule;
    assert.equal(rule.metadata.labels.release, "kube-prometheus-stack");
    const names = new Set(alerts(rule).map((a) => a.alert));
    for (const expected of ["AgentgateGatewayDown", "AgentgateWebhookErrors", "AgentgateWebhookBadRequests", "AgentgateWebhookDenialsHigh", "AgentgateWebhookSlow", "AgentgateCertificateExpiresSoon", "AgentgateBundleRefused", "AgentgateBundleSourceFailing", "AgentgateBundleVersionsDiverge", "AgentgateBundleStale", "AgentgateAuditStale", "AgentgateControllerNoLeader", "AgentgateRunsStuck"]) {
      assert.ok(names.has(expected), `alert ${expected}`);
    }
    for (const a of alerts(rule)) {
      assert.ok(a.alert, "alerts only, no recording rules");
      assert.ok(selectors(a.expr).length > 0, `${a.alert}: the check found the metrics it reads`);
      assert.deepEqual(unknownSelectors(a.expr, catalog), [], `${a.alert}: ${a.expr}`);
      for (const s of selectors(a.expr)) assert.ok(s.labels.includes("namespace"), `${a.alert}: ${s.metric} reads only this release's namespace`);
      assert.ok(["info", "warning", "critical"].includes(a.labels?.severity ?? ""), `${a.alert}: severity`);
      assert.ok(a.annotations?.summary && a.annotations.description, `${a.alert}: summary and description`);
    }
    // Every phase the runs-stuck alert names is one the controller exports.
    const stuck = alerts(rule).find((a) => a.alert === "AgentgateRunsStuck");
    for (const m of stuck?.expr.matchAll(/phase=~"([^"]+)"/g) ?? []) for (const phase of (m[1] ?? "").split("|")) assert.ok((PHASE_LABELS as readonly string[]).includes(phase), phase);
  });

  test("every alert links to its section of docs/monitoring.md", async () => {
    const rule = must(await render(ALL_ON), "PrometheusRule", "agentgate") as PrometheusRule;
    const doc = readFileSync(join(ROOT, "docs/monitoring.md"), "utf8");
    const anchors = new Set([...doc.matchAll(/^#+ (.+)$/gm)].map((m) => (m[1] ?? "").toLowerCase().replace(/[^a-z0-9 -]/g, "").replace(/ /g, "-")));
    for (const a of alerts(rule)) {
      const url = a.annotations?.runbook_url ?? "";
      assert.match(url, /^https:\/\/github\.com\/agentgate\/agentgate\/blob\/main\/docs\/monitoring\.md#/);
      assert.ok(anchors.has(url.split("#")[1] ?? ""), `${a.alert}: docs/monitoring.md has a heading for #${url.split("#")[1] ?? ""}`);
    }
  });

  test("thresholds come from the values: the webhook timeout, days, durations, extra alert labels", async () => {
    const rule = (must(await render({
      audit: { enabled: true, interval: "5m" },
      webhook: { timeoutSeconds: 10 },
      metrics: { prometheusRule: { enabled: true, alertLabels: { team: "platform" }, thresholds: { webhookLatencyRatio: 0.8, certificateWarningDays: 20, runNotStartedAfter: "30m", runMaxDuration: "3h" } } },
    }), "PrometheusRule", "agentgate") as PrometheusRule);
    const expr = (name: string, severity?: string) => alerts(rule).find((a) => a.alert === name && (severity === undefined || a.labels?.severity === severity))?.expr ?? "";
    assert.match(expr("AgentgateWebhookSlow"), /> 8\s*$/, "0.8 of a 10 s timeout");
    assert.match(expr("AgentgateCertificateExpiresSoon", "warning"), /< 1728000\s*$/, "20 days");
    assert.match(expr("AgentgateCertificateExpiresSoon", "critical"), /< 259200\s*$/, "3 days by default");
    assert.match(expr("AgentgateRunsStuck"), /phase=~"New\|Pending"\}\) > 1800\n/);
    assert.match(expr("AgentgateRunsStuck"), /phase=~"PreHooks\|Acting\|PostHooks"\}\) > 10800\s*$/);
    assert.match(expr("AgentgateAuditStale"), /\[1800s\]\)\) > 900\n/, "three intervals of 5m, seen over twice that");
    for (const a of alerts(rule)) assert.equal(a.labels?.team, "platform", `${a.alert ?? ""}: alertLabels`);
    const stale = must(await render({ audit: { enabled: true }, metrics: { prometheusRule: { enabled: true, thresholds: { auditStaleAfter: "2h" } } } }), "PrometheusRule", "agentgate") as PrometheusRule;
    assert.match(alerts(stale).find((a) => a.alert === "AgentgateAuditStale")?.expr ?? "", /\[14400s\]\)\) > 7200\n/);
  });

  test("groups follow what is installed: no controller, no audit (or audit as a CronJob nothing scrapes), no bundle age unless asked", async () => {
    const groups = async (values: Record<string, unknown>) => (must(await render({ ...values, metrics: { prometheusRule: { enabled: true } } }), "PrometheusRule") as PrometheusRule).spec.groups.map((g) => g.name);
    assert.deepEqual(await groups({}), ["agentgate-gateway", "agentgate-bundles", "agentgate-controller"]);
    assert.deepEqual(await groups({ audit: { enabled: true } }), ["agentgate-gateway", "agentgate-bundles", "agentgate-controller", "agentgate-audit"]);
    assert.deepEqual(await groups({ audit: { enabled: true, schedule: "0 * * * *" } }), ["agentgate-gateway", "agentgate-bundles", "agentgate-controller"]);
    assert.deepEqual(await groups({ controller: { enabled: false } }), ["agentgate-gateway", "agentgate-bundles"]);
    const rule = must(await render({ metrics: { prometheusRule: { enabled: true } } }), "PrometheusRule") as PrometheusRule;
    assert.ok(!alerts(rule).some((a) => a.alert === "AgentgateBundleStale"), "bundleMaxAge empty: no bundle age alert");
  });

  test("a threshold that is no duration is refused, naming the key", async () => {
    const bad = await helm({ metrics: { prometheusRule: { enabled: true, thresholds: { runMaxDuration: "ninety minutes" } } } });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /runMaxDuration/);
    const typo = await helm({ metrics: { prometheusRule: { enabled: true, treshold: {} } } });
    assert.match(typo.stderr, /additional properties 'treshold' not allowed/);
  });
});

describe("Grafana dashboard", () => {
  interface Panel {
    title: string;
    type: string;
    datasource?: { uid: string };
    targets?: { expr: string }[];
  }

  test("a ConfigMap with the sidecar's label, whose every query names only metrics and labels the processes export", async () => {
    const objects = await render({ metrics: { dashboard: { enabled: true, namespace: "monitoring", annotations: { grafana_folder: "agentgate" } } } });
    const cm = must(objects, "ConfigMap", "agentgate-dashboard") as { metadata: { namespace: string; labels: Labels; annotations: Labels }; data: Record<string, string> };
    assert.equal(cm.metadata.labels.grafana_dashboard, "1");
    assert.equal(cm.metadata.namespace, "monitoring");
    assert.equal(cm.metadata.annotations.grafana_folder, "agentgate");
    const dashboard = JSON.parse(cm.data["agentgate.json"] ?? "") as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };
    assert.equal(dashboard.uid, "agentgate");
    assert.deepEqual(dashboard.templating.list.map((v) => v.name), ["datasource", "namespace"]);
    const queries = dashboard.panels.filter((p) => p.type !== "row");
    assert.ok(queries.length >= 20, `${String(queries.length)} panels`);
    const read = new Set<string>();
    for (const p of queries) {
      assert.equal(p.datasource?.uid, "${datasource}", `${p.title}: the chosen data source`);
      assert.ok((p.targets ?? []).length > 0, `${p.title}: a query`);
      for (const t of p.targets ?? []) {
        assert.match(t.expr, /namespace="\$namespace"/, `${p.title}: the chosen namespace`);
        assert.deepEqual(unknownSelectors(t.expr, catalog), [], `${p.title}: ${t.expr}`);
        for (const s of selectors(t.expr)) read.add(s.metric);
      }
    }
    // The series the alerts read are on the dashboard too, so an alert can be looked at.
    for (const m of ["agentgate_admission_requests_total", "agentgate_admission_duration_seconds_bucket", "agentgate_bundle_failures_total", "agentgate_serving_certificate_expiry_timestamp_seconds", "agentgate_controller_leader", "agentgate_controller_oldest_run_seconds", "agentgate_audit_last_success_timestamp_seconds", "process_cpu_seconds_total"]) {
      assert.ok(read.has(m), `a panel reads ${m}`);
    }
  });

  test("the dashboard file is what the ConfigMap carries", async () => {
    const cm = must(await render({ metrics: { dashboard: { enabled: true } } }), "ConfigMap", "agentgate-dashboard") as { data: Record<string, string> };
    assert.deepEqual(JSON.parse(cm.data["agentgate.json"] ?? ""), JSON.parse(readFileSync(join(CHART, "files/grafana-dashboard.json"), "utf8")));
  });
});

test("docs/monitoring.md lists every agentgate metric the processes export", () => {
  const doc = readFileSync(join(ROOT, "docs/monitoring.md"), "utf8");
  // A histogram is documented by its own name, not its _bucket, _sum and _count series.
  const histogram = (n: string): string | undefined => { const base = n.replace(/_(bucket|sum|count)$/, ""); return base !== n && catalog.has(`${base}_bucket`) ? base : undefined; };
  const names = new Set([...catalog.keys()].filter((n) => n.startsWith("agentgate_")).map((n) => histogram(n) ?? n));
  assert.ok(names.size >= 30, `${String(names.size)} metrics`);
  for (const name of names) assert.ok(doc.includes(`\`${name}\``), `docs/monitoring.md names ${name}`);
});
