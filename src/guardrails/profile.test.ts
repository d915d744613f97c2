// effectiveConfig is the TypeScript twin of the default bundle's `cfg`
// (policies/agentgate/lib.rego): on the same data and namespace both must
// give the same config, as `opa eval` computes it from the Rego itself.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { evaluateWithOpa, regoSources } from "../cli/bundle-check.ts";
import { PROFILE_LABEL } from "../types/agent.ts";
import type { NamespaceContext } from "../types/policy.ts";
import { effectiveConfig } from "./profile.ts";

const POLICIES = fileURLToPath(new URL("../../policies", import.meta.url));

const base = {
  budgets: { defaultTokenBudget: 100000, maxTokenBudget: 500000, defaultTimeout: "15m" },
  approval: { approverGroups: ["agent-approvers"] },
  models: { allowed: [{ provider: "Anthropic", model: "claude-*" }, { provider: "OpenAI", model: "gpt-4o*" }] },
};

const ns = (labels: Record<string, unknown>): NamespaceContext => ({ name: "team", labels: labels as Record<string, string>, annotations: {} });

const cases: { name: string; profiles: unknown; namespace: NamespaceContext | null }[] = [
  { name: "no namespace in context", profiles: { p: { budgets: { maxTokenBudget: 1 } } }, namespace: null },
  { name: "namespace without the label", profiles: { p: { budgets: { maxTokenBudget: 1 } } }, namespace: ns({ team: "x" }) },
  { name: "label naming an unknown profile", profiles: { p: { budgets: { maxTokenBudget: 1 } } }, namespace: ns({ [PROFILE_LABEL]: "q" }) },
  { name: "empty profile", profiles: { p: {} }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "profile that is not an object", profiles: { p: ["budgets"] }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "profiles that are not an object", profiles: ["p"], namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "nested keys merge, siblings stay", profiles: { p: { budgets: { maxTokenBudget: 900000, defaultTokenBudget: 2000 } } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "lists are replaced, not appended", profiles: { p: { approval: { approverGroups: ["team-leads"] }, models: { allowed: [{ provider: "OpenAI", model: "o1*" }] } } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "a new section and enforcement", profiles: { p: { enforcement: "warn", network: { allowPermissive: true } } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "an object replaced by a scalar", profiles: { p: { budgets: 7 } }, namespace: ns({ [PROFILE_LABEL]: "p" }) },
  { name: "a label that is a prototype key", profiles: { p: { budgets: { maxTokenBudget: 1 } } }, namespace: ns({ [PROFILE_LABEL]: "constructor" }) },
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
  const config = { ...base, profiles: { p: { budgets: { defaultTokenBudget: 2000 }, approval: { approverGroups: ["team-leads"] } } } };
  const got = effectiveConfig(config, ns({ [PROFILE_LABEL]: "p" }));
  assert.deepEqual(got.budgets, { defaultTokenBudget: 2000, maxTokenBudget: 500000, defaultTimeout: "15m" });
  assert.deepEqual(got.approval, { approverGroups: ["team-leads"] });
  assert.deepEqual(config.budgets.defaultTokenBudget, 100000, "the base config is not changed");
});
