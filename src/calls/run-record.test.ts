import assert from "node:assert/strict";
import test from "node:test";
import { signDecision } from "../guardrails/decision.ts";
import { serializeGuardrails } from "../guardrails/stamps.ts";
import { serializeSnapshot } from "../guardrails/snapshot.ts";
import { generateSigningKey } from "../signing/keys.ts";
import { staticKeyring } from "../signing/keyring.ts";
import { STAMP, type AgentRun, type Guardrails } from "../types/agent.ts";
import { RunRecords, whyNotActing } from "./run-record.ts";

const guardrails: Guardrails = { tokenBudget: 1000, timeout: "10m", maxIterations: 5, networkPolicy: "strict", egress: [], rbac: [], approval: { required: false, approverGroups: [] }, tools: [{ server: "tools/fs", kind: "RemoteMCPServer", allowedTools: ["read_file"], requireApproval: [] }] };

async function stampedRun(phase: NonNullable<AgentRun["status"]>["phase"]): Promise<{ run: AgentRun; keyring: ReturnType<typeof staticKeyring> }> {
  const key = generateSigningKey();
  const run: AgentRun = {
    apiVersion: "agent.tekton.dev/v1alpha1",
    kind: "AgentRun",
    metadata: {
      name: "r1",
      namespace: "ci",
      uid: "u1",
      creationTimestamp: new Date().toISOString(),
      annotations: { [STAMP.createdBy]: "alice", [STAMP.policyRevision]: "default@1", [STAMP.guardrails]: serializeGuardrails(guardrails), [STAMP.snapshot]: serializeSnapshot({ config: { name: "c", spec: {} }, modelConfig: null, toolServers: {} }) },
    },
    spec: { configRef: { name: "c" }, goal: "g" },
    status: { phase },
  };
  const annotations = run.metadata?.annotations ?? {};
  annotations[STAMP.decision] = await signDecision(run, key);
  return { run, keyring: staticKeyring(key) };
}

test("an Acting run with a verified decision: its stamped guardrails", async () => {
  const { run, keyring } = await stampedRun("Acting");
  const records = new RunRecords(() => Promise.resolve(run), keyring.resolve);
  const acting = await records.acting({ namespace: "ci", name: "r1" });
  assert.deepEqual(acting.guardrails, guardrails);
  assert.equal(acting.uid, "u1");
});

test("stamps edited after signing are not believed: a wider allowlist written by hand is refused", async () => {
  const { run, keyring } = await stampedRun("Acting");
  const annotations = run.metadata?.annotations ?? {};
  annotations[STAMP.guardrails] = serializeGuardrails({ ...guardrails, tokenBudget: 10_000_000 });
  await assert.rejects(new RunRecords(() => Promise.resolve(run), keyring.resolve).acting({ namespace: "ci", name: "r1" }), { name: "CallRefused", status: 403, message: /no decision agentgate can verify/ });
});

test("a run that is not Acting, cancelled, gone, or unreadable takes no calls", async () => {
  assert.match(whyNotActing({ status: { phase: "WaitingForApproval" } }) ?? "", /WaitingForApproval/);
  assert.match(whyNotActing({ spec: { status: "Cancelled" }, status: { phase: "Acting" } }) ?? "", /cancelled/);
  assert.match(whyNotActing({ metadata: { deletionTimestamp: "2026-01-01T00:00:00Z" }, status: { phase: "Acting" } }) ?? "", /deleted/);
  assert.equal(whyNotActing({ status: { phase: "Acting" } }), undefined);
  const { run, keyring } = await stampedRun("Succeeded");
  const caller = { namespace: "ci", name: "r1" };
  await assert.rejects(new RunRecords(() => Promise.resolve(run), keyring.resolve).acting(caller), { name: "CallRefused", status: 409 });
  await assert.rejects(new RunRecords(() => Promise.resolve(null), keyring.resolve).acting(caller), { name: "CallRefused", status: 403 });
  await assert.rejects(new RunRecords(() => Promise.reject(new Error("etcd")), keyring.resolve).acting(caller), { name: "CallRefused", status: 503 });
});

test("an answer is kept for the TTL, then the run is read again", async () => {
  const { run, keyring } = await stampedRun("Acting");
  let reads = 0;
  let now = 0;
  const records = new RunRecords(() => { reads++; return Promise.resolve(run); }, keyring.resolve, { ttlMs: 1000, now: () => now });
  await records.acting({ namespace: "ci", name: "r1" });
  await records.acting({ namespace: "ci", name: "r1" });
  assert.equal(reads, 1);
  now = 1500;
  await records.acting({ namespace: "ci", name: "r1" });
  assert.equal(reads, 2);
});

test("a failed read is not remembered: the next call reads again", async () => {
  const { run, keyring } = await stampedRun("Acting");
  let fail = true;
  const records = new RunRecords(() => (fail ? Promise.reject(new Error("etcd")) : Promise.resolve(run)), keyring.resolve, { now: () => 0 });
  await assert.rejects(records.acting({ namespace: "ci", name: "r1" }), { status: 503 });
  fail = false;
  assert.equal((await records.acting({ namespace: "ci", name: "r1" })).uid, "u1");
});
