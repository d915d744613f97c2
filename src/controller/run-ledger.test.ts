import assert from "node:assert/strict";
import test from "node:test";
import { appendStep, emptyLedger, settleStep } from "../calls/ledger.ts";
import { budgetSpent, callsRecord, usageOfLedger } from "./run-ledger.ts";

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

test("a run without a budget (0) is never spent", () => {
  assert.equal(budgetSpent(settleStep(emptyLedger(run, 0), 0, 1_000_000)), undefined);
});

test("the calls record says how many calls the trace left out", () => {
  const s = { ...appendStep(emptyLedger(run, 10), model(1, 1)), calls: 7 };
  const r = callsRecord(s);
  assert.deepEqual([r.calls, r.untraced, r.trace.length], [7, 6, 1]);
});
