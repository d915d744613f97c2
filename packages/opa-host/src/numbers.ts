// numbers.range_step as OPA answers it: integers only, a positive step, both
// ends included, counting down when the start is above the end.
import { BuiltinError, numberOperand, type RegoBuiltin } from "./operands.ts";
import { numberValue, type RegoValue } from "./rego-value.ts";

const MAX_ELEMENTS = 10_000_000;

function integer(v: RegoValue | undefined, pos: number): bigint {
  const text = numberOperand("numbers.range_step", v, pos).text;
  if (!/^-?\d+$/.test(text)) throw new BuiltinError("numbers.range_step", `operand ${String(pos)} must be integer number but got floating-point number`);
  return BigInt(text);
}

export const NUMBERS_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "numbers.range_step": (a, b, s) => {
    const x = integer(a, 1);
    const y = integer(b, 2);
    const step = integer(s, 3);
    if (step <= 0n) throw new BuiltinError("numbers.range_step", "step must be a positive integer");
    const out: RegoValue[] = [];
    for (let i = x; x <= y ? i <= y : i >= y; i += x <= y ? step : -step) {
      if (out.length >= MAX_ELEMENTS) throw new BuiltinError("numbers.range_step", `more than ${String(MAX_ELEMENTS)} numbers`);
      out.push(numberValue(i));
    }
    return out;
  },
};
