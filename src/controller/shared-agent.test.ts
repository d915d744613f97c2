// Agents shared within a PipelineRun, as tables: who is a step of a
// PipelineRun (and who only claims to be), what splits a share's key, which
// Agent a run gets, and what a share's objects are made of.
import { test } from "node:test";
import assert from "node:assert/strict";
import { creatorStamps, verifyCreator, type CreatorCheck } from "../guardrails/creator.ts";
import type { KeyResolver } from "../signing/detached.ts";
import { generateSigningKey } from "../signing/keys.ts";
import type { KubeObject } from "../types/kube.ts";
import type { AgentConfig, AgentRun, Guardrails, Snapshot } from "../types/agent.ts";
import type { CustomRun, PipelineRun } from "../types/tekton.ts";
import type { KagentRuntime } from "./kagent-agent.ts";
import { keyFor, sharedObjects } from "./shared-agent-objects.ts";
import { chooseAgent, holderOf, isSharedAgent, ownedByShare, pipelineMembership, pipelineRunOver, SHARE_LABEL, shareKey, shareNames, type ChoiceFacts, type MembershipFacts, type ShareKeyInputs } from "./shared-agent.ts";

const PR_UID = "pr-uid-1";
const CR_UID = "cr-uid-1";
const ALICE: CreatorCheck = { ok: true, createdBy: "alice", signedAt: 0 };
/** Tekton's CustomRun: its creator inherited from the PipelineRun, whose uid the gateway signed into it. */
const ALICE_VIA_PR: CreatorCheck = { ...ALICE, inheritedFrom: PR_UID };
const EL = "system:serviceaccount:qe:el-trigger";

function agentRun(over: { owners?: NonNullable<AgentRun["metadata"]>["ownerReferences"]; name?: string } = {}): AgentRun {
  return {
    apiVersion: "agent.tekton.dev/v1alpha1",
    kind: "AgentRun",
    metadata: { name: over.name ?? "pr-1-test", namespace: "qe", uid: "run-1", ownerReferences: over.owners ?? [{ apiVersion: "tekton.dev/v1beta1", kind: "CustomRun", name: "pr-1-test", uid: CR_UID, controller: true, blockOwnerDeletion: true }] },
    spec: { configRef: { name: "writer" }, goal: "write tests" },
  };
}

const customRun = (over: Partial<CustomRun> = {}): CustomRun => ({
  apiVersion: "tekton.dev/v1beta1",
  kind: "CustomRun",
  metadata: { name: "pr-1-test", namespace: "qe", uid: CR_UID, ownerReferences: [{ apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: "pr-1", uid: PR_UID, controller: true }] },
  spec: { customRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" } },
  ...over,
});

const pipelineRun = (uid = PR_UID, conditions?: NonNullable<PipelineRun["status"]>["conditions"]): PipelineRun => ({ apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { name: "pr-1", namespace: "qe", uid }, ...(conditions ? { status: { conditions } } : {}) });

const member: MembershipFacts = { run: agentRun(), createdBy: "alice", customRun: customRun(), customRunCreator: ALICE_VIA_PR, pipelineRun: pipelineRun(), pipelineRunCreator: ALICE };

const membershipRows: { name: string; facts: Partial<MembershipFacts>; want: "member" | "standalone" | RegExp }[] = [
  { name: "made by the controller for Tekton's CustomRun of a PipelineRun, one creator throughout: a step", facts: {}, want: "member" },
  { name: "no CustomRun owner: standalone", facts: { run: agentRun({ owners: [] }) }, want: "standalone" },
  { name: "a CustomRun that belongs to no PipelineRun: standalone", facts: { customRun: customRun({ metadata: { name: "pr-1-test", namespace: "qe", uid: CR_UID } }) }, want: "standalone" },
  { name: "a second owner the controller never writes", facts: { run: agentRun({ owners: [...(agentRun().metadata?.ownerReferences ?? []), { apiVersion: "v1", kind: "ConfigMap", name: "x", uid: "x" }] }) }, want: /owners are not what agentgate's controller gives/ },
  { name: "an editor's run of another name naming the CustomRun as owner", facts: { run: agentRun({ name: "sneaky" }) }, want: /owners are not what agentgate's controller gives/ },
  { name: "the CustomRun is gone", facts: { customRun: null }, want: /CustomRun pr-1-test \(uid cr-uid-1\) is not there/ },
  { name: "the CustomRun was made again under its name", facts: { customRun: customRun({ metadata: { ...customRun().metadata, uid: "cr-uid-2" } }) }, want: /is not there/ },
  { name: "a CustomRun of something else", facts: { customRun: customRun({ spec: { customRef: { apiVersion: "example.dev/v1", kind: "Other" } } }) }, want: /does not ask for an AgentRun/ },
  { name: "the PipelineRun is gone", facts: { pipelineRun: null }, want: /PipelineRun pr-1 \(uid pr-uid-1\) is not there/ },
  { name: "the PipelineRun was deleted and made again under its name", facts: { pipelineRun: pipelineRun("pr-uid-2") }, want: /one of that name made since is another PipelineRun/ },
  { name: "the PipelineRun's creator stamp does not verify", facts: { pipelineRunCreator: { ok: false, why: "PipelineRun qe/pr-1 carries no agentgate creator stamp" } }, want: /carries no agentgate creator stamp/ },
  { name: "the CustomRun's creator stamp does not verify", facts: { customRunCreator: { ok: false, why: "CustomRun qe/pr-1-test's creator stamp does not verify" } }, want: /does not verify/ },
  { name: "a run the editor created (its decision names them) with the CustomRun as owner: not a step", facts: { createdBy: "mallory" }, want: /created by "mallory" .* not by PipelineRun pr-1's creator "alice"/ },
  { name: "a CustomRun the editor made under a colleague's PipelineRun: not a step", facts: { createdBy: "mallory", customRunCreator: { ok: true, createdBy: "mallory", signedAt: 0 } }, want: /CustomRun pr-1-test by "mallory"/ },
  // The PipelineRun created by a ServiceAccount of the namespace (a Triggers EventListener): an editor who impersonates it has the same creator string.
  { name: "Tekton's CustomRun of a PipelineRun a ServiceAccount created: a step", facts: { createdBy: EL, customRunCreator: { ok: true, createdBy: EL, signedAt: 0, inheritedFrom: PR_UID }, pipelineRunCreator: { ok: true, createdBy: EL, signedAt: 0 } }, want: "member" },
  { name: "a CustomRun an editor made as that ServiceAccount (kubectl --as) under the colleague's PipelineRun: same creator, not a step", facts: { createdBy: EL, customRunCreator: { ok: true, createdBy: EL, signedAt: 0 }, pipelineRunCreator: { ok: true, createdBy: EL, signedAt: 0 } }, want: /^CustomRun pr-1-test is not one Tekton made for PipelineRun pr-1 \(uid pr-uid-1\): its signed creator was not inherited from that PipelineRun, whoever created it$/ },
  { name: "a CustomRun stamped before inheritance was signed: its creator verifies, its membership does not", facts: { customRunCreator: ALICE }, want: /its signed creator was not inherited from that PipelineRun/ },
  { name: "Tekton's CustomRun of another PipelineRun of the creator's, moved under this one: not a step", facts: { customRunCreator: { ...ALICE, inheritedFrom: "pr-uid-other" } }, want: /not one Tekton made for PipelineRun pr-1/ },
  { name: "a CustomRun inherited from this PipelineRun whose creator is not the PipelineRun's: not a step", facts: { customRunCreator: { ok: true, createdBy: "mallory", signedAt: 0, inheritedFrom: PR_UID } }, want: /CustomRun pr-1-test by "mallory", not by PipelineRun pr-1's creator "alice"/ },
];
for (const row of membershipRows) {
  test(`membership: ${row.name}`, () => {
    const got = pipelineMembership({ ...member, ...row.facts });
    if (row.want === "member") assert.deepEqual(got, { member: true, pipelineRun: { name: "pr-1", uid: PR_UID } });
    else if (row.want === "standalone") assert.equal(!got.member && got.standalone, true, JSON.stringify(got));
    else {
      assert.equal(got.member, false);
      assert.equal(!got.member && got.standalone, false, "a claim that fails is not standalone: the run says why it does not share");
      assert.match(got.member ? "" : got.why, row.want);
    }
  });
}

const guardrails: Guardrails = { tokenBudget: 1000, timeout: "10m", maxIterations: 3, networkPolicy: "strict", egress: [{ host: "api.anthropic.com", port: 443, purpose: "model" }], rbac: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }], approval: { required: false, approverGroups: [] }, tools: [{ server: "kagent/tools", kind: "RemoteMCPServer", allowedTools: ["k8s_get_resources"], requireApproval: [] }] };
const snapshot: Snapshot = { config: { name: "writer", spec: { systemPrompt: "You write tests.", modelConfigRef: { name: "claude" } } }, modelConfig: { namespace: "qe", name: "claude", sha256: "m1" }, toolServers: { "kagent/tools": { kind: "RemoteMCPServer", sha256: "t1" } } };
const keyInputs = { namespace: "qe", pipelineRun: { name: "pr-1", uid: PR_UID }, createdBy: "alice", config: { name: "writer", uid: "cfg-1" }, snapshot, guardrails, runtime: "go" as KagentRuntime };
const baseKey = keyFor(keyInputs);

const keyRows: { name: string; over: Partial<typeof keyInputs>; same: boolean }[] = [
  { name: "the same PipelineRun, config and decision", over: {}, same: true },
  { name: "another PipelineRun of the same name (recreated)", over: { pipelineRun: { name: "pr-1", uid: "pr-uid-2" } }, same: false },
  { name: "the AgentConfig deleted and made again (another uid)", over: { config: { name: "writer", uid: "cfg-2" } }, same: false },
  { name: "a system prompt edited between steps", over: { snapshot: { ...snapshot, config: { name: "writer", spec: { ...snapshot.config.spec, systemPrompt: "You may delete things." } } } }, same: false },
  { name: "the ModelConfig changed between steps", over: { snapshot: { ...snapshot, modelConfig: { namespace: "qe", name: "claude", sha256: "m2" } } }, same: false },
  { name: "a tool server changed between steps", over: { snapshot: { ...snapshot, toolServers: { "kagent/tools": { kind: "RemoteMCPServer", sha256: "t2" } } } }, same: false },
  { name: "wider RBAC", over: { guardrails: { ...guardrails, rbac: [{ apiGroups: [""], resources: ["pods", "secrets"], verbs: ["get"] }] } }, same: false },
  { name: "one tool more", over: { guardrails: { ...guardrails, tools: [{ server: "kagent/tools", kind: "RemoteMCPServer", allowedTools: ["k8s_get_resources", "k8s_delete_resource"], requireApproval: [] }] } }, same: false },
  { name: "no tool approval any more", over: { guardrails: { ...guardrails, tools: [{ server: "kagent/tools", kind: "RemoteMCPServer", allowedTools: ["k8s_get_resources"], requireApproval: ["k8s_get_resources"] }] } }, same: false },
  { name: "permissive network", over: { guardrails: { ...guardrails, networkPolicy: "permissive" } }, same: false },
  { name: "other egress", over: { guardrails: { ...guardrails, egress: [{ host: "evil.example", port: 443, purpose: "model" }] } }, same: false },
  { name: "another creator", over: { createdBy: "mallory" }, same: false },
  { name: "another runtime", over: { runtime: "python" }, same: false },
  { name: "a narrower token budget, timeout and iteration bound: per run, not materialised", over: { guardrails: { ...guardrails, tokenBudget: 10, timeout: "1m", maxIterations: 1 } }, same: true },
  { name: "approval required: per run, not materialised", over: { guardrails: { ...guardrails, approval: { required: true, approverGroups: ["leads"] } } }, same: true },
];
for (const row of keyRows) {
  test(`share key: ${row.name} → ${row.same ? "same" : "another"} Agent`, () => {
    assert.equal(keyFor({ ...keyInputs, ...row.over }) === baseKey, row.same);
  });
}

test("share key: over the materialised Agent spec too, and hex for names", () => {
  const inputs: ShareKeyInputs = { ...keyInputs, agentSpec: { a: 1 } };
  assert.notEqual(shareKey(inputs), shareKey({ ...inputs, agentSpec: { a: 2 } }));
  assert.match(baseKey, /^[0-9a-f]{64}$/);
  const n = shareNames(baseKey);
  assert.equal(n.agent, `${n.share}-agent`);
  assert.ok(n.share.length + "agentgate-run-".length <= 63, "the ServiceAccount name fits a label value");
});

const KEY = baseKey;
const NAMES = shareNames(KEY);
const facts: ChoiceFacts = { runName: "pr-1-test", membership: { member: true, pipelineRun: { name: "pr-1", uid: PR_UID } }, routed: false, runtime: "go", key: KEY, existing: "absent", holder: undefined, recorded: undefined };
const choiceRows: { name: string; over: Partial<ChoiceFacts>; want: "own" | "shared" | "refused"; why?: RegExp }[] = [
  { name: "a step with nobody on the Agent: shared", over: {}, want: "shared" },
  { name: "a step whose Agent was made for the share: shared", over: { existing: "ours" }, want: "shared" },
  { name: "standalone: its own, nothing to say", over: { membership: { member: false, standalone: true, why: "no CustomRun" } }, want: "own" },
  { name: "a forged step: its own, saying why", over: { membership: { member: false, standalone: false, why: "created by mallory" } }, want: "own", why: /not shared: created by mallory/ },
  { name: "another run of the PipelineRun acts through it now: its own, never two goals in one context", over: { holder: "qe/pr-1-lint" }, want: "own", why: /run qe\/pr-1-lint acts through .* two goals never share one context at once/ },
  { name: "calls through the run-time gateway: its own (metered per run)", over: { routed: true }, want: "own", why: /run-time gateway/ },
  { name: "kagent's python runtime (refuses cancel): its own", over: { runtime: "python" }, want: "own", why: /refuses tasks\/cancel/ },
  { name: "an object under the share's names not made for it: its own", over: { existing: "foreign" }, want: "own", why: /was not made for it/ },
  { name: "recorded on its own Agent: stays", over: { recorded: "pr-1-test-agent", holder: undefined }, want: "own" },
  { name: "recorded on the shared Agent: stays, whoever else is recorded", over: { recorded: NAMES.agent, holder: "qe/other" }, want: "shared" },
  { name: "recorded on the shared Agent, no longer a step: refused", over: { recorded: NAMES.agent, membership: { member: false, standalone: false, why: "PipelineRun gone" } }, want: "refused", why: /no longer a step of its PipelineRun: PipelineRun gone/ },
  { name: "recorded on a shared Agent its decision no longer makes: refused", over: { recorded: "share-0000-agent" }, want: "refused", why: /not the Agent its decision makes now/ },
  { name: "recorded on the shared Agent, now someone else's object: refused", over: { recorded: NAMES.agent, existing: "foreign" }, want: "refused", why: /was not made for this PipelineRun/ },
];
for (const row of choiceRows) {
  test(`choice: ${row.name}`, () => {
    const got = chooseAgent({ ...facts, ...row.over });
    assert.equal(got.kind, row.want, JSON.stringify(got));
    if (got.kind === "shared") assert.deepEqual(got.names, NAMES);
    const said = got.kind === "own" ? got.why : got.kind === "refused" ? got.message : undefined;
    if (row.why) assert.match(said ?? "", row.why);
    else if (got.kind === "own") assert.equal(said, undefined);
  });
}

const runOn = (uid: string, agent: string, phase: "Acting" | "Succeeded" | "PostHooks" | "Pending" | "WaitingForApproval" | "PreHooks"): AgentRun => ({ metadata: { name: uid, namespace: "qe", uid }, status: { phase, agentRef: { name: agent, namespace: "qe" } } });
const holderRows: { name: string; runs: AgentRun[]; want: string | undefined }[] = [
  { name: "another live run on it", runs: [runOn("a", "s-agent", "Acting")], want: "qe/a" },
  { name: "in its post-hooks: still holds it", runs: [runOn("a", "s-agent", "PostHooks")], want: "qe/a" },
  { name: "ended", runs: [runOn("a", "s-agent", "Succeeded")], want: undefined },
  { name: "itself", runs: [runOn("self", "s-agent", "Acting")], want: undefined },
  { name: "on another Agent", runs: [runOn("a", "other-agent", "Acting")], want: undefined },
  // The controller writes agentRef only when Acting: one in an earlier phase was forged (webhooks off) and holds nothing.
  { name: "a forged agentRef in WaitingForApproval (parked forever): holds nothing", runs: [runOn("a", "s-agent", "WaitingForApproval")], want: undefined },
  { name: "a forged agentRef in Pending or PreHooks: holds nothing", runs: [runOn("a", "s-agent", "Pending"), runOn("b", "s-agent", "PreHooks")], want: undefined },
];
for (const row of holderRows) test(`holder: ${row.name}`, () => { assert.equal(holderOf(row.runs, "s-agent", "self"), row.want); });

const CONFIG: AgentConfig = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "writer", namespace: "qe" }, spec: snapshot.config.spec };
const objects = sharedObjects("qe", NAMES, { name: "pr-1", uid: PR_UID }, CONFIG, guardrails, {}, "go");

test("a share's objects: owned by the PipelineRun (for the garbage collector), agentgate's, and named like a run's so every run guard holds", () => {
  for (const o of [...objects.scope, objects.agent]) {
    assert.equal(ownedByShare(o.metadata, NAMES.share, PR_UID), true, `${o.kind ?? ""} ${o.metadata?.name ?? ""}`);
    assert.equal(o.metadata?.labels?.["agent.tekton.dev/run"], NAMES.share);
  }
  assert.deepEqual(objects.scope.map((o) => `${o.kind ?? ""}/${o.metadata?.name ?? ""}`), [`ServiceAccount/agentgate-run-${NAMES.share}`, `Role/${NAMES.share}-role`, `RoleBinding/${NAMES.share}-binding`, `NetworkPolicy/${NAMES.share}-netpol`]);
  assert.deepEqual((objects.scope[1] as { rules?: unknown }).rules, guardrails.rbac, "exactly the stamped rules");
  assert.deepEqual((objects.scope[3]?.spec as { podSelector?: unknown }).podSelector, { matchLabels: { app: "kagent", kagent: NAMES.agent } }, "the NetworkPolicy selects the shared Agent's pods");
  assert.equal(objects.agent.metadata?.name, NAMES.agent);
  assert.equal(objects.agent.spec?.declarative?.deployment?.serviceAccountName, `agentgate-run-${NAMES.share}`);
  assert.equal(objects.agent.spec?.declarative?.systemMessage, "You write tests.");
  assert.equal(objects.agent.spec?.declarative?.runtime, "go");
  assert.equal(objects.agent.metadata?.labels?.[SHARE_LABEL], NAMES.share);
});

const ownedRows: { name: string; meta: NonNullable<AgentRun["metadata"]>; want: boolean }[] = [
  { name: "as made", meta: objects.agent.metadata ?? {}, want: true },
  { name: "without agentgate's label", meta: { ...objects.agent.metadata, labels: { [SHARE_LABEL]: NAMES.share } }, want: false },
  { name: "for another share", meta: { ...objects.agent.metadata, labels: { ...objects.agent.metadata?.labels, [SHARE_LABEL]: "share-other" } }, want: false },
  { name: "owned by another PipelineRun of the same name", meta: { ...objects.agent.metadata, ownerReferences: [{ apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: "pr-1", uid: "pr-uid-2", controller: true }] }, want: false },
  { name: "the PipelineRun not its controller", meta: { ...objects.agent.metadata, ownerReferences: [{ apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: "pr-1", uid: PR_UID }] }, want: false },
];
for (const row of ownedRows) test(`ownedByShare: ${row.name}`, () => { assert.equal(ownedByShare(row.meta, NAMES.share, PR_UID), row.want); });

test("isSharedAgent: a run's status names an Agent made for a share under that very name, or it is not taken for one", () => {
  assert.equal(isSharedAgent(objects.agent.metadata, NAMES.agent), true);
  assert.equal(isSharedAgent(objects.agent.metadata, "share-other-agent"), false, "another share's name");
  assert.equal(isSharedAgent({ ...objects.agent.metadata, labels: {} }, NAMES.agent), false, "not agentgate's");
  assert.equal(isSharedAgent({ ...objects.agent.metadata, ownerReferences: [] }, NAMES.agent), false, "no PipelineRun owns it");
});

const overRows: { name: string; pr: PipelineRun | null; want: RegExp | undefined }[] = [
  { name: "running", pr: pipelineRun(), want: undefined },
  { name: "running, Unknown", pr: pipelineRun(PR_UID, [{ type: "Succeeded", status: "Unknown", reason: "Running", message: "", lastTransitionTime: "" }]), want: undefined },
  { name: "succeeded", pr: pipelineRun(PR_UID, [{ type: "Succeeded", status: "True", reason: "Succeeded", message: "", lastTransitionTime: "" }]), want: /ended \(Succeeded\)/ },
  { name: "failed", pr: pipelineRun(PR_UID, [{ type: "Succeeded", status: "False", reason: "Cancelled", message: "", lastTransitionTime: "" }]), want: /ended \(Cancelled\)/ },
  { name: "deleted", pr: null, want: /was deleted/ },
  { name: "deleted and made again", pr: pipelineRun("pr-uid-2"), want: /made since is another/ },
];
for (const row of overRows) {
  test(`PipelineRun over: ${row.name}`, () => {
    const got = pipelineRunOver(row.pr, { name: "pr-1", uid: PR_UID });
    if (row.want) assert.match(got ?? "", row.want);
    else assert.equal(got, undefined);
  });
}

test("membership from real stamps: Tekton's CustomRun of a PipelineRun a ServiceAccount created is a step; one made as that ServiceAccount, or moved under it from another PipelineRun, is not", async () => {
  const key = generateSigningKey();
  const resolve: KeyResolver = (kid) => Promise.resolve(kid === key.kid ? key.publicKey : undefined);
  const stamp = async <T extends KubeObject>(o: T, kind: "PipelineRun" | "CustomRun", inheritedFrom?: string): Promise<T> => ({ ...o, metadata: { ...o.metadata, annotations: await creatorStamps(o, kind, EL, key, Date.now(), inheritedFrom) } });
  const pr = await stamp(pipelineRun(), "PipelineRun");
  const facts = async (cr: CustomRun): Promise<MembershipFacts> => ({ ...member, createdBy: EL, customRun: cr, customRunCreator: await verifyCreator(cr, "CustomRun", resolve), pipelineRun: pr, pipelineRunCreator: await verifyCreator(pr, "PipelineRun", resolve) });
  const tektons = await stamp(customRun(), "CustomRun", PR_UID);
  assert.deepEqual(pipelineMembership(await facts(tektons)), { member: true, pipelineRun: { name: "pr-1", uid: PR_UID } });
  const impersonated = await stamp(customRun(), "CustomRun");
  const no = pipelineMembership(await facts(impersonated));
  assert.match(no.member ? "" : no.why, /not one Tekton made for PipelineRun pr-1/);
  const otherPrsOwner = { apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: "pr-2", uid: "pr-uid-2", controller: true };
  const ofOther = await stamp(customRun({ metadata: { ...customRun().metadata, ownerReferences: [otherPrsOwner] } }), "CustomRun", "pr-uid-2");
  const movedHere = pipelineMembership(await facts({ ...ofOther, metadata: { ...ofOther.metadata, ownerReferences: customRun().metadata?.ownerReferences ?? [] } }));
  assert.match(movedHere.member ? "" : movedHere.why, /creator stamp does not verify: .*may have been moved under pr-1/);
});
