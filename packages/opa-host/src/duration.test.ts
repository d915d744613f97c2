import { test } from "node:test";
import assert from "node:assert/strict";
import { DurationError, formatDurationNs, parseDurationNs, parseExtendedDurationNs } from "./duration.ts";

const ok: [string, bigint][] = [
  ["0", 0n],
  ["15m", 900_000_000_000n],
  ["1h", 3_600_000_000_000n],
  ["1h30m", 5_400_000_000_000n],
  ["90s", 90_000_000_000n],
  ["1.5h", 5_400_000_000_000n],
  ["-2m", -120_000_000_000n],
  ["+3s", 3_000_000_000n],
  ["300ms", 300_000_000n],
  ["1us", 1_000n],
  ["1µs", 1_000n],
  ["7ns", 7n],
  [".5s", 500_000_000n],
  ["2h45m30.5s", 9_930_500_000_000n],
];

for (const [input, want] of ok) {
  test(`parses ${input} as Go does`, () => assert.equal(parseDurationNs(input), want));
}

for (const input of ["", "15", "m", "1x", "1h-5m", "abc", "1.h.", "9223372036854775808ns"]) {
  test(`refuses ${JSON.stringify(input)}`, () => assert.throws(() => parseDurationNs(input), DurationError));
}

for (const [ns, want] of [[0n, "0s"], [900_000_000_000n, "15m0s"], [5_400_000_000_000n, "1h30m0s"], [1_500_000_000n, "1.5s"], [300_000_000n, "300ms"], [-60_000_000_000n, "-1m0s"]] as const) {
  test(`formats ${ns} as ${want}`, () => assert.equal(formatDurationNs(ns), want));
}

for (const [input, want] of [["1d", 86_400_000_000_000n], ["2w", 1_209_600_000_000_000n], ["1y", 31_536_000_000_000_000n], ["1.5d", 129_600_000_000_000n], ["1d12h", 129_600_000_000_000n], ["-1d", -86_400_000_000_000n], ["15m", 900_000_000_000n]] as const) {
  test(`parses ${input} with OPA's extended units`, () => assert.equal(parseExtendedDurationNs(input), want));
}

for (const input of ["d", "1..5d", "1dd", "1D", "-"]) {
  test(`refuses ${JSON.stringify(input)} with OPA's extended units`, () => assert.throws(() => parseExtendedDurationNs(input), DurationError));
}
