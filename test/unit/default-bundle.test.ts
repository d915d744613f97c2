// The committed default bundle is the build of policies/ as it is now.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { readBundle } from "../../src/policy/bundle.ts";
import { DEFAULT_BUNDLE_PATH, loadEngine } from "../../src/policy/load.ts";
import { sourceRevision } from "../../src/policy/source-revision.ts";

const POLICIES = fileURLToPath(new URL("../../policies", import.meta.url));

test("policies/bundle.tar.gz is not stale against policies/ (run npm run build:policy)", async () => {
  const bundle = await readBundle(DEFAULT_BUNDLE_PATH);
  assert.equal(bundle.revision, await sourceRevision(POLICIES), "the committed bundle was built from other sources: run `npm run build:policy` and commit policies/bundle.tar.gz");
});

test("the default bundle loads with its five entrypoints (admission's two, Gate 1's two and the run-time gateway's) and the shipped config", async () => {
  const engine = await loadEngine([]);
  const [loaded] = engine.bundles;
  assert.ok(loaded);
  assert.equal(loaded.bundle.name, "default");
  assert.deepEqual([...loaded.policy.entrypoints].sort(), ["agent/goals/allow", "agent/goals/deny", "agent/tools/deny", "agentgate/defaults", "agentgate/violations"]);
  assert.deepEqual((engine.policyConfig.budgets as Record<string, unknown>).maxTokenBudget, 500000);
});
