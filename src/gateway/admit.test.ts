// admit() with the default bundle and objects as a cluster holds them: the
// gateway's own checks whatever the policy says, idempotent mutation, the
// namespace profile in what is stamped, and enforcement modes.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { applyPatch } from "rfc6902";
import { StaticLookup } from "../context/static-lookup.ts";
import { makeIdentity } from "../guardrails/identity.ts";
import { parseGuardrails } from "../guardrails/stamps.ts";
import { readBundles } from "../policy/load.ts";
import { PolicyEngine } from "../policy/engine.ts";
import { PROFILE_LABEL, STAMP, type AgentRun } from "../types/agent.ts";
import type { AdmissionRequest, UserInfo } from "../types/admission.ts";
import type { KubeObject } from "../types/kube.ts";
import { requestFromManifest } from "../wire/from-manifest.ts";
import { toAdmissionResponse } from "../wire/respond.ts";
import { admit, sortViolations, type GatewayDeps } from "./admit.ts";
import type { Violation } from "../types/policy.ts";
import { exemptNamespaces } from "./exemptions.ts";
import { admitLikeApiServer } from "./review.ts";
import { ephemeralKeyring } from "../signing/keyring.ts";

const GATEWAY = "system:serviceaccount:agentgate-system:agentgate";
const keyring = ephemeralKeyring();
const alice: UserInfo = { username: "alice", groups: ["developers", "system:authenticated"] };

const namespace = (name: string, profile?: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, labels: profile ? { [PROFILE_LABEL]: profile } : {} },
});
const modelConfig = (ns: string): KubeObject => ({ apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: ns }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet" } });
const toolServer: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", allowedNamespaces: { from: "All" } } };
const agentConfig = (ns: string, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentConfig",
  metadata: { name: "writer", namespace: ns },
  spec: { modelConfigRef: { name: "claude" }, toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }], ...spec },
});
const agentRun = (ns: string, extra: { annotations?: Record<string, string>; labels?: Record<string, string>; spec?: Record<string, unknown> } = {}): AgentRun => ({
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentRun",
  metadata: { name: "run", namespace: ns, ...(extra.annotations ? { annotations: extra.annotations } : {}), ...(extra.labels ? { labels: extra.labels } : {}) },
  spec: { configRef: { name: "writer" }, goal: "Write tests", ...extra.spec },
});

let engine: PolicyEngine;
before(async () => {
  engine = await PolicyEngine.load(await readBundles([]), {
    profiles: {
      rollout: { enforcement: "warn", namespaces: ["rollout"] },
      shadow: { enforcement: "dryrun", namespaces: ["shadow"] },
      leads: { namespaces: ["leads"], approval: { approverGroups: ["team-leads"] }, budgets: { defaultTokenBudget: 4242, defaultTimeout: "7m", defaultMaxIterations: 3 } },
    },
  });
});

function deps(objects: KubeObject[]): GatewayDeps {
  return { engine: () => engine, lookup: new StaticLookup(objects), identity: makeIdentity([GATEWAY]), exemptNamespaces: exemptNamespaces("agentgate-system"), keyring };
}

const create = (object: KubeObject, user: UserInfo = alice): AdmissionRequest => requestFromManifest(object, { operation: "CREATE", user });
const update = (object: KubeObject, old: KubeObject, user: UserInfo = alice): AdmissionRequest => requestFromManifest(object, { operation: "UPDATE", user, oldObject: old });

const forged = {
  annotations: { [STAMP.createdBy]: "alice", [STAMP.policyRevision]: "default@forged", [STAMP.guardrails]: '{"tokenBudget":100000000}' },
  labels: { [STAMP.configLabel]: "writer" },
};

describe("stamp-integrity does not depend on policy", () => {
  const cases: { name: string; ns: string; objects: KubeObject[] }[] = [
    { name: "warn profile, AgentConfig missing", ns: "rollout", objects: [namespace("rollout", "rollout")] },
    { name: "dryrun profile, AgentConfig missing", ns: "shadow", objects: [namespace("shadow", "shadow")] },
  ];
  for (const c of cases) {
    test(`${c.name}: user-written stamps are denied, each one`, async () => {
      const decision = await admit(create(agentRun(c.ns, forged)), deps(c.objects), "validate");
      assert.equal(decision.allowed, false);
      const denied = decision.violations.filter((v) => v.action === "deny");
      assert.deepEqual(
        denied.map((v) => `${v.policy} ${v.field}`),
        [
          `stamp-integrity metadata.annotations["${STAMP.createdBy}"]`,
          `stamp-integrity metadata.annotations["${STAMP.guardrails}"]`,
          `stamp-integrity metadata.annotations["${STAMP.policyRevision}"]`,
          `stamp-integrity metadata.labels["${STAMP.configLabel}"]`,
        ],
      );
      assert.match(denied[1]?.message ?? "", new RegExp(`found "\\{\\\\"tokenBudget\\\\":100000000\\}"; agentgate stamps nothing on this run because its AgentConfig "${c.ns}/writer" does not exist`));
      assert.ok(decision.violations.some((v) => v.policy === "config-exists" && v.action !== "deny"), "config-exists itself only warns or logs here");
    });

    test(`${c.name}: a run without stamps is admitted (the profile's choice)`, async () => {
      const decision = await admit(create(agentRun(c.ns)), deps(c.objects), "validate");
      assert.equal(decision.allowed, true, JSON.stringify(decision.violations));
    });
  }

  test("a trusted identity cannot create a run with stamps the gateway did not compute either", async () => {
    const decision = await admit(create(agentRun("rollout", forged), { username: GATEWAY }), deps([namespace("rollout", "rollout")]), "validate");
    assert.equal(decision.allowed, false);
    assert.ok(decision.violations.every((v) => v.action !== "deny" || v.policy === "stamp-integrity"), JSON.stringify(decision.violations));
  });
});

describe("mutation is idempotent (the API server may reinvoke the webhook)", () => {
  const objects = [namespace("qe"), modelConfig("qe"), toolServer, agentConfig("qe", { tokenBudget: 200000, timeout: "30m", maxIterations: 5, networkPolicy: "strict" })];
  const cases: { name: string; object: KubeObject; expectPaths: string[] }[] = [
    { name: "AgentConfig defaults", object: agentConfig("qe"), expectPaths: ["/spec/tokenBudget", "/spec/timeout", "/spec/maxIterations", "/spec/networkPolicy"] },
    { name: "AgentRun stamps", object: agentRun("qe"), expectPaths: ["/metadata/annotations", "/metadata/labels"] },
  ];
  for (const c of cases) {
    test(`${c.name}: a second pass over the mutated object yields an empty patch`, async () => {
      const d = deps(objects);
      const first = await admit(create(c.object), d, "mutate");
      assert.deepEqual(first.patch.map((op) => op.path).sort(), [...c.expectPaths].sort(), "the first pass patches");
      const mutated = structuredClone(c.object);
      assert.deepEqual(applyPatch(mutated, first.patch), first.patch.map(() => null));
      const second = await admit(create(mutated), d, "mutate");
      assert.deepEqual(second.patch, []);
      const validated = await admit(create(mutated), d, "validate");
      assert.equal(validated.allowed, true, JSON.stringify(validated.violations));
    });
  }
});

describe("stamped guardrails use the namespace's profile", () => {
  test("approver groups and budget fallbacks come from profiles.<name> merged over the base config", async () => {
    // A config stored before the gateway filled its defaults: the stamp falls back to the policy config's.
    const bare = { ...agentConfig("leads", { approval: { required: true } }) };
    const objects = [namespace("leads", "leads"), modelConfig("leads"), toolServer, bare];
    const { result, object } = await admitLikeApiServer(create(agentRun("leads")), deps(objects));
    assert.equal(result.allowed, true, JSON.stringify(result.violations));
    const guardrails = parseGuardrails(object?.metadata?.annotations?.[STAMP.guardrails]);
    assert.deepEqual(guardrails?.approval, { required: true, approverGroups: ["team-leads"] });
    assert.equal(guardrails?.tokenBudget, 4242);
    assert.equal(guardrails?.timeout, "7m");
    assert.equal(guardrails?.maxIterations, 3);
  });

  test("a namespace without a profile keeps the base config's values", async () => {
    const objects = [namespace("qe"), modelConfig("qe"), toolServer, agentConfig("qe", { approval: { required: true } })];
    const { object } = await admitLikeApiServer(create(agentRun("qe")), deps(objects));
    const guardrails = parseGuardrails(object?.metadata?.annotations?.[STAMP.guardrails]);
    assert.deepEqual(guardrails?.approval.approverGroups, ["agent-approvers"]);
    assert.equal(guardrails?.tokenBudget, 100000);
  });
});

describe("enforcement: dryrun", () => {
  test("admits silently: the finding is kept for audit, no warning reaches kubectl", async () => {
    const objects = [namespace("shadow", "shadow"), modelConfig("shadow"), toolServer];
    const decision = await admit(create(agentConfig("shadow", { tokenBudget: 900000 })), deps(objects), "validate");
    assert.equal(decision.allowed, true);
    const budget = decision.violations.find((v) => v.policy === "token-budget");
    assert.equal(budget?.action, "dryrun");
    const response = toAdmissionResponse("u", decision);
    assert.equal(response.warnings, undefined);
    assert.equal(response.status, undefined);
  });
});

describe("run-approval holds for trusted identities too", () => {
  const objects = [namespace("qe"), modelConfig("qe"), toolServer, agentConfig("qe", { approval: { required: true } })];
  async function storedRun(): Promise<AgentRun> {
    const { object } = await admitLikeApiServer(create(agentRun("qe")), deps(objects));
    return object as AgentRun;
  }

  test("the gateway's own identity cannot approve a run it is not an approver of", async () => {
    const old = await storedRun();
    const next = structuredClone(old);
    next.metadata = { ...next.metadata, annotations: { ...next.metadata?.annotations, [STAMP.approvedBy]: GATEWAY } };
    const gateway: UserInfo = { username: GATEWAY, groups: ["system:serviceaccounts"] };
    const mutation = await admit(update(next, old, gateway), deps(objects), "mutate");
    // The mutating pass signs no approval it would refuse: nobody reaching /mutate gets one.
    assert.equal(mutation.allowed, false);
    assert.equal(mutation.patch.length, 0);
    assert.deepEqual([...new Set(mutation.violations.map((v) => v.policy))], ["run-approval"]);
    assert.match(mutation.violations[0]?.message ?? "", /is not in an approver group of this run; allowed: agent-approvers/);
    const decision = await admit(update(next, old, gateway), deps(objects), "validate");
    assert.equal(decision.allowed, false);
    assert.deepEqual([...new Set(decision.violations.map((v) => v.policy))], ["run-approval", "stamp-integrity"]);
  });

  test("the gateway's own identity cancels without findings, and cannot change a stamp", async () => {
    const old = await storedRun();
    const cancelled = structuredClone(old);
    cancelled.spec = { ...cancelled.spec, status: "Cancelled" };
    assert.deepEqual((await admit(update(cancelled, old, { username: GATEWAY }), deps(objects), "validate")).violations, []);
    const restamped = structuredClone(cancelled);
    restamped.metadata = { ...restamped.metadata, annotations: { ...restamped.metadata?.annotations, [STAMP.policyRevision]: "default@other" } };
    const decision = await admit(update(restamped, old, { username: GATEWAY }), deps(objects), "validate");
    assert.deepEqual(decision.violations.map((v) => `${v.policy} ${v.field}`), [`stamp-integrity metadata.annotations["${STAMP.policyRevision}"]`]);
  });
});

describe("what mutation stamps on a run, and when", () => {
  const objects = [namespace("qe"), modelConfig("qe"), toolServer, agentConfig("qe", { tokenBudget: 200000, timeout: "30m", maxIterations: 5, networkPolicy: "strict" })];

  test("on CREATE: the requesting user, the engine's revision, the computed guardrails and the config's name", async () => {
    const { object } = await admitLikeApiServer(create(agentRun("qe")), deps(objects));
    const annotations = object?.metadata?.annotations ?? {};
    assert.equal(annotations[STAMP.createdBy], "alice");
    assert.equal(annotations[STAMP.policyRevision], engine.revision);
    assert.match(engine.revision, /^default@/);
    assert.equal(parseGuardrails(annotations[STAMP.guardrails])?.tokenBudget, 200000);
    assert.deepEqual(object?.metadata?.labels, { [STAMP.configLabel]: "writer" });
  });

  test("on UPDATE: only the signed approval, when one is given, so an approver's edit keeps the creator's stamps", async () => {
    const { object } = await admitLikeApiServer(create(agentRun("qe")), deps(objects));
    const stored = object as AgentRun;
    const next = structuredClone(stored);
    next.metadata = { ...next.metadata, annotations: { ...next.metadata?.annotations, [STAMP.approvedBy]: "bob" } };
    const bob: UserInfo = { username: "bob", groups: ["agent-approvers"] };
    const mutation = await admit(update(next, stored, bob), deps(objects), "mutate");
    assert.deepEqual(mutation.patch.map((op) => `${op.op} ${op.path}`), [`add /metadata/annotations/${STAMP.approval.replace("/", "~1")}`]);
    const approved = structuredClone(next);
    assert.deepEqual(applyPatch(approved, mutation.patch), [null]);
    const validation = await admit(update(approved, stored, bob), deps(objects), "validate");
    assert.equal(validation.allowed, true, JSON.stringify(validation.violations));
    const unsigned = await admit(update(next, stored, bob), deps(objects), "validate");
    assert.equal(unsigned.allowed, false, "approved-by without agentgate's signature: refused, saying the mutating webhook did not see it");
    assert.match(unsigned.violations.map((v) => v.message).join("\n"), /the approval carries no agentgate signature/);
    const cancel = structuredClone(approved);
    cancel.spec = { ...cancel.spec, status: "Cancelled" };
    assert.deepEqual((await admit(update(cancel, approved, bob), deps(objects), "mutate")).patch, [], "no approval given now: nothing to sign");
  });
});

describe("an admitted run's spec is frozen through admit()", () => {
  const objects = [namespace("qe"), modelConfig("qe"), toolServer, agentConfig("qe", { tokenBudget: 200000, timeout: "30m", maxIterations: 5, networkPolicy: "strict" })];

  test("a user changing the goal is denied run-immutable; cancelling is admitted", async () => {
    const { object } = await admitLikeApiServer(create(agentRun("qe")), deps(objects));
    const stored = object as AgentRun;
    const changed = structuredClone(stored);
    changed.spec = { ...changed.spec, goal: "Delete everything" };
    const decision = await admit(update(changed, stored), deps(objects), "validate");
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.violations.filter((v) => v.action === "deny").map((v) => `${v.policy} ${v.field}`), ["run-immutable spec.goal"]);
    const cancelled = structuredClone(stored);
    cancelled.spec = { ...cancelled.spec, status: "Cancelled" };
    const ok = await admit(update(cancelled, stored), deps(objects), "validate");
    assert.equal(ok.allowed, true, JSON.stringify(ok.violations));
  });
});

describe("exempt namespaces are answered before any check, and only they", () => {
  // A denied object everywhere else: no AgentConfig, a token budget over the maximum.
  const denied = (ns: string) => agentConfig(ns, { tokenBudget: 900000 });
  const cases: { name: string; ns: string; exempt: boolean }[] = [
    { name: "the gateway's own namespace", ns: "agentgate-system", exempt: true },
    { name: "kube-system", ns: "kube-system", exempt: true },
    { name: "a namespace whose name only contains an exempt one", ns: "kube-system-apps", exempt: false },
    { name: "an ordinary namespace", ns: "qe", exempt: false },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.exempt ? "exempt, allowed with no violations and no patch" : "evaluated, and denied"}`, async () => {
      for (const origin of ["validate", "mutate"] as const) {
        const decision = await admit(create(denied(c.ns)), deps([namespace(c.ns), modelConfig(c.ns), toolServer]), origin);
        assert.equal(decision.exempt, c.exempt, origin);
        if (c.exempt) {
          assert.equal(decision.allowed, true, origin);
          assert.deepEqual(decision.violations, [], origin);
          assert.deepEqual(decision.patch, [], origin);
        } else if (origin === "validate") {
          assert.equal(decision.allowed, false);
          assert.ok(decision.violations.some((v) => v.policy === "token-budget" && v.action === "deny"), JSON.stringify(decision.violations));
        }
      }
    });
  }
  test("the system set is kube-system, and the own namespace joins it", () => {
    assert.deepEqual([...exemptNamespaces("agentgate")].sort(), ["agentgate", "kube-system"]);
  });
});

describe("kmcp MCPServers are judged like the other tool server kinds", () => {
  test("one claiming agentgate's label is refused (managed-object), an ordinary one goes to policy and is admitted", async () => {
    const server: KubeObject = { apiVersion: "kagent.dev/v1alpha1", kind: "MCPServer", metadata: { name: "git", namespace: "qe" }, spec: { deployment: { image: "ghcr.io/kagent-dev/mcp-git:1" } } };
    const ok = await admit(create(server), deps([]), "validate");
    assert.equal(ok.allowed, true);
    const claiming = { ...server, metadata: { ...server.metadata, labels: { "app.kubernetes.io/managed-by": "agentgate" } } };
    const refused = await admit(create(claiming), deps([]), "validate");
    assert.equal(refused.allowed, false);
    assert.deepEqual(refused.violations.map((v) => v.policy), ["managed-object"]);
  });
});

describe("garbage collection completing a foreground deletion of an object of agentgate's (a shared kagent Agent)", () => {
  const agent = (finalizers: string[], extra: Record<string, unknown> = {}): KubeObject => ({ apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { name: "share-0123-agent", namespace: "qe", labels: { "app.kubernetes.io/managed-by": "agentgate" }, deletionTimestamp: "2026-12-07T10:00:00Z", finalizers }, spec: { type: "Declarative", declarative: { modelConfig: "claude", systemMessage: "x" } }, ...extra });
  const gc: UserInfo = { username: "system:kube-controller-manager" };
  test("dropping the foregroundDeletion finalizer is admitted for garbage collection, and for nobody else", async () => {
    const ok = await admit(update(agent([]), agent(["foregroundDeletion"]), gc), deps([]), "validate");
    assert.equal(ok.allowed, true, JSON.stringify(ok.violations));
    const editor = await admit(update(agent([]), agent(["foregroundDeletion"])), deps([]), "validate");
    assert.equal(editor.allowed, false);
  });
  test("anything else changed with it is judged as ever", async () => {
    const changed = await admit(update(agent([], { spec: { type: "Declarative", declarative: { modelConfig: "other", systemMessage: "y" } } }), agent(["foregroundDeletion"]), gc), deps([]), "validate");
    assert.equal(changed.allowed, false);
    assert.ok(changed.violations.some((v) => v.policy === "managed-object"), JSON.stringify(changed.violations));
  });
});

test("violations sort by code unit, as OPA sorts, not by the process's locale: upper case before lower, then field, message, action", () => {
  const v = (policy: string, field: string, message: string): Violation => ({ policy, field, message, action: "deny" });
  const sorted = sortViolations([v("b", "f", "m"), v("a", "g", "m"), v("a", "f", "z"), v("a", "f", "Z"), v("B", "f", "m")]);
  assert.deepEqual(sorted.map((x) => `${x.policy} ${x.field} ${x.message}`), ["B f m", "a f Z", "a f z", "a g m", "b f m"]);
});
