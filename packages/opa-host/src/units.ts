// units.parse and units.parse_bytes as OPA computes them
// (topdown/parse_units.go, parse_bytes.go): units.parse in exact rationals
// (with the milli unit as the float64 nearest 0.001, as Go's SetFloat64
// gives), printed as an integer or with ten decimals; units.parse_bytes in a
// 64-bit-mantissa big.Float, truncated to an integer.
import { BuiltinError, stringOperand, type RegoBuiltin } from "./operands.ts";
import { RegoNumber } from "./rego-value.ts";

interface Rational {
  n: bigint;
  d: bigint;
}

const MAX_EXPONENT_DIGITS = 6;

/** Splits "10.2gb" into "10.2" and "gb" the way OPA's extractNumAndUnit does. */
function extractNumAndUnit(builtin: string, s: string): [string, string] {
  const digit = (c: string): boolean => c >= "0" && c <= "9";
  let first = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (!digit(c) && c !== "." && c !== "e" && c !== "E" && c !== "+" && c !== "-") {
      first = i;
      break;
    }
    if (c === "e" || c === "E") {
      const next = s.charAt(i + 1);
      if (i === s.length - 1 || (!digit(next) && next !== "+" && next !== "-")) {
        first = i;
        break;
      }
      if (next === "+" || next === "-") i++;
      let end = i + 1;
      while (end < s.length && digit(s.charAt(end))) end++;
      if (end - (i + 1) > MAX_EXPONENT_DIGITS) throw new BuiltinError(builtin, "exponent too large");
    }
  }
  if (first === -1) return [s, ""];
  if (first === 0) return ["", s];
  return [s.slice(0, first), s.slice(first)];
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Go's big.Rat.SetString for a decimal (no fractions "a/b": the unit split never leaves one). */
function parseDecimal(text: string): Rational | undefined {
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  const [, sign = "", int = "", frac = "", exp = "0"] = m;
  if (int === "" && frac === "") return undefined;
  let n = BigInt(int + frac || "0");
  let d = 10n ** BigInt(frac.length);
  const e = Number(exp);
  if (e >= 0) n *= 10n ** BigInt(e);
  else d *= 10n ** BigInt(-e);
  if (sign === "-") n = -n;
  return reduce({ n, d });
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

function reduce(r: Rational): Rational {
  const g = gcd(r.n, r.d);
  return g === 0n ? { n: 0n, d: 1n } : { n: r.n / g, d: r.d / g };
}

/** The exact value of the float64 nearest 0.001, as big.Rat.SetFloat64 holds it. */
function milli(): Rational {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, 0.001);
  const bits = view.getBigUint64(0);
  const mant = (bits & ((1n << 52n) - 1n)) | (1n << 52n);
  const exp = Number((bits >> 52n) & 0x7ffn) - 1075;
  return reduce({ n: mant, d: 1n << BigInt(-exp) });
}

const SI: Record<string, bigint> = { k: 1000n, M: 1000n ** 2n, g: 1000n ** 3n, t: 1000n ** 4n, p: 1000n ** 5n, e: 1000n ** 6n };
const BINARY: Record<string, bigint> = { ki: 1n << 10n, mi: 1n << 20n, gi: 1n << 30n, ti: 1n << 40n, pi: 1n << 50n, ei: 1n << 60n };

function unitsMultiplier(unit: string): Rational | undefined {
  if (unit === "") return { n: 1n, d: 1n };
  if (unit === "m") return milli();
  if (unit === "M") return { n: SI.M as bigint, d: 1n };
  const lower = unit.charAt(0).toLowerCase() + unit.slice(1);
  if (lower === "m") return undefined;
  const si = SI[lower];
  if (si !== undefined) return { n: si, d: 1n };
  const bin = BINARY[lower];
  return bin === undefined ? undefined : { n: bin, d: 1n };
}

/** big.Rat.FloatString(prec): rounded half away from zero. */
function floatString(r: Rational, prec: number): string {
  const neg = r.n < 0n;
  const a = neg ? -r.n : r.n;
  let q = a / r.d;
  let rem = a % r.d;
  const p = 10n ** BigInt(prec);
  rem *= p;
  let frac = rem / r.d;
  const r2 = (rem % r.d) * 2n;
  if (r.d <= r2) {
    frac += 1n;
    if (frac >= p) {
      q += 1n;
      frac -= p;
    }
  }
  return `${neg ? "-" : ""}${q.toString()}.${frac.toString().padStart(prec, "0")}`;
}

const unitsParse: RegoBuiltin = (raw) => {
  const name = "units.parse";
  const s = stringOperand(name, raw, 1).replaceAll('"', "");
  if (s.includes(" ")) throw new BuiltinError(name, "spaces not allowed in resource strings");
  const [num, rawUnit] = extractNumAndUnit(name, s);
  if (num === "") throw new BuiltinError(name, "no amount provided");
  const unit = rawUnit.length > 1 ? rawUnit.charAt(0) + rawUnit.slice(1).toLowerCase() : rawUnit;
  const mult = unitsMultiplier(unit);
  if (mult === undefined) throw new BuiltinError(name, `unit ${unit} not recognized`);
  const value = parseDecimal(num);
  if (value === undefined) throw new BuiltinError(name, "could not parse amount to a number");
  const product = reduce({ n: value.n * mult.n, d: value.d * mult.d });
  return new RegoNumber(product.d === 1n ? product.n.toString() : floatString(product, 10));
};

const BYTES: Record<string, bigint> = {
  "": 1n,
  kb: 1000n, k: 1000n, kib: 1n << 10n, ki: 1n << 10n,
  mb: 1000n ** 2n, m: 1000n ** 2n, mib: 1n << 20n, mi: 1n << 20n,
  gb: 1000n ** 3n, g: 1000n ** 3n, gib: 1n << 30n, gi: 1n << 30n,
  tb: 1000n ** 4n, t: 1000n ** 4n, tib: 1n << 40n, ti: 1n << 40n,
  pb: 1000n ** 5n, p: 1000n ** 5n, pib: 1n << 50n, pi: 1n << 50n,
  eb: 1000n ** 6n, e: 1000n ** 6n, eib: 1n << 60n, ei: 1n << 60n,
};

const bitLength = (x: bigint): number => (x === 0n ? 0 : x.toString(2).length);

/** Rounds a rational to a 64-bit mantissa, half to even (big.Float with prec 64). */
function toFloat64Mantissa(r: Rational): Rational {
  if (r.n === 0n) return { n: 0n, d: 1n };
  const neg = r.n < 0n;
  const a = neg ? -r.n : r.n;
  let e = bitLength(a) - bitLength(r.d) - 64;
  for (;;) {
    const num = e >= 0 ? a : a << BigInt(-e);
    const den = e >= 0 ? r.d << BigInt(e) : r.d;
    let m = num / den;
    const bits = bitLength(m);
    if (bits > 64) {
      e++;
      continue;
    }
    if (bits < 64) {
      e--;
      continue;
    }
    const twice = (num % den) * 2n;
    if (twice > den || (twice === den && (m & 1n) === 1n)) m += 1n;
    const n = neg ? -m : m;
    return e >= 0 ? { n: n << BigInt(e), d: 1n } : reduce({ n, d: 1n << BigInt(-e) });
  }
}

const unitsParseBytes: RegoBuiltin = (raw) => {
  const name = "units.parse_bytes";
  const s = stringOperand(name, raw, 1).toLowerCase().replaceAll('"', "");
  if (s.includes(" ")) throw new BuiltinError(name, "spaces not allowed in resource strings");
  const [num, unit] = extractNumAndUnit(name, s);
  if (num === "") throw new BuiltinError(name, "no byte amount provided");
  const mult = BYTES[unit];
  if (mult === undefined) throw new BuiltinError(name, `byte unit ${unit} not recognized`);
  const value = parseDecimal(num);
  if (value === undefined) throw new BuiltinError(name, "could not parse byte amount to a number");
  const product = toFloat64Mantissa({ n: toFloat64Mantissa(value).n * mult, d: toFloat64Mantissa(value).d });
  return new RegoNumber((product.n / product.d).toString());
};

export const UNITS_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "units.parse": unitsParse,
  "units.parse_bytes": unitsParseBytes,
};
