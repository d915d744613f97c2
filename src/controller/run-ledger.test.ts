import assert from "node:assert/strict";
import test from "node:test";
import { appendStep, emptyLedger, settleStep } from "../calls/ledger.ts";
import { budgetSpent, callEvent, callsRecord, ledgerOutlivesRun, usageOfLedger } from "./run-ledger.ts";

const run = { namespace: "ci", name: "r1", uid: "u1" };
const model = (prompt: number, completion: number) => ({ at: "2026-12-07T00:00:00.000Z", kind: "model" as const, inputSha256: "x", verdict: "allowed" as const, ms: 1, tokens: { prompt, completion, total: prompt + completion } });

test("usage is the ledger's count: used tokens in total, prompt and completion as the provider said, tool calls", () => {
  let s = appendStep(settleStep(emptyLedger(run, 100), 0, 30), model(20, 10));
  s = appendStep(s, { ...model(0, 0), kind: "tool", tokens: undefined });
  assert.deepEqual(usageOfLedger(s), { promptTokens: 20, completionTokens: 10, totalTokens: 30, toolCalls: 1 });
});

test("the budget is spent once used reaches it, and the message carries both exact numbers", () => {
  const under = settleStep(emptyLedger(run, 100), 0, 99);
  assert.equal(budgetSpent(under), undefined);
  const at = settleStep(under, 0, 1);
  assert.match(budgetSpent(at) ?? "", /used 100 tokens .* token budget of 100/);
  assert.match(budgetSpent(settleStep(at, 0, 17)) ?? "", /used 117 tokens/);
});

test("a budget of 0 is spent, never unlimited (as the controller reads a stamp)", () => {
  assert.match(budgetSpent(emptyLedger(run, 0)) ?? "", /used 0 tokens .* token budget of 0/);
});

test("the calls record says how many calls the trace left out", () => {
  const s = { ...appendStep(emptyLedger(run, 10), model(1, 1)), calls: 7 };
  const r = callsRecord(s);
  assert.deepEqual([r.calls, r.untraced, r.trace.length], [7, 6, 1]);
});

test("each traced call becomes an Event: tool calls by name and server, refusals as warnings with the reason, model calls with tokens and the budget", () => {
  const base = { at: "2026-12-07T00:00:00.000Z", inputSha256: "x", ms: 4 };
  assert.deepEqual(callEvent({ ...base, seq: 1, kind: "tool", server: "tools/fs", tool: "read_file", verdict: "allowed" }, { used: 0, budget: 300 }), { type: "Normal", reason: "ToolCall", message: "#1 tool read_file on tools/fs allowed (4 ms)" });
  assert.deepEqual(callEvent({ ...base, seq: 2, kind: "tool", server: "tools/fs", tool: "write_file", verdict: "denied", reason: "system files are not the agent's" }, { used: 0, budget: 300 }), { type: "Warning", reason: "ToolCallDenied", message: "#2 tool write_file on tools/fs denied: system files are not the agent's (4 ms)" });
  assert.deepEqual(callEvent({ ...base, seq: 3, kind: "model", model: "gpt-4o", verdict: "failed", reason: "cut at the run's token budget", tokens: { prompt: 40, completion: 256, total: 296 } }, { used: 356, budget: 300 }), { type: "Warning", reason: "ModelCallFailed", message: "#3 model gpt-4o failed: cut at the run's token budget: 296 tokens (40 prompt, 256 completion); 356 of 300 used (4 ms)" });
  assert.equal(callEvent({ ...base, seq: 4, kind: "model", model: "gpt-4o", verdict: "allowed" }, { used: 10, budget: 0 }).message, "#4 model gpt-4o allowed: no tokens; 10 used (4 ms)");
});

test("calls still in flight when the run's end stopped waiting are said so in the record, not passed over", () => {
  const s = { ...emptyLedger(run, 100), inFlight: 1, reserved: 40 };
  assert.deepEqual(callsRecord(s).unsettled, { toolCalls: 1, reservedTokens: 40 });
  assert.equal(callsRecord(emptyLedger(run, 100)).unsettled, undefined);
});

test("a ledger is swept when its run ended, is another run of the same name, or is gone for longer than a new run could be unseen; never while its run acts", () => {
  const state = emptyLedger(run, 100);
  const acting = { metadata: { name: "r1", namespace: "ci", uid: "u1" }, status: { phase: "Acting" as const } };
  const now = 1_000_000;
  assert.equal(ledgerOutlivesRun(state, acting, now - 3_600_000, now), false);
  assert.equal(ledgerOutlivesRun(state, { ...acting, status: { phase: "Failed" as const } }, now, now), true);
  assert.equal(ledgerOutlivesRun(state, { ...acting, metadata: { ...acting.metadata, uid: "u2" } }, now, now), true);
  assert.equal(ledgerOutlivesRun(state, undefined, now - 30_000, now), false, "a run this new may not be in the cache yet");
  assert.equal(ledgerOutlivesRun(state, undefined, now - 61_000, now), true);
});
