import { test } from "node:test";
import assert from "node:assert/strict";
import { Command } from "commander";
import { registerControllerCommand, type ControllerCliOptions } from "./controller.ts";

/** The options `agentgate controller ARGS` would run with (the action replaced: nothing starts). */
function parse(args: string[]): ControllerCliOptions {
  const program = new Command("agentgate").exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerControllerCommand(program, { out: () => undefined, err: () => undefined }, () => undefined);
  let seen: ControllerCliOptions | undefined;
  program.commands.find((c) => c.name() === "controller")?.exitOverride().action((opts: ControllerCliOptions) => { seen = opts; });
  program.parse(["controller", ...args], { from: "user" });
  assert.ok(seen, "the action ran");
  return seen;
}

for (const [args, want] of [
  [[], true],
  [["--leader-elect"], true],
  [["--leader-elect=true"], true],
  [["--leader-elect=false"], false],
  [["--leader-elect", "false"], false],
  [["--no-leader-elect"], false],
] as const) {
  test(`controller ${args.join(" ") || "(no flags)"}: leader election ${want ? "on" : "off"}`, () => {
    assert.equal(parse([...args]).leaderElect, want);
  });
}

test("controller --leader-elect=maybe is refused, naming the flag and the value", () => {
  assert.throws(() => parse(["--leader-elect=maybe"]), /--leader-elect takes true or false, got "maybe"/);
});
