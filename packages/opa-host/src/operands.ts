// Operand checks shared by the builtin families. A failed check throws; the
// dispatcher turns any throw but an EvaluationHalt into an undefined
// expression, as OPA does for builtin errors outside strict mode.
import { RegoNumber, RegoSet, typeOf, type RegoValue } from "./rego-value.ts";

export type RegoBuiltin = (...args: RegoValue[]) => RegoValue | undefined;

export class BuiltinError extends Error {
  constructor(builtin: string, message: string) {
    super(`${builtin}: ${message}`);
    this.name = "BuiltinError";
  }
}

/**
 * An error OPA raises as an evaluation error even outside strict mode (a
 * topdown Halt): the dispatcher lets it through, so the evaluation fails
 * (and the gateway fails closed) instead of the expression being undefined.
 */
export class EvaluationHalt extends Error {
  constructor(builtin: string, message: string) {
    super(`${builtin}: ${message}`);
    this.name = "EvaluationHalt";
  }
}

export function stringOperand(builtin: string, v: RegoValue | undefined, pos: number): string {
  if (typeof v !== "string") throw new BuiltinError(builtin, `operand ${pos} must be string but got ${v === undefined ? "nothing" : typeOf(v)}`);
  return v;
}

export function numberOperand(builtin: string, v: RegoValue | undefined, pos: number): RegoNumber {
  if (!(v instanceof RegoNumber)) throw new BuiltinError(builtin, `operand ${pos} must be number but got ${v === undefined ? "nothing" : typeOf(v)}`);
  return v;
}

export function arrayOperand(builtin: string, v: RegoValue | undefined, pos: number): readonly RegoValue[] {
  if (!Array.isArray(v)) throw new BuiltinError(builtin, `operand ${pos} must be array but got ${v === undefined ? "nothing" : typeOf(v)}`);
  return v as readonly RegoValue[];
}

/** A string, or an array or set of strings (strings.any_prefix_match and kin), with OPA's messages. */
export function stringsOperand(builtin: string, v: RegoValue | undefined, pos: number): string[] {
  if (typeof v === "string") return [v];
  const items: readonly RegoValue[] | undefined = Array.isArray(v) ? (v as readonly RegoValue[]) : v instanceof RegoSet ? v.items : undefined;
  if (items === undefined) throw new BuiltinError(builtin, `operand ${pos} must be one of {string, set, array} but got ${v === undefined ? "nothing" : typeOf(v)}`);
  const kind = Array.isArray(v) ? "array" : "set";
  return items.map((item) => {
    if (typeof item !== "string") throw new BuiltinError(builtin, `operand ${pos} must be ${kind} of strings but got ${kind} containing ${typeOf(item)}`);
    return item;
  });
}

/** An integer operand as a JS number (OPA refuses a fraction). */
export function intOperand(builtin: string, v: RegoValue | undefined, pos: number): number {
  const n = numberOperand(builtin, v, pos);
  const x = Number(n.text);
  if (!Number.isInteger(x)) throw new BuiltinError(builtin, `operand ${pos} must be integer number but got floating-point number`);
  return x;
}
