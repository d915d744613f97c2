// object.subset as OPA's topdown/subset.go decides it: objects recursively,
// sets by membership, arrays as contiguous runs, an array against a set by
// counting members (duplicates in the array count, as they do in OPA).
import { BuiltinError, type RegoBuiltin } from "./operands.ts";
import { RegoObject, RegoSet, compareValues, type RegoValue } from "./rego-value.ts";

const equal = (a: RegoValue, b: RegoValue): boolean => compareValues(a, b) === 0;
const isArray = (v: RegoValue): v is readonly RegoValue[] => Array.isArray(v);

function objectSubset(sup: RegoObject, sub: RegoObject): boolean {
  return sub.entries.every(([key, subValue]) => {
    const found = sup.entries.find(([k]) => equal(k, key));
    if (!found) return false;
    const supValue = found[1];
    if (equal(subValue, supValue)) return true;
    if (supValue instanceof RegoObject && subValue instanceof RegoObject) return objectSubset(supValue, subValue);
    if (supValue instanceof RegoSet && subValue instanceof RegoSet) return setSubset(supValue, subValue);
    if (isArray(supValue) && isArray(subValue)) return arraySubset(supValue, subValue);
    return false;
  });
}

const setSubset = (sup: RegoSet, sub: RegoSet): boolean => sub.items.every((x) => sup.items.some((y) => equal(x, y)));

function arraySubset(sup: readonly RegoValue[], sub: readonly RegoValue[]): boolean {
  if (sub.length > sup.length) return false;
  let start = 0;
  let k = 0;
  for (;;) {
    if (k === sub.length) return true;
    if (start + k === sup.length) return false;
    if (equal(sup[start + k] as RegoValue, sub[k] as RegoValue)) {
      k++;
    } else {
      start++;
      k = 0;
    }
  }
}

function arraySetSubset(sup: readonly RegoValue[], sub: RegoSet): boolean {
  let unmatched = sub.items.length;
  for (const x of sup) {
    if (sub.items.some((y) => equal(x, y))) unmatched--;
    if (unmatched === 0) return true;
  }
  return false;
}

export const OBJECT_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "object.subset": (sup, sub) => {
    if (sup instanceof RegoObject && sub instanceof RegoObject) return objectSubset(sup, sub);
    if (sup instanceof RegoSet && sub instanceof RegoSet) return setSubset(sup, sub);
    if (isArray(sup) && isArray(sub)) return arraySubset(sup, sub);
    if (isArray(sup) && sub instanceof RegoSet) return arraySetSubset(sup, sub);
    throw new BuiltinError("object.subset", "both arguments object.subset must be of the same type or array and set");
  },
};
