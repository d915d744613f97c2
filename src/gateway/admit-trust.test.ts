// admit() on the trust chain: who writes a run's status, who stands behind a
// run made from a CustomRun, which workloads may use a run's
// ServiceAccount, who may create agentgate's objects or NetworkPolicies
// over agent pods, a run judged by today's policy, and approvers who could
// act as the creator. With the default bundle and objects as a cluster holds them.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { applyPatch } from "rfc6902";
import type { AccessReviewer } from "../context/access-review.ts";
import { StaticLookup } from "../context/static-lookup.ts";
import { verifyDecision } from "../guardrails/decision.ts";
import { makeIdentity } from "../guardrails/identity.ts";
import { readBundles } from "../policy/load.ts";
import { PolicyEngine } from "../policy/engine.ts";
import { ephemeralKeyring, guardedKeyring } from "../signing/keyring.ts";
import type { AdmissionRequest, UserInfo } from "../types/admission.ts";
import { STAMP, type AgentRun } from "../types/agent.ts";
import type { CustomRun, PipelineRun } from "../types/tekton.ts";
import { pipelineMembership } from "../controller/shared-agent.ts";
import { verifyCreator } from "../guardrails/creator.ts";
import type { KubeObject } from "../types/kube.ts";
import { requestFromManifest } from "../wire/from-manifest.ts";
import { admit, type GatewayDeps } from "./admit.ts";
import { exemptNamespaces } from "./exemptions.ts";
import { admitLikeApiServer } from "./review.ts";

const CONTROLLER = "system:serviceaccount:agentgate-system:agentgate-controller";
const TEKTON = "system:serviceaccount:tekton-pipelines:tekton-pipelines-controller";
const keyring = ephemeralKeyring();
const alice: UserInfo = { username: "alice", groups: ["developers", "system:authenticated"] };
const bob: UserInfo = { username: "bob", groups: ["agent-approvers", "system:authenticated"] };

const ns: KubeObject = { apiVersion: "v1", kind: "Namespace", metadata: { name: "qe", labels: {} } };
const model: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: "qe" }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet" } };
const tools: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", allowedNamespaces: { from: "All" } } };
const config = (spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentConfig",
  metadata: { name: "writer", namespace: "qe" },
  spec: { modelConfigRef: { name: "claude" }, toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }], tokenBudget: 1000, timeout: "10m", maxIterations: 3, networkPolicy: "strict", approval: { required: true }, ...spec },
});
const run = (meta: Record<string, unknown> = {}): AgentRun => ({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "r1", namespace: "qe", ...meta }, spec: { configRef: { name: "writer" }, goal: "Write tests" } });

let engine: PolicyEngine;
before(async () => {
  engine = await PolicyEngine.load(await readBundles([]));
});

function deps(objects: KubeObject[], access?: AccessReviewer): GatewayDeps {
  return { engine: () => engine, lookup: new StaticLookup(objects), identity: makeIdentity([CONTROLLER]), exemptNamespaces: exemptNamespaces("agentgate-system"), keyring, ...(access ? { access } : {}) };
}
const create = (object: KubeObject, user: UserInfo = alice): AdmissionRequest => requestFromManifest(object, { operation: "CREATE", user });
const update = (object: KubeObject, old: KubeObject, user: UserInfo = alice): AdmissionRequest => requestFromManifest(object, { operation: "UPDATE", user, oldObject: old });
const policies = (violations: { policy: string; action: string }[]) => [...new Set(violations.filter((v) => v.action === "deny").map((v) => v.policy))].sort();

describe("run-status: a run's status is the controller's alone", () => {
  const statusUpdate = (user: UserInfo): AdmissionRequest => ({ ...update({ ...run(), status: { phase: "Acting" } }, run(), user), subResource: "status" });
  test("a namespace editor patching status.phase: Acting is refused", async () => {
    const d = await admit(statusUpdate(alice), deps([]), "validate");
    assert.deepEqual(policies(d.violations), ["run-status"]);
  });
  test("the controller writes it", async () => {
    assert.equal((await admit(statusUpdate({ username: CONTROLLER }), deps([]), "validate")).allowed, true);
  });
  test("mutation never touches a status write", async () => {
    assert.deepEqual((await admit(statusUpdate(alice), deps([]), "mutate")).patch, []);
  });
});

describe("a run's creator through Tekton", () => {
  const pipelineRun: KubeObject = { apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { generateName: "qe-", namespace: "qe" }, spec: { pipelineRef: { name: "p" } } };

  async function storedPipelineRun(user: UserInfo): Promise<KubeObject> {
    const mutation = await admit(create(pipelineRun, user), deps([]), "mutate");
    const object = structuredClone(pipelineRun);
    applyPatch(object, mutation.patch);
    assert.match(object.metadata?.name ?? "", /^qe-[a-z0-9]{5}$/, "the gateway names it, so its stamp binds the exact name");
    object.metadata = { ...object.metadata, uid: "pr-uid", creationTimestamp: new Date().toISOString() };
    return object;
  }
  const customRun = (pr: KubeObject): KubeObject => ({
    apiVersion: "tekton.dev/v1beta1",
    kind: "CustomRun",
    metadata: { name: "qe-abc12-agent", namespace: "qe", annotations: { ...pr.metadata?.annotations }, ownerReferences: [{ apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: pr.metadata?.name ?? "", uid: pr.metadata?.uid ?? "", controller: true }] },
    spec: { customRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" } },
  });
  async function storedCustomRun(pr: KubeObject, user: UserInfo): Promise<{ object: KubeObject; allowed: boolean; message: string; final: boolean[] }> {
    const cr = customRun(pr);
    const mutation = await admit(create(cr, user), deps([pr]), "mutate");
    applyPatch(cr, mutation.patch);
    cr.metadata = { ...cr.metadata, uid: "cr-uid", creationTimestamp: new Date().toISOString() };
    return { object: cr, allowed: mutation.allowed, message: mutation.violations.map((v) => v.message).join("; "), final: mutation.violations.map((v) => v.final === true) };
  }
  const runFor = (_cr: KubeObject): AgentRun => run({ name: "qe-abc12-agent", ownerReferences: [{ apiVersion: "tekton.dev/v1beta1", kind: "CustomRun", name: "qe-abc12-agent", uid: "cr-uid", controller: true }] });

  test("a PipelineRun gets its creator stamped and signed, under the name the gateway gives it", async () => {
    const pr = await storedPipelineRun(alice);
    assert.equal(pr.metadata?.annotations?.[STAMP.createdBy], "alice");
    assert.match(pr.metadata?.annotations?.[STAMP.creator] ?? "", /^[\w-]+\.\.[\w-]+$/);
  });

  test("the run Tekton's CustomRun becomes is created by the PipelineRun's author, not by the controller", async () => {
    const pr = await storedPipelineRun(alice);
    const cr = await storedCustomRun(pr, { username: TEKTON });
    assert.equal(cr.allowed, true, cr.message);
    assert.equal(cr.object.metadata?.annotations?.[STAMP.createdBy], "alice");
    const { result, object } = await admitLikeApiServer(create(runFor(cr.object), { username: CONTROLLER }), deps([ns, model, tools, config(), pr, cr.object]));
    assert.equal(result.allowed, true, JSON.stringify(result.violations));
    assert.equal(object?.metadata?.annotations?.[STAMP.createdBy], "alice");
  });

  test("a CustomRun a user creates directly is theirs, whatever PipelineRun it claims", async () => {
    const pr = await storedPipelineRun(alice);
    const cr = await storedCustomRun(pr, { username: "mallory" });
    assert.equal(cr.object.metadata?.annotations?.[STAMP.createdBy], "mallory");
  });

  test("a PipelineRun whose stamp was forged or is missing: its CustomRun is refused", async () => {
    const pr = await storedPipelineRun(alice);
    const forged = { ...pr, metadata: { ...pr.metadata, annotations: { ...pr.metadata?.annotations, [STAMP.createdBy]: "carol" } } };
    const refused = await storedCustomRun(forged, { username: TEKTON });
    assert.equal(refused.allowed, false);
    assert.match(refused.message, /creator stamp does not verify/);
    // A signature that does not verify may be a key this replica has not read yet: Tekton may retry (403).
    assert.deepEqual(refused.final, [false]);
    const bare = { ...pr, metadata: { ...pr.metadata, annotations: {} } };
    const unstamped = await storedCustomRun(bare, { username: TEKTON });
    assert.match(unstamped.message, /carries no agentgate creator stamp/);
    // No stamp is ever added to a stored PipelineRun, so Tekton is told at once (400) rather than retrying until it times out.
    assert.deepEqual(unstamped.final, [true]);
  });

  test("a run the controller creates for a CustomRun with a forged creator is refused", async () => {
    const pr = await storedPipelineRun(alice);
    const cr = await storedCustomRun(pr, { username: TEKTON });
    const forged = { ...cr.object, metadata: { ...cr.object.metadata, annotations: { ...cr.object.metadata?.annotations, [STAMP.createdBy]: "carol" } } };
    const { result } = await admitLikeApiServer(create(runFor(forged), { username: CONTROLLER }), deps([ns, model, tools, config(), pr, forged]));
    assert.equal(result.allowed, false);
    assert.deepEqual(policies(result.violations), ["run-creator"]);
  });

  // A PipelineRun a ServiceAccount of the namespace created (a Triggers
  // EventListener): an editor who may impersonate it gets the same creator
  // string on a CustomRun of their own; only Tekton's inherits, and says from which PipelineRun.
  const EL_NAME = "system:serviceaccount:qe:el-trigger";
  const EL: UserInfo = { username: EL_NAME, groups: ["system:serviceaccounts", "system:serviceaccounts:qe", "system:authenticated"] };
  const membershipOf = async (pr: KubeObject, cr: KubeObject, createdBy: string) =>
    pipelineMembership({ run: runFor(cr), createdBy, customRun: cr as CustomRun, customRunCreator: await verifyCreator(cr, "CustomRun", keyring.resolve), pipelineRun: pr as PipelineRun, pipelineRunCreator: await verifyCreator(pr, "PipelineRun", keyring.resolve) });

  test("Tekton's CustomRun of a ServiceAccount's PipelineRun inherits its creator from that PipelineRun's uid, and is a step of it", async () => {
    const pr = await storedPipelineRun(EL);
    const cr = await storedCustomRun(pr, { username: TEKTON });
    assert.equal(cr.allowed, true, cr.message);
    const check = await verifyCreator(cr.object, "CustomRun", keyring.resolve);
    assert.deepEqual(check.ok && { createdBy: check.createdBy, inheritedFrom: check.inheritedFrom }, { createdBy: EL_NAME, inheritedFrom: "pr-uid" });
    assert.equal((await admit(create(cr.object, { username: TEKTON }), deps([pr]), "validate")).allowed, true);
    assert.deepEqual(await membershipOf(pr, cr.object, EL_NAME), { member: true, pipelineRun: { name: pr.metadata?.name ?? "", uid: "pr-uid" } });
  });

  test("a CustomRun an editor creates as that ServiceAccount (kubectl --as) under the colleague's PipelineRun: the same creator, but not a step", async () => {
    const pr = await storedPipelineRun(EL);
    const evil = await storedCustomRun(pr, EL);
    assert.equal(evil.object.metadata?.annotations?.[STAMP.createdBy], EL_NAME);
    const check = await verifyCreator(evil.object, "CustomRun", keyring.resolve);
    assert.equal(check.ok && check.inheritedFrom, undefined, "its creator is its caller's own, not inherited");
    const got = await membershipOf(pr, evil.object, EL_NAME);
    assert.match(got.member ? "" : got.why, /is not one Tekton made for PipelineRun qe-[a-z0-9]{5} \(uid pr-uid\)/);
  });

  test("Tekton's stamp copied onto a CustomRun of the same name made again as that ServiceAccount is refused", async () => {
    const pr = await storedPipelineRun(EL);
    const tektons = await storedCustomRun(pr, { username: TEKTON });
    const copy: KubeObject = { ...tektons.object, metadata: { ...tektons.object.metadata, uid: "cr-uid-2" } };
    const d = await admit(create(copy, EL), deps([pr]), "validate");
    assert.deepEqual(policies(d.violations), ["run-creator"]);
    assert.match(d.violations.map((v) => v.message).join("\n"), /says the creator is inherited from PipelineRun uid pr-uid, but for this request it is its caller's own/);
  });

  test("Tekton's CustomRun moved under the creator's other PipelineRun: its stamp no longer verifies, so it is no step of either, and no run is made from it", async () => {
    const pr = await storedPipelineRun(EL);
    const second = await storedPipelineRun(EL);
    const other: KubeObject = { ...second, metadata: { ...second.metadata, uid: "pr-uid-2" } };
    const cr = await storedCustomRun(pr, { username: TEKTON });
    const moved: KubeObject = { ...cr.object, metadata: { ...cr.object.metadata, ownerReferences: [{ apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: other.metadata?.name ?? "", uid: "pr-uid-2", controller: true }] } };
    const got = await membershipOf(other, moved, EL_NAME);
    assert.match(got.member ? "" : got.why, /creator stamp does not verify: .*may have been moved under/);
    const { result } = await admitLikeApiServer(create(runFor(moved), { username: CONTROLLER }), deps([ns, model, tools, config(), other, moved]));
    assert.equal(result.allowed, false);
    assert.deepEqual(policies(result.violations), ["run-creator"]);
  });
});

describe("run-identity through admit(): only kagent's chain runs as a run's ServiceAccount", () => {
  const account: KubeObject = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "agentgate-run-r1", namespace: "qe", labels: { "app.kubernetes.io/managed-by": "agentgate", "agent.tekton.dev/run": "r1" } } };
  const pod: KubeObject = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "qe" }, spec: { serviceAccountName: "agentgate-run-r1", containers: [{ name: "c", image: "x" }] } };
  test("an editor's pod as the run's account is refused; one with another account passes", async () => {
    assert.deepEqual(policies((await admit(create(pod), deps([account]), "validate")).violations), ["run-identity"]);
    assert.equal((await admit(create({ ...pod, spec: { serviceAccountName: "web" } }), deps([account]), "validate")).allowed, true);
  });
  test("a token request for it is refused", async () => {
    const token: AdmissionRequest = { uid: "u", kind: { group: "authentication.k8s.io", version: "v1", kind: "TokenRequest" }, resource: { group: "", version: "v1", resource: "serviceaccounts" }, subResource: "token", name: "agentgate-run-r1", namespace: "qe", operation: "CREATE", userInfo: alice, object: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} } };
    assert.deepEqual(policies((await admit(token, deps([account]), "validate")).violations), ["run-identity"]);
  });
});

describe("managed-object and agent-isolation through admit()", () => {
  test("an editor cannot create an object claiming to be agentgate's", async () => {
    const sa: KubeObject = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "agentgate-run-r1", namespace: "qe", labels: { "app.kubernetes.io/managed-by": "agentgate" } } };
    assert.deepEqual(policies((await admit(create(sa), deps([]), "validate")).violations), ["managed-object"]);
  });
  test("an editor's kagent Agent labelled as agentgate's is refused before any policy", async () => {
    const agent: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { name: "r1-agent", namespace: "qe", labels: { "app.kubernetes.io/managed-by": "agentgate" } }, spec: { type: "Declarative", declarative: { modelConfig: "claude" } } };
    assert.deepEqual(policies((await admit(create(agent), deps([ns, model]), "validate")).violations), ["managed-object"]);
    assert.equal((await admit(create(agent, { username: CONTROLLER }), deps([ns, model]), "validate")).allowed, true, "the controller's Agent is what a verified decision said");
  });
  test("an allow-all NetworkPolicy over every pod is refused; the controller's is not", async () => {
    const np: KubeObject = { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "open", namespace: "qe" }, spec: { podSelector: {}, egress: [{}], policyTypes: ["Egress"] } };
    assert.deepEqual(policies((await admit(create(np), deps([]), "validate")).violations), ["agent-isolation"]);
    assert.equal((await admit(create(np, { username: CONTROLLER }), deps([]), "validate")).allowed, true);
  });
});

describe("a run is judged by today's policy", () => {
  test("a stored config today's bundle denies cannot be run; the finding names the config", async () => {
    const { result } = await admitLikeApiServer(create(run()), deps([ns, model, tools, config({ tokenBudget: 900000 })]));
    assert.equal(result.allowed, false);
    const finding = result.violations.find((v) => v.field.startsWith('AgentConfig "writer"'));
    assert.equal(finding?.policy, "token-budget");
    assert.match(finding?.message ?? "", /the run's AgentConfig no longer passes today's policy: fix it, then create the run again/);
  });
  test("a stored ModelConfig today's bundle denies cannot be run", async () => {
    const old: KubeObject = { ...model, spec: { provider: "OpenAI", model: "gpt-3.5-turbo" } };
    const { result } = await admitLikeApiServer(create(run()), deps([ns, old, tools, config()]));
    assert.ok(result.violations.some((v) => v.field.startsWith('ModelConfig "claude"') && v.policy === "model-allowlist" && v.action === "deny"), JSON.stringify(result.violations));
  });
  test("judgments of stored objects are kept only for the object as it is: one changed under the same uid is judged again", async () => {
    const fresh = await PolicyEngine.load(await readBundles([]));
    const withUid = (spec: Record<string, unknown> = {}): KubeObject => {
      const c = config(spec);
      return { ...c, metadata: { ...c.metadata, uid: "6f1e0c52-0d4e-4c43-9a43-4b7c1f0e8a11" } };
    };
    const d = (objects: KubeObject[]): GatewayDeps => ({ ...deps(objects), engine: () => fresh });
    assert.equal((await admitLikeApiServer(create(run()), d([ns, model, tools, withUid()]))).result.allowed, true);
    const misses = fresh.storedMemoStats?.misses ?? 0;
    assert.equal((await admitLikeApiServer(create(run({ name: "r2" })), d([ns, model, tools, withUid()]))).result.allowed, true);
    assert.equal(fresh.storedMemoStats?.misses, misses, "a second run of the same objects by the same identity is judged from the memo");
    const { result } = await admitLikeApiServer(create(run({ name: "r3" })), d([ns, model, tools, withUid({ tokenBudget: 900000 })]));
    assert.equal(result.violations.find((v) => v.field.startsWith('AgentConfig "writer"'))?.policy, "token-budget");
  });
  test("the stamp is signed, carries the snapshot, and its limits are clamped to today's maxima", async () => {
    const { result, object } = await admitLikeApiServer(create(run()), deps([ns, model, tools, config()]));
    assert.equal(result.allowed, true, JSON.stringify(result.violations));
    const check = await verifyDecision(object as AgentRun, keyring.resolve);
    assert.ok(check.ok, check.ok ? "" : check.why);
    if (check.ok) {
      assert.equal(check.decision.snapshot.config.name, "writer");
      assert.equal(check.decision.snapshot.modelConfig?.name, "claude");
      assert.equal(check.decision.guardrails.tokenBudget, 1000);
    }
  });
});

describe("run-approval with who can act as the creator", () => {
  const actsAs = (how: string | undefined): AccessReviewer => ({ actsAs: () => Promise.resolve(how) });
  async function approve(access: AccessReviewer): Promise<{ allowed: boolean; messages: string }> {
    const d = deps([ns, model, tools, config()], access);
    const { object } = await admitLikeApiServer(create(run()), d);
    const stored = object as AgentRun;
    const next: AgentRun = { ...stored, metadata: { ...stored.metadata, annotations: { ...stored.metadata?.annotations, [STAMP.approvedBy]: "bob" } } };
    applyPatch(next, (await admit(update(next, stored, bob), d, "mutate")).patch);
    const decision = await admit(update(next, stored, bob), d, "validate");
    return { allowed: decision.allowed, messages: decision.violations.map((v) => v.message).join("\n") };
  }
  test("an approver who cannot act as the creator approves", async () => {
    const got = await approve(actsAs(undefined));
    assert.equal(got.allowed, true, got.messages);
  });
  test("an approver who can act as the creator cannot", async () => {
    const got = await approve(actsAs("can impersonate user \"alice\""));
    assert.equal(got.allowed, false);
    assert.match(got.messages, /"bob" can impersonate user "alice", and "alice" created this run/);
  });
});

test("the mutating pass signs nothing policy denies: a config naming a system approver group gets no decision, only the finding", async () => {
  const request = create(run());
  const mutation = await admit(request, deps([ns, model, tools, config({ approval: { required: true, approverGroups: ["system:authenticated", "agent-approvers"] } })]), "mutate");
  assert.equal(mutation.allowed, false);
  assert.deepEqual(policies(mutation.violations), ["approval-groups"]);
  assert.equal(mutation.patch.length, 0, "no stamp, no signature");
});

test("a config changed between the two passes: the run is not signed with one config and judged on another", async () => {
  const request = create(run());
  const before = deps([ns, model, tools, config({ rbac: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }] })]);
  const mutation = await admit(request, before, "mutate");
  assert.equal(mutation.allowed, true, JSON.stringify(mutation.violations));
  const stamped = structuredClone(request.object) as AgentRun;
  applyPatch(stamped, mutation.patch);
  stamped.metadata = { ...stamped.metadata, uid: "run-uid", creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") };
  const after = deps([ns, model, tools, config()]);
  const decision = await admit({ ...request, object: stamped }, after, "validate");
  assert.equal(decision.allowed, false);
  assert.deepEqual(policies(decision.violations), ["stamp-integrity"]);
  assert.match(decision.violations.map((v) => v.message).join("\n"), /changed while the run was being admitted; create the run again/);
  assert.equal((await admit({ ...request, object: stamped }, before, "validate")).allowed, true, "the same config on both passes is admitted");
});

test("someone outside the approver groups setting approved-by costs no SubjectAccessReview", async () => {
  let asked = 0;
  const d = deps([ns, model, tools, config()], { actsAs: () => { asked++; return Promise.resolve(undefined); } });
  const { object } = await admitLikeApiServer(create(run()), d);
  const stored = object as AgentRun;
  const mallory: UserInfo = { username: "mallory", groups: ["developers"] };
  const next: AgentRun = { ...stored, metadata: { ...stored.metadata, annotations: { ...stored.metadata?.annotations, [STAMP.approvedBy]: "mallory" } } };
  assert.equal((await admit(update(next, stored, mallory), d, "mutate")).allowed, false);
  assert.equal((await admit(update(next, stored, mallory), d, "validate")).allowed, false);
  assert.equal(asked, 0);
});

test("a custom task other than an AgentRun is Tekton's: its copied creator stamp and agentgate label are not judged", async () => {
  const copied: KubeObject = {
    apiVersion: "tekton.dev/v1beta1",
    kind: "CustomRun",
    metadata: { name: "hook-0-approve", namespace: "qe", labels: { "app.kubernetes.io/managed-by": "agentgate" }, annotations: { [STAMP.createdBy]: "alice", [STAMP.creator]: "eyJhbGciOiJFZERTQSJ9..AAAA" } },
    spec: { customRef: { apiVersion: "example.dev/v1", kind: "Approval" } },
  };
  const tekton: UserInfo = { username: TEKTON };
  assert.deepEqual((await admit(create(copied, tekton), deps([]), "validate")).violations, []);
  assert.deepEqual((await admit(create(copied, tekton), deps([]), "mutate")).patch, []);
  const agentTask: KubeObject = { ...copied, metadata: { ...copied.metadata, labels: {} }, spec: { customRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" } } };
  assert.deepEqual(policies((await admit(create(agentTask, alice), deps([]), "validate")).violations), ["run-creator"], "an AgentRun's CustomRun with a stamp that is not the gateway's is refused");
});

test("while agentgate signs nothing, a PipelineRun is admitted unstamped (pipelines go on), a copied stamp taken off; an AgentRun CustomRun is refused, saying why", async () => {
  const blocked = guardedKeyring(keyring, () => "agentgate signs nothing while its webhooks do not guard every write: MutatingWebhookConfiguration \"agentgate\" does not exist");
  const d: GatewayDeps = { ...deps([]), keyring: blocked };
  const pr: KubeObject = { apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { name: "nightly", namespace: "qe", annotations: { [STAMP.createdBy]: "bob", [STAMP.creator]: "eyJhbGciOiJFZERTQSJ9..AAAA", team: "a" } }, spec: {} };
  const mutation = await admit(create(pr), d, "mutate");
  assert.equal(mutation.allowed, true);
  const stored = structuredClone(pr);
  applyPatch(stored, mutation.patch);
  assert.deepEqual(stored.metadata?.annotations, { team: "a" });
  const cr: KubeObject = { apiVersion: "tekton.dev/v1beta1", kind: "CustomRun", metadata: { name: "c", namespace: "qe" }, spec: { customRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" } } };
  const refused = await admit(create(cr), d, "mutate");
  assert.equal(refused.allowed, false);
  assert.match(refused.violations[0]?.message ?? "", /agentgate cannot sign now \(agentgate signs nothing while its webhooks do not guard every write: MutatingWebhookConfiguration "agentgate" does not exist\)/);
});

test("the mutating pass signs no run that claims someone's CustomRun as its owner: the finding, and no stamp", async () => {
  const claimed = run({ ownerReferences: [{ apiVersion: "tekton.dev/v1beta1", kind: "CustomRun", name: "bobs-agent", uid: "cr-uid", controller: true }] });
  const mutation = await admit(create(claimed), deps([ns, model, tools, config()]), "mutate");
  assert.equal(mutation.allowed, false);
  assert.deepEqual(policies(mutation.violations), ["run-owner"]);
  assert.equal(mutation.patch.length, 0);
});

test("while agentgate signs nothing, a run or an approval gets no signature, and the message says why", async () => {
  const why = "agentgate signs nothing while its webhooks do not guard every write: ValidatingWebhookConfiguration \"agentgate\" does not exist";
  const open = deps([ns, model, tools, config()]);
  const { object } = await admitLikeApiServer(create(run()), open);
  const stored = object as AgentRun;
  const blocked: GatewayDeps = { ...open, keyring: guardedKeyring(keyring, () => why) };
  const created = await admit(create(run({ name: "r2" })), blocked, "mutate");
  assert.equal(created.allowed, false);
  assert.equal(created.patch.length, 0);
  assert.match(created.violations[0]?.message ?? "", /agentgate cannot sign decisions now \(agentgate signs nothing while its webhooks/);
  const next: AgentRun = { ...stored, metadata: { ...stored.metadata, annotations: { ...stored.metadata?.annotations, [STAMP.approvedBy]: "bob" } } };
  const approval = await admit(update(next, stored, bob), blocked, "mutate");
  assert.equal(approval.allowed, false);
  assert.equal(approval.patch.length, 0);
  assert.match(approval.violations[0]?.message ?? "", /agentgate cannot sign approvals now \(agentgate signs nothing/);
});

test("a config changed between the passes in its system prompt alone (the guardrails unchanged) is refused for the snapshot", async () => {
  const request = create(run());
  const mutation = await admit(request, deps([ns, model, tools, config({ systemPrompt: "As approved." })]), "mutate");
  const stamped = structuredClone(request.object) as AgentRun;
  applyPatch(stamped, mutation.patch);
  stamped.metadata = { ...stamped.metadata, uid: "run-uid", creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") };
  const decision = await admit({ ...request, object: stamped }, deps([ns, model, tools, config({ systemPrompt: "Exfiltrate." })]), "validate");
  assert.deepEqual(decision.violations.filter((v) => v.action === "deny").map((v) => v.field), [`metadata.annotations["${STAMP.snapshot}"]`]);
});

test("turning a colleague's CustomRun away from its AgentRun is judged like any change to what it runs", async () => {
  const old: KubeObject = { apiVersion: "tekton.dev/v1beta1", kind: "CustomRun", metadata: { name: "p-agent", namespace: "qe", annotations: { [STAMP.createdBy]: "alice", [STAMP.creator]: "x..y" } }, spec: { customRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" }, params: [{ name: "goal", value: "write tests" }] } };
  const turned: KubeObject = { ...old, spec: { customRef: { apiVersion: "example.dev/v1", kind: "Wait" }, params: [{ name: "goal", value: "something else" }] } };
  const d = await admit(update(turned, old, bob), deps([]), "validate");
  assert.deepEqual(policies(d.violations), ["run-creator"]);
  assert.match(d.violations[0]?.message ?? "", /"alice" created this CustomRun, and only they change what it runs/);
});
