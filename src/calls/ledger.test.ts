import assert from "node:assert/strict";
import test from "node:test";
import { CallRefused } from "./caller.ts";
import { appendStep, closeStep, emptyLedger, Ledger, MemoryLedgerStore, NoLedger, REASON_LIMIT, reserveStep, settleStep, TRACE_LIMIT, type NewTraceEntry } from "./ledger.ts";

const run = { namespace: "ci", name: "r1", uid: "u1" };
const entry: NewTraceEntry = { at: "2026-12-07T00:00:00.000Z", kind: "tool", server: "tools/fs", tool: "read_file", inputSha256: "x", verdict: "allowed", ms: 1 };

test("a reservation grants what is asked while it fits, then what is left", () => {
  const s0 = emptyLedger(run, 1000);
  const a = reserveStep(s0, 600);
  assert.equal(a.grant, 600);
  const b = reserveStep(a.state, 600);
  assert.equal(b.grant, 400, "only what is left of the budget");
  assert.equal(b.state.reserved, 1000);
  assert.throws(() => reserveStep(b.state, 1), (err: unknown) => err instanceof CallRefused && err.status === 429 && /1000 reserved by calls in flight/.test(err.message));
});

test("settling returns the reservation and counts what was spent; a spent budget refuses the next call", () => {
  const { state, grant } = reserveStep(emptyLedger(run, 1000), 800);
  const settled = settleStep(state, grant, 1000);
  assert.deepEqual([settled.used, settled.reserved], [1000, 0]);
  assert.throws(() => reserveStep(settled, 10), /token budget of 1000 is spent: 1000 tokens used/);
});

test("the trace keeps the first TRACE_LIMIT calls in order and counts every one", () => {
  let s = emptyLedger(run, 10);
  for (let i = 0; i < TRACE_LIMIT + 3; i++) s = appendStep(s, entry);
  assert.equal(s.calls, TRACE_LIMIT + 3);
  assert.equal(s.trace.length, TRACE_LIMIT);
  assert.deepEqual(s.trace.slice(0, 3).map((e) => e.seq), [1, 2, 3]);
});

test("Ledger over one store: reserve, settle and record land on the run's state", async () => {
  const ledger = new Ledger(new MemoryLedgerStore());
  const ref = { ...run, budget: 100 };
  await ledger.store.open(emptyLedger(run, 100));
  const grant = await ledger.reserve(ref, 8192);
  assert.equal(grant, 100);
  await assert.rejects(ledger.reserve(ref, 1), CallRefused, "a second call waits for nothing: the budget is reserved");
  await ledger.settle(ref, grant, 30, { ...entry, kind: "model" });
  await ledger.record(ref, entry);
  const state = await ledger.read("u1");
  assert.deepEqual([state?.used, state?.reserved, state?.calls], [30, 0, 2]);
  assert.equal(await ledger.reserve(ref, 1000), 70);
});

test("a long reason (it may quote the agent's arguments) is cut in the trace, so the ledger fits its ConfigMap", () => {
  const s = appendStep(emptyLedger(run, 10), { ...entry, verdict: "denied", reason: "x".repeat(1_000_000) });
  assert.equal(s.trace[0]?.reason?.length, REASON_LIMIT + 1);
  let full = emptyLedger(run, 10);
  for (let i = 0; i < TRACE_LIMIT; i++) full = appendStep(full, { ...entry, verdict: "denied", reason: "y".repeat(10_000) });
  assert.ok(JSON.stringify(full).length < 1024 * 1024, `a full ledger is ${JSON.stringify(full).length} bytes`);
});

test("the ledger adds up tool calls and the provider's prompt and completion tokens across calls", () => {
  let s = emptyLedger(run, 1000);
  s = appendStep(s, { ...entry, kind: "tool", verdict: "denied" });
  s = appendStep(settleStep(s, 0, 30), { ...entry, kind: "model", tokens: { prompt: 20, completion: 10, total: 30 } });
  s = appendStep(s, { ...entry, kind: "tool" });
  s = appendStep(settleStep(s, 0, 7), { ...entry, kind: "model", tokens: { prompt: 5, completion: 2, total: 7 } });
  assert.deepEqual([s.calls, s.toolCalls, s.prompt, s.completion, s.used], [4, 2, 25, 12, 37]);
});

test("a budget of 0 is spent, never unlimited: the first call is refused", () => {
  assert.throws(() => reserveStep(emptyLedger(run, 0), 800), (e: unknown) => e instanceof CallRefused && e.status === 429);
});

test("a closed ledger (the run ended) starts nothing: no reservation, no tool call; a call in flight still settles", async () => {
  const ledger = new Ledger(new MemoryLedgerStore());
  const ref = { ...run, budget: 1000 };
  await ledger.store.open(emptyLedger(run, 1000));
  const grant = await ledger.reserve(ref, 100);
  const begun = await ledger.begin(ref);
  assert.equal(begun.inFlight, 1, "a tool call is counted in flight from before it is judged");
  await ledger.store.update(run.uid, closeStep);
  await assert.rejects(ledger.reserve(ref, 100), (e: unknown) => e instanceof CallRefused && e.status === 409 && /has ended/.test(e.message));
  await assert.rejects(ledger.begin(ref), /has ended/);
  const settled = await ledger.settle(ref, grant, 42, { ...entry, kind: "model" });
  assert.deepEqual([settled.used, settled.reserved, settled.closed], [42, 0, true]);
  const recorded = await ledger.record(ref, entry, true);
  assert.deepEqual([recorded.inFlight, recorded.calls], [0, 2], "the tool call begun before the close is recorded and no longer in flight");
});

test("names in an entry are cut: a tool name the agent makes a megabyte long cannot fill the ledger", () => {
  const s = appendStep(emptyLedger(run, 10), { ...entry, tool: "t".repeat(1_100_000), server: "s".repeat(5000) });
  const kept = s.trace[0];
  assert.ok(kept);
  assert.equal(kept.tool?.length, 201);
  assert.equal(kept.server?.length, 201);
  assert.ok(JSON.stringify(s).length < 2000);
});

test("the gateway never starts a count from zero: a run without a ledger is refused", async () => {
  const ledger = new Ledger(new MemoryLedgerStore());
  await assert.rejects(ledger.reserve({ ...run, budget: 1000 }, 1), (e: unknown) => e instanceof NoLedger && e.status === 409);
  await assert.rejects(ledger.record({ ...run, budget: 1000 }, entry), NoLedger);
  await assert.rejects(ledger.begin({ ...run, budget: 1000 }), NoLedger);
});

test("a model call refused for the budget is traced in the same write as the refusal; a closed ledger refuses without tracing", async () => {
  const ledger = new Ledger(new MemoryLedgerStore());
  const ref = { ...run, budget: 10 };
  await ledger.store.open(emptyLedger(run, 10));
  await ledger.settle(ref, await ledger.reserve(ref, 10), 10, { ...entry, kind: "model" });
  const denied = (reason: string): NewTraceEntry => ({ ...entry, kind: "model", verdict: "denied", reason });
  await assert.rejects(ledger.reserve(ref, 5, denied), (e: unknown) => e instanceof CallRefused && e.status === 429);
  const after = await ledger.read(run.uid);
  assert.deepEqual(after?.trace.map((e) => e.verdict), ["allowed", "denied"]);
  assert.match(after?.trace[1]?.reason ?? "", /budget of 10 is spent/);
  await ledger.store.update(run.uid, closeStep);
  await assert.rejects(ledger.reserve(ref, 5, denied), (e: unknown) => e instanceof CallRefused && e.status === 409);
  assert.equal((await ledger.read(run.uid))?.trace.length, 2, "the run had ended: nothing more is traced in its name");
});
