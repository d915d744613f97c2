// `npm run demo`: the QE test-writer workflow of examples/qe-test-writer/,
// end to end on a local control plane with real Tekton. It builds the tools
// if they are missing, then runs the steps of steps.ts in order, printing
// each as it starts, and exits 0 once every one happened as expected, or 1
// naming the step that did not. Whatever ends it (the last step, a failed
// one, Ctrl-C, SIGTERM), it stops what it started and removes its
// temporary directories.
//
//   node demo/main.ts [--pause] [--examples DIR]
//     --pause          wait for Enter after each step (a terminal only)
//     --examples DIR   the example's manifests (default examples/qe-test-writer)
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";
import { Cleanup } from "./cleanup.ts";
import { ROOT } from "./commands.ts";
import { heading, note, plain } from "./output.ts";
import { Scenario } from "./scenario.ts";
import { DONE_LINE, STEPS, failedLine } from "./steps.ts";
import { ensureTools } from "./tools.ts";

const USAGE = "usage: npm run demo -- [--pause] [--examples DIR]";
/** What the steps read from the example's directory: checked before anything starts, so a wrong --examples costs no control plane. */
const EXAMPLE_FILES = ["values.yaml", "platform.yaml", "hooks.yaml", "agentconfig-too-generous.yaml", "agentconfig.yaml", "pipeline.yaml", "pipelinerun.yaml", "agent.yaml"];

function options(): { pause: boolean; examples: string } {
  try {
    const { values } = parseArgs({ options: { pause: { type: "boolean", default: false }, examples: { type: "string", default: join(ROOT, "examples/qe-test-writer") } } });
    const missing = EXAMPLE_FILES.filter((f) => !existsSync(join(values.examples, f)));
    if (missing.length > 0) throw new Error(`--examples ${values.examples}: no ${missing.join(", ")} there (a copy of examples/qe-test-writer is expected)`);
    return values;
  } catch (err) {
    // A mistyped flag or directory is answered in one line, before anything is started.
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    process.exit(2);
  }
}
const values = options();

const cleanup = new Cleanup();
let finishing = false;
// Registered before the control plane registers its own (test/support/control-plane.ts), so this runs first.
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.once(signal, () => {
    plain(`\n==> ${signal}: stopping everything the demo started`);
    cleanup.now();
    process.exit(code);
  });
}
process.on("exit", () => cleanup.now());

async function pause(): Promise<void> {
  if (!values.pause || !process.stdin.isTTY) return;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  await rl.question("    (Enter for the next step) ");
  rl.close();
}

function showTail(file: string): void {
  if (!existsSync(file)) return;
  const tail = readFileSync(file, "utf8").trimEnd().split("\n").slice(-10);
  if (tail.join("") === "") return;
  plain(`\n==> The last lines of ${basename(file)}:`);
  for (const l of tail) plain(`    ${l}`);
}

async function main(): Promise<number> {
  const started = Date.now();
  try {
    await ensureTools();
  } catch (err) {
    plain(`==> Demo FAILED before its first step: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  const work = cleanup.dir(mkdtempSync(join(tmpdir(), "agentgate-demo-")));
  plain(`agentgate demo: the QE test-writer workflow (examples/qe-test-writer), ${String(STEPS.length)} steps; work files in ${work}`);
  const scenario = new Scenario({ examples: resolve(values.examples), work, cleanup });
  let failed: { step: number; why: string } | undefined;
  for (const [i, step] of scenario.steps.entries()) {
    heading(i);
    try {
      await step();
    } catch (err) {
      failed = { step: i, why: err instanceof Error ? err.message : String(err) };
      break;
    }
    if (i < scenario.steps.length - 1) await pause();
  }
  finishing = true;
  // The processes' logs go with the work directory: what they said last is shown first.
  if (failed) for (const log of ["gateway.log", "controller.log"]) showTail(join(work, log));
  plain("\n==> Cleaning up: the agentgate processes, Tekton's controller, the control plane, the work files");
  const problems = await cleanup.run();
  for (const p of problems) note(`could not stop ${p}`);
  if (failed) {
    plain(failedLine(failed.step, failed.why));
    return 1;
  }
  plain(`${DONE_LINE} (${String(Math.round((Date.now() - started) / 1000))} s)`);
  return 0;
}

process.exitCode = await main().catch((err: unknown) => {
  if (!finishing) cleanup.now();
  plain(`==> Demo FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return 1;
});
// Servers of this process (the stand-ins) are closed; anything left is not ours to wait for.
process.exit(process.exitCode);
