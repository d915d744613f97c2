// agentgate's A2A client and driver against the stand-in kagent playing each
// runtime, release and auth mode as kagent's source shows them (see
// test/support/a2a-server.ts for the sources). Each test names the kagent
// behaviour it pins; the compatibility matrix points here.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import winston from "winston";
import { A2AClient, A2AError, userMessage } from "../../src/controller/a2a/client.ts";
import { followTask, ForeignTaskError } from "../../src/controller/a2a/run.ts";
import type { A2AEvent, TaskStatusUpdateEvent } from "../../src/controller/a2a/types.ts";
import { A2ADriver, CancelRefusedError } from "../../src/controller/a2a-driver.ts";
import type { ActParams, ActSession } from "../../src/controller/driver.ts";
import type { FakeKagent, FakeKagentOptions, KagentRelease, KagentRuntime } from "../support/a2a-server.ts";
import { startFakeKagent, unsignedJwt } from "../support/a2a-server.ts";
import { until } from "../support/until.ts";

const quiet = winston.createLogger({ silent: true });
const AGENT = { namespace: "team-a", name: "r1-agent" };
const fast = { pollIntervalMs: 20, checkIntervalMs: 20 };

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "kagent-runtimes-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function withKagent<T>(opts: FakeKagentOptions, fn: (kagent: FakeKagent) => Promise<T>): Promise<T> {
  const kagent = await startFakeKagent(opts);
  try {
    return await fn(kagent);
  } finally {
    await kagent.close();
  }
}

function actParams(over: Partial<Omit<ActParams, "session">> = {}, session: Partial<ActSession> = {}): ActParams {
  return {
    run: { metadata: { name: "r1", namespace: "team-a", uid: "u1" } },
    agent: AGENT,
    goal: "fix the failing pod",
    hints: [],
    messageId: `u1-${randomUUID()}-attempt-1`,
    budgetTokens: 0,
    maxIterations: 0,
    deadline: Date.now() + 20_000,
    session: {
      signal: new AbortController().signal,
      isCancelled: () => false,
      beforeSend: () => Promise.resolve(),
      onTaskId: () => Promise.resolve(),
      onProgress: () => undefined,
      onPause: () => undefined,
      onResume: () => undefined,
      ...session,
    },
    ...over,
  };
}

const cancelCalls = (kagent: FakeKagent) => kagent.received.filter((c) => c.method === "tasks/cancel");
const waitFor = (probe: () => boolean, what: string) => until(what, () => (probe() ? true : undefined));
/** A cancel asked for once the agent has made progress: the task is surely running, whatever the machine's speed. */
function cancelAfterProgress(): Pick<ActSession, "onProgress" | "isCancelled"> {
  let progressed = false;
  return { onProgress: () => { progressed = true; }, isCancelled: () => progressed && "cancelled by spec.status: Cancelled" };
}

// ---- tasks/cancel: refused by the Python runtime, honoured by Go

const refusals: { name: string; release: KagentRelease; kagentSays: string }[] = [
  // a2a-python jsonrpc_app: InternalError(message=str(NotImplementedError)); a2a-go v2 in kagent's controller passes it through
  { name: "kagent v0.9.7+ (a2a-go proxy)", release: "v0.9.7", kagentSays: "Cancellation is not supported" },
  // trpc-a2a-go v0.2.5 wraps the runtime's error: -32603 "Internal error", the original in data
  { name: "kagent v0.9.0–v0.9.6 (trpc-a2a-go proxy)", release: "v0.9.4", kagentSays: "Internal error: OnCancelTask failed: a2aClient.CancelTasks: jsonrpc error -32603: Cancellation is not supported" },
];

for (const c of refusals) {
  test(`python runtime, ${c.name}: a stopped run's outcome says kagent refused to cancel, with kagent's message, and that deleting the Agent stops it`, async () => {
    await withKagent({ runtime: "python", release: c.release, defaultScript: { llmCalls: 6, stepDelayMs: 60 } }, async (kagent) => {
      const outcome = await new A2ADriver(kagent.url, quiet).act(actParams({}, cancelAfterProgress()));
      assert.equal(outcome.reason, "Cancelled");
      assert.equal(outcome.cancelRefused, c.kagentSays);
      assert.ok(outcome.taskId);
      assert.equal(
        outcome.message,
        `cancelled by spec.status: Cancelled; kagent refused to cancel task ${outcome.taskId} (${c.kagentSays}); the agent is stopped by deleting Agent team-a/r1-agent`,
      );
      assert.deepEqual(cancelCalls(kagent).map((r) => r.refusal), [-32603]);
      // the agent keeps working after the refusal
      const calls = kagent.llmCallsMade(outcome.taskId);
      await waitFor(() => kagent.llmCallsMade(outcome.taskId ?? "") > calls, "the task to go on");
      assert.notEqual(kagent.task(outcome.taskId)?.status.state, "canceled");
    });
  });
}

test("python runtime: a budget stop is still BudgetExceeded when the cancel is refused", async () => {
  await withKagent({ runtime: "python", defaultScript: { llmCalls: 8, stepDelayMs: 40 } }, async (kagent) => {
    const outcome = await new A2ADriver(kagent.url, quiet).act(actParams({ budgetTokens: 250 }));
    assert.equal(outcome.reason, "BudgetExceeded");
    assert.equal(outcome.cancelRefused, "Cancellation is not supported");
    assert.match(outcome.message, /^the token budget 250 was exceeded .*; kagent refused to cancel task \S+ \(Cancellation is not supported\); the agent is stopped by deleting Agent team-a\/r1-agent$/);
  });
});

test("go runtime: cancel is honoured: a final canceled event, no refusal in the outcome", async () => {
  await withKagent({ runtime: "go", defaultScript: { llmCalls: 6, stepDelayMs: 60 } }, async (kagent) => {
    const outcome = await new A2ADriver(kagent.url, quiet).act(actParams({}, cancelAfterProgress()));
    assert.equal(outcome.reason, "Cancelled");
    assert.equal(outcome.cancelRefused, undefined);
    assert.ok(outcome.taskId);
    assert.equal(outcome.message, `cancelled by spec.status: Cancelled; task ${outcome.taskId} cancelled`);
    assert.deepEqual(cancelCalls(kagent).map((r) => r.refusal), [undefined]);
    assert.equal(kagent.task(outcome.taskId)?.status.state, "canceled");
    const calls = kagent.llmCallsMade(outcome.taskId);
    // Absence takes a wait: three of the script's steps, in which a running agent would have called its model again.
    await new Promise((r) => setTimeout(r, 3 * 60));
    assert.equal(kagent.llmCallsMade(outcome.taskId), calls, "the agent stopped");
  });
});

test("go runtime: the canceled status-update is final on the wire", async () => {
  await withKagent({ runtime: "go", defaultScript: { llmCalls: 4, stepDelayMs: 200 } }, async (kagent) => {
    const client = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name));
    const events: A2AEvent[] = [];
    let taskId: string | undefined;
    for await (const ev of client.send(userMessage("go", { messageId: randomUUID() }), { stream: true })) {
      events.push(ev);
      if (ev.kind === "task" && !taskId) {
        taskId = ev.id;
        setTimeout(() => void client.cancelTask(ev.id), 50);
      }
    }
    const last = events.at(-1) as TaskStatusUpdateEvent;
    assert.equal(last.kind, "status-update");
    assert.equal(last.status.state, "canceled");
    assert.equal(last.final, true);
  });
});

for (const runtime of ["python", "go"] as const) {
  test(`driver.cancel of a task nobody follows (${runtime})`, async () => {
    await withKagent({ runtime, defaultScript: { llmCalls: 5, stepDelayMs: 100 } }, async (kagent) => {
      const client = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name));
      let taskId = "";
      for await (const ev of client.send(userMessage("go", { messageId: randomUUID() }), { stream: true })) {
        if (ev.kind === "task") taskId = ev.id;
        break;
      }
      const driver = new A2ADriver(kagent.url, quiet);
      if (runtime === "python") {
        await assert.rejects(driver.cancel(AGENT, taskId), (err: unknown) => err instanceof CancelRefusedError && err.kagentMessage === "Cancellation is not supported" && err.taskId === taskId);
      } else {
        await driver.cancel(AGENT, taskId);
        assert.equal(kagent.task(taskId)?.status.state, "canceled");
      }
    });
  });
}

test("driver.cancel of a task that already finished: TaskNotCancelable is no refusal", async () => {
  await withKagent({ runtime: "python", defaultScript: { llmCalls: 1 } }, async (kagent) => {
    const client = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name));
    let taskId = "";
    for await (const ev of client.send(userMessage("go", { messageId: randomUUID() }), { stream: true })) if (ev.kind === "task") taskId = ev.id;
    assert.equal(kagent.task(taskId)?.status.state, "completed");
    await new A2ADriver(kagent.url, quiet).cancel(AGENT, taskId);
    assert.deepEqual(cancelCalls(kagent).map((r) => r.refusal), [-32002]);
  });
});

// ---- usage metadata as each runtime writes it

for (const c of [
  { runtime: "python" as KagentRuntime, key: "kagent_usage_metadata", finalUsage: { promptTokenCount: 100, candidatesTokenCount: 20, totalTokenCount: 120 } },
  { runtime: "go" as KagentRuntime, key: "adk_usage_metadata", finalUsage: undefined },
]) {
  test(`${c.runtime} runtime: usage under ${c.key} per LLM event; the final event ${c.finalUsage ? "repeats the last call's usage (not a total)" : "carries none"}; followTask counts each call once`, async () => {
    await withKagent({ runtime: c.runtime, defaultScript: { llmCalls: 3, promptTokens: 100, completionTokens: 20, toolCallsPerCall: 0 } }, async (kagent) => {
      const client = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name));
      const events: A2AEvent[] = [];
      for await (const ev of client.send(userMessage("go", { messageId: randomUUID() }), { stream: true })) events.push(ev);
      const working = events.filter((e): e is TaskStatusUpdateEvent => e.kind === "status-update" && e.status.message !== undefined && e.status.state === "working");
      assert.equal(working.length, 3);
      for (const e of working) assert.deepEqual(e.status.message?.metadata?.[c.key], { promptTokenCount: 100, candidatesTokenCount: 20, totalTokenCount: 120 });
      const final = events.at(-1) as TaskStatusUpdateEvent;
      assert.equal(final.status.state, "completed");
      assert.deepEqual(final.metadata?.[c.key], c.finalUsage);
      const out = await followTask(client, userMessage("again", { messageId: randomUUID() }), fast);
      assert.deepEqual(out.usage, { promptTokens: 300, completionTokens: 60, totalTokens: 360, toolCalls: 0 });
    });
  });
}

// ---- tasks/get: the history starts with the goal the client sent

for (const runtime of ["python", "go"] as const) {
  test(`tasks/get (${runtime}): the task's history opens with the user's goal under the messageId the client sent, so a stored task id can be checked against the run's goal`, async () => {
    await withKagent({ runtime, defaultScript: { llmCalls: 2 } }, async (kagent) => {
      const client = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name));
      const mine = userMessage(["fix the failing pod", "Hint: look at events"], { messageId: "u1-attempt-1" });
      const other = userMessage("someone else's goal", { messageId: "u2-attempt-1" });
      const out = await followTask(client, mine, fast);
      const theirs = await followTask(client, other, fast);
      assert.ok(out.taskId && theirs.taskId);
      for (const [taskId, sent] of [[out.taskId, mine], [theirs.taskId, other]] as const) {
        const task = await client.getTask(taskId);
        const first = task.history?.[0];
        assert.equal(first?.role, "user");
        assert.equal(first?.messageId, sent.messageId);
        assert.deepEqual(first?.parts.map((p) => (p.kind === "text" ? p.text : p.kind)), sent.parts.map((p) => (p.kind === "text" ? p.text : p.kind)));
        assert.ok((task.history?.length ?? 0) > 1, "the agent's messages follow");
      }
    });
  });
}

test("tasks/get: partial streaming events are not in the stored history (kagent's task store drops them)", async () => {
  await withKagent({ runtime: "python", defaultScript: { llmCalls: 2, partialChunks: true, toolCallsPerCall: 0 } }, async (kagent) => {
    const client = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name));
    const out = await followTask(client, userMessage("go", { messageId: randomUUID() }), fast);
    const task = await client.getTask(out.taskId ?? "");
    assert.ok(task.history?.length);
    assert.ok(!task.history.some((m) => m.metadata?.kagent_adk_partial === true));
    assert.deepEqual(out.usage.totalTokens, 240);
  });
});

test("python runtime: tasks/resubscribe on a task waiting for a human answers TaskNotFound (a2a-python has no queue to tap)", async () => {
  await withKagent({ runtime: "python", defaultScript: { llmCalls: 2, toolCallsPerCall: 0, approval: { afterCalls: 1, tool: "k8s_apply_manifest" } } }, async (kagent) => {
    const client = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name));
    let taskId = "";
    for await (const ev of client.send(userMessage("go", { messageId: randomUUID() }), { stream: true })) if (ev.kind === "task") taskId = ev.id;
    assert.equal(kagent.task(taskId)?.status.state, "input-required");
    await assert.rejects(async () => {
      const events: A2AEvent[] = [];
      for await (const ev of client.resubscribe(taskId)) events.push(ev);
    }, (err: unknown) => err instanceof A2AError && err.code === -32001);
  });
});

// ---- auth: unsecure and trusted-proxy

const jwt = unsignedJwt({ iss: "https://kubernetes.default.svc", sub: "system:serviceaccount:agentgate-system:agentgate-controller", aud: ["kagent"] });

async function tokenFile(content: string): Promise<string> {
  const path = join(dir, `token-${randomUUID()}`);
  await writeFile(path, content);
  return path;
}

test("unsecure: any caller is admin@kagent.dev unless it names a user; no token needed", async () => {
  await withKagent({ auth: { mode: "unsecure" }, defaultScript: { llmCalls: 1 } }, async (kagent) => {
    const outcome = await new A2ADriver(kagent.url, quiet).act(actParams());
    assert.equal(outcome.reason, "Succeeded", outcome.message);
    assert.ok(kagent.received.every((c) => c.user === "admin@kagent.dev" && c.authorization === undefined));
  });
});

test("trusted-proxy (v0.9.4+) without a token: kagent answers HTTP 401 Unauthorized and the run learns why", async () => {
  await withKagent({ auth: { mode: "trusted-proxy" }, defaultScript: { llmCalls: 1 } }, async (kagent) => {
    await assert.rejects(new A2ADriver(kagent.url, quiet).act(actParams()), (err: unknown) => err instanceof A2AError && err.httpStatus === 401 && /HTTP 401: Unauthorized/.test(err.message));
    assert.deepEqual(kagent.received.map((c) => [c.method, c.refusal]), [["message/stream", 401]]);
  });
});

test("trusted-proxy (v0.9.4+) with the token file: Authorization: Bearer <JWT> on every call, the user taken from the token's sub", async () => {
  await withKagent({ auth: { mode: "trusted-proxy" }, defaultScript: { llmCalls: 2, stepDelayMs: 30 } }, async (kagent) => {
    const path = await tokenFile(`${jwt}\n`);
    const outcome = await new A2ADriver(kagent.url, quiet, { tokenFile: path }).act(actParams());
    assert.equal(outcome.reason, "Succeeded", outcome.message);
    assert.ok(kagent.received.length >= 2);
    for (const c of kagent.received) {
      assert.equal(c.authorization, `Bearer ${jwt}`);
      assert.equal(c.user, "system:serviceaccount:agentgate-system:agentgate-controller");
      assert.equal(c.refusal, undefined);
    }
  });
});

test("trusted-proxy: a rotated token file is read again (the kubelet swaps a projected token's file)", async () => {
  await withKagent({ auth: { mode: "trusted-proxy" }, defaultScript: { llmCalls: 1 } }, async (kagent) => {
    const path = await tokenFile(jwt);
    const client = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name), { bearerToken: (await import("../../src/controller/a2a/token.ts")).tokenFromFile(path) });
    const out = await followTask(client, userMessage("go", { messageId: randomUUID() }), fast);
    const next = unsignedJwt({ sub: "system:serviceaccount:agentgate-system:agentgate-controller", iat: 2 });
    const fresh = `${path}.new`;
    await writeFile(fresh, next);
    await rename(fresh, path);
    await client.getTask(out.taskId ?? "");
    assert.equal(kagent.received.at(-1)?.authorization, `Bearer ${next}`);
    assert.notEqual(kagent.received.at(-2)?.authorization, `Bearer ${next}`);
  });
});

const refusedTokens: { name: string; authorization: string }[] = [
  { name: "two parts", authorization: `Bearer ${jwt.split(".").slice(0, 2).join(".")}` },
  { name: "padded base64 payload (kagent decodes RawURLEncoding)", authorization: `Bearer a.${Buffer.from(JSON.stringify({ sub: "x" })).toString("base64")}=.c` },
  { name: "no sub claim", authorization: `Bearer ${unsignedJwt({ email: "a@b" })}` },
  { name: "lower-case scheme", authorization: `bearer ${jwt}` },
];

for (const c of refusedTokens) {
  test(`trusted-proxy (v0.9.4+) refuses a token kagent cannot read: ${c.name}`, async () => {
    await withKagent({ auth: { mode: "trusted-proxy" } }, async (kagent) => {
      const client = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name), { headers: { authorization: c.authorization } });
      await assert.rejects(client.getTask("any"), (err: unknown) => err instanceof A2AError && err.httpStatus === 401);
    });
  });
}

test("trusted-proxy with userIdClaim: the user is that claim", async () => {
  await withKagent({ auth: { mode: "trusted-proxy", userIdClaim: "email" }, defaultScript: { llmCalls: 1 } }, async (kagent) => {
    const client = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name), { bearerToken: () => Promise.resolve(unsignedJwt({ sub: "s", email: "ops@example.com" })) });
    await followTask(client, userMessage("go", { messageId: randomUUID() }), fast);
    assert.ok(kagent.received.every((c) => c.user === "ops@example.com"));
  });
});

test("trusted-proxy, kagent v0.9.0–v0.9.3: no token needed with X-Agent-Name and X-User-Id, but agentgate's client (which sends neither) is refused without one", async () => {
  await withKagent({ auth: { mode: "trusted-proxy" }, release: "v0.9.0", defaultScript: { llmCalls: 1 } }, async (kagent) => {
    const bare = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name));
    await assert.rejects(bare.getTask("any"), (err: unknown) => err instanceof A2AError && err.httpStatus === 401);
    const asAgent = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name), { headers: { "x-agent-name": "kagent/other", "x-user-id": "u@example.com" } });
    // past auth: the task is unknown, said the way the trpc-a2a-go proxy of those releases says it
    await assert.rejects(asAgent.getTask("any"), (err: unknown) => err instanceof A2AError && err.code === -32603 && err.serverMessage === "Internal error: OnGetTask failed: a2aClient.GetTasks: jsonrpc error -32001: Task not found: any");
    const withToken = await new A2ADriver(kagent.url, quiet, { bearerToken: () => Promise.resolve(jwt) }).act(actParams());
    assert.equal(withToken.reason, "Succeeded", withToken.message);
  });
});

test("a token file that cannot be read fails the call before anything is sent, naming the file", async () => {
  await withKagent({ auth: { mode: "trusted-proxy" } }, async (kagent) => {
    const missing = join(dir, "no-such-token");
    await assert.rejects(new A2ADriver(kagent.url, quiet, { tokenFile: missing }).act(actParams()), (err: unknown) => err instanceof A2AError && err.message.includes(missing));
    assert.equal(kagent.received.length, 0);
  });
});

test("resuming a recorded task id that belongs to another goal: refused before anything is done with it, the task neither followed nor cancelled", async () => {
  await withKagent({ runtime: "go", defaultScript: { llmCalls: 3, stepDelayMs: 100 } }, async (kagent) => {
    const client = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name));
    let othersTask = "";
    for await (const ev of client.send(userMessage("someone else's goal", { messageId: "u2-attempt-1" }), { stream: true })) {
      if (ev.kind === "task") othersTask = ev.id;
      break;
    }
    const mine = userMessage("my goal", { messageId: "u1-attempt-1" });
    for (const deadline of [Date.now() + 20_000, Date.now() - 1]) {
      await assert.rejects(
        followTask(client, mine, { ...fast, taskId: othersTask, deadline }),
        (err: unknown) => err instanceof ForeignTaskError && err.message === `kagent task ${othersTask} is not this run's: it was started by message u2-attempt-1, not by the run's goal u1-attempt-1; it is neither followed nor cancelled`,
      );
    }
    assert.equal(cancelCalls(kagent).length, 0);
    assert.notEqual(kagent.task(othersTask)?.status.state, "canceled");
  });
});
