// Which of agentgate's entrypoints a directory of Rego defines, read from
// opa's own parse of each file (`opa parse --format json`): `agentgate bundle
// build` without -e builds exactly those, so a goal-only bundle (the TEP's
// Gate 1) builds as it is.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { ENTRYPOINT } from "../policy/engine.ts";
import { runOpa } from "./opa.ts";

const KNOWN: readonly string[] = Object.values(ENTRYPOINT);

type Term = { type?: string; value?: unknown };

const termText = (t: Term): string | undefined => (typeof t.value === "string" ? t.value : undefined);

/** "<package path>/<rule>" for each rule of one parsed module, the package's leading `data` dropped. */
export function rulePaths(module: unknown): string[] {
  const m = module as { package?: { path?: Term[] }; rules?: { head?: { name?: string; ref?: Term[] } }[] };
  const pkg = (m.package?.path ?? []).slice(1).map(termText);
  if (pkg.some((p) => p === undefined)) return [];
  return (m.rules ?? []).flatMap((r) => {
    // A rule's name is its head's name, or the first term of its ref (`deny contains msg if`).
    const first = r.head?.ref?.[0];
    const name = r.head?.name ?? (first ? termText(first) : undefined);
    return name ? [[...pkg, name].join("/")] : [];
  });
}

async function regoFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(".rego") && !e.name.endsWith("_test.rego")).map((e) => join(e.parentPath, e.name)).sort();
}

/** The known entrypoints the sources define, in agentgate's order. */
export async function detectEntrypoints(dir: string, v0: boolean): Promise<string[]> {
  const found = new Set<string>();
  for (const file of await regoFiles(dir)) {
    const { stdout } = await runOpa(["parse", "--format", "json", ...(v0 ? ["--v0-compatible"] : []), file]);
    for (const p of rulePaths(JSON.parse(stdout))) found.add(p);
  }
  return KNOWN.filter((e) => found.has(e));
}
