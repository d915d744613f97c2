// reviewerOf: whether an approver can act as a run's creator, asked through
// a stand-in for the SubjectAccessReview call that allows only what a test names.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1ResourceAttributes, V1SubjectAccessReviewSpec } from "@kubernetes/client-node";
import { POD_ENTRY_PROBES, probes, reviewerOf, type Review } from "./access-review.ts";

const EL = "system:serviceaccount:ci:el";
const bob = { username: "bob", uid: "b-1", groups: ["agent-approvers", "system:authenticated"], extra: { scopes: ["x"] } };

/** "verb group/resource[/subresource] namespace name", the parts a review names. */
const key = (a: V1ResourceAttributes): string => [a.verb, `${a.group ?? ""}/${a.resource ?? ""}${a.subresource ? `/${a.subresource}` : ""}`, a.namespace ?? "-", a.name ?? "-"].join(" ");

/** Allows exactly the reviews whose key is listed, and keeps every review asked. */
function fake(...allow: string[]): { review: Review; asked: V1SubjectAccessReviewSpec[] } {
  const asked: V1SubjectAccessReviewSpec[] = [];
  const review: Review = (spec) => {
    asked.push(spec);
    return Promise.resolve(spec.resourceAttributes !== undefined && allow.includes(key(spec.resourceAttributes)));
  };
  return { review, asked };
}

const actsAs = (creator: string, ...allow: string[]): Promise<string | undefined> => reviewerOf(fake(...allow).review).actsAs(bob, creator);

test("nothing is found when every review is denied, and every way in the list is asked, for the approver as they are", async () => {
  const { review, asked } = fake();
  assert.equal(await reviewerOf(review).actsAs(bob, EL), undefined);
  const keys = asked.map((s) => key(s.resourceAttributes ?? {}));
  for (const p of POD_ENTRY_PROBES) {
    for (const verb of p.verbs) assert.ok(keys.some((k) => k.startsWith(`${verb} ${p.group}/${p.resource}${p.subresource ? `/${p.subresource}` : ""} `)), `${verb} ${p.resource} asked`);
  }
  assert.equal(new Set(keys).size, keys.length, "each distinct review asked once");
  for (const s of asked) {
    assert.deepEqual({ user: s.user, uid: s.uid, groups: s.groups, extra: s.extra }, { user: "bob", uid: "b-1", groups: bob.groups, extra: bob.extra });
  }
});

test("every review is sent before any answer comes back", async () => {
  const pending: ((allowed: boolean) => void)[] = [];
  const review: Review = () => new Promise((resolve) => pending.push(resolve));
  const result = reviewerOf(review).actsAs(bob, EL);
  await new Promise((resolve) => setImmediate(resolve));
  const distinct = new Set(probes(EL).flatMap((p) => p.requires.map((a) => JSON.stringify(a)))).size;
  assert.equal(pending.length, distinct);
  for (const resolve of pending) resolve(false);
  assert.equal(await result, undefined);
});

test("updating a Deployment of the namespace is found: its template can name the ServiceAccount", async () => {
  assert.equal(await actsAs(EL, "update apps/deployments ci -"), `can update deployments in namespace ci, so can run pods as ${EL}`);
  assert.equal(await actsAs(EL, "patch batch/cronjobs ci -"), `can patch cronjobs in namespace ci, so can run pods as ${EL}`);
  assert.equal(await actsAs(EL, "update apps/deployments other -"), undefined, "another namespace's Deployments run other ServiceAccounts");
});

test("exec into the namespace's pods is found, by create or, over a WebSocket on older clusters, by get", async () => {
  assert.equal(await actsAs(EL, "create /pods/exec ci -"), `can create pods/exec in namespace ci, so can run commands in pods running as ${EL}`);
  assert.equal(await actsAs(EL, "get /pods/exec ci -"), `can get pods/exec in namespace ci, so can run commands in pods running as ${EL}`);
  assert.equal(await actsAs(EL, "patch /pods/ephemeralcontainers ci -"), `can patch pods/ephemeralcontainers in namespace ci, so can add a container to pods running as ${EL}`);
  assert.equal(await actsAs(EL, "patch /pods ci -"), `can patch pods in namespace ci, so can run code in a pod as ${EL}`);
});

test("creating a Tekton PipelineRun is found: its TaskRuns run as the ServiceAccount it names", async () => {
  assert.equal(await actsAs(EL, "create tekton.dev/pipelineruns ci -"), `can create pipelineruns.tekton.dev in namespace ci, so can run TaskRun pods as ${EL}`);
  assert.equal(await actsAs(EL, "create tekton.dev/taskruns ci -"), `can create taskruns.tekton.dev in namespace ci, so can run TaskRun pods as ${EL}`);
});

test("writing a kagent Agent or kmcp MCPServer is found: kagent deploys it as the ServiceAccount it names", async () => {
  assert.equal(await actsAs(EL, "patch kagent.dev/agents ci -"), `can patch agents.kagent.dev in namespace ci, so can run an Agent's pods as ${EL}`);
  assert.equal(await actsAs(EL, "create kagent.dev/mcpservers ci -"), `can create mcpservers.kagent.dev in namespace ci, so can run an MCP server's pods as ${EL}`);
});

test("creating Secrets is found: the token controller fills a token Secret naming the ServiceAccount", async () => {
  assert.equal(await actsAs(EL, "create /secrets ci -"), `can create secrets in namespace ci, so can have the token controller write a token of ${EL} into a Secret they name`);
  assert.equal(await actsAs(EL, "watch /secrets ci -"), `can watch secrets in namespace ci, so can read a token Secret of ${EL}`);
});

test("tokens and impersonation name the ServiceAccount itself, and the most direct way is the one reported", async () => {
  assert.equal(await actsAs(EL, "create /serviceaccounts/token ci el"), "can request tokens for ServiceAccount ci/el");
  assert.equal(await actsAs(EL, "create /serviceaccounts/token ci other"), undefined, "a token for another ServiceAccount");
  assert.equal(await actsAs(EL, "create apps/deployments ci -", "impersonate /serviceaccounts ci el"), "can impersonate ServiceAccount ci/el");
  assert.equal(await actsAs(EL, "get /nodes/proxy - -"), `can get nodes/proxy, so can run commands through a kubelet in any pod on its node, those running as ${EL} among them`);
});

const CSR = ["create certificates.k8s.io/certificatesigningrequests - -", "update certificates.k8s.io/certificatesigningrequests/approval - -"];

test("a person: impersonating them, or requesting and approving a client certificate, is found; part of the certificate path is not", async () => {
  assert.equal(await actsAs("alice", "impersonate /users - alice"), 'can impersonate user "alice"');
  assert.equal(
    await actsAs("alice", ...CSR, "approve certificates.k8s.io/signers - kubernetes.io/kube-apiserver-client"),
    'can create certificatesigningrequests and approve them for signer kubernetes.io/kube-apiserver-client, so can get a client certificate for any user, "alice" among them',
  );
  assert.match((await actsAs("alice", ...CSR, "approve certificates.k8s.io/signers - kubernetes.io/*")) ?? "", /approve them for signer kubernetes\.io\/\*/);
  assert.equal(await actsAs("alice", "approve certificates.k8s.io/signers - kubernetes.io/kube-apiserver-client", "create certificates.k8s.io/certificatesigningrequests - -"), undefined, "cannot approve the request");
  assert.equal(await actsAs("alice", ...CSR), undefined, "no signer to approve for");
  assert.equal(await actsAs("alice", ...CSR, "approve certificates.k8s.io/signers - kubernetes.io/kubelet-serving"), undefined, "a signer whose certificates do not log in");
  // A certificate's subject can be a ServiceAccount's username too.
  assert.match((await actsAs(EL, ...CSR, "approve certificates.k8s.io/signers - kubernetes.io/kube-apiserver-client")) ?? "", new RegExp(`for any user, ${EL} among them$`));
});

test("a person is asked about nothing namespaced, and an odd username still makes one line", async () => {
  const { review, asked } = fake();
  assert.equal(await reviewerOf(review).actsAs(bob, "alice"), undefined);
  assert.ok(asked.every((s) => s.resourceAttributes?.namespace === undefined));
  assert.equal(await actsAs("eve\nmallory", "impersonate /users - eve\nmallory"), 'can impersonate user "eve\\nmallory"');
});

test("CachedAccessReviewer: the same question within its time is answered once; another approver, creator or group set is asked anew; a failure is not remembered", async () => {
  const { CachedAccessReviewer } = await import("./access-review.ts");
  let now = 0;
  let calls = 0;
  let fail = false;
  const inner = { actsAs: (): Promise<string | undefined> => { calls++; return fail ? Promise.reject(new Error("API server unavailable")) : Promise.resolve("can impersonate it"); } };
  const cached = new CachedAccessReviewer(inner, 30_000, () => now);
  await cached.actsAs(bob, EL);
  await cached.actsAs(bob, EL);
  assert.equal(calls, 1);
  await cached.actsAs({ ...bob, groups: ["agent-approvers"] }, EL);
  await cached.actsAs(bob, "system:serviceaccount:ci:other");
  assert.equal(calls, 3);
  // Another person with the same groups is asked anew: their answer is theirs.
  await cached.actsAs({ ...bob, username: "carol" }, EL);
  await cached.actsAs({ ...bob, uid: "b-2" }, EL);
  await cached.actsAs({ ...bob, extra: { scopes: ["y"] } }, EL);
  assert.equal(calls, 6);
  now = 31_000;
  await cached.actsAs(bob, EL);
  assert.equal(calls, 7, "asked again once the answer is old");
  fail = true;
  now = 70_000;
  await assert.rejects(cached.actsAs(bob, EL));
  fail = false;
  assert.equal(await cached.actsAs(bob, EL), "can impersonate it");
  assert.equal(calls, 9);
});

test("every kind that runs a pod from a template is probed for create, update and patch: none dropped from the list", () => {
  const templated = POD_ENTRY_PROBES.filter((p) => p.subresource === undefined && p.verbs.join(",") === "create,update,patch" && p.resource !== "pods" && p.group !== "kagent.dev")
    .map((p) => `${p.group}/${p.resource}`)
    .sort();
  assert.deepEqual(templated, ["/replicationcontrollers", "apps/daemonsets", "apps/deployments", "apps/replicasets", "apps/statefulsets", "batch/cronjobs", "batch/jobs"]);
});
