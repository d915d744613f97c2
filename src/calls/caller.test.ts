import assert from "node:assert/strict";
import test from "node:test";
import { authenticate, bearerOf, cachedTokenReview, CALLS_AUDIENCE, CallRefused, runOfUsername, type TokenReviewFn, cachedPodCheck, callerAddress, fromRunPod } from "./caller.ts";

test("a run's ServiceAccount names its run; anyone else names none", () => {
  assert.deepEqual(runOfUsername("system:serviceaccount:ci:agentgate-run-fix-1"), { namespace: "ci", name: "fix-1" });
  assert.equal(runOfUsername("system:serviceaccount:ci:default"), undefined);
  assert.equal(runOfUsername("system:serviceaccount:ci:agentgate-run-"), undefined);
  assert.equal(runOfUsername("alice"), undefined);
  assert.equal(runOfUsername("system:serviceaccount:ci:agentgate-run-x:extra"), undefined);
});

test("the token is read from Authorization: Bearer, else x-api-key (Anthropic's SDKs)", () => {
  assert.equal(bearerOf({ authorization: "Bearer abc.def" }), "abc.def");
  assert.equal(bearerOf({ authorization: "bearer abc" }), "abc");
  assert.equal(bearerOf({ "x-api-key": "k1" }), "k1");
  assert.equal(bearerOf({ authorization: "Basic Zm9v" }), undefined);
  assert.equal(bearerOf({}), undefined);
});

const answering = (a: Awaited<ReturnType<TokenReviewFn>>): TokenReviewFn => () => Promise.resolve(a);

test("authenticate: the run of a valid token for agentgate's audience", async () => {
  const run = await authenticate("t", answering({ authenticated: true, username: "system:serviceaccount:ci:agentgate-run-r1", audiences: [CALLS_AUDIENCE] }));
  assert.deepEqual(run, { namespace: "ci", name: "r1" });
});

test("authenticate refuses no token, an invalid one, another audience and a token that is not a run's", async () => {
  await assert.rejects(authenticate(undefined, answering({ authenticated: true, username: "", audiences: [] })), { name: "CallRefused", status: 401 });
  await assert.rejects(authenticate("t", answering({ authenticated: false, username: "", audiences: [], error: "expired" })), { name: "CallRefused", status: 401 });
  await assert.rejects(authenticate("t", answering({ authenticated: true, username: "system:serviceaccount:ci:agentgate-run-r1", audiences: ["https://kubernetes.default.svc"] })), { name: "CallRefused", status: 401 });
  await assert.rejects(authenticate("t", answering({ authenticated: true, username: "system:serviceaccount:ci:builder", audiences: [CALLS_AUDIENCE] })), (err: unknown) => {
    assert.ok(err instanceof CallRefused && err.status === 403, String(err));
    assert.doesNotMatch(err.message, /builder/, "a refusal does not echo whose token it was");
    return true;
  });
});

test("authenticate: a TokenReview that fails is 503 (retry), never a pass, and its error is not shown to the caller", async () => {
  await assert.rejects(authenticate("t", () => Promise.reject(new Error("dial tcp 10.0.0.1:6443: connection refused"))), (err: unknown) => {
    assert.ok(err instanceof CallRefused && err.status === 503, String(err));
    assert.doesNotMatch(err.message, /10\.0\.0\.1/);
    return true;
  });
});

test("TokenReview answers are kept for the TTL by token; failures are not kept", async () => {
  let asked = 0;
  let now = 0;
  let fail = false;
  const review = cachedTokenReview(
    () => {
      asked++;
      return fail ? Promise.reject(new Error("down")) : Promise.resolve({ authenticated: true, username: "u", audiences: [CALLS_AUDIENCE] });
    },
    1000,
    () => now,
  );
  await review("a");
  await review("a");
  await review("b");
  assert.equal(asked, 2);
  now = 1001;
  fail = true;
  await assert.rejects(review("a"));
  fail = false;
  await review("a");
  assert.equal(asked, 4, "the failure was asked again, not remembered");
});

test("a call is taken only from one of the run's own agent pods: the address is checked for the run, IPv4 unwrapped from IPv6", async () => {
  const asked: string[] = [];
  const check = (r: { namespace: string; name: string }, ip: string) => {
    asked.push(`${r.namespace}/${r.name}@${ip}`);
    return Promise.resolve(r.name === "r1" && ip === "10.0.0.7");
  };
  await fromRunPod({ namespace: "ci", name: "r1" }, "::ffff:10.0.0.7", check);
  await assert.rejects(fromRunPod({ namespace: "ci", name: "r1" }, "10.0.0.8", check), (e: unknown) => e instanceof CallRefused && e.status === 403 && /not come from a pod of AgentRun ci\/r1/.test(e.message));
  await assert.rejects(fromRunPod({ namespace: "ci", name: "r2" }, "10.0.0.7", check), (e: unknown) => e instanceof CallRefused && e.status === 403, "another run's pod");
  await assert.rejects(fromRunPod({ namespace: "ci", name: "r1" }, undefined, check), (e: unknown) => e instanceof CallRefused && e.status === 403, "no address");
  await assert.rejects(fromRunPod({ namespace: "ci", name: "r1" }, "10.0.0.7", () => Promise.reject(new Error("etcd down"))), (e: unknown) => e instanceof CallRefused && e.status === 503 && !e.message.includes("etcd"));
  assert.deepEqual(asked, ["ci/r1@10.0.0.7", "ci/r1@10.0.0.8", "ci/r2@10.0.0.7"]);
  assert.equal(callerAddress("::1"), "::1");
});

test("pod answers are kept: a yes for the TTL, a no for a second", async () => {
  let t = 0;
  let calls = 0;
  let answer = false;
  const cached = cachedPodCheck(() => { calls++; return Promise.resolve(answer); }, 10_000, () => t);
  const r = { namespace: "ci", name: "r1" };
  assert.equal(await cached(r, "10.0.0.7"), false);
  answer = true;
  t = 500;
  assert.equal(await cached(r, "10.0.0.7"), false, "a no is kept a second");
  t = 1500;
  assert.equal(await cached(r, "10.0.0.7"), true);
  t = 9000;
  assert.equal(await cached(r, "10.0.0.7"), true);
  assert.equal(calls, 2);
});
