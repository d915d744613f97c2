// The committed inputs of each target: its seed corpus (fuzz/corpus/<target>/)
// and the reproducers of what fuzzing found (fuzz/crashes/<target>/), which
// are replayed by test/fuzz/short.test.ts on every `npm test`.
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inputId, type Failure } from "./engine.ts";

const NOTE = ".note.txt";

export const FUZZ_DIR = fileURLToPath(new URL(".", import.meta.url));

export const corpusDir = (target: string): string => join(FUZZ_DIR, "corpus", target);
export const crashDir = (target: string): string => join(FUZZ_DIR, "crashes", target);

/** A directory's inputs in name order; a reproducer's `.note.txt` (what it did) is not an input. */
async function inputsIn(dir: string): Promise<{ name: string; input: Buffer }[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => !n.endsWith(NOTE) && !n.startsWith(".")).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return Promise.all(names.map(async (name) => ({ name, input: await readFile(join(dir, name)) })));
}

export const loadCorpus = (target: string): Promise<{ name: string; input: Buffer }[]> => inputsIn(corpusDir(target));
export const loadCrashes = (target: string): Promise<{ name: string; input: Buffer }[]> => inputsIn(crashDir(target));

/** Writes a failure's input (and a note of what it did) as a reproducer; returns its path. */
export async function saveFailure(target: string, failure: Failure): Promise<string> {
  const dir = crashDir(target);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${failure.kind}-${inputId(failure.input)}`);
  await writeFile(path, failure.input);
  await writeFile(`${path}${NOTE}`, `${failure.message}\n\nsignature: ${failure.signature}\n\n${failure.stack}\n`);
  return path;
}
