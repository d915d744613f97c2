import { test } from "node:test";
import assert from "node:assert/strict";
import type * as k8s from "@kubernetes/client-node";
import { logger } from "../log.ts";
import type { AdmissionRequest } from "../types/admission.ts";
import type { KubeObject } from "../types/kube.ts";
import { EventLimiter, confirm, createDenialRecorder, eventBody, eventTarget, refill, targetPath, type EventLimits, type EventOutcome, type EventTarget } from "./denial-events.ts";

const limits: EventLimits = { dedupeWindowMs: 60_000, globalBurst: 3, globalPerSecond: 1, namespaceBurst: 2, namespacePerSecond: 0.1 };

test("a bucket refills at its rate, never past its burst, and not backwards in time", () => {
  assert.deepEqual(refill({ tokens: 0, at: 0 }, 1500, 3, 1), { tokens: 1.5, at: 1500 });
  assert.deepEqual(refill({ tokens: 2, at: 0 }, 60_000, 3, 1), { tokens: 3, at: 60_000 });
  assert.deepEqual(refill({ tokens: 1, at: 5000 }, 4000, 3, 1), { tokens: 1, at: 4000 });
});

/** Each row: calls of take(now, namespace, key) and the answers expected. */
const rows: { name: string; calls: [number, string, string][]; expect: string[] }[] = [
  { name: "the same object and message within the window is a duplicate; after it, not", calls: [[0, "a", "k"], [59_999, "a", "k"], [60_001, "a", "k"]], expect: ["ok", "duplicate", "ok"] },
  { name: "different keys in one namespace: the namespace's burst, then limited", calls: [[0, "a", "1"], [0, "a", "2"], [0, "a", "3"]], expect: ["ok", "ok", "rate-limited"] },
  { name: "a namespace refills at its own rate (one per 10 s)", calls: [[0, "a", "1"], [0, "a", "2"], [9_000, "a", "3"], [10_001, "a", "4"]], expect: ["ok", "ok", "rate-limited", "ok"] },
  { name: "across namespaces: the global burst, then limited", calls: [[0, "a", "1"], [0, "b", "2"], [0, "c", "3"], [0, "d", "4"]], expect: ["ok", "ok", "ok", "rate-limited"] },
  { name: "the global bucket refills at one a second", calls: [[0, "a", "1"], [0, "b", "2"], [0, "c", "3"], [999, "d", "4"], [1_001, "d", "5"]], expect: ["ok", "ok", "ok", "rate-limited", "ok"] },
  { name: "a namespace that is out does not take the global token", calls: [[0, "a", "1"], [0, "a", "2"], [0, "a", "3"], [0, "b", "4"]], expect: ["ok", "ok", "rate-limited", "ok"] },
  { name: "a duplicate takes no token", calls: [[0, "a", "1"], [0, "a", "1"], [0, "a", "1"], [0, "a", "2"]], expect: ["ok", "duplicate", "duplicate", "ok"] },
];

for (const row of rows) {
  test(`limiter: ${row.name}`, () => {
    const limiter = new EventLimiter(limits, 0);
    assert.deepEqual(row.calls.map(([now, ns, key]) => limiter.take(now, ns, key)), row.expect);
  });
}

test("limiter: a forgotten key is not a duplicate; what is tracked stays bounded under a flood of namespaces", () => {
  const limiter = new EventLimiter(limits, 0);
  assert.equal(limiter.take(0, "a", "k"), "ok");
  limiter.forget("k");
  assert.equal(limiter.take(0, "a", "k"), "ok");
  for (let i = 0; i < 100_000; i++) limiter.take(i * 10, `ns-${i}`, `key-${i}`);
  const { namespaces, keys } = limiter.size;
  // Entries are made only with a global token: at most the burst plus one a second over the windows.
  assert.ok(namespaces <= 3 + 20 + 1 && keys <= 3 + 60 + 1, `tracked ${namespaces} namespaces, ${keys} keys`);
});

const stored: KubeObject = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "run-1", namespace: "qe", uid: "uid-real" } };

/** An UPDATE of `stored`, its oldObject claiming `oldUid` (null: no uid). */
function update(overrides: Partial<AdmissionRequest> = {}, oldUid: string | null = "uid-real"): AdmissionRequest {
  return {
    uid: "r1",
    kind: { group: "agent.tekton.dev", version: "v1alpha1", kind: "AgentRun" },
    resource: { group: "agent.tekton.dev", version: "v1alpha1", resource: "agentruns" },
    operation: "UPDATE",
    namespace: "qe",
    name: "run-1",
    userInfo: { username: "bob" },
    object: stored,
    oldObject: { ...stored, metadata: { ...stored.metadata, ...(oldUid === null ? { uid: undefined } : { uid: oldUid }) } },
    ...overrides,
  };
}

const targets: { name: string; request: AdmissionRequest; expect: EventTarget | { none: string } }[] = [
  { name: "a namespaced update", request: update(), expect: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", namespace: "qe", name: "run-1", uid: "uid-real" } },
  { name: "a core kind (no group)", request: update({ kind: { group: "", version: "v1", kind: "ServiceAccount" } }), expect: { apiVersion: "v1", kind: "ServiceAccount", namespace: "qe", name: "run-1", uid: "uid-real" } },
  { name: "no namespace", request: update({ namespace: undefined }), expect: { none: "the review names no namespace" } },
  { name: "no name", request: update({ name: "" }), expect: { none: "the review names no object" } },
  { name: "no uid in oldObject", request: update({}, null), expect: { none: "the review's oldObject has no uid" } },
];

for (const c of targets) {
  test(`target: ${c.name}`, () => {
    assert.deepEqual(eventTarget(c.request), c.expect);
  });
}

test("confirmation: the stored object with the claimed uid confirms; none, or another uid, does not", () => {
  const target = eventTarget(update()) as EventTarget;
  assert.deepEqual(confirm(target, stored), { confirmed: true });
  assert.deepEqual(confirm(target, undefined), { confirmed: false, outcome: "not-found" });
  assert.deepEqual(confirm(target, { ...stored, metadata: { ...stored.metadata, uid: "uid-recreated" } }), { confirmed: false, outcome: "uid-mismatch" });
  assert.deepEqual(confirm(target, { ...stored, metadata: { name: "run-1" } }), { confirmed: false, outcome: "uid-mismatch" });
});

test("the Event names the object by its confirmed uid, the user, and is cut at 1024 characters", () => {
  const target = eventTarget(update()) as EventTarget;
  const event = eventBody(target, update(), "x".repeat(2000), new Date("2026-12-07T00:00:00Z"));
  assert.deepEqual(event.involvedObject, { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", name: "run-1", namespace: "qe", uid: "uid-real" });
  assert.equal(event.metadata.namespace, "qe");
  assert.equal(event.reason, "UpdateDenied");
  assert.equal(event.type, "Warning");
  assert.equal(event.message?.length, 1024);
  assert.ok(event.message?.startsWith("update by bob denied by agentgate: xxx"));
});

/** An in-memory sink: the objects a cluster holds, and the Events written. */
function memorySink(objects: KubeObject[]) {
  const written: k8s.CoreV1Event[] = [];
  const reads: string[] = [];
  return {
    written,
    reads,
    sink: {
      read: (t: EventTarget) => {
        reads.push(`${t.namespace}/${t.name}`);
        return Promise.resolve(objects.find((o) => o.kind === t.kind && o.metadata?.namespace === t.namespace && o.metadata.name === t.name));
      },
      write: (e: k8s.CoreV1Event) => {
        written.push(e);
        return Promise.resolve();
      },
    },
  };
}

test("recorder: forged reviews (no such object, a wrong uid) write nothing and do not mask a real denial", async () => {
  const mem = memorySink([stored]);
  const outcomes: EventOutcome[] = [];
  const record = createDenialRecorder({ sink: mem.sink, log: logger, limits: { ...limits, namespaceBurst: 5 }, now: () => 0, onOutcome: (o) => outcomes.push(o) });
  assert.equal(await record(update({ name: "no-such-run" }), "m"), "not-found");
  assert.equal(await record(update({}, "uid-forged"), "m"), "uid-mismatch");
  assert.equal(await record(update({ namespace: undefined }), "m"), "no-target");
  assert.equal(mem.written.length, 0);
  assert.equal(await record(update(), "m"), "written");
  assert.equal(await record(update(), "m"), "duplicate");
  assert.deepEqual(outcomes, ["not-found", "uid-mismatch", "no-target", "written", "duplicate"]);
  assert.equal(mem.written.length, 1);
  assert.equal(mem.written[0]?.involvedObject.uid, "uid-real");
});

test("recorder: a flood of forged reviews across namespaces costs a bounded number of reads and writes", async () => {
  const mem = memorySink([stored]);
  let now = 0;
  const record = createDenialRecorder({ sink: mem.sink, log: logger, limits, now: () => now });
  const outcomes: EventOutcome[] = [];
  for (let i = 0; i < 1000; i++) {
    now = i * 1.5; // a thousand in a second and a half
    outcomes.push(await record(update({ namespace: `ns-${i}`, name: `obj-${i}` }), `forged ${i}`));
  }
  assert.equal(mem.written.length, 0);
  assert.equal(mem.reads.length, 3 + 1, "the global burst and one refill");
  assert.equal(outcomes.filter((o) => o === "rate-limited").length, 1000 - 4);
});

test("recorder: a read that fails writes nothing, logs, and leaves the key free for a retry", async () => {
  let fail = true;
  const written: k8s.CoreV1Event[] = [];
  const record = createDenialRecorder({
    sink: { read: () => (fail ? Promise.reject(new Error("HTTP 403")) : Promise.resolve(stored)), write: (e) => { written.push(e); return Promise.resolve(); } },
    log: logger,
    limits,
    now: () => 0,
  });
  const level = logger.level;
  logger.level = "error";
  assert.equal(await record(update(), "m"), "error");
  logger.level = level;
  fail = false;
  assert.equal(await record(update(), "m"), "written");
  assert.equal(written.length, 1);
});

test("the confirming read's path: only a version the resource table lists for the kind; a review's version cannot walk the path elsewhere", () => {
  const target = { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", namespace: "victim", name: "prod-agent", uid: "u" };
  assert.equal(targetPath(target), "/apis/kagent.dev/v1alpha2/namespaces/victim/agents/prod-agent");
  for (const apiVersion of ["kagent.dev/v1alpha2/namespaces/attacker/modelconfigs/mine#", "kagent.dev/v1alpha2/../../../api/v1/namespaces/agentgate-system/secrets/x#", "kagent.dev/v9", "kagent.dev/"]) {
    assert.throws(() => targetPath({ ...target, apiVersion }), /^Error: Unrecognized API version and kind/, apiVersion);
  }
});

test("an object is confirmed only when the one read is the one named: its uid, kind, namespace and name", () => {
  const target = { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", namespace: "victim", name: "prod-agent", uid: "u" };
  const stored = { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { uid: "u", namespace: "victim", name: "prod-agent" } };
  assert.deepEqual(confirm(target, stored), { confirmed: true });
  assert.deepEqual(confirm(target, { ...stored, kind: "ModelConfig" }), { confirmed: false, outcome: "uid-mismatch" });
  assert.deepEqual(confirm(target, { ...stored, metadata: { ...stored.metadata, namespace: "attacker" } }), { confirmed: false, outcome: "uid-mismatch" });
  assert.deepEqual(confirm(target, { ...stored, metadata: { ...stored.metadata, name: "mine" } }), { confirmed: false, outcome: "uid-mismatch" });
});
