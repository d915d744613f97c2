// The chart's alerting rules, as the chart renders them, through the real
// promtool (built by tools/install.sh from tools/promtool/go.mod): they load
// (`promtool check rules`), and each alert fires on synthetic series of its
// failure and stays quiet on healthy ones (`promtool test rules` with
// test/fixtures/prometheus-rules.test.yaml).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments, stringify } from "yaml";
import { toolPath } from "../support/control-plane.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHART = join(ROOT, "charts/agentgate");
const FIXTURE = join(ROOT, "test/fixtures/prometheus-rules.test.yaml");
const WORK = mkdtempSync(join(tmpdir(), "agentgate-promtool-"));
const NS = "agentgate-system";
/** The values the fixture's expectations are written for (its header says so too). */
const VALUES = { audit: { enabled: true }, metrics: { prometheusRule: { enabled: true, thresholds: { bundleMaxAge: "1h" } } } };

after(() => { rmSync(WORK, { recursive: true, force: true }); });

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(tool: string, args: string[], cwd = WORK): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      toolPath(tool),
      args,
      { cwd, env: { ...process.env, HELM_CACHE_HOME: join(WORK, "cache"), HELM_CONFIG_HOME: join(WORK, "config"), HELM_DATA_HOME: join(WORK, "data") }, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

interface RuleGroups {
  groups: { name: string; rules: { alert: string }[] }[];
}

let renders = 0;
/** The PrometheusRule's spec (a Prometheus rule file) as the chart renders it with these values, in its own directory beside the fixture. */
async function renderRules(values: Record<string, unknown>): Promise<{ dir: string; rules: RuleGroups }> {
  const dir = join(WORK, `render-${++renders}`);
  const valuesFile = `${dir}.values.yaml`;
  writeFileSync(valuesFile, stringify(values));
  const r = await run("helm", ["template", "agentgate", CHART, "--namespace", NS, "-f", valuesFile, "--show-only", "templates/prometheusrule.yaml"]);
  assert.equal(r.code, 0, r.stderr);
  const doc = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind?: string; spec?: RuleGroups } | null).find((o) => o?.kind === "PrometheusRule");
  assert.ok(doc?.spec, "a PrometheusRule");
  mkdirSync(dir);
  writeFileSync(join(dir, "rules.yaml"), stringify(doc.spec));
  copyFileSync(FIXTURE, join(dir, "prometheus-rules.test.yaml"));
  return { dir, rules: doc.spec };
}

let rendered: { dir: string; rules: RuleGroups };
before(async () => { rendered = await renderRules(VALUES); });

test("promtool check rules: the rendered rules load", async () => {
  const r = await run("promtool", ["check", "rules", "rules.yaml"], rendered.dir);
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  const alerts = rendered.rules.groups.flatMap((g) => g.rules).length;
  assert.match(r.stdout, new RegExp(`SUCCESS: ${String(alerts)} rules found`));
});

test("promtool test rules: each alert fires on its failure and not on healthy series", async () => {
  const r = await run("promtool", ["test", "rules", "prometheus-rules.test.yaml"], rendered.dir);
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /SUCCESS/);
});

test("the fixture covers every alert the chart renders: firing at least once, and quiet in the healthy group", () => {
  interface AlertTest { alertname: string; exp_alerts?: unknown[] }
  const fixture = parse(readFileSync(FIXTURE, "utf8")) as { tests: { name: string; alert_rule_test?: AlertTest[] }[] };
  const fires = new Set(fixture.tests.flatMap((t) => t.alert_rule_test ?? []).filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname));
  const quiet = new Set((fixture.tests.find((t) => t.name === "healthy")?.alert_rule_test ?? []).filter((a) => (a.exp_alerts ?? []).length === 0).map((a) => a.alertname));
  for (const alert of new Set(rendered.rules.groups.flatMap((g) => g.rules.map((r) => r.alert)))) {
    assert.ok(fires.has(alert), `${alert} fires somewhere in the fixture`);
    assert.ok(quiet.has(alert), `${alert} is quiet on healthy series`);
  }
});

test("the fixture tests the rules, not nothing: with another error threshold, promtool fails", async () => {
  const loose = await renderRules({ ...VALUES, metrics: { prometheusRule: { ...VALUES.metrics.prometheusRule, thresholds: { ...VALUES.metrics.prometheusRule.thresholds, webhookErrorRatio: 0.5 } } } });
  const r = await run("promtool", ["test", "rules", "prometheus-rules.test.yaml"], loose.dir);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /alertname: AgentgateWebhookErrors/);
});
