import { test } from "node:test";
import assert from "node:assert/strict";
import { TextMemo } from "./text-memo.ts";

test("a kept text is answered, an unknown one is not, and both are counted", () => {
  const memo = new TextMemo<number>(4, 100);
  memo.set("a", 1);
  assert.equal(memo.get("a"), 1);
  assert.equal(memo.get("b"), undefined);
  assert.deepEqual(memo.stats, { hits: 1, misses: 1 });
});

test("past maxEntries the least recently read goes first", () => {
  const memo = new TextMemo<number>(2, 100);
  memo.set("a", 1);
  memo.set("b", 2);
  assert.equal(memo.get("a"), 1); // a is now newer than b
  memo.set("c", 3);
  assert.equal(memo.size, 2);
  assert.equal(memo.get("b"), undefined);
  assert.equal(memo.get("a"), 1);
  assert.equal(memo.get("c"), 3);
});

test("setting a kept text again replaces its value without growing", () => {
  const memo = new TextMemo<number>(2, 100);
  memo.set("a", 1);
  memo.set("a", 2);
  assert.equal(memo.size, 1);
  assert.equal(memo.get("a"), 2);
});

test("a text longer than maxKeyLength is never kept", () => {
  const memo = new TextMemo<number>(2, 3);
  memo.set("abcd", 1);
  memo.set("abc", 2);
  assert.equal(memo.get("abcd"), undefined);
  assert.equal(memo.get("abc"), 2);
});

test("a memo of no entries keeps nothing", () => {
  const memo = new TextMemo<number>(0, 100);
  memo.set("a", 1);
  assert.equal(memo.size, 0);
});

test("texts that differ only in a byte are different keys", () => {
  const memo = new TextMemo<number>(4, 100);
  memo.set('{"a":1}', 1);
  assert.equal(memo.get('{"a":2}'), undefined);
  assert.equal(memo.get('{"a":1} '), undefined);
});
