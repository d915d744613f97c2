// Go's time.ParseDuration, which OPA's time.parse_duration_ns uses (with
// OPA's d, w and y on top): the duration strings of AgentConfig.spec.timeout
// ("15m", "1h30m") must mean the same in the gateway, in `opa test` and in
// the controller.

import { formatFloat } from "./go-float.ts";

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n,
  "μs": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_INT64 = (1n << 63n) - 1n;

export class DurationError extends Error {
  constructor(input: string, why: string) {
    super(`time: ${why} ${JSON.stringify(input)}`);
    this.name = "DurationError";
  }
}

/** Parses a Go duration string into nanoseconds (as Go: int64 range). */
export function parseDurationNs(input: string): bigint {
  let s = input;
  let negative = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s.startsWith("-");
    s = s.slice(1);
  }
  if (s === "0") return 0n;
  if (s === "") throw new DurationError(input, "invalid duration");
  let total = 0n;
  while (s !== "") {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s);
    const intPart = m?.[1] ?? "";
    const fracPart = m?.[2];
    if (intPart === "" && (fracPart === undefined || fracPart === "")) throw new DurationError(input, "invalid duration");
    s = s.slice((m?.[0] ?? "").length);
    const unitMatch = /^[^\d.]+/.exec(s);
    if (!unitMatch) throw new DurationError(input, "missing unit in duration");
    const unitName = unitMatch[0];
    const unit = UNITS[unitName];
    if (unit === undefined) throw new DurationError(input, `unknown unit ${JSON.stringify(unitName)} in duration`);
    s = s.slice(unitName.length);
    let value = BigInt(intPart === "" ? "0" : intPart) * unit;
    if (fracPart) {
      // Go truncates the fractional part towards zero at nanosecond precision.
      value += (BigInt(fracPart) * unit) / 10n ** BigInt(fracPart.length);
    }
    total += value;
    if (total > MAX_INT64 + (negative ? 1n : 0n)) throw new DurationError(input, "invalid duration");
  }
  return negative ? -total : total;
}

const EXTENDED_SEGMENT = /^([0-9.]+)(ms|us|µs|ns|[a-z])/;
const EXTENDED_HOURS: Record<string, number> = { d: 24, w: 7 * 24, y: 365 * 24 };

/**
 * OPA's time.parse_duration_ns: Go's durations plus d, w and y (24h, 168h,
 * 8760h), which OPA rewrites into hours before handing the string to Go.
 */
export function parseExtendedDurationNs(input: string): bigint {
  if (input === "" || !/[dwy]/.test(input)) return parseDurationNs(input);
  let rest = input;
  let out = "";
  if (rest.startsWith("-") || rest.startsWith("+")) {
    out = rest.charAt(0);
    rest = rest.slice(1);
  }
  if (rest === "") throw new DurationError(input, "invalid duration");
  while (rest !== "") {
    const m = EXTENDED_SEGMENT.exec(rest);
    if (!m) throw new DurationError(input, "invalid duration");
    const [whole, digits = "", unit = ""] = m;
    const hours = EXTENDED_HOURS[unit];
    if (hours === undefined) {
      out += digits + unit;
    } else {
      if (!/^(\d+\.?\d*|\.\d+)$/.test(digits)) throw new DurationError(input, "invalid duration");
      out += `${formatFloat(Number(digits) * hours, "f", -1)}h`;
    }
    rest = rest.slice(whole.length);
  }
  try {
    return parseDurationNs(out);
  } catch {
    throw new DurationError(input, "invalid duration");
  }
}

/** Formats nanoseconds the way Go's Duration.String does ("1h30m0s"). */
export function formatDurationNs(ns: bigint): string {
  if (ns === 0n) return "0s";
  const negative = ns < 0n;
  let v = negative ? -ns : ns;
  let out: string;
  if (v < 1_000_000_000n) {
    const [unit, div] = v < 1_000n ? ["ns", 1n] : v < 1_000_000n ? ["µs", 1_000n] : ["ms", 1_000_000n];
    out = fraction(v, div) + unit;
  } else {
    const h = v / 3_600_000_000_000n;
    v -= h * 3_600_000_000_000n;
    const m = v / 60_000_000_000n;
    v -= m * 60_000_000_000n;
    out = `${h > 0n ? `${h}h` : ""}${h > 0n || m > 0n ? `${m}m` : ""}${fraction(v, 1_000_000_000n)}s`;
  }
  return negative ? `-${out}` : out;
}

function fraction(v: bigint, div: bigint): string {
  const whole = v / div;
  const rest = v % div;
  if (rest === 0n) return whole.toString();
  const digits = div.toString().length - 1;
  return `${whole}.${rest.toString().padStart(digits, "0").replace(/0+$/, "")}`;
}
