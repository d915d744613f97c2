// `agentgate completion`: the bash script, run by a real bash, completes the
// commands, flags and flag values of the command tree as it is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { buildProgram } from "../../src/cli/main.ts";
import { bashScript, completionTree, fishScript, zshScript } from "../../src/cli/completion.ts";

const program = buildProgram({ out: () => undefined, err: () => undefined }, () => undefined);
const nodes = completionTree(program);
const bash = bashScript(nodes);

/** What bash offers after `line` (the cursor at its end), as the completion function computes it. */
function complete(line: string): Promise<string[]> {
  const words = line.split(" ");
  const driver = `${bash}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})
COMP_CWORD=${String(words.length - 1)}
_agentgate
printf '%s\\n' "\${COMPREPLY[@]}"`;
  return new Promise((resolve, reject) => {
    execFile("bash", ["-c", driver], (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(stdout.split("\n").filter(Boolean));
    });
  });
}

test("the commands, after agentgate", async () => {
  const offered = await complete("agentgate ");
  for (const c of ["serve", "review", "bundle", "controller", "audit", "logs", "provenance", "capabilities", "version", "completion"]) assert.ok(offered.includes(c), `${c} in ${offered.join(" ")}`);
});

test("a subcommand by its prefix, under its parent", async () => {
  assert.deepEqual(await complete("agentgate bundle b"), ["build"]);
  assert.deepEqual(await complete("agentgate provenance v"), ["verify"]);
});

test("a command's flags, not another's; hidden deprecated ones not offered", async () => {
  assert.deepEqual(await complete("agentgate review --clu"), ["--cluster-objects"]);
  assert.deepEqual(await complete("agentgate review --cont"), [], "review's --context FILE is deprecated and hidden");
  assert.deepEqual(await complete("agentgate audit --cont"), ["--context"]);
  assert.deepEqual(await complete("agentgate bundle build --output"), ["--output-file"]);
  assert.deepEqual(await complete("agentgate serve --calls-l"), ["--calls-listen"]);
});

test("a flag's values where it names them; after other flags and their values", async () => {
  assert.deepEqual(await complete("agentgate review -o "), ["text", "json"]);
  assert.deepEqual(await complete("agentgate review -f x.yaml --output j"), ["json"]);
  assert.deepEqual(await complete("agentgate audit --log-level d"), ["debug"]);
  assert.deepEqual(await complete("agentgate completion z"), [], "a positional argument is not a flag value: nothing forced");
  assert.deepEqual(await complete("agentgate review --cluster-objects "), [], "a file: left to bash's own file completion");
});

test("zsh takes the bash function through bashcompinit; fish gets a line per command and flag", () => {
  const zsh = zshScript(nodes);
  assert.match(zsh, /^#compdef agentgate\n/);
  assert.match(zsh, /bashcompinit/);
  assert.match(zsh, /complete -o default -F _agentgate agentgate\n$/);
  const fish = fishScript(nodes);
  assert.match(fish, /^complete -c agentgate -n '__fish_use_subcommand' -a 'review' -d /m);
  assert.match(fish, /^complete -c agentgate -n '__fish_seen_subcommand_from bundle; and not __fish_seen_subcommand_from build sign verify check inspect' -a 'build' -d /m);
  assert.match(fish, /^complete -c agentgate -n '__fish_seen_subcommand_from review' -l output -s o -x -a 'text json' -d /m);
  assert.match(fish, /^complete -c agentgate -n '__fish_seen_subcommand_from bundle; and __fish_seen_subcommand_from build' -l output-file -r -F -d /m);
});
