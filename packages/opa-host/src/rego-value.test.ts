// The Rego-value reader on text it must refuse: what fuzz/rego-value.fuzz.ts
// found it letting out as another error, or reading in quadratic time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_VALUE_DEPTH, RegoSet, RegoValueError, parseRegoValue, serializeRegoValue } from "./rego-value.ts";

test("a string with a bad escape or a raw control character is a RegoValueError, not JSON.parse's SyntaxError", () => {
  for (const text of ['"\\x"', '"\\u12zz"', '["\\u00e9", "\\q"]', '"a\\n\tb\u0001"', '{"k\\u": 1}']) {
    assert.throws(() => parseRegoValue(text), RegoValueError, JSON.stringify(text));
  }
  // escapes JSON allows still read as JSON reads them
  assert.equal(parseRegoValue('"\\n\\t\\u00e9\\ud83d\\ude00\\"\\\\"'), '\n\té😀"\\');
});

test(`nesting is read to ${MAX_VALUE_DEPTH} levels and refused past them with a RegoValueError, not a stack overflow`, () => {
  const nested = (depth: number, open: string, close: string): string => `${open.repeat(depth)}1${close.repeat(depth)}`;
  assert.equal(serializeRegoValue(parseRegoValue(nested(MAX_VALUE_DEPTH, "[", "]"))), nested(MAX_VALUE_DEPTH, "[", "]"));
  assert.ok(parseRegoValue(nested(MAX_VALUE_DEPTH, "{", "}")) instanceof RegoSet);
  for (const [open, close] of [["[", "]"], ['{"a":', "}"], ["{", "}"]] as const) {
    assert.throws(() => parseRegoValue(nested(MAX_VALUE_DEPTH + 1, open, close)), /nested deeper than 1000 levels/);
    // far past any stack: the depth check comes first
    assert.throws(() => parseRegoValue(nested(100_000, open, close)), RegoValueError);
  }
});

test("a long run of digits that is not a number is refused in linear time, with a short message", () => {
  const started = performance.now();
  let message = "";
  assert.throws(
    () => parseRegoValue(`[${"1".repeat(200_000)}x]`),
    (err: unknown) => {
      message = err instanceof Error ? err.message : "";
      return err instanceof RegoValueError;
    },
  );
  const ms = performance.now() - started;
  // The ambiguous number pattern backtracked quadratically: 60,000 digits took 2.5 s.
  assert.ok(ms < 500, `took ${ms.toFixed(0)} ms`);
  assert.ok(message.length < 300, `message of ${message.length} characters`);
  assert.deepEqual(parseRegoValue("[1, 1., 1.5, .5, -2e3, +4E-2]"), parseRegoValue("[1, 1., 1.5, .5, -2e3, +4E-2]"));
  assert.equal(serializeRegoValue(parseRegoValue("[1, 1., 1.5, .5, -2e3, +4E-2]")), "[1,1.,1.5,.5,-2e3,+4E-2]");
});
