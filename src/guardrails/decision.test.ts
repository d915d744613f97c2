import { test } from "node:test";
import assert from "node:assert/strict";
import { staticKeyring } from "../signing/keyring.ts";
import { generateSigningKey } from "../signing/keys.ts";
import { STAMP, type AgentRun, type Guardrails } from "../types/agent.ts";
import { parsePolicyDigests, signDecision, verifyDecision } from "./decision.ts";
import { computeStamps } from "./stamps.ts";

const key = generateSigningKey();
const keyring = staticKeyring(key);
const guardrails: Guardrails = { tokenBudget: 1000, timeout: "15m", maxIterations: 5, networkPolicy: "strict", egress: [], rbac: [], approval: { required: false, approverGroups: [] }, tools: [] };
const snapshot = JSON.stringify({ config: { name: "writer", spec: {} }, modelConfig: null, toolServers: {} });
const D = `sha256:${"a".repeat(64)}`;

async function stamped(digests?: Record<string, string>): Promise<AgentRun> {
  const stamps = computeStamps("alice", "default@r1,team@t1", "writer", guardrails, snapshot, digests);
  const run: AgentRun = { metadata: { name: "r1", namespace: "qe", annotations: stamps.annotations, labels: stamps.labels }, spec: { configRef: { name: "writer" }, goal: "g" } };
  (run.metadata?.annotations ?? {})[STAMP.decision] = await signDecision(run, key);
  return run;
}

test("every bundle's digest is signed with the decision and read back from it", async () => {
  const check = await verifyDecision(await stamped({ default: D, team: D }), keyring.resolve);
  assert.ok(check.ok);
  assert.deepEqual(check.decision.policyDigests, { default: D, team: D });
});

test("a digest changed after signing fails the decision", async () => {
  const run = await stamped({ default: D });
  (run.metadata?.annotations ?? {})[STAMP.policyDigests] = JSON.stringify({ default: `sha256:${"b".repeat(64)}` });
  const check = await verifyDecision(run, keyring.resolve);
  assert.equal(check.ok, false);
});

test("a decision signed before digests were stamped still verifies, with none", async () => {
  const check = await verifyDecision(await stamped(), keyring.resolve);
  assert.ok(check.ok);
  assert.deepEqual(check.decision.policyDigests, {});
  // and a digests stamp added to it afterwards is not taken
  const run = await stamped();
  (run.metadata?.annotations ?? {})[STAMP.policyDigests] = JSON.stringify({ default: D });
  assert.equal((await verifyDecision(run, keyring.resolve)).ok, false);
});

test("only well-formed digests are read", () => {
  assert.deepEqual(parsePolicyDigests(JSON.stringify({ a: D, b: "md5:x", c: 3 })), { a: D });
  assert.deepEqual(parsePolicyDigests("not json"), {});
  assert.deepEqual(parsePolicyDigests(undefined), {});
});
