// run-creator: a PipelineRun's or CustomRun's signed creator is bound to its
// exact name, cannot be changed or copied, and its spec is its creator's.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { KeyResolver } from "../signing/detached.ts";
import { generateSigningKey } from "../signing/keys.ts";
import type { AdmissionRequest } from "../types/admission.ts";
import { STAMP } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import { checkCreatorCreate, checkCreatorUpdate, creatorStamps, verifyCreator } from "./creator.ts";
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
  assert.deepEqual(await checkCreatorCreate(fresh, "PipelineRun", "bob", resolve, NOW + 1000), []);
  const unstamped: KubeObject = { ...fresh, metadata: { ...fresh.metadata, annotations: {} } };
  assert.deepEqual(await checkCreatorCreate(unstamped, "PipelineRun", "bob", resolve, NOW), [], "no stamp: nothing to check (its CustomRun is refused later)");
  const claimed = await checkCreatorCreate(await pipelineRun("nightly-b4d9q", "alice"), "PipelineRun", "bob", resolve, NOW + 1000);
  assert.match(claimed.map((v) => v.message).join("\n"), /is "alice" but this PipelineRun is created by "bob"/);
  const stale = await checkCreatorCreate(await pipelineRun("nightly-b4d9q", "bob", NOW - 3_600_000), "PipelineRun", "bob", resolve, NOW);
  assert.match(stale.map((v) => v.message).join("\n"), /made for an earlier object \(copied\)/);
  const forged = withAnnotations(fresh, { [STAMP.creator]: "eyJhbGciOiJFZERTQSJ9..AAAA" });
  assert.match((await checkCreatorCreate(forged, "PipelineRun", "bob", resolve, NOW)).map((v) => v.message).join("\n"), /does not verify/);
});
