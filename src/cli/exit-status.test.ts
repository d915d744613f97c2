// The exit status of each kind of error, decided in one place
// (src/cli/main.ts), and what the user reads for a bug.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AgentgateError, InputError, UsageError } from "../errors.ts";
import { EXIT_STATUS, kindOf, main, reportError } from "./main.ts";

const capture = () => {
  const lines: string[] = [];
  return { lines, io: { err: (s: string) => { lines.push(s); } } };
};

test("each kind has its status: 2 for what the user or the environment can fix, 3 for a bug", () => {
  assert.deepEqual(EXIT_STATUS, { usage: 2, input: 2, policy: 2, unavailable: 2, internal: 3 });
  assert.equal(kindOf(new UsageError("--x: bad")), "usage");
  assert.equal(kindOf(new InputError("f.yaml: bad")), "input");
  assert.equal(kindOf(new AgentgateError("policy", "bundle: bad")), "policy");
  assert.equal(kindOf(Object.assign(new Error("listen EADDRINUSE"), { code: "EADDRINUSE" })), "unavailable", "a system call's failure is the environment's");
  assert.equal(kindOf(new TypeError("fetch failed", { cause: new Error("ECONNREFUSED") })), "unavailable", "fetch's network failure is a TypeError too");
  assert.equal(kindOf(new Error("a library's own words")), "unavailable", "a plain Error keeps the status it always had");
  assert.equal(kindOf(new TypeError("Cannot read properties of undefined (reading 'x')")), "internal");
  assert.equal(kindOf(new RangeError("Maximum call stack size exceeded")), "internal");
  assert.equal(kindOf("a string thrown"), "internal");
});

test("a mistake is one line naming the thing; a bug says it is one, how to report it, and no stack unless asked", () => {
  const mistake = capture();
  assert.equal(reportError(new UsageError("--bundle-poll-interval \"soon\": expected a duration"), mistake.io, false), 2);
  assert.deepEqual(mistake.lines, ['agentgate: --bundle-poll-interval "soon": expected a duration']);

  const bug = capture();
  assert.equal(reportError(new TypeError("Cannot read properties of undefined (reading 'spec')"), bug.io, false), 3);
  assert.equal(bug.lines.length, 1);
  assert.match(bug.lines[0] ?? "", /^agentgate: internal error \(a bug in agentgate, not a mistake in what it was given\): TypeError: Cannot read properties of undefined \(reading 'spec'\); please report it with the command you ran and the output of agentgate version \(--log-level debug shows where it happened\)$/);

  const debug = capture();
  assert.equal(reportError(new TypeError("x is not a function"), debug.io, true), 3);
  assert.equal(debug.lines.length, 2);
  assert.match(debug.lines[1] ?? "", /^TypeError: x is not a function\n\s+at /);
});

test("bad usage from commander is 2, help asked for is 0", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (s: string) => { out.push(s); }, err: (s: string) => { err.push(s); }, write: (s: string) => { out.push(s); } };
  assert.equal(await main(["review", "--no-such-flag"], io), 2);
  assert.match(err[0] ?? "", /^agentgate: unknown option '--no-such-flag'/);
  assert.equal(await main(["--help"], io), 0);
});
