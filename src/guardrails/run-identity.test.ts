// run-identity: who may run pods as, or get tokens for, a run's ServiceAccount.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AdmissionRequest } from "../types/admission.ts";
import type { KubeObject } from "../types/kube.ts";
import { DEFAULT_KAGENT_USER, makeIdentity, serviceAccountUser } from "./identity.ts";
import { checkRunIdentity, runServiceAccounts, serviceAccountOf } from "./run-identity.ts";

const CONTROLLER = serviceAccountUser("agentgate-system", "agentgate-controller");
const GC = serviceAccountUser("kube-system", "generic-garbage-collector");
const identity = makeIdentity([CONTROLLER]);
const SA = "agentgate-run-r1";
const account: KubeObject = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: SA, namespace: "qe", labels: { "app.kubernetes.io/managed-by": "agentgate", "agent.tekton.dev/run": "r1" } } };
const lookalike: KubeObject = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: SA, namespace: "qe" } };
const owner = (kind: string, name: string) => [{ apiVersion: "x", kind, name, uid: "u", controller: true }];

const podSpec = { serviceAccountName: SA, containers: [{ name: "c", image: "busybox" }] };
const pod = (owners?: ReturnType<typeof owner>): KubeObject => ({ apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "qe", ...(owners ? { ownerReferences: owners } : {}) }, spec: podSpec });
const templated = (kind: string, owners?: ReturnType<typeof owner>): KubeObject => ({
  apiVersion: "apps/v1",
  kind,
  metadata: { name: "w", namespace: "qe", ...(owners ? { ownerReferences: owners } : {}) },
  spec: kind === "CronJob" ? { jobTemplate: { spec: { template: { spec: podSpec } } } } : { template: { spec: podSpec } },
});

function req(kind: string, operation: "CREATE" | "UPDATE", user: string, object: KubeObject | null, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return { uid: "u", kind: { group: "", version: "v1", kind }, resource: { group: "", version: "v1", resource: `${kind.toLowerCase()}s` }, namespace: "qe", operation, userInfo: { username: user }, object, oldObject: operation === "UPDATE" ? object : null, ...extra };
}
const token = (user: string): AdmissionRequest => req("TokenRequest", "CREATE", user, { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} }, { subResource: "token", name: SA, resource: { group: "", version: "v1", resource: "serviceaccounts" } });

const kubelet = (bound: Record<string, string> | undefined): AdmissionRequest => ({
  ...token("system:node:n1"),
  userInfo: { username: "system:node:n1", groups: ["system:nodes", "system:authenticated"] },
  object: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { audiences: ["https://kubernetes.default.svc"], ...(bound ? { boundObjectRef: bound } : {}) } },
});
const tokenSecret = (account: string): KubeObject => ({ apiVersion: "v1", kind: "Secret", type: "kubernetes.io/service-account-token", metadata: { name: "t", namespace: "qe", annotations: { "kubernetes.io/service-account.name": account } } });

const runAgent: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { name: "r1-agent", namespace: "qe", labels: { "app.kubernetes.io/managed-by": "agentgate", "agent.tekton.dev/run": "r1" } } };
const editorsAgent: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { name: "r1-agent", namespace: "qe" } };

const dyingDeployment = (finalizers: string[]): KubeObject => {
  const d = templated("Deployment", owner("Agent", "r1-agent"));
  return { ...d, metadata: { ...d.metadata, deletionTimestamp: "2026-12-07T10:00:00Z", finalizers } };
};

const cases: { name: string; request: AdmissionRequest; account?: KubeObject | null; agent?: KubeObject | null; denied: RegExp | null }[] = [
  { name: "a namespace editor starts a pod as the run's account", request: req("Pod", "CREATE", "alice", pod()), denied: /ServiceAccount "agentgate-run-r1" belongs to AgentRun "r1"; only the run's agent runs as it .* "alice" cannot start a Pod that runs as it/ },
  { name: "an editor's pod claiming a ReplicaSet owner", request: req("Pod", "CREATE", "alice", pod(owner("ReplicaSet", "x"))), denied: /"alice" cannot start a Pod/ },
  { name: "the ReplicaSet controller starts the agent's pod", request: req("Pod", "CREATE", "system:serviceaccount:kube-system:replicaset-controller", pod(owner("ReplicaSet", "r1-agent-5d"))), denied: null },
  { name: "the ReplicaSet controller starts a pod with no ReplicaSet owner", request: req("Pod", "CREATE", "system:serviceaccount:kube-system:replicaset-controller", pod()), denied: /cannot start a Pod/ },
  { name: "an editor relabels the agent's pod (out of its NetworkPolicy)", request: { ...req("Pod", "UPDATE", "alice", pod(owner("ReplicaSet", "x"))), object: { ...pod(owner("ReplicaSet", "x")), metadata: { ...pod(owner("ReplicaSet", "x")).metadata, labels: { role: "web" } } } }, denied: /"alice" cannot change a Pod that runs as it/ },
  { name: "a network plugin annotates the agent's pod (labels and spec unchanged)", request: { ...req("Pod", "UPDATE", "system:serviceaccount:kube-system:aws-node", pod(owner("ReplicaSet", "x"))), object: { ...pod(owner("ReplicaSet", "x")), metadata: { ...pod(owner("ReplicaSet", "x")).metadata, annotations: { "vpc.amazonaws.com/pod-ips": "10.0.0.9" } } } }, denied: null },
  { name: "an editor swaps the agent pod's image", request: { ...req("Pod", "UPDATE", "alice", pod(owner("ReplicaSet", "x"))), object: { ...pod(owner("ReplicaSet", "x")), spec: { ...podSpec, containers: [{ name: "c", image: "evil/agent" }] } } }, denied: /"alice" cannot change a Pod that runs as it/ },
  { name: "the ReplicaSet controller orphans or adopts the pod", request: req("Pod", "UPDATE", "system:kube-controller-manager", pod(owner("ReplicaSet", "x"))), denied: null },
  { name: "an editor's Deployment as the run's account", request: req("Deployment", "CREATE", "alice", templated("Deployment", owner("Agent", "r1-agent"))), denied: /"alice" cannot start a Deployment/ },
  { name: "kagent's controller makes the Agent's Deployment", request: req("Deployment", "CREATE", DEFAULT_KAGENT_USER, templated("Deployment", owner("Agent", "r1-agent"))), agent: runAgent, denied: null },
  { name: "kagent's controller making the Deployment of an editor's Agent that took the run's Agent name", request: req("Deployment", "CREATE", DEFAULT_KAGENT_USER, templated("Deployment", owner("Agent", "r1-agent"))), agent: editorsAgent, denied: /cannot start a Deployment/ },
  { name: "kagent's controller cannot lend the account to another Agent", request: req("Deployment", "CREATE", DEFAULT_KAGENT_USER, templated("Deployment", owner("Agent", "other-agent"))), denied: /cannot start a Deployment/ },
  { name: "an editor edits the agent's Deployment", request: req("Deployment", "UPDATE", "alice", templated("Deployment", owner("Agent", "r1-agent"))), denied: /"alice" cannot change a Deployment/ },
  { name: "the deployment controller makes its ReplicaSet", request: req("ReplicaSet", "CREATE", "system:serviceaccount:kube-system:deployment-controller", templated("ReplicaSet", owner("Deployment", "r1-agent"))), denied: null },
  { name: "an editor's ReplicaSet", request: req("ReplicaSet", "CREATE", "alice", templated("ReplicaSet", owner("Deployment", "r1-agent"))), denied: /cannot start a ReplicaSet/ },
  ...["StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController"].map((kind) => ({ name: `an editor's ${kind}`, request: req(kind, "CREATE", "alice", templated(kind)), denied: new RegExp(`cannot start a ${kind}`) })),
  { name: "a token for the run's account", request: token("alice"), denied: /tokens for it go only to the run's agent pods, through the kubelet, so "alice" cannot request one/ },
  { name: "agentgate itself", request: token(CONTROLLER), denied: null },
  { name: "the kubelet asks for the agent pod's token, bound to the pod", request: kubelet({ kind: "Pod", name: "r1-agent-5d-x", uid: "p" }), denied: null },
  { name: "a kubelet token bound to nothing", request: kubelet(undefined), denied: /"system:node:n1" cannot request one/ },
  { name: "a user named like a node but not in system:nodes", request: { ...kubelet({ kind: "Pod", name: "p", uid: "p" }), userInfo: { username: "system:node:n1", groups: ["system:authenticated"] } }, denied: /cannot request one/ },
  { name: "a legacy token Secret for the run's account", request: req("Secret", "CREATE", "alice", tokenSecret(SA)), denied: /a kubernetes\.io\/service-account-token Secret for it would hold a token that outlives the run, so "alice" cannot make one/ },
  { name: "the token controller fills the token Secret it was asked for", request: req("Secret", "UPDATE", "system:kube-controller-manager", tokenSecret(SA)), denied: null },
  { name: "an existing token Secret turned into one for the run's account", request: { ...req("Secret", "UPDATE", "alice", tokenSecret(SA)), oldObject: tokenSecret("builder") }, denied: /cannot make one/ },
  { name: "an ephemeral container added to the agent's pod", request: req("Pod", "UPDATE", "system:kube-controller-manager", pod(owner("ReplicaSet", "x")), { subResource: "ephemeralcontainers" }), denied: /a container added to the run's pod runs as it, so "system:kube-controller-manager" cannot add one/ },
  { name: "an account that only shares the prefix", request: req("Pod", "CREATE", "alice", pod()), account: lookalike, denied: null },
  { name: "a Deployment made in advance for an account that does not exist yet (it would run as the run once agentgate makes it)", request: req("Deployment", "CREATE", "alice", templated("Deployment")), account: null, denied: /ServiceAccount "agentgate-run-r1" is reserved for AgentRun "r1" \(names starting with agentgate-run- are agentgate's\).*"alice" cannot start a Deployment/ },
  { name: "a pod for an account that does not exist yet", request: req("Pod", "CREATE", "alice", pod()), account: null, denied: /is reserved for AgentRun "r1"/ },
  { name: "the ReplicaSet controller still winds down an agent's pods once the account is gone", request: req("Pod", "UPDATE", "system:kube-controller-manager", pod(owner("ReplicaSet", "x"))), account: null, denied: null },
  { name: "an editor orphans the agent's pod (it would outlive the run)", request: { ...req("Pod", "UPDATE", "alice", pod(owner("ReplicaSet", "x"))), object: pod() }, denied: /"alice" cannot change a Pod that runs as it/ },
  // Garbage collection finishing a foreground deletion of kagent's Deployment: only its finalizer goes.
  { name: "garbage collection dropping the finalizer of the agent's Deployment being deleted", request: req("Deployment", "UPDATE", GC, dyingDeployment([]), { oldObject: dyingDeployment(["foregroundDeletion"]) }), denied: null },
  { name: "garbage collection changing the agent's Deployment otherwise", request: req("Deployment", "UPDATE", GC, { ...dyingDeployment([]), spec: {} }, { oldObject: dyingDeployment(["foregroundDeletion"]) }), denied: /cannot change a Deployment/ },
  { name: "an editor dropping the finalizer of the agent's Deployment being deleted", request: req("Deployment", "UPDATE", "alice", dyingDeployment([]), { oldObject: dyingDeployment(["foregroundDeletion"]) }), denied: /"alice" cannot change a Deployment/ },
];

for (const c of cases) {
  test(`run-identity: ${c.name}`, () => {
    const got = checkRunIdentity(c.request, SA, c.account === undefined ? account : c.account, identity, c.agent ?? null);
    if (c.denied === null) assert.deepEqual(got, []);
    else {
      assert.equal(got.length, 1);
      assert.equal(got[0]?.policy, "run-identity");
      assert.match(got[0]?.message ?? "", c.denied);
    }
  });
}

test("serviceAccountOf: pods, templates, cron jobs, the old field, and default", () => {
  assert.equal(serviceAccountOf("Pod", pod()), SA);
  assert.equal(serviceAccountOf("CronJob", templated("CronJob")), SA);
  assert.equal(serviceAccountOf("Pod", { spec: { serviceAccount: SA } }), SA);
  assert.equal(serviceAccountOf("Pod", { spec: {} }), "default");
  assert.equal(serviceAccountOf("Deployment", { spec: {} }), undefined);
  assert.equal(serviceAccountOf("Secret", tokenSecret(SA)), SA);
  assert.equal(serviceAccountOf("Secret", { ...tokenSecret(SA), type: "Opaque" }), undefined, "only a token Secret is a token");
});

test("runServiceAccounts: a template moved away from the run's account is still about it", () => {
  const before = templated("Deployment");
  const after: KubeObject = { ...before, spec: { template: { spec: { serviceAccountName: "mine" } } } };
  assert.deepEqual(runServiceAccounts({ ...req("Deployment", "UPDATE", "alice", after), oldObject: before }), [SA]);
  assert.deepEqual(runServiceAccounts(req("Pod", "CREATE", "alice", { spec: { serviceAccountName: "web" } })), []);
  assert.deepEqual(runServiceAccounts(token("alice")), [SA]);
});
