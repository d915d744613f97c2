// effectiveConfig is the TypeScript twin of the default bundle's `cfg`
// (policies/agentgate/lib.rego): on the same data and namespace both must
// give the same config, as `opa eval` computes it from the Rego itself.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { evaluateWithOpa, regoSources } from "../../src/cli/bundle-check.ts";
import { PROFILE_LABEL } from "../../src/types/agent.ts";
import type { NamespaceContext } from "../../src/types/policy.ts";
import { effectiveConfig } from "../../src/guardrails/profile.ts";

const POLICIES = fileURLToPath(new URL("../../policies", import.meta.url));

const base = {
  budgets: { defaultTokenBudget: 100000, maxTokenBudget: 500000, defaultTimeout: "15m" },
  approval: { approverGroups: ["agent-approvers"] },
  models: { allowed: [{ provider: "Anthropic", model: "claude-*" }, { provider: "OpenAI", model: "gpt-4o*" }] },
};

const ns = (labels: Record<string, unknown>): NamespaceContext => ({ name: "team", labels: labels as Record<string, string>, annotations: {} });

const cases: { name: string; profiles: unknown; namespace: NamespaceContext | null }[] = [
  { name: "no namespace in context", profiles: { p: { namespaces: ["team"], budgets: { maxTokenBudget: 1 } } }, namespace: null },
  { name: "namespace without the label", profiles: { p: { namespaces: ["team"], budgets: { maxTokenBudget: 1 } } }, namespace: ns({ team: "x" }) },
  { name: "label naming an unknown profile", profiles: { p: { namespaces: ["team"], budgets: { maxTokenBudget: 1 } } }, namespace: ns({ [PROFILE_LABEL]: "q" }) },
  { name: "empty profile", profiles: { p: { namespaces: ["team"] } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "profile that is not an object", profiles: { p: ["budgets"] }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "profiles that are not an object", profiles: ["p"], namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "nested keys merge, siblings stay", profiles: { p: { namespaces: ["team"], budgets: { maxTokenBudget: 900000, defaultTokenBudget: 2000 } } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "lists are replaced, not appended", profiles: { p: { namespaces: ["team"], approval: { approverGroups: ["team-leads"] }, models: { allowed: [{ provider: "OpenAI", model: "o1*" }] } } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "a new section and enforcement", profiles: { p: { namespaces: ["team"], enforcement: "warn", network: { allowPermissive: true } } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "an object replaced by a scalar", profiles: { p: { namespaces: ["team"], budgets: 7 } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "a label that is a prototype key", profiles: { p: { namespaces: ["team"], budgets: { maxTokenBudget: 1 } } }, namespace: ns({ [PROFILE_LABEL]: "constructor" }) },
  { name: "a profile bound elsewhere", profiles: { p: { enforcement: "warn", namespaces: ["qe", "staging-*"] } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "a profile bound by prefix", profiles: { p: { enforcement: "warn", namespaces: ["qe", "te*"] } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "a profile bound to every namespace", profiles: { p: { enforcement: "warn", namespaces: ["*"] } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "a profile without namespaces binds nowhere", profiles: { p: { enforcement: "warn" }, q: { enforcement: "warn", namespaces: "team" } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "an exact name is not a prefix", profiles: { p: { enforcement: "warn", namespaces: ["tea", "team-b"] } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "namespaces that are not names", profiles: { p: { enforcement: "warn", namespaces: [7, null] } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
];

let sources: Map<string, Buffer>;
before(async () => {
  sources = await regoSources(POLICIES);
});

test("effectiveConfig agrees with the Rego's cfg on every case", async () => {
  const configs = cases.map((c) => ({ ...base, profiles: c.profiles }));
  // One opa process per config (the data differs); inputs carry only the namespace.
  for (const [i, c] of cases.entries()) {
    const config = configs[i] as Record<string, unknown>;
    const [opa] = await evaluateWithOpa(sources, { agentgate: { config } }, ["agentgate/cfg"], [{ request: { operation: "CREATE", kind: { group: "", version: "v1", kind: "X" } }, context: { namespace: c.namespace } }]);
    assert.deepEqual(effectiveConfig(config, c.namespace), opa?.["agentgate/cfg"], c.name);
  }
});

test("a profile's values win over the base config's", () => {
  const config = { ...base, profiles: { p: { namespaces: ["team"], budgets: { defaultTokenBudget: 2000 }, approval: { approverGroups: ["team-leads"] } } } };
  const got = effectiveConfig(config, ns({ [PROFILE_LABEL]: "p" }));
  assert.deepEqual(got.budgets, { defaultTokenBudget: 2000, maxTokenBudget: 500000, defaultTimeout: "15m" });
  assert.deepEqual(got.approval, { approverGroups: ["team-leads"] });
  assert.deepEqual(config.budgets.defaultTokenBudget, 100000, "the base config is not changed");
});

test("a label selects only a profile bound to the namespace: by name, by prefix, never by label alone", () => {
  const config = (namespaces: unknown) => ({ ...base, profiles: { rollout: { enforcement: "warn", ...(namespaces === undefined ? {} : { namespaces }) } } });
  const labelled = ns({ [PROFILE_LABEL]: "rollout" });
  assert.equal(effectiveConfig(config(["team"]), labelled).enforcement, "warn");
  assert.equal(effectiveConfig(config(["te*"]), labelled).enforcement, "warn");
  assert.equal(effectiveConfig(config(["qe", "staging-*"]), labelled).enforcement, undefined, "bound elsewhere: the base config");
  assert.equal(effectiveConfig(config(["tea", "team-a"]), labelled).enforcement, undefined, "an exact name binds that name only");
  assert.equal(effectiveConfig(config(undefined), labelled).enforcement, undefined, "bound nowhere");
  assert.equal(effectiveConfig(config(["team"]), labelled).namespaces, undefined, "the binding is not part of the config in effect");
});
