// A fuzz target with a planted property violation for test/fuzz/jazzer.test.ts:
// it fails only on an input that starts with a 32-bit number and then a
// 12-character word, which blind mutation does not hit (one input in 2^128)
// and libFuzzer reaches in seconds from the comparisons Jazzer.js
// instruments (the number compare, then the string compare). Jazzer.js
// traces only comparisons with a literal operand, hence the literals below
// (MAGIC and WORD are what the test checks the finding against).
import { PropertyViolation, type FuzzTarget } from "../../fuzz/engine.ts";

export const MAGIC = 0x61676e74;
export const WORD = "coverage-gd!";

export function create(): Promise<FuzzTarget> {
  return Promise.resolve({
    name: "jazzer-planted",
    property: `never an input starting with ${MAGIC.toString(16)} (little-endian) and "${WORD}"`,
    maxLength: 64,
    dictionary: [],
    run(input: Buffer): string {
      if (input.length < 16) return "short";
      if (input.readUInt32LE(0) !== 0x61676e74) return "no magic";
      if (input.toString("latin1", 4, 16) !== "coverage-gd!") return "magic, no word";
      throw new PropertyViolation("the planted violation: the magic number and the word");
    },
  });
}
