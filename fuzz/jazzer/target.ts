// Which target a Jazzer.js run fuzzes: one of fuzz/targets.ts by name, or a
// module exporting create() (the planted target of test/fuzz/jazzer.test.ts),
// and where its findings go. The runner (run.ts) and the fuzzed process
// (entry.ts) both load it; the runner for the target's maximum length and
// dictionary, the fuzzed process to run inputs through.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { inputId, type Failure, type FuzzTarget } from "../engine.ts";
import { TARGETS } from "../targets.ts";

export interface TargetSpec {
  /** a name of fuzz/targets.ts */
  name?: string;
  /** or the absolute path of a module that exports create(): Promise<FuzzTarget> */
  module?: string;
}

export async function loadTarget(spec: TargetSpec): Promise<FuzzTarget> {
  if (spec.module !== undefined) {
    const mod = (await import(pathToFileURL(spec.module).href)) as { create?: () => Promise<FuzzTarget> };
    if (typeof mod.create !== "function") throw new Error(`${spec.module} exports no create()`);
    return mod.create();
  }
  const factory = spec.name === undefined ? undefined : TARGETS[spec.name];
  if (!factory) throw new Error(`no fuzz target ${JSON.stringify(spec.name ?? null)}`);
  return factory();
}

/**
 * Writes a failure as fuzz/ writes its reproducers (files.ts saveFailure):
 * the input as `<kind>-<id>` and what it did beside it as `.note.txt`; into
 * any directory (fuzz/crashes/<target>/ for the targets of fuzz/).
 */
export async function saveFinding(dir: string, failure: Failure): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${failure.kind}-${inputId(failure.input)}`);
  await writeFile(path, failure.input);
  await writeFile(`${path}.note.txt`, `${failure.message}\n\nsignature: ${failure.signature}\n\n${failure.stack}\n`);
  return path;
}

/** What the runner tells the fuzzed process, through its environment. */
export const ENV_SPEC = "AGENTGATE_JAZZER_TARGET";
export const ENV_CRASH_DIR = "AGENTGATE_JAZZER_CRASH_DIR";
export const ENV_OPTIONS = "AGENTGATE_JAZZER_OPTIONS";
