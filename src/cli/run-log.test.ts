import { test } from "node:test";
import assert from "node:assert/strict";
import type * as k8s from "@kubernetes/client-node";
import { seal } from "../provenance/envelope.ts";
import type { AgentRun } from "../types/agent.ts";
import { endLine, eventLine, isOver, phaseLine, renderJson, renderText, traceLines, unannouncedPhase } from "./run-log.ts";

const ev = (over: Partial<k8s.CoreV1Event>): k8s.CoreV1Event => ({ metadata: { uid: "e1" }, involvedObject: { kind: "AgentRun", name: "r1" }, reason: "ToolCallDenied", message: "#2 tool write_file on tools/fs denied: no", type: "Warning", ...over });

test("an Event's time is its eventTime, else its last, first or creation time", () => {
  assert.equal(eventLine(ev({ eventTime: new Date("2026-12-07T07:00:01.000Z") })).time, "2026-12-07T07:00:01.000Z");
  assert.equal(eventLine(ev({ lastTimestamp: new Date("2026-12-07T07:00:02.000Z"), firstTimestamp: new Date("2026-12-07T07:00:00.000Z") })).time, "2026-12-07T07:00:02.000Z");
  assert.equal(eventLine(ev({ metadata: { uid: "e1", creationTimestamp: new Date("2026-12-07T07:00:03.000Z") } })).time, "2026-12-07T07:00:03.000Z");
});

test("a line reads as time, reason, message; -o json is one object per line", () => {
  const line = eventLine(ev({ lastTimestamp: new Date("2026-12-07T07:00:02.123Z") }));
  assert.equal(renderText(line), "2026-12-07T07:00:02Z  ToolCallDenied   #2 tool write_file on tools/fs denied: no");
  assert.deepEqual(JSON.parse(renderJson(line)), { time: "2026-12-07T07:00:02.123Z", kind: "event", type: "Warning", reason: "ToolCallDenied", message: "#2 tool write_file on tools/fs denied: no" });
});

const run = (status: AgentRun["status"]): AgentRun => ({ metadata: { name: "r1", namespace: "qe" }, status });

test("following, a phase change from status is printed only when its Event did not come, at the time it was seen rather than the condition's", () => {
  // The condition keeps Acting's time and message while the run is in PostHooks (its reason stays Running).
  const posthooks = run({ phase: "PostHooks", conditions: [{ type: "Succeeded", status: "Unknown", reason: "Running", message: "the agent finished; running post-hooks", lastTransitionTime: "t-acting" }] });
  const change = { phase: "PostHooks", seenAt: "t-seen" };
  const event = (reason: string) => ({ time: "t-event", kind: "event" as const, type: "Normal" as const, reason, message: "m" });
  assert.equal(unannouncedPhase(change, posthooks, [event("PostHookStarted"), event("PostHooks")]), undefined, "its Event said it");
  assert.deepEqual(unannouncedPhase(change, posthooks, [event("PostHookStarted")]), { time: "t-seen", kind: "phase", type: "Normal", reason: "PostHooks", message: "Running: the agent finished; running post-hooks" });
  assert.equal(unannouncedPhase({ phase: "Acting", seenAt: "t" }, posthooks, []), undefined, "the run has moved on since");
});

test("the phase, and how the run ended with its usage", () => {
  assert.equal(phaseLine(run({}), "t"), undefined);
  const acting = run({ phase: "Acting", conditions: [{ type: "Succeeded", status: "Unknown", reason: "Running", message: "scope ready", lastTransitionTime: "t1" }] });
  assert.deepEqual(phaseLine(acting, "t"), { time: "t1", kind: "phase", type: "Normal", reason: "Acting", message: "Running: scope ready" });
  assert.equal(isOver(acting), false);
  const over = run({ phase: "Failed", completionTime: "t2", usage: { promptTokens: 80, completionTokens: 236, totalTokens: 316, toolCalls: 3 }, conditions: [{ type: "Succeeded", status: "False", reason: "BudgetExceeded", message: "used 316 tokens", lastTransitionTime: "t2" }] });
  assert.equal(isOver(over), true);
  assert.deepEqual(endLine(over), { time: "t2", kind: "end", type: "Warning", reason: "BudgetExceeded", message: "used 316 tokens; 316 tokens (80 prompt, 236 completion), 3 tool calls" });
});

test("the signed trace, read from the run's provenance, line by line; nothing when it has none", () => {
  const calls = { budget: 300, used: 60, calls: 1, untraced: 0, trace: [{ seq: 1, at: "2026-12-07T07:00:00.000Z", kind: "model", model: "gpt-4o", inputSha256: "x", verdict: "allowed", tokens: { prompt: 40, completion: 20, total: 60 }, ms: 9 }] };
  const statement = { predicate: { runDetails: { byproducts: [{ name: "calls", content: Buffer.from(JSON.stringify(calls)).toString("base64") }] } } };
  const lines = traceLines(run({ provenance: seal(statement) }));
  assert.deepEqual(lines, [{ time: "2026-12-07T07:00:00.000Z", kind: "call", type: "Normal", reason: "ModelCall", message: "#1 model gpt-4o allowed: 60 tokens (40 prompt, 20 completion); 60 of 300 used (9 ms)" }]);
  assert.deepEqual(traceLines(run({ provenance: seal({ predicate: { runDetails: { byproducts: [] } } }) })), []);
  assert.deepEqual(traceLines(run({ provenance: { payloadType: "x", payload: "not json", signatures: [] } })), []);
  assert.deepEqual(traceLines(run({})), []);
});

test("control characters an agent or a namespace's writer put in a message cannot reach the terminal", () => {
  const line = eventLine(ev({ reason: "ToolCall\u001b[2J", message: "#1 tool \u001b]0;pwned\u0007read_file", lastTimestamp: new Date("2026-12-07T07:00:00Z") }));
  assert.equal(renderText(line), "2026-12-07T07:00:00Z  ToolCall?[2J     #1 tool ?]0;pwned?read_file");
});
