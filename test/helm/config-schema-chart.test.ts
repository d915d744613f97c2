// The chart checks policy.config with the default bundle's own schema
// (policies/agentgate/config_schema/data.json), in the form a partial config
// needs: policy.config is merged over the bundle's data.agentgate.config, so
// no key is required there. values.schema.json holds that generated form;
// this test keeps it equal to the bundle's schema, and runs the real helm on
// a misspelt key, a string limit, a profile of the wrong type and a valid
// partial config. After a change to the bundle's schema:
//   AGENTGATE_WRITE_CHART_SCHEMA=1 npx node --test test/helm/config-schema-chart.test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { isRecord } from "../../src/types/kube.ts";
import { toolPath } from "../support/control-plane.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHART = join(ROOT, "charts/agentgate");
const VALUES_SCHEMA = join(CHART, "values.schema.json");
const BUNDLE_SCHEMA = join(ROOT, "policies/agentgate/config_schema/data.json");
const WORK = mkdtempSync(join(tmpdir(), "agentgate-config-chart-"));

type Schema = Record<string, unknown>;

/**
 * A partial config's schema: no `required` wherever objects merge key by key
 * (properties, named maps); list items keep theirs, since a list replaces
 * the bundle's whole.
 */
function partial(schema: unknown): unknown {
  if (!isRecord(schema)) return schema;
  const { required: _required, ...rest } = schema;
  if (isRecord(rest.properties)) rest.properties = Object.fromEntries(Object.entries(rest.properties).map(([k, v]) => [k, partial(v)]));
  if (isRecord(rest.additionalProperties)) rest.additionalProperties = partial(rest.additionalProperties);
  return rest;
}

/**
 * The chart's copy: the bundle's schema as a partial config, and each
 * profile's keys typed as the partial config's (the gateway checks a profile
 * merged over the base config; Helm sees only what is set, so it checks
 * those keys' types directly).
 */
function chartConfigSchema(bundleSchema: Schema): Schema {
  const { $schema: _s, title: _t, description: _d, ...rest } = partial(bundleSchema) as Schema;
  const properties = rest.properties as Record<string, Schema>;
  const profile = properties.profiles?.additionalProperties;
  if (isRecord(profile) && isRecord(profile.properties)) {
    profile.properties = Object.fromEntries(Object.entries(profile.properties).map(([k, v]) => [k, k !== "profiles" && properties[k] !== undefined ? properties[k] : v]));
  }
  return {
    description: "checked, while the default bundle is in force (policy.defaultBundle), with the default bundle's data.agentgate.config_schema, no key required since it is merged over the bundle's config; generated from policies/agentgate/config_schema/data.json by test/helm/config-schema-chart.test.ts",
    ...rest,
  };
}

/** The `then` of policy in values.schema.json: the check applies while the default bundle is in force. */
const thenOf = (config: Schema): Schema => ({ properties: { config } });

/** JSON on one line as values.schema.json writes it: { "type": "string", "minLength": 1 }. */
function inline(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(", ")}]`;
  if (isRecord(value)) return Object.keys(value).length === 0 ? "{}" : `{ ${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`).join(", ")} }`;
  return JSON.stringify(value);
}

/** JSON in values.schema.json's style: what fits on a line stays on one, the rest is indented by two under `indent`. */
function formatted(value: unknown, indent: string): string {
  const line = inline(value);
  if (line.length + indent.length <= 150 || (!Array.isArray(value) && !isRecord(value))) return line;
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((v) => `${inner}${formatted(v, inner)}`).join(",\n")}\n${indent}]`;
  return `{\n${Object.entries(value as Schema).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatted(v, inner)}`).join(",\n")}\n${indent}}`;
}

interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

let valuesCount = 0;
function helmTemplate(values: Record<string, unknown>): Promise<HelmResult> {
  const file = join(WORK, `values-${String(++valuesCount)}.yaml`);
  writeFileSync(file, stringify(values));
  return new Promise((resolve) => {
    execFile(
      toolPath("helm"),
      ["template", "agentgate", CHART, "--namespace", "agentgate-system", "-f", file],
      { env: { ...process.env, HELM_CACHE_HOME: join(WORK, "cache"), HELM_CONFIG_HOME: join(WORK, "config"), HELM_DATA_HOME: join(WORK, "data") }, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => { resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }); },
    );
  });
}

describe("policy.config in the chart", () => {
  test("values.schema.json holds the default bundle's config schema in its generated form", () => {
    const text = readFileSync(VALUES_SCHEMA, "utf8");
    const policy = (JSON.parse(text) as { properties: { policy: Schema } }).properties.policy;
    const want = thenOf(chartConfigSchema(JSON.parse(readFileSync(BUNDLE_SCHEMA, "utf8")) as Schema));
    if (process.env.AGENTGATE_WRITE_CHART_SCHEMA === "1" && JSON.stringify(policy.then) !== JSON.stringify(want)) {
      const old = `"then": ${formatted(policy.then, "      ")}`;
      assert.ok(text.includes(old), "values.schema.json: policy.then is not where the generator wrote it; put it back as generated JSON and run again");
      writeFileSync(VALUES_SCHEMA, text.replace(old, `"then": ${formatted(want, "      ")}`));
      return;
    }
    assert.deepEqual(policy.if, { properties: { defaultBundle: { const: true } } });
    assert.deepEqual(policy.then, want, "charts/agentgate/values.schema.json is stale against policies/agentgate/config_schema/data.json: AGENTGATE_WRITE_CHART_SCHEMA=1 npx node --test test/helm/config-schema-chart.test.ts");
  });

  const refused = [
    { name: "a misspelt section", config: { budget: {} }, says: /at '\/policy\/config': additional properties 'budget' not allowed/ },
    { name: "a limit as a string (helm --set-string)", config: { budgets: { maxTokenBudget: "5" } }, says: /at '\/policy\/config\/budgets\/maxTokenBudget': got string, want integer/ },
    { name: "a timeout without a unit", config: { budgets: { maxTimeout: 60 } }, says: /at '\/policy\/config\/budgets\/maxTimeout': got number, want string/ },
    { name: "a zero timeout", config: { budgets: { maxTimeout: "0s" } }, says: /at '\/policy\/config\/budgets\/maxTimeout': '0s' does not match pattern/ },
    { name: "a misspelt enforcement", config: { profiles: { rollout: { enforcment: "warn" } } }, says: /at '\/policy\/config\/profiles\/rollout': additional properties 'enforcment' not allowed/ },
    { name: "a profile's limit as a string", config: { profiles: { big: { budgets: { maxTokenBudget: "900000" } } } }, says: /at '\/policy\/config\/profiles\/big\/budgets\/maxTokenBudget': got string, want integer/ },
    { name: "a system: approver group", config: { approval: { approverGroups: ["system:authenticated"] } }, says: /at '\/policy\/config\/approval\/approverGroups\/0': 'not' failed/ },
    { name: "the removed rbac.forbiddenVerbs", config: { rbac: { forbiddenVerbs: ["*"] } }, says: /at '\/policy\/config\/rbac\/forbiddenVerbs': 'not' failed/ },
  ];
  for (const c of refused) {
    test(`helm template refuses ${c.name}, naming the key`, async () => {
      const r = await helmTemplate({ policy: { config: c.config } });
      assert.notEqual(r.code, 0, "helm template should refuse these values");
      assert.match(r.stderr, c.says);
    });
  }

  test("a valid partial config renders; a team bundle stacked on the default keeps the check, one replacing it (defaultBundle: false) turns it off", async () => {
    const valid = await helmTemplate({ policy: { config: { budgets: { maxTokenBudget: 200000, maxTimeout: "2h" }, profiles: { rollout: { enforcement: "warn", budgets: { maxTokenBudget: 100000 } } } } } });
    assert.equal(valid.code, 0, valid.stderr);
    assert.match(valid.stdout, /maxTokenBudget: 200000/);
    const stacked = await helmTemplate({ policy: { bundles: ["https://bundles.example/team.tar.gz"], config: { strict: true } } });
    assert.notEqual(stacked.code, 0, "the default bundle is still in force: its schema still judges the config");
    assert.match(stacked.stderr, /additional properties 'strict' not allowed/);
    const team = await helmTemplate({ policy: { bundles: ["https://bundles.example/team.tar.gz"], defaultBundle: false, config: { strict: true } } });
    assert.equal(team.code, 0, team.stderr);
  });
});
