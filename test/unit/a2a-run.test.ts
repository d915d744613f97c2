import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import type { AgentScript, FakeKagent, FakeKagentOptions } from "../support/a2a-server.ts";
import { startFakeKagent } from "../support/a2a-server.ts";
import { A2AClient, userMessage } from "../../src/controller/a2a/client.ts";
import type { FollowOptions, FollowOutcome, Pause } from "../../src/controller/a2a/run.ts";
import { followTask } from "../../src/controller/a2a/run.ts";

const AGENT = "team-a/run-1-agent";

async function withFake<T>(opts: FakeKagentOptions, script: AgentScript, fn: (fake: FakeKagent, client: A2AClient) => Promise<T>): Promise<T> {
  const fake = await startFakeKagent(opts);
  fake.setScript(AGENT, script);
  try {
    return await fn(fake, new A2AClient(fake.agentUrl("team-a", "run-1-agent"), { timeoutMs: 5000 }));
  } finally {
    await fake.close();
  }
}

function goal(): ReturnType<typeof userMessage> {
  return userMessage(["fix the failing pod", "hint: look at events"], { messageId: `uid-${randomUUID()}-attempt-1` });
}

const fast: Partial<FollowOptions> = { pollIntervalMs: 20, checkIntervalMs: 20 };

function cancels(fake: FakeKagent): number {
  return fake.received.filter((c) => c.method === "tasks/cancel" || c.method === "CancelTask").length;
}

// 3 LLM calls of 100 + 20 tokens, a tool call in each but the last
const THREE_CALLS: AgentScript = { llmCalls: 3, promptTokens: 100, completionTokens: 20, toolCallsPerCall: 1, resultText: "pod fixed", artifacts: [{ name: "summary", text: "restarted 1 pod" }] };
const THREE_CALLS_USAGE = { promptTokens: 300, completionTokens: 60, totalTokens: 360, toolCalls: 2 };

const completing: { name: string; opts: FakeKagentOptions; script: AgentScript; follow?: Partial<FollowOptions>; want?: typeof THREE_CALLS_USAGE }[] = [
  { name: "0.3 stream, Python runtime (kagent_ keys, the last call's usage repeated on the final event)", opts: { protocol: "0.3", runtime: "python" }, script: THREE_CALLS },
  { name: "0.3 stream, Go runtime (adk_ keys) without totals", opts: { protocol: "0.3", runtime: "go" }, script: { ...THREE_CALLS, omitTotal: true } },
  { name: "0.3 stream with partial chunks", opts: { protocol: "0.3" }, script: { ...THREE_CALLS, partialChunks: true } },
  { name: "0.3 stream fragmented into tiny CRLF pieces", opts: { protocol: "0.3" }, script: { ...THREE_CALLS, fragmentSse: true } },
  { name: "0.3 stream dropped mid-task, resubscribed", opts: { protocol: "0.3" }, script: { ...THREE_CALLS, dropStreamAfter: 3, stepDelayMs: 30 } },
  { name: "0.3 stream dropped mid-task, polled", opts: { protocol: "0.3" }, script: { ...THREE_CALLS, dropStreamAfter: 3, stepDelayMs: 30, resubscribe: false } },
  { name: "0.3 without streaming: message/send fallback then polling", opts: { protocol: "0.3" }, script: { ...THREE_CALLS, streaming: false, stepDelayMs: 20 } },
  { name: "0.3 with stream: false", opts: { protocol: "0.3" }, script: { ...THREE_CALLS, stepDelayMs: 20 }, follow: { stream: false } },
  { name: "1.0 (kagent main) detected automatically", opts: { protocol: "1.0" }, script: THREE_CALLS },
  { name: "1.0 with partial artifact chunks", opts: { protocol: "1.0" }, script: { ...THREE_CALLS, partialChunks: true } },
  { name: "1.0 without streaming", opts: { protocol: "1.0" }, script: { ...THREE_CALLS, streaming: false, stepDelayMs: 20 } },
];

for (const c of completing) {
  test(`followTask completes: ${c.name}`, async () => {
    await withFake(c.opts, c.script, async (fake, client) => {
      const message = goal();
      const taskIds: string[] = [];
      const lines: string[] = [];
      const out = await followTask(client, message, {
        ...fast,
        ...c.follow,
        budgetTokens: 10_000,
        deadline: Date.now() + 20_000,
        onTaskId: (id) => { taskIds.push(id); },
        onProgress: (line) => lines.push(line),
      });
      assert.equal(out.reason, "Succeeded", out.message);
      assert.equal(out.state, "completed");
      assert.deepEqual(out.usage, c.want ?? THREE_CALLS_USAGE);
      assert.equal(out.iterations, 3);
      assert.deepEqual(
        [...out.results].sort((a, b) => a.name.localeCompare(b.name)),
        [
          { name: "result", value: "pod fixed" },
          { name: "summary", value: "restarted 1 pod" },
        ],
      );
      assert.ok(out.taskId);
      assert.deepEqual(taskIds, [out.taskId]);
      assert.equal(fake.sendCount(message.messageId), 1, "the goal is sent exactly once");
      // the final tasks/get repeats the whole history: counting it again would double the usage
      assert.ok(fake.received.some((r) => r.method === "tasks/get" || r.method === "GetTask"), "the task was re-read");
      assert.ok(lines.includes("calling tool tool_0"), lines.join(" | "));
      assert.ok(lines.includes("pod fixed"), lines.join(" | "));
      assert.equal(cancels(fake), 0);
    });
  });
}

const stopping: { name: string; script: AgentScript; follow: (t0: number) => Partial<FollowOptions>; reason: FollowOutcome["reason"]; check?: (out: FollowOutcome) => void }[] = [
  {
    name: "token budget exceeded",
    script: { llmCalls: 10, promptTokens: 100, completionTokens: 20, stepDelayMs: 40 },
    follow: () => ({ budgetTokens: 250 }),
    reason: "BudgetExceeded",
    check: (out) => {
      assert.ok(out.usage.totalTokens > 250 && out.usage.totalTokens < 1200, String(out.usage.totalTokens));
      assert.match(out.message, /token budget 250/);
    },
  },
  {
    name: "iteration bound exceeded",
    script: { llmCalls: 10, stepDelayMs: 40 },
    follow: () => ({ maxIterations: 2 }),
    reason: "BudgetExceeded",
    check: (out) => assert.match(out.message, /iteration bound 2/),
  },
  { name: "deadline passed", script: { llmCalls: 3, stepDelayMs: 10_000 }, follow: (t0) => ({ deadline: t0 + 300 }), reason: "TimedOut" },
  {
    name: "run cancelled",
    script: { llmCalls: 3, stepDelayMs: 10_000 },
    follow: (t0) => ({ isCancelled: () => Date.now() - t0 > 300 }),
    reason: "Cancelled",
  },
];

for (const protocol of ["0.3", "1.0"] as const) {
  for (const c of stopping) {
    test(`followTask stops the task (${protocol}): ${c.name}`, async () => {
      await withFake({ protocol }, c.script, async (fake, client) => {
        const t0 = Date.now();
        const out = await followTask(client, goal(), { ...fast, ...c.follow(t0) });
        // that it stopped early is told by the calls made, not by a clock
        assert.equal(out.reason, c.reason, out.message);
        assert.equal(cancels(fake), 1, "tasks/cancel sent once");
        assert.ok(out.taskId);
        assert.equal(fake.task(out.taskId)?.status.state, "canceled");
        assert.ok(fake.llmCallsMade(out.taskId) < (c.script.llmCalls ?? 2), "the agent did not run to the end");
        assert.match(out.message, /cancelled/);
        c.check?.(out);
      });
    });
  }
}

test("followTask: a budget and an iteration bound spent exactly are not exceeded", async () => {
  await withFake({ protocol: "0.3" }, THREE_CALLS, async (fake, client) => {
    const out = await followTask(client, goal(), { ...fast, budgetTokens: THREE_CALLS_USAGE.totalTokens, maxIterations: 3, deadline: Date.now() + 20_000 });
    assert.equal(out.reason, "Succeeded", out.message);
    assert.deepEqual(out.usage, THREE_CALLS_USAGE);
    assert.equal(out.iterations, 3);
    assert.equal(cancels(fake), 0);
  });
});

test("followTask: a failed task is AgentFailed with kagent's message, and is not cancelled", async () => {
  await withFake({}, { llmCalls: 1, finalState: "failed", failureMessage: "model quota exhausted" }, async (fake, client) => {
    const out = await followTask(client, goal(), fast);
    assert.equal(out.reason, "AgentFailed");
    assert.equal(out.state, "failed");
    assert.match(out.message, /failed: model quota exhausted/);
    assert.equal(cancels(fake), 0);
  });
});

test("followTask: a rejected task is AgentFailed", async () => {
  await withFake({ protocol: "1.0" }, { llmCalls: 0, finalState: "rejected", failureMessage: "not allowed" }, async (_fake, client) => {
    const out = await followTask(client, goal(), fast);
    assert.equal(out.reason, "AgentFailed");
    assert.match(out.message, /rejected: not allowed/);
  });
});

// kagent pauses a task in input-required when the agent calls a tool listed in
// requireApproval, until a human decides in kagent's UI.
const APPROVAL: AgentScript = { llmCalls: 3, promptTokens: 100, completionTokens: 20, toolCallsPerCall: 0, resultText: "manifest applied", approval: { afterCalls: 1, tool: "k8s_apply_manifest" } };

for (const protocol of ["0.3", "1.0"] as const) {
  test(`followTask (${protocol}): a task paused for a tool approval is followed through the pause and resumes when a human approves`, async () => {
    await withFake({ protocol }, APPROVAL, async (fake, client) => {
      const pauses: Pause[] = [];
      const resumed: string[] = [];
      let taskId: string | undefined;
      const out = await followTask(client, goal(), {
        ...fast,
        deadline: Date.now() + 20_000,
        onTaskId: (id) => { taskId = id; },
        onPause: (p) => {
          pauses.push(p);
          // the human, in kagent's UI, a moment later
          setTimeout(() => void fake.approve("team-a", "run-1-agent", taskId ?? ""), 100);
        },
        onResume: (state) => resumed.push(state),
      });
      assert.equal(out.reason, "Succeeded", out.message);
      assert.equal(pauses.length, 1);
      assert.equal(pauses[0]?.tool, "k8s_apply_manifest");
      assert.match(pauses[0]?.message ?? "", /waiting for a human to approve tool call k8s_apply_manifest in kagent/);
      assert.equal(resumed.length, 1, `resumed: ${resumed.join(", ")}`);
      assert.deepEqual(fake.decisions(out.taskId ?? ""), ["approve"]);
      assert.equal(fake.llmCallsMade(out.taskId ?? ""), 3, "the agent ran to the end after the approval");
      assert.equal(out.usage.totalTokens, 360);
      assert.equal(cancels(fake), 0, "a paused task is not cancelled");
      assert.deepEqual(out.results, [{ name: "result", value: "manifest applied" }]);
    });
  });
}

const pausedStops: { name: string; follow: (t0: number) => Partial<FollowOptions>; reason: FollowOutcome["reason"] }[] = [
  { name: "the deadline passes while nobody approves", follow: (t0) => ({ deadline: t0 + 500 }), reason: "TimedOut" },
  { name: "the run is cancelled while it waits", follow: (t0) => ({ isCancelled: () => Date.now() - t0 > 500 && "cancelled by spec.status: Cancelled" }), reason: "Cancelled" },
];

for (const c of pausedStops) {
  test(`followTask: a paused task is cancelled when ${c.name}`, async () => {
    await withFake({}, APPROVAL, async (fake, client) => {
      let paused = 0;
      const out = await followTask(client, goal(), { ...fast, ...c.follow(Date.now()), onPause: () => paused++ });
      assert.equal(paused, 1);
      assert.equal(out.reason, c.reason, out.message);
      assert.equal(cancels(fake), 1);
      assert.equal(fake.task(out.taskId ?? "")?.status.state, "canceled");
      if (c.reason === "Cancelled") assert.match(out.message, /^cancelled by spec\.status: Cancelled; task .* cancelled$/);
      // the confirmation request is HITL plumbing, not a tool call
      assert.equal(out.usage.toolCalls, 0);
    });
  });
}

test("followTask: a deadline already past sends nothing", async () => {
  await withFake({}, {}, async (fake, client) => {
    const message = goal();
    const out = await followTask(client, message, { ...fast, deadline: Date.now() - 1 });
    assert.equal(out.reason, "TimedOut");
    assert.equal(fake.sendCount(message.messageId), 0);
    assert.equal(out.taskId, undefined);
  });
});

for (const variant of [
  { name: "resubscribing", script: {} },
  { name: "polling, resubscribe unknown", script: { resubscribe: false } },
  { name: "polling, no streaming", script: { streaming: false } },
] as const) {
  test(`followTask resumes a recorded task without re-sending the goal (${variant.name})`, async () => {
    await withFake({}, { ...THREE_CALLS, stepDelayMs: 60, ...variant.script }, async (fake, client) => {
      const message = goal();
      // a previous controller sent the goal, learned the task id, then died
      let taskId: string | undefined;
      for await (const ev of new A2AClient(client.url).send(message, { stream: true })) {
        if (ev.kind === "task") taskId = ev.id;
        break;
      }
      assert.ok(taskId);
      const seen: string[] = [];
      const out = await followTask(client, message, { ...fast, taskId, onTaskId: (id) => { seen.push(id); } });
      assert.equal(out.reason, "Succeeded", out.message);
      assert.equal(out.taskId, taskId);
      assert.equal(fake.sendCount(message.messageId), 1, "goal sent once in total");
      assert.deepEqual(out.usage, THREE_CALLS_USAGE, "usage rebuilt from the task's history");
      assert.deepEqual(seen, [], "the caller already knows the task id");
    });
  });
}

test("followTask: resuming a task that finished meanwhile only reads it", async () => {
  await withFake({}, THREE_CALLS, async (fake, client) => {
    const message = goal();
    let taskId: string | undefined;
    for await (const ev of client.send(message, { stream: true })) {
      if (ev.kind === "task") taskId ??= ev.id;
    }
    assert.ok(taskId);
    const before = fake.received.length;
    const out = await followTask(client, message, { ...fast, taskId });
    assert.equal(out.reason, "Succeeded");
    assert.deepEqual(out.usage, THREE_CALLS_USAGE);
    assert.deepEqual(
      fake.received.slice(before).map((r) => r.method),
      ["tasks/get", "tasks/get"],
    );
  });
});

test("followTask: resuming past the deadline cancels the recorded task", async () => {
  await withFake({}, { llmCalls: 3, stepDelayMs: 10_000 }, async (fake, client) => {
    const message = goal();
    let taskId: string | undefined;
    for await (const ev of client.send(message, { stream: true })) {
      if (ev.kind === "task") taskId = ev.id;
      break;
    }
    assert.ok(taskId);
    const out = await followTask(client, message, { ...fast, taskId, deadline: Date.now() - 1 });
    assert.equal(out.reason, "TimedOut");
    assert.equal(fake.task(taskId)?.status.state, "canceled");
    assert.equal(fake.sendCount(message.messageId), 1);
  });
});

test("followTask: the caller's abort (controller shutdown) rejects and leaves the task running", async () => {
  await withFake({}, { llmCalls: 3, stepDelayMs: 10_000 }, async (fake, client) => {
    const ac = new AbortController();
    let taskId: string | undefined;
    const pending = followTask(client, goal(), {
      ...fast,
      signal: ac.signal,
      onTaskId: (id) => {
        taskId = id;
        setTimeout(() => ac.abort(new Error("shutting down")), 50);
      },
    });
    await assert.rejects(pending, /shutting down/);
    assert.ok(taskId);
    assert.equal(cancels(fake), 0);
    assert.notEqual(fake.task(taskId)?.status.state, "canceled");
  });
});
