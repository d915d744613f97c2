// run-creator: a PipelineRun's or CustomRun's signed creator is bound to its
// exact name, cannot be changed or copied, and its spec is its creator's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalJson } from "../signing/canonical.ts";
import { signDetached, type KeyResolver } from "../signing/detached.ts";
import { generateSigningKey } from "../signing/keys.ts";
import type { AdmissionRequest } from "../types/admission.ts";
import { STAMP } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import { checkCreatorCreate, checkCreatorUpdate, CREATED_AFTER_SIGNING_MS, CREATED_BEFORE_SIGNING_MS, CREATOR_TYP, creatorStamps, verifyCreator } from "./creator.ts";
import { makeIdentity } from "./identity.ts";

const key = generateSigningKey();
const resolve: KeyResolver = (kid) => Promise.resolve(kid === key.kid ? key.publicKey : undefined);
const NOW = Date.parse("2026-12-07T10:00:00Z");
const CONTROLLER = "system:serviceaccount:agentgate-system:agentgate-controller";
const TEKTON = "system:serviceaccount:tekton-pipelines:tekton-pipelines-controller";
const identity = makeIdentity([CONTROLLER]);

async function pipelineRun(name: string, createdBy: string, at = NOW): Promise<KubeObject> {
  const object: KubeObject = { apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { name, generateName: "nightly-", namespace: "qe", creationTimestamp: new Date(NOW).toISOString() }, spec: { pipelineRef: { name: "p" }, params: [{ name: "goal", value: "fix the tests" }], status: "PipelineRunPending" } };
  return { ...object, metadata: { ...object.metadata, annotations: await creatorStamps(object, "PipelineRun", createdBy, key, at) } };
}
const update = (object: KubeObject, old: KubeObject, user: string): AdmissionRequest => ({
  uid: "u",
  kind: { group: "tekton.dev", version: "v1", kind: "PipelineRun" },
  resource: { group: "tekton.dev", version: "v1", resource: "pipelineruns" },
  namespace: "qe",
  operation: "UPDATE",
  userInfo: { username: user },
  object,
  oldObject: old,
});
const withAnnotations = (object: KubeObject, annotations: Record<string, string>): KubeObject => ({ ...object, metadata: { ...object.metadata, annotations: { ...object.metadata?.annotations, ...annotations } } });

test("a stamp verifies only on the object of the exact name it was made for, not on another with the same generateName", async () => {
  const alices = await pipelineRun("nightly-b4d9q", "alice");
  assert.deepEqual(await verifyCreator(alices, "PipelineRun", resolve), { ok: true, createdBy: "alice", signedAt: NOW });
  const bobs = withAnnotations({ ...alices, metadata: { ...alices.metadata, name: "nightly-x7k2p" } }, {});
  const got = await verifyCreator(bobs, "PipelineRun", resolve);
  assert.equal(got.ok, false);
  assert.match(got.ok ? "" : got.why, /PipelineRun qe\/nightly-x7k2p's creator stamp does not verify/);
});

test("bob copies alice's creator stamps onto his PipelineRun: refused, each annotation named", async () => {
  const alices = await pipelineRun("nightly-b4d9q", "alice");
  const bobs = await pipelineRun("nightly-x7k2p", "bob");
  const copied = withAnnotations(bobs, { [STAMP.createdBy]: "alice", [STAMP.creator]: alices.metadata?.annotations?.[STAMP.creator] ?? "" });
  const got = checkCreatorUpdate(update(copied, bobs, "bob"), identity);
  assert.deepEqual(got.map((v) => v.field), [`metadata.annotations["${STAMP.createdBy}"]`, `metadata.annotations["${STAMP.creator}"]`]);
  assert.match(got[0]?.message ?? "", /was "bob" and cannot be changed; agentgate stamps who created a PipelineRun when it is created/);
});

test("bob rewrites the goal of alice's pending PipelineRun: refused; bob may still cancel or start it", async () => {
  const alices = await pipelineRun("nightly-b4d9q", "alice");
  const rewritten: KubeObject = { ...alices, spec: { ...(alices.spec as object), params: [{ name: "goal", value: "delete prod" }] } };
  const got = checkCreatorUpdate(update(rewritten, alices, "bob"), identity);
  assert.equal(got.length, 1);
  assert.match(got[0]?.message ?? "", /"alice" created this PipelineRun, and only they change what it runs \("bob" may still cancel it with spec.status\)/);
  const started: KubeObject = { ...alices, spec: { ...(alices.spec as object), status: undefined } };
  assert.deepEqual(checkCreatorUpdate(update(started, alices, "bob"), identity), []);
  assert.deepEqual(checkCreatorUpdate(update(rewritten, alices, "alice"), identity), [], "the creator changes her own");
  assert.deepEqual(checkCreatorUpdate(update(rewritten, alices, TEKTON), identity), [], "Tekton keeps what it made");
});

test("on CREATE a stamp in the manifest must be the gateway's, for this request, naming the caller", async () => {
  const fresh = await pipelineRun("nightly-b4d9q", "bob");
  assert.deepEqual(await checkCreatorCreate(fresh, "PipelineRun", { createdBy: "bob" }, resolve, NOW + 1000), []);
  const unstamped: KubeObject = { ...fresh, metadata: { ...fresh.metadata, annotations: {} } };
  assert.deepEqual(await checkCreatorCreate(unstamped, "PipelineRun", { createdBy: "bob" }, resolve, NOW), [], "no stamp: nothing to check (its CustomRun is refused later)");
  const claimed = await checkCreatorCreate(await pipelineRun("nightly-b4d9q", "alice"), "PipelineRun", { createdBy: "bob" }, resolve, NOW + 1000);
  assert.match(claimed.map((v) => v.message).join("\n"), /is "alice" but this PipelineRun is created by "bob"/);
  const stale = await checkCreatorCreate(await pipelineRun("nightly-b4d9q", "bob", NOW - 3_600_000), "PipelineRun", { createdBy: "bob" }, resolve, NOW);
  assert.match(stale.map((v) => v.message).join("\n"), /made for an earlier object \(copied\)/);
  const forged = withAnnotations(fresh, { [STAMP.creator]: "eyJhbGciOiJFZERTQSJ9..AAAA" });
  assert.match((await checkCreatorCreate(forged, "PipelineRun", { createdBy: "bob" }, resolve, NOW)).map((v) => v.message).join("\n"), /does not verify/);
});

// A CustomRun's creator inherited from its PipelineRun is signed with that
// PipelineRun's uid, rebuilt from the owner the CustomRun has when it is
// verified: the creator string alone cannot tell Tekton's CustomRun from one
// an editor makes as the ServiceAccount that created the PipelineRun.
const EL = "system:serviceaccount:qe:el-trigger";
function customRun(name: string, prUid: string | undefined): KubeObject {
  return {
    apiVersion: "tekton.dev/v1beta1",
    kind: "CustomRun",
    metadata: { name, namespace: "qe", creationTimestamp: new Date(NOW).toISOString(), ...(prUid ? { ownerReferences: [{ apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: "nightly-b4d9q", uid: prUid, controller: true }] } : {}) },
    spec: { customRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" } },
  };
}
async function stampedCustomRun(object: KubeObject, createdBy: string, inheritedFrom?: string): Promise<KubeObject> {
  return withAnnotations(object, await creatorStamps(object, "CustomRun", createdBy, key, NOW, inheritedFrom));
}
const moved = (object: KubeObject, prUid: string): KubeObject => ({ ...object, metadata: { ...object.metadata, ownerReferences: [{ apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: "other", uid: prUid, controller: true }] } });

test("Tekton's CustomRun verifies as inherited from the PipelineRun that controls it; one its caller made, as the caller's own", async () => {
  const tektons = await stampedCustomRun(customRun("nightly-b4d9q-agent", "pr-uid-1"), EL, "pr-uid-1");
  assert.deepEqual(await verifyCreator(tektons, "CustomRun", resolve), { ok: true, createdBy: EL, signedAt: NOW, inheritedFrom: "pr-uid-1" });
  const impersonated = await stampedCustomRun(customRun("evil", "pr-uid-1"), EL);
  assert.deepEqual(await verifyCreator(impersonated, "CustomRun", resolve), { ok: true, createdBy: EL, signedAt: NOW }, "same creator string, but nothing inherited: it proves no step of the PipelineRun");
  const standalone = await stampedCustomRun(customRun("mine", undefined), "alice");
  assert.deepEqual(await verifyCreator(standalone, "CustomRun", resolve), { ok: true, createdBy: "alice", signedAt: NOW });
});

test("Tekton's CustomRun moved under another PipelineRun no longer verifies; moved back, it does", async () => {
  const tektons = await stampedCustomRun(customRun("nightly-b4d9q-agent", "pr-uid-1"), "alice", "pr-uid-1");
  const got = await verifyCreator(moved(tektons, "pr-uid-2"), "CustomRun", resolve);
  assert.equal(got.ok, false);
  assert.match(got.ok ? "" : got.why, /does not verify: .*verifies only under the PipelineRun it was made for, so it may have been moved under other/);
  const orphaned: KubeObject = { ...tektons, metadata: { ...tektons.metadata, ownerReferences: [] } };
  assert.equal((await verifyCreator(orphaned, "CustomRun", resolve)).ok, false, "nor with no controlling PipelineRun at all");
  assert.equal((await verifyCreator(moved(tektons, "pr-uid-1"), "CustomRun", resolve)).ok, true, "the uid binds, not the name");
});

test("a CustomRun's stamp made before inheritance was signed (v1) still names its creator, never an inheritance", async () => {
  // What the gateway signed before: the v1 payload, for Tekton's CustomRuns too.
  const object = customRun("nightly-b4d9q-agent", "pr-uid-1");
  const token = await signDetached(canonicalJson({ v: 1, kind: "CustomRun", namespace: "qe", name: "nightly-b4d9q-agent", createdBy: "alice" }), key, CREATOR_TYP, NOW);
  const old = withAnnotations(object, { [STAMP.createdBy]: "alice", [STAMP.creator]: token });
  assert.deepEqual(await verifyCreator(old, "CustomRun", resolve), { ok: true, createdBy: "alice", signedAt: NOW });
});

test("a PipelineRun's stamp is as before, whatever owners it has", async () => {
  const pr = await pipelineRun("nightly-b4d9q", EL);
  const owned: KubeObject = { ...pr, metadata: { ...pr.metadata, ownerReferences: [{ apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: "x", uid: "x", controller: true }] } };
  assert.deepEqual(await verifyCreator(owned, "PipelineRun", resolve), { ok: true, createdBy: EL, signedAt: NOW });
  await assert.rejects(creatorStamps(pr, "PipelineRun", EL, key, NOW, "x"), /only a CustomRun inherits its creator/);
  await assert.rejects(creatorStamps(customRun("c", "pr-uid-1"), "CustomRun", EL, key, NOW, "pr-uid-2"), /from the PipelineRun that controls it/);
});

test("on CREATE the stamp is inherited exactly when the gateway says: Tekton's copied onto an impersonated CustomRun of the same name is refused", async () => {
  const tektons = await stampedCustomRun(customRun("nightly-b4d9q-agent", "pr-uid-1"), EL, "pr-uid-1");
  assert.deepEqual(await checkCreatorCreate(tektons, "CustomRun", { createdBy: EL, inheritedFrom: "pr-uid-1" }, resolve, NOW), []);
  const copied = await checkCreatorCreate(tektons, "CustomRun", { createdBy: EL }, resolve, NOW);
  assert.match(copied.map((v) => v.message).join("\n"), /says the creator is inherited from PipelineRun uid pr-uid-1, but for this request it is its caller's own/);
  const own = await stampedCustomRun(customRun("nightly-b4d9q-agent", "pr-uid-1"), EL);
  assert.match((await checkCreatorCreate(own, "CustomRun", { createdBy: EL, inheritedFrom: "pr-uid-1" }, resolve, NOW)).map((v) => v.message).join("\n"), /is its caller's own, but for this request it is inherited from PipelineRun uid pr-uid-1/);
});

test("a stamp holds only on an object created within the admission chain's seconds after it was signed: Tekton's copied onto a CustomRun of the same name made again later is refused", async () => {
  const at = (object: KubeObject, ms: number): KubeObject => ({ ...object, metadata: { ...object.metadata, creationTimestamp: new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z") } });
  const tektons = await stampedCustomRun(customRun("nightly-b4d9q-agent", "pr-uid-1"), EL, "pr-uid-1");
  // The API server sets creationTimestamp after the mutating webhooks: normally within the second.
  for (const late of [0, 1000, 29_000, CREATED_AFTER_SIGNING_MS]) assert.equal((await verifyCreator(at(tektons, NOW + late), "CustomRun", resolve)).ok, true, `created ${String(late)} ms after signing`);
  // Before iat only by clock skew between the gateway and the API server (and whole seconds).
  for (const early of [1000, CREATED_BEFORE_SIGNING_MS]) assert.equal((await verifyCreator(at(tektons, NOW - early), "CustomRun", resolve)).ok, true, `created ${String(early)} ms before signing`);
  // Deleted while the webhooks were off and made again under the same name and PipelineRun, stamp copied, a minute on: within the old 5 minutes, refused now.
  for (const when of [NOW + CREATED_AFTER_SIGNING_MS + 1000, NOW + 60_000, NOW + 4 * 60_000, NOW - CREATED_BEFORE_SIGNING_MS - 1000]) {
    const replayed: KubeObject = { ...at(tektons, when), spec: { customRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" }, params: [{ name: "goal", value: "the editor's" }] } };
    const got = await verifyCreator(replayed, "CustomRun", resolve);
    assert.equal(got.ok, false, new Date(when).toISOString());
    assert.match(got.ok ? "" : got.why, /CustomRun qe\/nightly-b4d9q-agent's creator stamp was signed at 2026-12-07T10:00:00.000Z, not while it was created \(.*\): it was made for an earlier object \(copied\)/);
  }
  // The same for a caller's own stamp (v1) and a PipelineRun's: every creator stamp is signed during its object's CREATE.
  const own = await stampedCustomRun(customRun("mine", undefined), "alice");
  assert.equal((await verifyCreator(at(own, NOW + 60_000), "CustomRun", resolve)).ok, false);
  const pr = await pipelineRun("nightly-b4d9q", "alice");
  assert.equal((await verifyCreator(at(pr, NOW + 2000), "PipelineRun", resolve)).ok, true);
  assert.equal((await verifyCreator(at(pr, NOW + 60_000), "PipelineRun", resolve)).ok, false);
  // And the validating webhook refuses such a copy on CREATE (were it not off).
  assert.match((await checkCreatorCreate(at(tektons, NOW + 60_000), "CustomRun", { createdBy: EL, inheritedFrom: "pr-uid-1" }, resolve, NOW + 60_000)).map((v) => v.message).join("\n"), /made for an earlier object \(copied\)/);
});
