// The fuzzing engine itself: a run is reproducible from its seed, a broken
// property is reported with the input that broke it, and a polluted
// prototype is caught and cleaned, so the short run in short.test.ts fails
// when a parser breaks rather than passing on a silent engine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PropertyViolation, Rng, fuzzLoop, mutateBytes, mutateJsonText, type FuzzTarget } from "../../fuzz/engine.ts";

function recorder(): { target: FuzzTarget; seen: string[] } {
  const seen: string[] = [];
  const target: FuzzTarget = {
    name: "recorder",
    property: "none",
    maxLength: 256,
    dictionary: ["{", "}", '"k"'],
    run(input) {
      seen.push(input.toString("base64"));
      return input.length > 20 ? "long" : "short";
    },
  };
  return { target, seen };
}

test("the same seed gives the same inputs in the same order; another seed others", async () => {
  const a = recorder();
  const b = recorder();
  const c = recorder();
  const corpus = [Buffer.from('{"a": [1, 2]}'), Buffer.from("plain")];
  await fuzzLoop(a.target, { seed: 7, corpus, runs: 500 });
  await fuzzLoop(b.target, { seed: 7, corpus, runs: 500 });
  await fuzzLoop(c.target, { seed: 8, corpus, runs: 500 });
  assert.equal(a.seen.length, 500);
  assert.deepEqual(a.seen, b.seen);
  assert.notDeepEqual(a.seen, c.seen);
  // the corpus runs first, as it is
  assert.deepEqual(a.seen.slice(0, 2), corpus.map((x) => x.toString("base64")));
  assert.ok(new Set(a.seen).size > 300, "mutation makes mostly new inputs");
  assert.ok(a.seen.every((s) => Buffer.from(s, "base64").length <= 256), "inputs keep to maxLength");
});

test("a broken property is reported with the input that broke it, once per kind of failure", async () => {
  const target: FuzzTarget = {
    name: "picky",
    property: "no z",
    maxLength: 64,
    dictionary: ["z"],
    run(input) {
      if (input.includes("z")) throw new PropertyViolation(`found z at ${input.indexOf("z")}`);
      if (input.includes("q")) JSON.parse("{");
      return "fine";
    },
  };
  const result = await fuzzLoop(target, { seed: 1, corpus: [Buffer.from("abc")], runs: 3000 });
  const kinds = result.failures.map((f) => f.message.replace(/\d+/, "N"));
  assert.ok(kinds.includes("PropertyViolation: found z at N"), kinds.join("; "));
  assert.equal(new Set(result.failures.map((f) => f.signature)).size, result.failures.length);
  const z = result.failures.find((f) => f.message.startsWith("PropertyViolation"));
  assert.ok(z?.input.includes("z"));
});

test("an input that pollutes Object.prototype is a failure, and the key is removed again", async () => {
  const target: FuzzTarget = {
    name: "polluter",
    property: "no pollution",
    maxLength: 16,
    dictionary: [],
    run(input) {
      if (input.length > 0 && input[0] === 0x70) (Object.prototype as Record<string, unknown>).fuzzPolluted = 1;
      return "ran";
    },
  };
  const result = await fuzzLoop(target, { seed: 1, corpus: [Buffer.from("p"), Buffer.from("x")], runs: 2 });
  assert.equal(result.failures.length, 1);
  assert.equal(result.failures[0]?.kind, "pollution");
  assert.match(result.failures[0]?.message ?? "", /Object\.prototype\.fuzzPolluted/);
  assert.equal(({} as Record<string, unknown>).fuzzPolluted, undefined);
});

test("mutators stay within bounds and keep JSON JSON", () => {
  const rng = new Rng(3);
  const dict = [Buffer.from("[")];
  for (let i = 0; i < 2000; i++) assert.ok(mutateBytes(Buffer.from("[1,2,3]"), rng, dict, [], 100).length <= 100);
  let made = 0;
  for (let i = 0; i < 500; i++) {
    const text = mutateJsonText('{"a": [1, {"b": "c"}], "d": null}', rng, ["x", "y"], 4096);
    if (text === undefined) continue;
    made++;
    assert.doesNotThrow(() => JSON.parse(text));
  }
  assert.ok(made > 450, `${made} of 500 structural mutations made`);
  assert.equal(mutateJsonText("not json", rng, []), undefined);
});
