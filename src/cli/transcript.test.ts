import { test } from "node:test";
import assert from "node:assert/strict";
import type { A2AEvent, Message, Part } from "../controller/a2a/types.ts";
import { summariseArgs, Transcript } from "./transcript.ts";

const T = "2026-12-07T07:00:00.000Z";
const agentMessage = (id: string, parts: Part[], usage?: { promptTokenCount: number; candidatesTokenCount: number }): Message => ({ kind: "message", messageId: id, role: "agent", parts, metadata: usage ? { adk_usage_metadata: usage } : {} });
const working = (m: Message): A2AEvent => ({ kind: "status-update", taskId: "t1", contextId: "c1", status: { state: "working", message: m }, final: false });
const call = (name: string, args: unknown): Part => ({ kind: "data", data: { id: `call-${name}`, name, args }, metadata: { adk_type: "function_call" } });
const result = (name: string, response: unknown): Part => ({ kind: "data", data: { id: `call-${name}`, name, response }, metadata: { adk_type: "function_response" } });

test("the agent's text, each tool call with its arguments summarised, each result, and the tokens as they grow", () => {
  const t = new Transcript();
  const first = t.observe(working(agentMessage("m1", [{ kind: "text", text: "I will read the file." }, call("read_file", { path: "src/refund.py" })], { promptTokenCount: 100, candidatesTokenCount: 20 })), T);
  assert.deepEqual(first.map((l) => `${l.reason}: ${l.message}`), ["AgentMessage: I will read the file.", 'ToolCall: read_file(path="src/refund.py")', "Tokens: 120 so far (100 prompt, 20 completion), 1 tool calls"]);
  const second = t.observe(working(agentMessage("m2", [result("read_file", { content: "def refund" }), result("write_file", { isError: true })])), T);
  assert.deepEqual(second.map((l) => `${l.reason}: ${l.message} (${l.type})`), ["ToolResult: read_file: ok (Normal)", "ToolError: write_file: error (Warning)"]);
  assert.ok(second.every((l) => l.kind === "agent"));
});

test("a record seen again (tasks/get repeats the stream in history) prints nothing twice; partial chunks and thoughts are not the agent's messages", () => {
  const t = new Transcript();
  const m = agentMessage("m1", [{ kind: "text", text: "done" }], { promptTokenCount: 10, candidatesTokenCount: 5 });
  assert.equal(t.observe(working(m), T).length, 2);
  const task: A2AEvent = { kind: "task", id: "t1", contextId: "c1", status: { state: "completed", message: m }, history: [{ kind: "message", messageId: "u1", role: "user", parts: [{ kind: "text", text: "the goal" }] }, m] };
  assert.deepEqual(t.observe(task, T).map((l) => `${l.reason}: ${l.message}`), ["TaskState: kagent task completed"]);
  const partial = agentMessage("m3", [{ kind: "text", text: "d" }]);
  partial.metadata = { adk_partial: true };
  assert.deepEqual(new Transcript().observe(working(partial), T), []);
  assert.deepEqual(new Transcript().observe(working(agentMessage("m4", [{ kind: "text", text: "thinking…", metadata: { adk_thought: true } }])), T), []);
});

test("a tool waiting for a human's approval names the tool and its arguments; the task's pause is said", () => {
  const t = new Transcript();
  const ask: Part = { kind: "data", data: { id: "confirm-1", name: "adk_request_confirmation", args: { originalFunctionCall: { name: "k8s_apply_manifest", args: { manifest: "kind: Deployment" }, id: "call-1" } } }, metadata: { adk_type: "function_call", adk_is_long_running: true } };
  const lines = t.observe({ kind: "status-update", taskId: "t1", contextId: "c1", status: { state: "input-required", message: agentMessage("m9", [ask]) }, final: true }, T);
  assert.deepEqual(lines.map((l) => `${l.reason}: ${l.message}`), ['WaitingForApproval: the agent waits for a human to approve k8s_apply_manifest(manifest="kind: Deployment") in kagent', "TaskState: kagent task input-required"]);
});

test("arguments are summarised: long strings cut, the whole line bounded, nothing multi-line", () => {
  assert.equal(summariseArgs({ path: "a.txt", content: "x".repeat(5000), n: 3 }), `path="a.txt" content="${"x".repeat(39)}…" n=3`);
  assert.ok(summariseArgs(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${String(i)}`, "v"]))).length <= 160);
  assert.equal(summariseArgs(undefined), "");
  assert.equal(summariseArgs({ text: "a\nb" }), 'text="a\\nb"');
});
