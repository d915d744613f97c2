// Time builtins the wasm target leaves to the host, as OPA's topdown/time.go
// answers them: a timestamp is int64 nanoseconds since the epoch, optionally
// `[ns, "tz"]` with an IANA zone name (resolved with Intl, which reads the
// same tz database names Go's time.LoadLocation does). time.now_ns is read
// once per evaluation, as in OPA (startEvaluation). time.format writes Go
// layouts (time-format.ts); time.parse_ns (parsing Go layouts) is not
// implemented.
import { parseExtendedDurationNs } from "./duration.ts";
import { BuiltinError, intOperand, stringOperand, type RegoBuiltin } from "./operands.ts";
import { LayoutError, NAMED_LAYOUTS, goFormat, type CivilTime } from "./time-format.ts";
import { EvaluationHalt } from "./operands.ts";
import { RegoNumber, numberValue, typeOf, type RegoValue } from "./rego-value.ts";

const MIN_INT64 = -(1n << 63n);
const MAX_INT64 = (1n << 63n) - 1n;
const NS_PER_MS = 1_000_000n;
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** The civil time time-format.ts renders, with the zone's offset kept in milliseconds for arithmetic. */
type Civil = Omit<CivilTime, "offset" | "zone"> & { offsetMs: number };

const formatters = new Map<string, Intl.DateTimeFormat>();

function zoneFormatter(builtin: string, tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone: tz, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
        hour: "numeric", minute: "numeric", second: "numeric", era: "short",
      });
    } catch {
      throw new BuiltinError(builtin, `unknown time zone ${tz}`);
    }
    // Intl reads zone names in any case; Go's LoadLocation (a file name) only in the database's.
    const resolved = f.resolvedOptions().timeZone;
    if (resolved !== tz && resolved.toLowerCase() === tz.toLowerCase()) throw new BuiltinError(builtin, `unknown time zone ${tz}`);
    formatters.set(tz, f);
  }
  return f;
}

/** OPA's tzTime: ns, or [ns, tz] or [ns, tz, layout] (with "" and "UTC" as UTC, "Local" as this process's zone). */
function timestamp(builtin: string, v: RegoValue | undefined): { ns: bigint; tz: string; layout: string } {
  let n: RegoValue | undefined = v;
  let tz = "UTC";
  let layout = "";
  if (Array.isArray(v)) {
    const items = v as readonly RegoValue[];
    if (items.length === 0) throw new BuiltinError(builtin, "operand 1 must be either number (ns) or [number (ns), string (tz)]");
    n = items[0];
    if (!(n instanceof RegoNumber)) throw new BuiltinError(builtin, `operand 1 must be number but got ${n === undefined ? "nothing" : typeOf(n)}`);
    if (items.length > 1) {
      const name = stringOperand(builtin, items[1], 1);
      tz = name === "" || name === "UTC" ? "UTC" : name === "Local" ? Intl.DateTimeFormat().resolvedOptions().timeZone : name;
      zoneFormatter(builtin, tz);
    }
    if (items.length > 2) layout = stringOperand(builtin, items[2], 1);
  }
  if (!(n instanceof RegoNumber)) throw new BuiltinError(builtin, "operand 1 must be either number (ns) or [number (ns), string (tz)]");
  const ns = exactInteger(n.text);
  if (ns === undefined || ns < MIN_INT64 || ns > MAX_INT64) throw new BuiltinError(builtin, "timestamp too big");
  return { ns, tz, layout };
}

/** The integer a number's text denotes exactly, if it is one (1e3 and 5.0 are). */
function exactInteger(text: string): bigint | undefined {
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return undefined;
  const [, sign = "", int = "", frac = "", exp = "0"] = m;
  let digits = int + frac;
  let scale = Number(exp) - frac.length;
  if (scale < 0) {
    const cut = digits.length + scale;
    if (!/^0*$/.test(digits.slice(Math.max(cut, 0)))) return undefined;
    digits = digits.slice(0, Math.max(cut, 0));
    scale = 0;
  }
  if (scale > 40) return undefined;
  const n = BigInt(digits || "0") * 10n ** BigInt(scale);
  return sign === "-" ? -n : n;
}

function civil(builtin: string, ns: bigint, tz: string): Civil {
  let ms = ns / NS_PER_MS;
  let nanos = ns % 1_000_000_000n;
  if (nanos < 0n) nanos += 1_000_000_000n;
  if (ns < 0n && ns % NS_PER_MS !== 0n) ms -= 1n;
  const date = new Date(Number(ms));
  const parts = Object.fromEntries(zoneFormatter(builtin, tz).formatToParts(date).map((p) => [p.type, p.value]));
  let year = Number(parts.year);
  if (parts.era === "BC") year = 1 - year;
  const local = Date.UTC(year, Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  const offsetMs = local - (Number(ms) - (((Number(ms) % 1000) + 1000) % 1000));
  return {
    year, month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour), minute: Number(parts.minute), second: Number(parts.second),
    weekday: new Date(local).getUTCDay(), nanos, offsetMs,
  };
}

function safeUnixNano(builtin: string, ns: bigint): RegoNumber {
  if (ns < MIN_INT64 || ns > MAX_INT64) throw new BuiltinError(builtin, "time outside of valid range");
  return numberValue(ns);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Go's time.Parse(time.RFC3339Nano-compatible RFC3339, s) as Unix nanoseconds. */
export function parseRfc3339Ns(builtin: string, s: string): bigint {
  const m = RFC3339.exec(s);
  if (!m) throw new BuiltinError(builtin, `cannot parse ${JSON.stringify(s)} as RFC3339`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const dim = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1];
  if (dim === undefined || day < 1 || day > dim || hour > 23 || minute > 59 || second > 59) {
    throw new BuiltinError(builtin, `${JSON.stringify(s)}: value out of range`);
  }
  const frac = BigInt((m[7] ?? "").padEnd(9, "0"));
  let offsetMin = 0;
  if (m[8] !== "Z") {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) throw new BuiltinError(builtin, `${JSON.stringify(s)}: time zone offset out of range`);
    offsetMin = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return BigInt(date.getTime() - offsetMin * 60_000) * NS_PER_MS + frac;
}

let now: bigint | undefined;

/** Called before each evaluation: time.now_ns answers one value per evaluation, as in OPA. */
export function startEvaluation(): void {
  now = undefined;
}

/** time.diff as OPA's (icza/gox): years … seconds between two instants, in the first one's zone. */
function diff(a: RegoValue | undefined, b: RegoValue | undefined): RegoValue {
  const name = "time.diff";
  const t1 = timestamp(name, a);
  const t2 = timestamp(name, b);
  const [lo, hi] = t1.ns > t2.ns ? [t2.ns, t1.ns] : [t1.ns, t2.ns];
  const x = civil(name, lo, t1.tz);
  const y = civil(name, hi, t1.tz);
  let [year, month, day] = [y.year - x.year, y.month - x.month, y.day - x.day];
  let [hour, min, sec] = [y.hour - x.hour, y.minute - x.minute, y.second - x.second];
  if (sec < 0) {
    sec += 60;
    min--;
  }
  if (min < 0) {
    min += 60;
    hour--;
  }
  if (hour < 0) {
    hour += 24;
    day--;
  }
  if (day < 0) {
    // The days of the first instant's month: Go normalises the 32nd into the next month.
    const overflow = new Date(0);
    overflow.setUTCFullYear(x.year, x.month - 1, 32);
    day += 32 - overflow.getUTCDate();
    month--;
  }
  if (month < 0) {
    month += 12;
    year--;
  }
  return [year, month, day, hour, min, sec].map(numberValue);
}

/** Zones whose abbreviation Go prints without the tz database's table. */
const ABBREVIATIONS: Readonly<Record<string, string>> = { UTC: "UTC", "Etc/UTC": "UTC", "Etc/UCT": "UTC", UCT: "UTC", "Etc/Universal": "UTC", Universal: "UTC", "Etc/Zulu": "UTC", Zulu: "UTC" };

function format(v: RegoValue | undefined): string {
  const name = "time.format";
  const t = timestamp(name, v);
  const c = civil(name, t.ns, t.tz);
  const layout = t.layout === "" ? NAMED_LAYOUTS.RFC3339Nano ?? "" : NAMED_LAYOUTS[t.layout] ?? t.layout;
  const time: CivilTime = { ...c, offset: Math.round(c.offsetMs / 1000), zone: ABBREVIATIONS[t.tz] === undefined ? t.tz : "UTC" };
  try {
    return goFormat(time, layout);
  } catch (err) {
    // OPA would print the zone's name: failing the evaluation is better than another message.
    if (err instanceof LayoutError) throw new EvaluationHalt(name, err.message);
    throw err;
  }
}

export const TIME_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "time.diff": diff,
  "time.format": format,
  "time.parse_duration_ns": (s) => numberValue(parseExtendedDurationNs(stringOperand("time.parse_duration_ns", s, 1))),
  "time.now_ns": () => numberValue((now ??= BigInt(Date.now()) * NS_PER_MS)),
  "time.parse_rfc3339_ns": (s) => safeUnixNano("time.parse_rfc3339_ns", parseRfc3339Ns("time.parse_rfc3339_ns", stringOperand("time.parse_rfc3339_ns", s, 1))),
  "time.date": (x) => {
    const { ns, tz } = timestamp("time.date", x);
    const c = civil("time.date", ns, tz);
    return [numberValue(c.year), numberValue(c.month), numberValue(c.day)];
  },
  "time.clock": (x) => {
    const { ns, tz } = timestamp("time.clock", x);
    const c = civil("time.clock", ns, tz);
    return [numberValue(c.hour), numberValue(c.minute), numberValue(c.second)];
  },
  "time.weekday": (x) => {
    const { ns, tz } = timestamp("time.weekday", x);
    return WEEKDAYS[civil("time.weekday", ns, tz).weekday] ?? "";
  },
  "time.add_date": (x, years, months, days) => {
    const name = "time.add_date";
    const { ns, tz } = timestamp(name, x);
    const c = civil(name, ns, tz);
    const y = intOperand(name, years, 2);
    const mo = intOperand(name, months, 3);
    const d = intOperand(name, days, 4);
    // Go's AddDate normalises the civil date in the zone, then goes back to an instant.
    const date = new Date(0);
    date.setUTCFullYear(c.year + y, c.month - 1 + mo, c.day + d);
    date.setUTCHours(c.hour, c.minute, c.second, 0);
    return safeUnixNano(name, BigInt(date.getTime() - c.offsetMs) * NS_PER_MS + c.nanos);
  },
};
