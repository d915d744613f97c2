import assert from "node:assert/strict";
import test from "node:test";
import { DEFAULT_RESERVATION, prepareRequest, responseUsage, StreamMeter } from "./model-usage.ts";

test("OpenAI: the pinned model, max_completion_tokens held to the grant, usage asked for in a stream", () => {
  const p = prepareRequest("openai", { model: "gpt-5-pro", stream: true, max_completion_tokens: 4000, messages: [] }, "gpt-4o-mini", 1500);
  assert.equal(p.body.model, "gpt-4o-mini", "the agent cannot pick another model than the one admitted");
  assert.equal(p.body.max_completion_tokens, 1500);
  assert.deepEqual(p.body.stream_options, { include_usage: true });
  assert.equal(p.asked, 4000);
  const legacy = prepareRequest("openai", { max_tokens: 100 }, "gpt-4o", 1500);
  assert.equal(legacy.body.max_tokens, 100, "max_tokens kept where the client used it, under the grant");
  assert.equal(legacy.body.max_completion_tokens, undefined);
  assert.equal(prepareRequest("openai", {}, "gpt-4o", 99_999).body.max_completion_tokens, DEFAULT_RESERVATION);
  const both = prepareRequest("openai", { max_completion_tokens: 100, max_tokens: 100_000 }, "gpt-4o", 500);
  assert.deepEqual([both.body.max_completion_tokens, both.body.max_tokens], [100, 500], "a second, larger limit is held to the grant too (a server may read either)");
  const bogus = prepareRequest("openai", { max_tokens: "lots" }, "gpt-4o", 500);
  assert.equal(bogus.body.max_tokens, 500, "a limit that is no number becomes the grant");
});

test("Anthropic: max_tokens held to the grant", () => {
  const p = prepareRequest("anthropic", { model: "claude-x", max_tokens: 8000, messages: [] }, "claude-sonnet-4-5", 300);
  assert.equal(p.body.max_tokens, 300);
  assert.equal(p.body.model, "claude-sonnet-4-5");
});

test("usage of whole responses: OpenAI's usage block, Anthropic's with cache tokens counted as input", () => {
  assert.deepEqual(responseUsage("openai", { usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } }), { prompt: 10, completion: 5, total: 15 });
  assert.deepEqual(responseUsage("anthropic", { usage: { input_tokens: 10, cache_read_input_tokens: 90, output_tokens: 7 } }), { prompt: 100, completion: 7, total: 107 });
  assert.equal(responseUsage("openai", { choices: [] }), undefined);
});

test("an OpenAI stream: deltas counted as it runs, the final usage chunk is exact", () => {
  const m = new StreamMeter("openai");
  for (const word of ["Hel", "lo", " there"]) m.push(JSON.stringify({ choices: [{ index: 0, delta: { content: word } }] }));
  assert.equal(m.deltas, 3);
  assert.equal(m.exact, false);
  assert.deepEqual(m.usage(), { prompt: 0, completion: 3, total: 3 }, "without a usage chunk, the deltas are the floor");
  m.push(JSON.stringify({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 } }));
  m.push("[DONE]");
  assert.equal(m.exact, true);
  assert.deepEqual(m.usage(), { prompt: 12, completion: 4, total: 16 });
});

test("an Anthropic stream: input from message_start, cumulative output from message_delta", () => {
  const m = new StreamMeter("anthropic");
  m.push(JSON.stringify({ type: "message_start", message: { usage: { input_tokens: 25, output_tokens: 1 } } }));
  m.push(JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hi" } }));
  m.push(JSON.stringify({ type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 9 } }));
  m.push("not json");
  assert.deepEqual(m.usage(), { prompt: 25, completion: 9, total: 34 });
  assert.equal(m.deltas, 1);
});
