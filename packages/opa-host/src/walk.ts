// walk as OPA's topdown/walk.go answers it: every [path, value] of a value,
// the value itself first, then depth first through array elements in order,
// object keys and set members sorted (a set member is its own path
// element). Compiled into the wasm as opa_value_transitive_closure, which
// visits keys and members in hash order; wasm-rewrite.ts redirects it here.
import type { RegoBuiltin } from "./operands.ts";
import { RegoObject, RegoSet, numberValue, sortEntries, sortValues, type RegoValue } from "./rego-value.ts";

function visit(path: readonly RegoValue[], v: RegoValue, out: RegoValue[]): void {
  out.push([path, v]);
  if (v instanceof RegoObject) {
    for (const [k, x] of sortEntries(v.entries)) visit([...path, k], x, out);
  } else if (v instanceof RegoSet) {
    for (const x of sortValues(v.items)) visit([...path, x], x, out);
  } else if (Array.isArray(v)) {
    (v as readonly RegoValue[]).forEach((x, i) => {
      visit([...path, numberValue(i)], x, out);
    });
  }
}

export const REDIRECTED_WALK_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  walk: (x) => {
    const out: RegoValue[] = [];
    visit([], x, out);
    return out;
  },
};
