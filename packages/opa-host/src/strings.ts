// The string builtins the wasm target leaves to the host, as OPA's
// topdown/strings.go answers them: sprintf (Go's fmt, see sprintf.ts),
// strings.any_prefix_match / any_suffix_match, strings.count, indexof_n,
// strings.split_n. Strings are split into code points, as Go ranges over
// runes, not into grapheme clusters.
/* eslint-disable @typescript-eslint/no-misused-spread */
import { arrayOperand, intOperand, stringOperand, stringsOperand, type RegoBuiltin } from "./operands.ts";
import { BuiltinError } from "./operands.ts";
import { RegoSet, numberValue, sortValues, type RegoValue } from "./rego-value.ts";
import { goSprintf } from "./sprintf.ts";

/** Go's strings.Count: non-overlapping; an empty needle counts runes + 1. */
function count(s: string, sub: string): number {
  if (sub === "") return [...s].length + 1;
  let n = 0;
  for (let i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length)) n++;
  return n;
}

/** Go's strings.SplitN with n > 0 (at most n parts, the last holding the rest). */
function splitN(s: string, sep: string, n: number): string[] {
  if (n === 0) return [];
  if (sep === "") {
    const runes = [...s];
    if (n < 0 || runes.length <= n) return runes;
    return [...runes.slice(0, n - 1), runes.slice(n - 1).join("")];
  }
  const parts = s.split(sep);
  if (n < 0 || parts.length <= n) return parts;
  return [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

export const STRINGS_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  sprintf: (format, values) => goSprintf(stringOperand("sprintf", format, 1), arrayOperand("sprintf", values, 2)),
  "strings.any_prefix_match": (search, base) => {
    const needles = stringsOperand("strings.any_prefix_match", search, 1);
    const bases = stringsOperand("strings.any_prefix_match", base, 2);
    return needles.some((s) => bases.some((b) => s.startsWith(b)));
  },
  "strings.any_suffix_match": (search, base) => {
    const needles = stringsOperand("strings.any_suffix_match", search, 1);
    const bases = stringsOperand("strings.any_suffix_match", base, 2);
    return needles.some((s) => bases.some((b) => s.endsWith(b)));
  },
  "strings.count": (s, sub) => numberValue(count(stringOperand("strings.count", s, 1), stringOperand("strings.count", sub, 2))),
  indexof_n: (s, sub) => {
    const base = [...stringOperand("indexof_n", s, 1)];
    const search = [...stringOperand("indexof_n", sub, 2)];
    if (search.length === 0) throw new BuiltinError("indexof_n", "empty search character");
    const found = [];
    for (let i = 0; i + search.length <= base.length; i++) {
      if (search.every((r, k) => base[i + k] === r)) found.push(numberValue(i));
    }
    return found;
  },
  "strings.split_n": (s, d, n) => {
    const text = stringOperand("strings.split_n", s, 1);
    const delim = stringOperand("strings.split_n", d, 2);
    const limit = intOperand("strings.split_n", n, 3);
    if (limit >= 0) return splitN(text, delim, limit + 1).slice(0, limit);
    const parts = splitN(text, delim, -1);
    return parts.slice(Math.max(parts.length + limit, 0));
  },
};

/**
 * concat as OPA answers it: a set's members joined in sorted order. Compiled
 * into the wasm as opa_strings_concat, which joins them in hash order;
 * wasm-rewrite.ts redirects it here.
 */
export const REDIRECTED_STRINGS_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  concat: (join, parts) => {
    const sep = stringOperand("concat", join, 1);
    let items: readonly RegoValue[];
    if (Array.isArray(parts)) items = parts as readonly RegoValue[];
    else if (parts instanceof RegoSet) items = sortValues(parts.items);
    else throw new BuiltinError("concat", "operand 2 must be one of {array, set}");
    return items.map((s) => stringOperand("concat", s, 2)).join(sep);
  },
};
