// The policy config's schema and what its refusals say: the default bundle's
// schema (policies/agentgate/config_schema/data.json) on configs written for
// the test, each mistake a named row with the exact line a user reads.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { BundleError } from "./bundle.ts";
import { PolicyConfigError, checkPolicyConfig, compileConfigSchema, configProblems, isPositiveDuration, isRe2 } from "./config-schema.ts";

const read = (path: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as Record<string, unknown>;
const SCHEMA = read("../../policies/agentgate/config_schema/data.json");
const compiled = compileConfigSchema(SCHEMA, "default");

/** Every key of the target config set, valid. */
const valid = () => ({
  models: {
    allowed: [{ provider: "Anthropic", model: "claude-*" }],
    maxTokensPerCall: 8192,
    requiredBaseUrlPrefix: "",
    allowedEndpoints: ["api.anthropic.com", "llm.internal:8443", "10.0.0.7:443", "[fd00::1]:8443"],
  },
  tools: {
    servers: [{ kind: "RemoteMCPServer", namespace: "kagent", name: "kagent-tool-server", url: "http://kagent-tools.kagent:8084/mcp", tools: ["k8s_get_*"] }],
    requireApproval: ["*delete*"],
    agents: [{ namespace: "kagent", name: "k8s-agent" }],
  },
  budgets: { defaultTokenBudget: 100000, maxTokenBudget: 500000, defaultTimeout: "15m", maxTimeout: "1h", defaultMaxIterations: 5, maxIterations: 20 },
  rbac: { allowed: [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list"] }] },
  network: { allowPermissive: false },
  approval: { approverGroups: ["agent-approvers"] },
  kagent: { allowBYO: false, agentFields: ["description"] },
  profiles: {
    rollout: { enforcement: "warn", namespaces: ["team-a", "staging-*"] },
    big: { namespaces: ["data"], budgets: { maxTokenBudget: 900000, maxTimeout: "1d" }, approval: { approverGroups: [] } },
  },
});

type Config = ReturnType<typeof valid>;

const problems = (edit: (c: Config) => unknown): string[] => {
  const config = valid();
  const edited = edit(config);
  return configProblems(compiled, edited === undefined ? config : edited);
};

describe("the default bundle's config schema", () => {
  test("a config with every key of the target set passes", () => {
    assert.deepEqual(configProblems(compiled, valid()), []);
  });

  test("the default bundle's own data (policies/data.json) passes", () => {
    const config = (read("../../policies/data.json").agentgate as Record<string, unknown>).config;
    assert.deepEqual(configProblems(compiled, config), []);
  });

  test("it compiles under Ajv's strictest checks (no loose or unknown keywords)", () => {
    const ajv = new Ajv({ strict: true, strictRequired: true, allErrors: true });
    ajv.addFormat("go-duration", { type: "string", validate: isPositiveDuration });
    ajv.addFormat("re2", { type: "string", validate: isRe2 });
    assert.doesNotThrow(() => ajv.compile(SCHEMA));
  });

  test("a profile may hold the config's own keys and enforcement, no other", () => {
    const properties = SCHEMA.properties as Record<string, { additionalProperties?: { properties?: Record<string, unknown> } }>;
    // goals: Gate 1's input carries no namespace labels, so no profile could select its part
    const configKeys = Object.keys(properties).filter((k) => k !== "profiles" && k !== "goals");
    assert.deepEqual(Object.keys(properties.profiles?.additionalProperties?.properties ?? {}).sort(), [...configKeys, "enforcement", "namespaces"].sort());
  });

  test("every key a rule needs is required: without it the rule would be off", () => {
    const required = (at: Record<string, unknown>): unknown => at.required;
    const properties = SCHEMA.properties as Record<string, Record<string, unknown>>;
    // goals is not required: without it Gate 1 allows no goal (fails closed), it is not off
    assert.deepEqual(required(SCHEMA), ["models", "tools", "budgets", "rbac", "network", "approval", "kagent"]);
    assert.deepEqual(
      Object.fromEntries(Object.entries(properties).filter(([k]) => k !== "profiles").map(([k, v]) => [k, required(v)])),
      {
        models: ["allowed", "maxTokensPerCall"],
        tools: ["servers", "requireApproval"],
        budgets: ["defaultTokenBudget", "maxTokenBudget", "defaultTimeout", "maxTimeout", "defaultMaxIterations", "maxIterations"],
        rbac: ["allowed"],
        network: ["allowPermissive"],
        approval: ["approverGroups"],
        goals: undefined,
        hooks: undefined,
        kagent: ["allowBYO"],
      },
    );
  });
});

describe("what a refused config says", () => {
  const cases: { name: string; edit: (c: Config) => unknown; says: string[] }[] = [
    {
      name: "a misspelt section, with the key it was taken for (and not also that key as missing)",
      edit: (c) => { const { budgets, ...rest } = c; return { ...rest, budget: budgets }; },
      says: ["budget is not a known key (did you mean budgets?); known keys: models, tools, budgets, rbac, network, approval, goals, hooks, kagent, profiles"],
    },
    {
      name: "a misspelt key in a section",
      edit: (c) => { Object.assign(c.budgets, { maxTokenBudgt: 1 }); },
      says: ["budgets.maxTokenBudgt is not a known key (did you mean maxTokenBudget?); known keys of budgets: defaultTokenBudget, maxTokenBudget, defaultTimeout, maxTimeout, defaultMaxIterations, maxIterations"],
    },
    {
      name: "a key in the wrong section",
      edit: (c) => { Object.assign(c.budgets, { maxTokensPerCall: 10 }); },
      says: ["budgets.maxTokensPerCall is not a known key (did you mean models.maxTokensPerCall?); known keys of budgets: defaultTokenBudget, maxTokenBudget, defaultTimeout, maxTimeout, defaultMaxIterations, maxIterations"],
    },
    {
      name: "enforcement outside a profile",
      edit: (c) => ({ ...c, enforcment: "warn" }),
      says: ["enforcment is not a known key (did you mean profiles.<name>.enforcement?); known keys: models, tools, budgets, rbac, network, approval, goals, hooks, kagent, profiles"],
    },
    {
      name: "a number as a string (what helm --set-string renders)",
      edit: (c) => { Object.assign(c.budgets, { maxTokenBudget: "500000" }); },
      says: ['budgets.maxTokenBudget is "500000" (a string); expected an integer ≥ 1 — in Helm use --set, not --set-string'],
    },
    {
      name: "a boolean as a string",
      edit: (c) => { Object.assign(c.network, { allowPermissive: "false" }); },
      says: ['network.allowPermissive is "false" (a string); expected true or false — in Helm use --set, not --set-string'],
    },
    {
      name: "a limit below 1",
      edit: (c) => { Object.assign(c.models, { maxTokensPerCall: 0 }); },
      says: ["models.maxTokensPerCall is 0; expected an integer ≥ 1"],
    },
    {
      name: "a fraction where a whole number is expected",
      edit: (c) => { Object.assign(c.budgets, { maxIterations: 2.5 }); },
      says: ["budgets.maxIterations is 2.5 (a number); expected an integer ≥ 1"],
    },
    {
      name: "a timeout as a number (no unit)",
      edit: (c) => { Object.assign(c.budgets, { maxTimeout: 60 }); },
      says: ['budgets.maxTimeout is 60 (a number); expected a duration greater than 0 such as "15m" or "1h30m" (units ns, us, ms, s, m, h, d, w, y) — a duration is a string with a unit, such as "60s" or "60m"'],
    },
    {
      name: "a zero, a negative and an unknown-unit duration",
      edit: (c) => { Object.assign(c.budgets, { defaultTimeout: "0s", maxTimeout: "-5m" }); Object.assign(c.profiles.big.budgets, { maxTimeout: "1x" }); },
      says: [
        'budgets.defaultTimeout is "0s"; expected a duration greater than 0 such as "15m" or "1h30m" (units ns, us, ms, s, m, h, d, w, y)',
        'budgets.maxTimeout is "-5m"; expected a duration greater than 0 such as "15m" or "1h30m" (units ns, us, ms, s, m, h, d, w, y)',
        'profiles.big.budgets.maxTimeout is "1x"; expected a duration greater than 0 such as "15m" or "1h30m" (units ns, us, ms, s, m, h, d, w, y)',
      ],
    },
    {
      name: "a tool-call argument pattern Rego cannot compile (the rule would refuse every call), and one Go's regexp reads but JavaScript's would not",
      edit: (c) => { Object.assign(c.tools, { calls: { deniedArguments: [{ tools: ["write_*"], argument: "path", pattern: "^/etc/(" }, { tools: ["*"], argument: "q", pattern: "(?i)drop\\s+table" }] } }); },
      says: ['tools.calls.deniedArguments[0].pattern is "^/etc/("; expected a regular expression in RE2 syntax (Go\'s regexp, as Rego\'s regex.match reads it); a string argument matching it is refused'],
    },
    {
      name: "a missing limit (token-budget would be off)",
      edit: (c) => { const { maxTokenBudget: _m, ...budgets } = c.budgets; return { ...c, budgets }; },
      says: ["budgets.maxTokenBudget is missing; expected an integer ≥ 1"],
    },
    {
      name: "a missing section",
      edit: (c) => { const { kagent: _k, ...rest } = c; return rest; },
      says: ["kagent is missing; expected an object {allowBYO, agentFields?}"],
    },
    {
      name: "a bad enforcement",
      edit: (c) => { Object.assign(c.profiles.rollout, { enforcement: "warning" }); },
      says: ["profiles.rollout.enforcement is \"warning\"; expected one of warn, dryrun, deny (did you mean warn?)"],
    },
    {
      name: "a misspelt enforcement",
      edit: (c) => { c.profiles.rollout = { enforcment: "warn", namespaces: ["team-a"] } as never; },
      says: ["profiles.rollout.enforcment is not a known key (did you mean enforcement?); known keys of profiles.rollout: models, tools, budgets, rbac, network, approval, hooks, kagent, enforcement, namespaces"],
    },
    {
      name: "a profile bound to no namespace (a label alone would select it anywhere)",
      edit: (c) => { c.profiles.rollout = { enforcement: "warn" } as never; },
      says: ['profiles.rollout.namespaces is missing; expected the namespaces whose label may select this profile: names, or prefixes ending in * ("*" alone: any namespace whose label names it)'],
    },
    {
      name: "a profile bound to something that is no namespace name",
      edit: (c) => { c.profiles.rollout = { enforcement: "warn", namespaces: ["Team A"] }; },
      says: ['profiles.rollout.namespaces[0] is "Team A"; expected a string matching ^([a-z0-9]([-a-z0-9]*[a-z0-9])?|[a-z0-9-]*\\*)$'],
    },
    {
      name: "a profile that is not an object",
      edit: (c) => { (c.profiles as Record<string, unknown>).strict = "deny"; },
      says: ['profiles.strict is "deny" (a string); expected an object {models?, tools?, budgets?, rbac?, network?, approval?, hooks?, kagent?, enforcement?, namespaces}'],
    },
    {
      name: "a profile setting a wrong type (checked merged over the base config)",
      edit: (c) => { Object.assign(c.profiles.big.budgets, { maxTokenBudget: "900000" }); },
      says: ['profiles.big.budgets.maxTokenBudget is "900000" (a string); expected an integer ≥ 1 — in Helm use --set, not --set-string'],
    },
    {
      name: "a profile with a misspelt key inside a section",
      edit: (c) => { Object.assign(c.profiles.big.budgets, { maxTimout: "2h" }); },
      says: ["profiles.big.budgets.maxTimout is not a known key (did you mean maxTimeout?); known keys of profiles.big.budgets: defaultTokenBudget, maxTokenBudget, defaultTimeout, maxTimeout, defaultMaxIterations, maxIterations"],
    },
    {
      name: "a system: approver group, also in a profile; a number is not a group",
      edit: (c) => { c.approval.approverGroups = ["system:authenticated"]; c.profiles.big.approval.approverGroups = [5 as never]; },
      says: [
        'approval.approverGroups[0] is "system:authenticated"; expected a group name not starting with "system:" (Kubernetes\' own groups, such as system:authenticated, hold users who must not approve runs)',
        'profiles.big.approval.approverGroups[0] is 5 (a number); expected a group name not starting with "system:" (Kubernetes\' own groups, such as system:authenticated, hold users who must not approve runs)',
      ],
    },
    {
      name: "rbac.forbiddenVerbs (replaced by the rbac.allowed allowlist)",
      edit: (c) => ({ ...c, rbac: { forbiddenVerbs: ["*", "escalate"], forbiddenResources: ["secrets"] } }),
      says: [
        "rbac.allowed is missing; expected a list, each an object {apiGroups, resources, verbs}",
        "rbac.forbiddenVerbs is no longer a key: rbac.forbiddenVerbs and rbac.forbiddenResources were replaced by rbac.allowed, an allowlist of {apiGroups, resources, verbs} an agent run may be granted; list what agents may have instead of what they may not, and remove this key",
        "rbac.forbiddenResources is no longer a key: rbac.forbiddenVerbs and rbac.forbiddenResources were replaced by rbac.allowed, an allowlist of {apiGroups, resources, verbs} an agent run may be granted; list what agents may have instead of what they may not, and remove this key",
      ],
    },
    {
      name: "tool servers: a wrong kind, a namespace in capitals, no tools, a string where a list goes",
      edit: (c) => { c.tools.servers = [{ kind: "Remote", namespace: "Kagent", name: "x", tools: [] } as never]; c.tools.requireApproval = "*delete*" as never; },
      says: [
        'tools.servers[0].kind is "Remote"; expected one of RemoteMCPServer, MCPServer, Service (did you mean RemoteMCPServer?)',
        'tools.servers[0].namespace is "Kagent"; expected a Kubernetes namespace name (lowercase letters, digits and -)',
        'tools.servers[0].tools is [] (an empty list); expected a non-empty list, each a tool name or glob such as "k8s_get_*"',
        'tools.requireApproval is "*delete*" (a string); expected a list, each a tool name or glob such as "*delete*" — write a list, such as ["*delete*"]',
      ],
    },
    {
      name: "an endpoint written as a URL; an allowed model without its provider",
      edit: (c) => { c.models.allowedEndpoints = ["https://api.openai.com/v1"]; c.models.allowed = [{ model: "gpt-4o" } as never]; },
      says: [
        "models.allowed[0].provider is missing; expected a kagent provider name such as \"Anthropic\" or \"OpenAI\"",
        'models.allowedEndpoints[0] is "https://api.openai.com/v1"; expected a host or host:port such as api.openai.com or llm.internal:8443 (no scheme, no path)',
      ],
    },
    {
      name: "a profile named with characters a path cannot show bare",
      edit: (c) => { (c.profiles as Record<string, unknown>)["team a"] = { namespaces: ["team-a"], network: { allowPermissive: 1 } }; },
      says: ['profiles["team a"].network.allowPermissive is 1 (a number); expected true or false'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(problems(c.edit), c.says);
    });
  }

  test("several problems: one line, `; `-separated, the first 8 and a count of the rest", () => {
    const config: Record<string, unknown> = valid();
    for (let i = 0; i < 10; i++) config[`extra${String(i)}`] = i;
    let err: unknown;
    try {
      checkPolicyConfig({ name: "default" }, { agentgate: { config, config_schema: SCHEMA } });
    } catch (caught) {
      err = caught;
    }
    assert.ok(err instanceof PolicyConfigError);
    assert.equal(err.problems.length, 10);
    assert.match(err.message, /^policy config: extra0 is not a known key; known keys: [^;]*; extra1 is not/);
    assert.equal(err.message.split("; extra").length, 8);
    assert.match(err.message, /; and 2 more$/);
    assert.ok(!err.message.includes("\n"));
  });
});

describe("a bundle's own schema", () => {
  const team = { type: "object", additionalProperties: false, required: ["max"], properties: { max: { type: "integer", minimum: 1 }, profiles: { type: "object" } } };

  test("names the bundle when it is not the default; a bundle without a schema is not checked", () => {
    assert.throws(() => checkPolicyConfig({ name: "team-a" }, { agentgate: { config: { max: "3" }, config_schema: team } }), {
      name: "PolicyConfigError",
      message: 'policy config (bundle "team-a"): max is "3" (a string); expected an integer ≥ 1 — in Helm use --set, not --set-string',
    });
    assert.equal(checkPolicyConfig({ name: "team-a" }, { agentgate: { config: { max: 3 }, config_schema: team } }), true);
    assert.equal(checkPolicyConfig({ name: "team-a" }, { agentgate: { config: { anything: "goes" } } }), false);
  });

  test("a rule across keys that only a profile merged over the base breaks is reported at that profile", () => {
    const pair = { ...team, properties: { ...team.properties, min: { type: "integer" } }, if: { properties: { min: { minimum: 10 } } }, then: { properties: { max: { minimum: 10 } } } };
    assert.deepEqual(configProblems(compileConfigSchema(pair, "t"), { max: 5, min: 1, profiles: { p: { min: 20 } } }), ["profiles.p, merged over the base config: max is 5; expected a number ≥ 10"]);
  });

  test("a schema that cannot be compiled refuses the bundle, naming it; one that can is compiled once", () => {
    assert.throws(() => compileConfigSchema({ type: "object", properties: { x: { type: "integr" } } }, "team-a"), (err: unknown) => {
      assert.ok(err instanceof BundleError);
      assert.match(err.message, /^bundle "team-a": data\.agentgate\.config_schema is not a JSON Schema \(draft-07\) this gateway can use: schema is invalid/);
      return true;
    });
    assert.throws(() => compileConfigSchema("strict", "team-a"), /data\.agentgate\.config_schema must be a JSON Schema object, got a string/);
    assert.equal(compileConfigSchema(team, "team-a"), compileConfigSchema(team, "team-a"));
  });
});

describe("durations", () => {
  // Helm sees only the pattern; the gateway also parses (overflow, fractions below a nanosecond).
  const durations = (SCHEMA.properties as Record<string, { properties: Record<string, { pattern: string }> }>).budgets?.properties.maxTimeout?.pattern ?? "";
  const pattern = new RegExp(durations, "u");
  const cases: { value: string; ok: boolean; patternOnly?: boolean }[] = [
    { value: "15m", ok: true },
    { value: "1h30m", ok: true },
    { value: "1.5h", ok: true },
    { value: ".5h", ok: true },
    { value: "1.h", ok: true },
    { value: "90s", ok: true },
    { value: "500ms", ok: true },
    { value: "1d", ok: true },
    { value: "2w", ok: true },
    { value: "1y", ok: true },
    { value: "1h0m", ok: true },
    { value: "0h1m", ok: true },
    { value: "10µs", ok: true },
    { value: "0s", ok: false },
    { value: "0", ok: false },
    { value: "0h0m", ok: false },
    { value: "-5m", ok: false },
    { value: "+5m", ok: false },
    { value: "60", ok: false },
    { value: "1x", ok: false },
    { value: "1H", ok: false },
    { value: "", ok: false },
    { value: "1 h", ok: false },
    { value: "99999999999h", ok: false, patternOnly: true },
    { value: "0.0000000001s", ok: false, patternOnly: true },
  ];
  for (const c of cases) {
    test(`${JSON.stringify(c.value)}: ${c.ok ? "a duration > 0" : "refused"}${c.patternOnly === true ? " (by the gateway's parse; the pattern admits it)" : ""}`, () => {
      assert.equal(isPositiveDuration(c.value), c.ok);
      assert.equal(pattern.test(c.value), c.patternOnly === true ? true : c.ok);
    });
  }
});

// Found by fuzz/bundle-archive.fuzz.ts: a schema property named like an
// Object method was checked against the config's inherited method, and the
// message writer threw on it (a TypeError instead of a PolicyConfigError).
test("a schema key named like an Object method is checked against the config's own keys only", () => {
  const schema = { type: "object", properties: { hasOwnProperty: false, constructor: { type: "string" }, toString: { type: "integer" } } };
  assert.deepEqual(configProblems(compileConfigSchema(schema, "methods"), {}), []);
  const problems = configProblems(compileConfigSchema({ ...schema }, "methods"), JSON.parse('{"constructor": 1, "hasOwnProperty": "x"}'));
  assert.equal(problems.length, 2, problems.join("; "));
  assert.ok(problems.every((p) => !p.includes("function")), problems.join("; "));
});
