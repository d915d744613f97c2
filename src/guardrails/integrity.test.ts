import { test } from "node:test";
import assert from "node:assert/strict";
import type { AdmissionRequest } from "../types/admission.ts";
import { STAMP, type AgentRun, type Guardrails, type Snapshot } from "../types/agent.ts";
import type { KeyResolver } from "../signing/detached.ts";
import { generateSigningKey, type SigningKey } from "../signing/keys.ts";
import { signApproval } from "./approval-stamp.ts";
import { signDecision } from "./decision.ts";
import { makeIdentity } from "./identity.ts";
import { checkDecisionOnCreate, checkNoStamps, checkRunImmutable, checkStampsOnUpdate, checkStatusWriter } from "./integrity.ts";
import { serializeSnapshot } from "./snapshot.ts";
import { computeStamps } from "./stamps.ts";

function run(spec: AgentRun["spec"], annotations: Record<string, string> = {}, labels: Record<string, string> = {}): AgentRun {
  return { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "r", annotations, labels }, spec };
}

const spec = { configRef: { name: "c" }, goal: "g" };

test("run-immutable: cancelling is the one allowed edit", () => {
  assert.deepEqual(checkRunImmutable(run({ ...spec, status: "Cancelled" }), run(spec)), []);
});

test("run-immutable: a changed goal or budget is denied, field by field", () => {
  const v = checkRunImmutable(run({ ...spec, goal: "other", tokenBudget: 9 }), run(spec));
  assert.deepEqual(v.map((x) => x.field), ["spec.goal", "spec.tokenBudget"]);
  assert.ok(v.every((x) => x.policy === "run-immutable"));
});

// Found by fuzz/admission-review.fuzz.ts: a spec key named like an Object
// method was compared with the other spec's inherited method, and the
// message writer threw on it (the webhook then failed closed with a 500).
test("run-immutable: a spec key named constructor or toString is compared as data", () => {
  const added = JSON.parse('{"configRef": {"name": "c"}, "goal": "g", "constructor": 1, "toString": {"a": 1}}') as AgentRun["spec"];
  const v = checkRunImmutable(run(added), run(spec));
  assert.deepEqual(v.map((x) => x.field), ["spec.constructor", "spec.toString"]);
  assert.match(v[0]?.message ?? "", /^changed from \(unset\) to 1,/);
  assert.deepEqual(checkRunImmutable(run(added), run(added)), []);
});

test("run-immutable: a cancelled run cannot be resumed", () => {
  const v = checkRunImmutable(run({ ...spec, status: "" }), run({ ...spec, status: "Cancelled" }));
  assert.equal(v[0]?.field, "spec.status");
  assert.match(v[0].message, /from "Cancelled" to ""/);
});

const key = generateSigningKey();
const other = generateSigningKey();
const resolve: KeyResolver = (kid) => Promise.resolve(kid === key.kid ? key.publicKey : undefined);
const NOW = Date.parse("2026-12-07T10:00:00Z");
const guardrails: Guardrails = { tokenBudget: 1000, timeout: "5m", maxIterations: 3, networkPolicy: "strict", egress: [], rbac: [], approval: { required: true, approverGroups: ["leads"] }, tools: [] };
const snapshot: Snapshot = { config: { name: "c", spec: { systemPrompt: "p" } }, modelConfig: null, toolServers: {} };

/** A run as the mutating webhook leaves it: stamped, signed at `at` with `signer`. */
async function stamped(over: { name?: string; creator?: string; at?: number; signer?: SigningKey; spec?: AgentRun["spec"] } = {}): Promise<AgentRun> {
  const s = computeStamps(over.creator ?? "bob", "default@1", "c", guardrails, serializeSnapshot(snapshot));
  const r: AgentRun = {
    apiVersion: "agent.tekton.dev/v1alpha1",
    kind: "AgentRun",
    metadata: { name: over.name ?? "r", namespace: "qe", annotations: s.annotations, labels: s.labels },
    spec: over.spec ?? spec,
  };
  return { ...r, metadata: { ...r.metadata, annotations: { ...s.annotations, [STAMP.decision]: await signDecision(r, over.signer ?? key, over.at ?? NOW) } } };
}
const withAnnotation = (r: AgentRun, k: string, v: string | undefined): AgentRun => {
  const annotations = Object.fromEntries(Object.entries(r.metadata?.annotations ?? {}).filter(([name]) => name !== k));
  return { ...r, metadata: { ...r.metadata, annotations: v === undefined ? annotations : { ...annotations, [k]: v } } };
};
const fields = (v: { field: string }[]) => v.map((x) => x.field);

const createCases: { name: string; run: () => Promise<AgentRun>; creator?: string; denied: RegExp | null }[] = [
  { name: "the decision the mutating webhook signed", run: () => stamped(), denied: null },
  { name: "a run the mutating webhook never saw", run: () => Promise.resolve(run(spec)), denied: /the agentgate mutating webhook did not run on it/ },
  { name: "stamps written by hand, no signature", run: async () => withAnnotation(await stamped(), STAMP.decision, undefined), denied: /carries guardrails but no agent\.tekton\.dev\/decision signature, so agentgate did not write them/ },
  { name: "guardrails edited after signing", run: async () => withAnnotation(await stamped(), STAMP.guardrails, JSON.stringify({ ...guardrails, tokenBudget: 9e9 })), denied: /does not match what it signs/ },
  { name: "the snapshot edited after signing", run: async () => withAnnotation(await stamped(), STAMP.snapshot, serializeSnapshot({ ...snapshot, config: { name: "c", spec: { systemPrompt: "evil" } } })), denied: /does not match what it signs/ },
  { name: "the creator edited after signing", run: async () => withAnnotation(await stamped(), STAMP.createdBy, "carol"), creator: "carol", denied: /does not match what it signs/ },
  { name: "the spec changed after signing", run: async () => ({ ...(await stamped()), spec: { ...spec, goal: "other" } }), denied: /does not match what it signs/ },
  { name: "a decision copied onto a run of another name", run: async () => ({ ...(await stamped()), metadata: { ...(await stamped()).metadata, name: "other" } }), denied: /does not match what it signs/ },
  { name: "a decision signed by a key agentgate never published", run: () => stamped({ signer: other }), denied: /is not one of agentgate's published keys/ },
  { name: "a decision signed for an earlier request", run: () => stamped({ at: NOW - 3_600_000 }), denied: /was signed at .*, not for this request: it was copied/ },
  { name: "a creator that is not who creates the run", run: () => stamped({ creator: "alice" }), creator: "bob", denied: /is "alice" but this run is created by "bob"/ },
  { name: "a config label that is not the run's config", run: async () => ({ ...(await stamped()), metadata: { ...(await stamped()).metadata, labels: { [STAMP.configLabel]: "other" } } }), denied: /is "other" but the run's AgentConfig is "c"/ },
  {
    // The gateway names generateName runs before signing; a decision for one "r-…" run is no decision for another.
    name: "a decision copied onto another run that shares its generateName prefix",
    run: async () => {
      const r = await stamped({ name: "r-x7k2p" });
      return { ...r, metadata: { ...r.metadata, generateName: "r-", name: "r-b4d9q" } };
    },
    denied: /does not match what it signs/,
  },
];
for (const c of createCases) {
  test(`stamp-integrity on CREATE: ${c.name}`, async () => {
    const v = await checkDecisionOnCreate(await c.run(), c.creator ?? "bob", resolve, NOW + 2000);
    if (c.denied === null) assert.deepEqual(v, []);
    else {
      assert.ok(v.length > 0, "denied");
      assert.ok(v.every((x) => x.policy === "stamp-integrity" && x.action === "deny"));
      assert.match(v.map((x) => x.message).join("\n"), c.denied);
    }
  });
}

test("stamp-integrity on UPDATE: every stamp is frozen, changed or removed", async () => {
  const old = await stamped();
  for (const k of [STAMP.createdBy, STAMP.policyRevision, STAMP.guardrails, STAMP.snapshot, STAMP.decision]) {
    const changed = await checkStampsOnUpdate(withAnnotation(old, k, "other"), old, resolve, NOW);
    assert.deepEqual(fields(changed), [`metadata.annotations["${k}"]`], `${k} changed`);
    assert.match(changed[0]?.message ?? "", /and cannot be changed; agentgate stamped it when the run was admitted/);
    assert.deepEqual(fields(await checkStampsOnUpdate(withAnnotation(old, k, undefined), old, resolve, NOW)), [`metadata.annotations["${k}"]`], `${k} removed`);
  }
  const relabelled = { ...old, metadata: { ...old.metadata, labels: { [STAMP.configLabel]: "x" } } };
  assert.deepEqual(fields(await checkStampsOnUpdate(relabelled, old, resolve, NOW)), [`metadata.labels["${STAMP.configLabel}"]`]);
  assert.deepEqual(await checkStampsOnUpdate(withAnnotation(old, "unrelated", "x"), old, resolve, NOW), [], "other metadata may change");
});

test("stamp-integrity on UPDATE: an approval comes with agentgate's signature of it, made for this run", async () => {
  const old = { ...(await stamped()), metadata: { ...(await stamped()).metadata, uid: "uid-1" } };
  const approved = withAnnotation(old, STAMP.approvedBy, "carol");
  const signed = withAnnotation(approved, STAMP.approval, await signApproval(approved, key, NOW));
  assert.deepEqual(await checkStampsOnUpdate(signed, old, resolve, NOW + 1000), []);
  assert.match((await checkStampsOnUpdate(withAnnotation(approved, STAMP.approval, "x..y"), old, resolve, NOW))[0]?.message ?? "", /does not verify/);
  const forOther = { ...approved, metadata: { ...approved.metadata, uid: "uid-2" } };
  const copied = withAnnotation(approved, STAMP.approval, await signApproval(forOther, key, NOW));
  assert.match((await checkStampsOnUpdate(copied, old, resolve, NOW))[0]?.message ?? "", /does not match what it signs/);
  assert.match((await checkStampsOnUpdate(withAnnotation(approved, STAMP.approval, await signApproval(approved, key, NOW - 3_600_000)), old, resolve, NOW))[0]?.message ?? "", /signed for an earlier request/);
  // without approved-by the approval signature is just another stamp, frozen
  assert.match((await checkStampsOnUpdate(withAnnotation(old, STAMP.approval, await signApproval(old, key, NOW)), old, resolve, NOW))[0]?.message ?? "", /cannot be changed/);
});

test("stamp-integrity on CREATE: with no AgentConfig, every stamp present is refused and nothing else", () => {
  const r = run(spec, { [STAMP.createdBy]: "bob", [STAMP.decision]: "x..y", unrelated: "x" }, { [STAMP.configLabel]: "c" });
  r.metadata = { ...r.metadata, namespace: "qe" };
  const v = checkNoStamps(r);
  assert.deepEqual(v.map((x) => x.field), [`metadata.annotations["${STAMP.createdBy}"]`, `metadata.annotations["${STAMP.decision}"]`, `metadata.labels["${STAMP.configLabel}"]`]);
  assert.match(v[0]?.message ?? "", /^found "bob"; agentgate stamps nothing on this run because its AgentConfig "qe\/c" does not exist/);
  assert.deepEqual(checkNoStamps(run(spec)), []);
});

test("run-immutable: the message says what changed, from what to what", () => {
  const v = checkRunImmutable(run({ ...spec, goal: "x".repeat(500), maxIterations: 9 }), run({ ...spec, maxIterations: 3 }));
  const goal = v.find((x) => x.field === "spec.goal");
  assert.match(goal?.message ?? "", /^changed from "g" to "x{70,}…, but an admitted AgentRun cannot be changed; the only allowed edit is spec\.status: Cancelled/);
  assert.ok((goal?.message.length ?? 0) < 300, "a long goal is cut short");
  assert.match(v.find((x) => x.field === "spec.maxIterations")?.message ?? "", /^changed from 3 to 9, /);
});

test("run-status: only agentgate's identities write a run's status", () => {
  const identity = makeIdentity(["system:serviceaccount:agentgate-system:agentgate-controller"]);
  const req = (username: string): AdmissionRequest => ({ uid: "u", kind: { group: "agent.tekton.dev", version: "v1alpha1", kind: "AgentRun" }, resource: { group: "agent.tekton.dev", version: "v1alpha1", resource: "agentruns" }, subResource: "status", operation: "UPDATE", userInfo: { username } });
  assert.deepEqual(checkStatusWriter(req("system:serviceaccount:agentgate-system:agentgate-controller"), identity), []);
  const [v] = checkStatusWriter(req("alice"), identity);
  assert.equal(v?.policy, "run-status");
  assert.match(v?.message ?? "", /only agentgate's controller writes an AgentRun's status .* "alice" cannot; to stop the run set spec\.status: Cancelled/);
});

test("run-owner: a user's run cannot claim a CustomRun, nor owners be changed after admission; garbage collection may drop one", async () => {
  const { checkRunOwners } = await import("./integrity.ts");
  const identity = makeIdentity(["system:serviceaccount:agentgate-system:agentgate-controller"]);
  const owner = { apiVersion: "tekton.dev/v1beta1", kind: "CustomRun", name: "p-agent", uid: "cr-uid", controller: true };
  const withOwners = (owners: (typeof owner)[]): AgentRun => ({ ...run(spec), metadata: { name: "r", namespace: "qe", ownerReferences: owners } });
  const request = (operation: "CREATE" | "UPDATE", user: string, object: AgentRun, old: AgentRun | null = null): AdmissionRequest => ({
    uid: "u",
    kind: { group: "agent.tekton.dev", version: "v1alpha1", kind: "AgentRun" },
    resource: { group: "agent.tekton.dev", version: "v1alpha1", resource: "agentruns" },
    namespace: "qe",
    operation,
    userInfo: { username: user },
    object,
    oldObject: old,
  });
  assert.match(checkRunOwners(request("CREATE", "bob", withOwners([owner])), identity)[0]?.message ?? "", /names CustomRun "p-agent", but only agentgate's controller creates the AgentRun of a CustomRun/);
  assert.deepEqual(checkRunOwners(request("CREATE", "system:serviceaccount:agentgate-system:agentgate-controller", withOwners([owner])), identity), []);
  assert.deepEqual(checkRunOwners(request("CREATE", "bob", withOwners([])), identity), []);
  assert.match(checkRunOwners(request("UPDATE", "bob", withOwners([owner]), withOwners([])), identity)[0]?.message ?? "", /cannot be changed on an admitted AgentRun/);
  assert.deepEqual(checkRunOwners(request("UPDATE", "system:serviceaccount:kube-system:generic-garbage-collector", withOwners([]), withOwners([owner])), identity), []);
  assert.equal(checkRunOwners(request("UPDATE", "system:serviceaccount:kube-system:generic-garbage-collector", withOwners([owner]), withOwners([])), identity).length, 1, "garbage collection only drops owners");
  assert.deepEqual(checkRunOwners(request("UPDATE", "bob", withOwners([owner]), withOwners([owner])), identity), []);
});
