// internal.template_string, what `$"…{expr}…"` compiles to, as OPA's
// topdown/template_string.go answers it: the planner hands it an array of
// parts, each a string or a primitive (the literal text, written as is) or
// the set of an expression's values (empty: `<undefined>`; one string: the
// string; one other value: the value as OPA prints a term, sets and object
// keys sorted). More than one value, or a part of another type, is an
// evaluation error in OPA, not an undefined result: it halts.
import { BuiltinError, EvaluationHalt, type RegoBuiltin } from "./operands.ts";
import { RegoNumber, RegoObject, RegoSet, formatTerm, type RegoValue } from "./rego-value.ts";

function part(v: RegoValue): string {
  if (typeof v === "string") return v;
  if (v === null || typeof v === "boolean" || v instanceof RegoNumber) return formatTerm(v);
  if (!(v instanceof RegoSet)) {
    throw new EvaluationHalt("internal.template_string", `illegal argument type: ${v instanceof RegoObject ? "object" : "array"}`);
  }
  if (v.items.length === 0) return "<undefined>";
  if (v.items.length > 1) throw new EvaluationHalt("internal.template_string", "template-strings must not produce multiple outputs");
  const only = v.items[0] as RegoValue;
  return typeof only === "string" ? only : formatTerm(only);
}

/** Compiled into the wasm as opa_template_string; wasm-rewrite.ts redirects it here. */
export const REDIRECTED_TEMPLATE_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "internal.template_string": (parts) => {
    if (!Array.isArray(parts)) throw new BuiltinError("internal.template_string", "operand 1 must be array");
    return (parts as readonly RegoValue[]).map(part).join("");
  },
};
