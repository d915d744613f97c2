import assert from "node:assert/strict";
import { test } from "node:test";
import type { SseEvent } from "./sse.ts";
import { DEFAULT_MAX_EVENT_CHARS, readSse, SseLimitError, SseParser } from "./sse.ts";

function parseAll(chunks: string[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...p.push(c));
  out.push(...p.end());
  return out;
}

const cases: { name: string; input: string; want: SseEvent[] }[] = [
  { name: "one event", input: 'data: {"a":1}\n\n', want: [{ event: "message", data: '{"a":1}' }] },
  { name: "CRLF line ends", input: "data: x\r\n\r\ndata: y\r\n\r\n", want: [{ event: "message", data: "x" }, { event: "message", data: "y" }] },
  { name: "bare CR line ends", input: "data: x\r\rdata: y\r\r", want: [{ event: "message", data: "x" }, { event: "message", data: "y" }] },
  { name: "multi-line data joined with LF", input: "data: {\ndata:  \"a\": 1\ndata: }\n\n", want: [{ event: "message", data: '{\n "a": 1\n}' }] },
  { name: "comments and unknown fields ignored", input: ": keep-alive\nretry: 10\nfoo: bar\ndata: x\n\n: ping\n\n", want: [{ event: "message", data: "x" }] },
  { name: "event and id fields", input: "event: update\nid: 7\ndata: x\n\ndata: y\n\n", want: [{ event: "update", data: "x", id: "7" }, { event: "message", data: "y", id: "7" }] },
  { name: "no space after colon; field without colon", input: "data:x\ndata\n\n", want: [{ event: "message", data: "x\n" }] },
  { name: "empty data field dispatches an empty event", input: "data:\n\n", want: [{ event: "message", data: "" }] },
  { name: "blank lines without data dispatch nothing", input: "\n\nevent: x\n\n", want: [] },
  { name: "leading BOM", input: "\uFEFFdata: x\n\n", want: [{ event: "message", data: "x" }] },
  { name: "unterminated last event is dropped", input: "data: x\n\ndata: partial", want: [{ event: "message", data: "x" }] },
];

for (const c of cases) {
  test(`SSE: ${c.name}, whole`, () => {
    assert.deepEqual(parseAll([c.input]), c.want);
  });

  test(`SSE: ${c.name}, split at every position`, () => {
    for (let i = 0; i <= c.input.length; i++) {
      assert.deepEqual(parseAll([c.input.slice(0, i), c.input.slice(i)]), c.want, `split at ${i}`);
    }
  });

  test(`SSE: ${c.name}, one character per chunk`, () => {
    // UTF-16 units on purpose: the inputs are ASCII but for the BOM
    assert.deepEqual(parseAll(c.input.split("")), c.want);
  });
}

test("SSE: CR at the end of one chunk and LF at the start of the next are one line break", () => {
  assert.deepEqual(parseAll(["data: x\r", "", "\n\r", "\ndata: y\r", "\n\r\n"]), [
    { event: "message", data: "x" },
    { event: "message", data: "y" },
  ]);
});

test("readSse decodes UTF-8 split inside a multi-byte character", async () => {
  const bytes = new TextEncoder().encode('data: {"t":"héllo ✓ 𝄞"}\n\n');
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // one byte per chunk splits every multi-byte sequence
      for (const b of bytes) controller.enqueue(Uint8Array.of(b));
      controller.close();
    },
  });
  const events: SseEvent[] = [];
  for await (const ev of readSse(body)) events.push(ev);
  assert.deepEqual(events, [{ event: "message", data: '{"t":"héllo ✓ 𝄞"}' }]);
});

test("readSse releases the body when the consumer stops early", async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(new TextEncoder().encode("data: x\n\n"));
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const ev of readSse(body)) {
    assert.equal(ev.data, "x");
    break;
  }
  assert.equal(cancelled, true);
});

// Found by fuzz/sse.fuzz.ts: a line arriving in many chunks was rescanned
// (and copied) from its start on every chunk, quadratic in its length: an
// 8 MiB line in 16 KiB chunks cost 5.5 s of the controller's event loop.
test("SSE: a long line in many small chunks is read in linear time", () => {
  const p = new SseParser();
  const chunk = "x".repeat(4096);
  const started = performance.now();
  p.push("data: ");
  for (let i = 0; i < 1024; i++) p.push(chunk);
  const events = p.push("\n\n");
  const ms = performance.now() - started;
  assert.equal(events[0]?.data.length, 4 * 1024 * 1024);
  // Linear: tens of ms; the quadratic reader took seconds.
  assert.ok(ms < 1500, `4 MiB line in 4 KiB chunks took ${ms.toFixed(0)} ms`);
});

// Also found by fuzzing: nothing bounded what one event could hold, so a
// server that never ends a line or an event grew the reader without end.
test("SSE: an event over maxEventChars is refused, and the parser never holds more than the limit", () => {
  const p = new SseParser({ maxEventChars: 100 });
  assert.deepEqual(p.push("data: ok\n\n"), [{ event: "message", data: "ok" }]);
  // many events adding up to more than the limit are fine: the limit is per event
  for (let i = 0; i < 50; i++) assert.equal(p.push(`data: ${"y".repeat(40)}\n\n`).length, 1);
  p.push(`data: ${"z".repeat(50)}\n`);
  assert.ok(p.held <= 100);
  assert.throws(() => p.push(`data: ${"z".repeat(50)}\n`), SseLimitError);
  const line = new SseParser({ maxEventChars: 100 });
  line.push("data: ");
  assert.throws(() => { for (let i = 0; i < 20; i++) line.push("x".repeat(10)); }, (err: unknown) => err instanceof SseLimitError && err.limit === 100);
});

test("readSse bounds an event by default, and ends the stream with SseLimitError", async () => {
  assert.equal(DEFAULT_MAX_EVENT_CHARS, 16 * 1024 * 1024);
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      controller.enqueue(new TextEncoder().encode(pulls === 1 ? "data: " : "x".repeat(1000)));
    },
  });
  await assert.rejects(async () => {
    for await (const _ of readSse(body, { maxEventChars: 10_000 })) assert.fail("no event ends");
  }, SseLimitError);
  assert.ok(pulls < 20, `read ${pulls} chunks before refusing`);
});
