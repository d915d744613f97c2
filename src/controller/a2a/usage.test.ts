import assert from "node:assert/strict";
import { test } from "node:test";
import type { A2AEvent, Artifact, Message, Metadata, Part, Task, Usage } from "./types.ts";
import { UsageMeter } from "./usage.ts";

const usage = (prompt: number, completion: number, total?: number): Metadata => ({
  promptTokenCount: prompt,
  candidatesTokenCount: completion,
  ...(total === undefined ? {} : { totalTokenCount: total }),
});

const text = (t: string): Part => ({ kind: "text", text: t });
const call = (name: string, key = "kagent_type"): Part => ({ kind: "data", data: { id: `id-${name}`, name, args: {} }, metadata: { [key]: "function_call" } });
const response = (name: string, child?: Metadata): Part => ({
  kind: "data",
  data: { id: `id-${name}`, name, response: { result: "ok", ...(child ? { kagent_usage_metadata: child } : {}) } },
  metadata: { kagent_type: "function_response" },
});

function msg(id: string, parts: Part[], metadata?: Metadata, role: "agent" | "user" = "agent"): Message {
  return { kind: "message", messageId: id, role, parts, ...(metadata ? { metadata } : {}) };
}

function working(m: Message, eventMeta?: Metadata): A2AEvent {
  return { kind: "status-update", taskId: "t1", contextId: "c1", status: { state: "working", message: m }, final: false, ...(eventMeta ? { metadata: eventMeta } : {}) };
}

function task(history: Message[], opts: { status?: Message; artifacts?: Artifact[]; metadata?: Metadata; state?: "working" | "completed" } = {}): Task {
  return {
    kind: "task",
    id: "t1",
    contextId: "c1",
    status: { state: opts.state ?? "completed", ...(opts.status ? { message: opts.status } : {}) },
    history,
    ...(opts.artifacts ? { artifacts: opts.artifacts } : {}),
    ...(opts.metadata ? { metadata: opts.metadata } : {}),
  };
}

function artifactUpdate(a: Artifact, extra: { append?: boolean; lastChunk?: boolean } = {}): A2AEvent {
  return { kind: "artifact-update", taskId: "t1", contextId: "c1", artifact: a, ...extra };
}

const m1 = msg("m1", [text("looking"), call("list_pods")], { kagent_usage_metadata: usage(100, 20, 120), kagent_invocation_id: "i" });
const m2 = msg("m2", [text("the answer")], { kagent_usage_metadata: usage(150, 30, 180) });
const toolResult = msg("r1", [response("list_pods")], { kagent_invocation_id: "i" });

const cases: { name: string; events: A2AEvent[]; want: Usage; calls: number }[] = [
  {
    name: "status messages sum per LLM call",
    events: [working(m1), working(toolResult), working(m2)],
    want: { promptTokens: 250, completionTokens: 50, totalTokens: 300, toolCalls: 1 },
    calls: 2,
  },
  {
    name: "tasks/get history repeating streamed messages counts each messageId once",
    events: [working(m1), working(m2), task([msg("u", [text("goal")], undefined, "user"), m1, toolResult, m2], { status: m2 }), task([m1, m2])],
    want: { promptTokens: 250, completionTokens: 50, totalTokens: 300, toolCalls: 1 },
    calls: 2,
  },
  {
    name: "the final status and task metadata repeating the last call's usage are not counted",
    events: [
      working(m1, { kagent_usage_metadata: usage(100, 20, 120) }),
      { kind: "status-update", taskId: "t1", contextId: "c1", status: { state: "completed" }, final: true, metadata: { kagent_usage_metadata: usage(100, 20, 120) } },
      task([m1], { metadata: { kagent_usage_metadata: usage(100, 20, 120) } }),
    ],
    want: { promptTokens: 100, completionTokens: 20, totalTokens: 120, toolCalls: 1 },
    calls: 1,
  },
  {
    name: "Go ADK adk_ keys",
    events: [working(msg("g1", [call("a", "adk_type"), call("b", "adk_type")], { adk_usage_metadata: usage(10, 5, 15) }))],
    want: { promptTokens: 10, completionTokens: 5, totalTokens: 15, toolCalls: 2 },
    calls: 1,
  },
  {
    name: "missing totalTokenCount is prompt + completion",
    events: [working(msg("x", [text("a")], { kagent_usage_metadata: usage(7, 3) }))],
    want: { promptTokens: 7, completionTokens: 3, totalTokens: 10, toolCalls: 0 },
    calls: 1,
  },
  {
    name: "ProtoJSON string counts and snake_case fields",
    events: [
      working(msg("s1", [text("a")], { kagent_usage_metadata: { promptTokenCount: "40", candidatesTokenCount: "2", totalTokenCount: "42" } })),
      working(msg("s2", [text("b")], { kagent_usage_metadata: { prompt_token_count: 8, candidates_token_count: 1 } })),
    ],
    want: { promptTokens: 48, completionTokens: 3, totalTokens: 51, toolCalls: 0 },
    calls: 2,
  },
  {
    name: "partial streaming chunks are skipped (kagent_adk_partial, adk_partial)",
    events: [
      working(msg("p1", [text("lo")], { kagent_usage_metadata: usage(100, 1, 101), kagent_adk_partial: true })),
      working(msg("p2", [text("lo")], { adk_usage_metadata: usage(100, 2, 102), adk_partial: true })),
      working(m2),
    ],
    want: { promptTokens: 150, completionTokens: 30, totalTokens: 180, toolCalls: 0 },
    calls: 1,
  },
  {
    name: "user messages never count",
    events: [working(msg("u1", [call("x")], { kagent_usage_metadata: usage(1, 1, 2) }, "user"))],
    want: { promptTokens: 0, completionTokens: 0, totalTokens: 0, toolCalls: 0 },
    calls: 0,
  },
  {
    name: "HITL control calls are not tool calls",
    events: [working(msg("h", [call("adk_request_confirmation"), call("adk_request_credential"), call("real")], { kagent_usage_metadata: usage(1, 1, 2) }))],
    want: { promptTokens: 1, completionTokens: 1, totalTokens: 2, toolCalls: 1 },
    calls: 1,
  },
  {
    name: "sub-agent usage inside a function_response is added, not as an iteration",
    events: [working(msg("r", [response("k8s_agent", usage(500, 50, 550))], { kagent_invocation_id: "i" }))],
    want: { promptTokens: 500, completionTokens: 50, totalTokens: 550, toolCalls: 0 },
    calls: 0,
  },
  {
    name: "A2A 1.0 per-event artifacts: closing chunk counts, earlier chunks and task repeats do not",
    events: [
      artifactUpdate({ artifactId: "a1", parts: [text("lo")], metadata: { kagent_usage_metadata: usage(100, 1, 101) } }, { append: true, lastChunk: false }),
      artifactUpdate({ artifactId: "a1", parts: [text("looking"), call("get")], metadata: { kagent_usage_metadata: usage(100, 20, 120) } }, { lastChunk: true }),
      artifactUpdate({ artifactId: "a2", parts: [response("get")], metadata: { kagent_author: "agent" } }, { lastChunk: true }),
      artifactUpdate({ artifactId: "a3", parts: [text("answer")], metadata: { kagent_usage_metadata: usage(150, 30, 180) } }),
      task([], {
        artifacts: [
          { artifactId: "a1", parts: [text("looking"), call("get")], metadata: { kagent_usage_metadata: usage(100, 20, 120) } },
          { artifactId: "a3", parts: [text("answer")], metadata: { kagent_usage_metadata: usage(150, 30, 180) } },
        ],
      }),
    ],
    want: { promptTokens: 250, completionTokens: 50, totalTokens: 300, toolCalls: 1 },
    calls: 2,
  },
  {
    name: "adk_ keys win over kagent_ keys when a record carries both (kagent's own order)",
    events: [working(msg("both", [text("a")], { adk_usage_metadata: usage(10, 2, 12), kagent_usage_metadata: usage(900, 90, 990) }))],
    want: { promptTokens: 10, completionTokens: 2, totalTokens: 12, toolCalls: 0 },
    calls: 1,
  },
  {
    name: "negative and non-numeric counts read as 0",
    events: [working(msg("neg", [text("a")], { kagent_usage_metadata: { promptTokenCount: -5, candidatesTokenCount: "many", totalTokenCount: 7.9 } }))],
    want: { promptTokens: 0, completionTokens: 0, totalTokens: 7, toolCalls: 0 },
    calls: 1,
  },
  {
    name: "a task's status message that is not in its history counts",
    events: [task([m1], { status: m2 })],
    want: { promptTokens: 250, completionTokens: 50, totalTokens: 300, toolCalls: 1 },
    calls: 2,
  },
  {
    name: "the same artifact id in two tasks is two records",
    events: [
      { kind: "artifact-update", taskId: "t1", contextId: "c1", artifact: { artifactId: "a1", parts: [text("x")], metadata: { kagent_usage_metadata: usage(10, 1, 11) } } },
      { kind: "artifact-update", taskId: "t2", contextId: "c1", artifact: { artifactId: "a1", parts: [text("y")], metadata: { kagent_usage_metadata: usage(20, 2, 22) } } },
    ],
    want: { promptTokens: 30, completionTokens: 3, totalTokens: 33, toolCalls: 0 },
    calls: 2,
  },
  {
    name: "A2A 0.3 final artifact repeating the last message (no metadata) is not counted",
    events: [working(m1), artifactUpdate({ artifactId: "final", parts: [text("looking"), call("list_pods")] }, { lastChunk: true })],
    want: { promptTokens: 100, completionTokens: 20, totalTokens: 120, toolCalls: 1 },
    calls: 1,
  },
];

for (const c of cases) {
  test(`usage: ${c.name}`, () => {
    const meter = new UsageMeter();
    for (const ev of c.events) meter.observe(ev);
    assert.deepEqual(meter.usage, c.want);
    assert.equal(meter.llmCalls, c.calls);
  });
}

test("usage: a record seen again with other counts replaces its first contribution", () => {
  const meter = new UsageMeter();
  meter.observe({ kind: "task", id: "t1", contextId: "c", status: { state: "working" }, artifacts: [{ artifactId: "a", parts: [text("x")], metadata: { kagent_usage_metadata: usage(10, 1, 11) } }] });
  meter.observe({ kind: "task", id: "t1", contextId: "c", status: { state: "completed" }, artifacts: [{ artifactId: "a", parts: [text("xy")], metadata: { kagent_usage_metadata: usage(10, 5, 15) } }] });
  assert.deepEqual(meter.usage, { promptTokens: 10, completionTokens: 5, totalTokens: 15, toolCalls: 0 });
  assert.equal(meter.llmCalls, 1);
});

test("usage: progress lines for new records only, thoughts left out", () => {
  const meter = new UsageMeter();
  const thought: Part = { kind: "text", text: "secret reasoning", metadata: { kagent_thought: true } };
  const first = meter.observe(working(msg("a", [thought, text("checking   the\npods"), call("list_pods")], { kagent_usage_metadata: usage(1, 1, 2) })));
  const again = meter.observe(task([msg("a", [thought, text("checking the pods"), call("list_pods")], { kagent_usage_metadata: usage(1, 1, 2) })]));
  assert.deepEqual(first, ["checking the pods", "calling tool list_pods"]);
  assert.deepEqual(again, []);
});

test("usage: streaming chunks of an artifact give no progress lines; its closing chunk does", () => {
  const meter = new UsageMeter();
  const partial = meter.observe(artifactUpdate({ artifactId: "a1", parts: [text("lo")], metadata: { kagent_usage_metadata: usage(100, 1, 101) } }, { append: true, lastChunk: false }));
  const closing = meter.observe(artifactUpdate({ artifactId: "a1", parts: [text("looking"), call("get")], metadata: { kagent_usage_metadata: usage(100, 20, 120) } }, { lastChunk: true }));
  assert.deepEqual(partial, []);
  assert.deepEqual(closing, ["looking", "calling tool get"]);
});

test("usage: a 1.0 chunk whose false lastChunk ProtoJSON left out is still a chunk (append: true); a closing chunk without the field counts", () => {
  const meter = new UsageMeter();
  const partial = meter.observe(artifactUpdate({ artifactId: "a1", parts: [text("lo")], metadata: { adk_usage_metadata: usage(100, 1, 101) } }, { append: true }));
  const closing = meter.observe(artifactUpdate({ artifactId: "a1", parts: [text("looking")], metadata: { adk_usage_metadata: usage(100, 20, 120) } }));
  assert.deepEqual(partial, []);
  assert.deepEqual(closing, ["looking"]);
  assert.equal(meter.usage.totalTokens, 120);
});
