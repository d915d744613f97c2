// The two merges the contract names: override (policy config over bundle
// data: the override wins, objects merge, lists replace) and fill (defaults
// into an object: what the user set always wins).
import { isRecord } from "../types/kube.ts";

export function mergeOverride(base: unknown, over: unknown): unknown {
  if (!isRecord(base) || !isRecord(over)) return structuredClone(over);
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = key in base ? mergeOverride(base[key], value) : structuredClone(value);
  }
  return out;
}

export function fillDefaults(target: unknown, defaults: unknown): unknown {
  if (target === undefined || target === null) return structuredClone(defaults);
  if (!isRecord(target) || !isRecord(defaults)) return target;
  const out: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(defaults)) {
    out[key] = fillDefaults(target[key], value);
  }
  return out;
}
