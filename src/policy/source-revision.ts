// A bundle revision derived from its sources (Rego and data files, tests
// excluded), so the same policies always carry the same revision and the
// committed default bundle can be checked against policies/.
import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";

export function isBundleSource(path: string): boolean {
  return (path.endsWith(".rego") && !path.endsWith("_test.rego")) || path.endsWith("data.json") || path.endsWith("data.yaml");
}

export async function sourceRevision(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join("/"))
    .filter(isBundleSource)
    .sort();
  const hash = createHash("sha256");
  for (const file of files) hash.update(file).update("\0").update(await readFile(join(dir, file))).update("\0");
  return `src-${hash.digest("hex").slice(0, 16)}`;
}
