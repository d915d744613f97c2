// Helpers for the package's conformance tests. They are copied here, not
// imported from agentgate's src/ or test/, so the package's tests depend on
// nothing outside the package but an opa binary.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The opa tools/install.sh builds for the repository this package lives in. */
const REPOSITORY_OPA = fileURLToPath(new URL("../../../.tools/bin/opa", import.meta.url));

/** The opa binary the tests compare with: $AGENTGATE_OPA, the repository's, or the first on PATH (as agentgate's findOpa). */
export function findOpa(): string {
  const fromEnv = process.env.AGENTGATE_OPA;
  if (fromEnv) return fromEnv;
  if (existsSync(REPOSITORY_OPA)) return REPOSITORY_OPA;
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(`${dir}/opa`)) return `${dir}/opa`;
  }
  throw new Error("opa not found: install it on PATH, set AGENTGATE_OPA, or run tools/install.sh");
}

/** A seeded generator (mulberry32) in [0, 1): generated test cases are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
