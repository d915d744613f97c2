// Which policy ids apply to which kind: `data.agentgate.catalog` of the
// loaded bundles ({"AgentConfig": ["model-allowlist", ...], ...}), so that a
// report can say what an object passes, not only what it fails.
import { isRecord } from "../types/kube.ts";

/** kind → policy ids, sorted and unique */
export type Catalog = ReadonlyMap<string, readonly string[]>;

/** The union of every bundle's catalog, or undefined when none has one. */
export function catalogOf(bundleData: Iterable<Record<string, unknown>>): Catalog | undefined {
  const merged = new Map<string, Set<string>>();
  let found = false;
  for (const data of bundleData) {
    const agentgate = data.agentgate;
    if (!isRecord(agentgate) || !isRecord(agentgate.catalog)) continue;
    found = true;
    for (const [kind, ids] of Object.entries(agentgate.catalog)) {
      if (!Array.isArray(ids)) continue;
      let set = merged.get(kind);
      if (!set) merged.set(kind, (set = new Set()));
      for (const id of ids) if (typeof id === "string" && id !== "") set.add(id);
    }
  }
  if (!found) return undefined;
  return new Map([...merged].map(([kind, ids]) => [kind, [...ids].sort()]));
}
