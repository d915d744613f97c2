// The fuzz runners' shared flags (fuzz/flags.ts): what each reads, and each
// malformed flag refused with a message that names it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FuzzFlagError, readFuzzFlags } from "../../fuzz/flags.ts";
import { TARGET_NAMES } from "../../fuzz/targets.ts";

const target = TARGET_NAMES[0] ?? "";

test("no flags: every default, and 60 seconds", () => {
  assert.deepEqual(readFuzzFlags([]), { targets: [], seed: 1, hangSeconds: 10, maxRssMb: 6144, seconds: 60 });
});

test("each flag is read with its value, and the next flag after it", () => {
  assert.deepEqual(readFuzzFlags(["--target", target, "--runs", "7.9", "--seed", "42", "--hang-seconds", "3", "--max-rss-mb", "512"]), { targets: [target], runs: 7, seed: 42, hangSeconds: 3, maxRssMb: 512 });
  assert.deepEqual(readFuzzFlags(["--seconds", "2", "--target", target, "--target", target]), { targets: [target, target], seconds: 2, seed: 1, hangSeconds: 10, maxRssMb: 6144 });
});

test("--list and --help ask to print instead of run", () => {
  assert.deepEqual(readFuzzFlags(["--list"]), { print: "list" });
  assert.deepEqual(readFuzzFlags(["-h"]), { print: "help" });
});

test("a runner's own flag is read through extra; one nobody knows is refused by name", () => {
  let jobs = 0;
  const extra = (flag: string, read: { positive(): number }) => (flag === "--jobs" ? ((jobs = read.positive()), true) : false);
  assert.deepEqual(readFuzzFlags(["--jobs", "4", "--seed", "2"], extra), { targets: [], seed: 2, hangSeconds: 10, maxRssMb: 6144, seconds: 60 });
  assert.equal(jobs, 4);
  assert.throws(() => readFuzzFlags(["--jbos", "4"], extra), { name: "FuzzFlagError", message: 'unknown argument "--jbos"' });
});

test("each malformed flag is a FuzzFlagError naming the flag and what it got", () => {
  const cases: [string[], RegExp][] = [
    [["--target", "nope"], /^--target needs one of .*, got "nope"$/],
    [["--target"], /^--target needs one of .*, got null$/],
    [["--seconds", "0"], /^--seconds needs a positive number, got "0"$/],
    [["--runs", "many"], /^--runs needs a positive number, got "many"$/],
    [["--hang-seconds"], /^--hang-seconds needs a positive number, got null$/],
    [["--max-rss-mb", "-1"], /^--max-rss-mb needs a positive number, got "-1"$/],
    [["--seed", "x"], /^--seed needs a number, got "x"$/],
    [["--seed"], /^--seed needs a number, got null$/],
    [["--seconds", "1", "--runs", "1"], /^give --seconds or --runs, not both$/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(() => readFuzzFlags(argv), (err: unknown) => err instanceof FuzzFlagError && message.test(err.message), argv.join(" "));
  }
});
