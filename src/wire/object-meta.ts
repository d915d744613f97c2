// The metadata of an object as ObjectMeta types it. The API server never
// sends, and kubectl never submits, an object whose metadata is typed
// otherwise; the guardrails read these fields as typed, so an object that
// mistypes one is refused where it comes in (the webhook's body, review's
// manifests) rather than failing inside a check (found by fuzz/).
import { isRecord } from "../types/kube.ts";

const isString = (v: unknown): boolean => typeof v === "string";
const absent = (v: unknown): boolean => v === undefined || v === null;

/** What is wrong with an object's metadata, as "metadata.<field> …", or undefined when nothing is. */
export function objectMetaProblem(metadata: unknown): string | undefined {
  if (absent(metadata)) return undefined;
  if (!isRecord(metadata)) return `metadata is ${Array.isArray(metadata) ? "a list" : `a ${typeof metadata}`}, not a mapping`;
  for (const key of ["name", "generateName", "namespace", "uid", "resourceVersion"] as const) {
    const value = metadata[key];
    if (!absent(value) && !isString(value)) return `metadata.${key} is ${Array.isArray(value) ? "a list" : isRecord(value) ? "a mapping" : `a ${typeof value}`}, not a string`;
  }
  for (const key of ["labels", "annotations"] as const) {
    const map = metadata[key];
    if (!absent(map) && (!isRecord(map) || !Object.values(map).every(isString))) return `metadata.${key} must map names to strings`;
  }
  const owners = metadata.ownerReferences;
  if (!absent(owners) && (!Array.isArray(owners) || !owners.every(isRecord))) return "metadata.ownerReferences must be a list of mappings";
  const finalizers = metadata.finalizers;
  if (!absent(finalizers) && (!Array.isArray(finalizers) || !finalizers.every(isString))) return "metadata.finalizers must be a list of strings";
  return undefined;
}
