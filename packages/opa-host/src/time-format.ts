// Go's Time.Format (time/format.go: nextStdChunk and appendFormat), which
// OPA's time.format uses: a layout is text with the reference time's parts
// (2006 01 02 15 04 05 Jan Monday -07:00 .000 …) standing for the time's.
// One part has no faithful source here: MST, the zone's abbreviation, which
// Go reads from the tz database's own abbreviations ("CET", "IST") and
// JavaScript only has as CLDR display names ("GMT+1"); outside UTC it is
// refused (the evaluation fails) rather than printed differently.

/** The civil time of an instant in a zone, as time.ts computes it. */
export interface CivilTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday */
  weekday: number;
  /** nanoseconds within the second */
  nanos: bigint;
  /** seconds east of UTC */
  offset: number;
  /** the zone's name as given: "UTC" or an IANA name */
  zone: string;
}

export class LayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LayoutError";
  }
}

type Std =
  | { k: "longMonth" | "month" | "numMonth" | "zeroMonth" | "longWeekDay" | "weekDay" | "day" | "underDay" | "zeroDay" | "underYearDay" | "zeroYearDay" }
  | { k: "hour" | "hour12" | "zeroHour12" | "minute" | "zeroMinute" | "second" | "zeroSecond" | "longYear" | "year" | "PM" | "pm" | "TZ" }
  | { k: "zone"; iso: boolean; colon: boolean; seconds: boolean; short: boolean }
  | { k: "frac"; trim: boolean; digits: number; separator: string };

const STD0X = ["zeroMonth", "zeroDay", "zeroHour12", "zeroMinute", "zeroSecond", "year"] as const;
const isDigitAt = (s: string, i: number): boolean => i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39;
const startsWithLower = (s: string): boolean => s.length > 0 && s.charCodeAt(0) >= 0x61 && s.charCodeAt(0) <= 0x7a;

const ZONES: [string, { iso: boolean; colon: boolean; seconds: boolean; short: boolean }][] = [
  ["-070000", { iso: false, colon: false, seconds: true, short: false }],
  ["-07:00:00", { iso: false, colon: true, seconds: true, short: false }],
  ["-0700", { iso: false, colon: false, seconds: false, short: false }],
  ["-07:00", { iso: false, colon: true, seconds: false, short: false }],
  ["-07", { iso: false, colon: false, seconds: false, short: true }],
  ["Z070000", { iso: true, colon: false, seconds: true, short: false }],
  ["Z07:00:00", { iso: true, colon: true, seconds: true, short: false }],
  ["Z0700", { iso: true, colon: false, seconds: false, short: false }],
  ["Z07:00", { iso: true, colon: true, seconds: false, short: false }],
  ["Z07", { iso: true, colon: false, seconds: false, short: true }],
];

/** nextStdChunk: the text before the first layout part, the part, the rest. */
function nextStdChunk(layout: string): [string, Std | undefined, string] {
  for (let i = 0; i < layout.length; i++) {
    const c = layout[i];
    const at = (s: string): boolean => layout.startsWith(s, i);
    const cut = (n: number, std: Std): [string, Std, string] => [layout.slice(0, i), std, layout.slice(i + n)];
    switch (c) {
      case "J":
        if (at("January")) return cut(7, { k: "longMonth" });
        if (at("Jan") && !startsWithLower(layout.slice(i + 3))) return cut(3, { k: "month" });
        break;
      case "M":
        if (at("Monday")) return cut(6, { k: "longWeekDay" });
        if (at("Mon") && !startsWithLower(layout.slice(i + 3))) return cut(3, { k: "weekDay" });
        if (at("MST")) return cut(3, { k: "TZ" });
        break;
      case "0": {
        const d = layout.charCodeAt(i + 1);
        if (d >= 0x31 && d <= 0x36) return cut(2, { k: STD0X[d - 0x31] ?? "zeroMonth" });
        if (at("002")) return cut(3, { k: "zeroYearDay" });
        break;
      }
      case "1":
        if (at("15")) return cut(2, { k: "hour" });
        return cut(1, { k: "numMonth" });
      case "2":
        if (at("2006")) return cut(4, { k: "longYear" });
        return cut(1, { k: "day" });
      case "_":
        if (at("_2")) {
          // _2006 is a literal _ and then the year.
          if (at("_2006")) return [layout.slice(0, i + 1), { k: "longYear" }, layout.slice(i + 5)];
          return cut(2, { k: "underDay" });
        }
        if (at("__2")) return cut(3, { k: "underYearDay" });
        break;
      case "3":
        return cut(1, { k: "hour12" });
      case "4":
        return cut(1, { k: "minute" });
      case "5":
        return cut(1, { k: "second" });
      case "P":
        if (at("PM")) return cut(2, { k: "PM" });
        break;
      case "p":
        if (at("pm")) return cut(2, { k: "pm" });
        break;
      case "-":
      case "Z":
        for (const [text, zone] of ZONES) if (at(text)) return cut(text.length, { k: "zone", ...zone });
        break;
      case ".":
      case ",": {
        const ch = layout[i + 1];
        if (ch === "0" || ch === "9") {
          let j = i + 1;
          while (j < layout.length && layout[j] === ch) j++;
          if (!isDigitAt(layout, j)) return [layout.slice(0, i), { k: "frac", trim: ch === "9", digits: j - (i + 1), separator: c }, layout.slice(j)];
        }
        break;
      }
      default:
        break;
    }
  }
  return [layout, undefined, ""];
}

/** Go's appendInt: a sign, then at least `width` digits. */
function int(x: number, width = 0): string {
  const digits = String(Math.abs(x)).padStart(width, "0");
  return x < 0 ? `-${digits}` : digits;
}

const LONG_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const LONG_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

function yearDay(t: CivilTime): number {
  const start = new Date(0);
  start.setUTCFullYear(t.year, 0, 1);
  const date = new Date(0);
  date.setUTCFullYear(t.year, t.month - 1, t.day);
  return Math.round((date.getTime() - start.getTime()) / 86_400_000) + 1;
}

/** Time.Format(layout) of a civil time. */
export function goFormat(t: CivilTime, layout: string): string {
  let out = "";
  let rest = layout;
  while (rest !== "") {
    const [prefix, std, suffix] = nextStdChunk(rest);
    out += prefix;
    if (!std) break;
    rest = suffix;
    const hour12 = t.hour % 12 === 0 ? 12 : t.hour % 12;
    switch (std.k) {
      case "year":
        out += int(Math.abs(t.year) % 100, 2);
        break;
      case "longYear":
        out += int(t.year, 4);
        break;
      case "month":
        out += (LONG_MONTHS[t.month - 1] ?? "").slice(0, 3);
        break;
      case "longMonth":
        out += LONG_MONTHS[t.month - 1] ?? "";
        break;
      case "numMonth":
        out += int(t.month);
        break;
      case "zeroMonth":
        out += int(t.month, 2);
        break;
      case "weekDay":
        out += (LONG_DAYS[t.weekday] ?? "").slice(0, 3);
        break;
      case "longWeekDay":
        out += LONG_DAYS[t.weekday] ?? "";
        break;
      case "day":
        out += int(t.day);
        break;
      case "underDay":
        out += (t.day < 10 ? " " : "") + int(t.day);
        break;
      case "zeroDay":
        out += int(t.day, 2);
        break;
      case "underYearDay": {
        const yd = yearDay(t);
        out += (yd < 100 ? (yd < 10 ? "  " : " ") : "") + int(yd);
        break;
      }
      case "zeroYearDay":
        out += int(yearDay(t), 3);
        break;
      case "hour":
        out += int(t.hour, 2);
        break;
      case "hour12":
        out += int(hour12);
        break;
      case "zeroHour12":
        out += int(hour12, 2);
        break;
      case "minute":
        out += int(t.minute);
        break;
      case "zeroMinute":
        out += int(t.minute, 2);
        break;
      case "second":
        out += int(t.second);
        break;
      case "zeroSecond":
        out += int(t.second, 2);
        break;
      case "PM":
        out += t.hour >= 12 ? "PM" : "AM";
        break;
      case "pm":
        out += t.hour >= 12 ? "pm" : "am";
        break;
      case "zone": {
        if (t.offset === 0 && std.iso) {
          out += "Z";
          break;
        }
        const minutes = Math.trunc(t.offset / 60);
        out += minutes < 0 ? "-" : "+";
        out += int(Math.trunc(Math.abs(minutes) / 60), 2);
        if (std.colon) out += ":";
        if (!std.short) out += int(Math.abs(minutes) % 60, 2);
        if (std.seconds) out += (std.colon ? ":" : "") + int(Math.abs(t.offset) % 60, 2);
        break;
      }
      case "TZ":
        if (t.zone !== "UTC") throw new LayoutError(`the abbreviation (MST) of time zone ${t.zone} is not available in agentgate (Go reads it from the tz database); use -07:00 or UTC`);
        out += "UTC";
        break;
      case "frac": {
        if (std.trim && (std.digits === 0 || t.nanos === 0n)) break;
        let frac = std.separator + t.nanos.toString().padStart(9, "0").slice(0, Math.min(std.digits, 9));
        if (std.trim) frac = frac.replace(/0+$/, "").replace(/[.,]$/, "");
        out += frac;
        break;
      }
    }
  }
  return out;
}

/** The layouts OPA's time.format takes by name (topdown/time.go acceptedTimeFormats). */
export const NAMED_LAYOUTS: Readonly<Record<string, string>> = {
  ANSIC: "Mon Jan _2 15:04:05 2006",
  UnixDate: "Mon Jan _2 15:04:05 MST 2006",
  RubyDate: "Mon Jan 02 15:04:05 -0700 2006",
  RFC822: "02 Jan 06 15:04 MST",
  RFC822Z: "02 Jan 06 15:04 -0700",
  RFC850: "Monday, 02-Jan-06 15:04:05 MST",
  RFC1123: "Mon, 02 Jan 2006 15:04:05 MST",
  RFC1123Z: "Mon, 02 Jan 2006 15:04:05 -0700",
  RFC3339: "2006-01-02T15:04:05Z07:00",
  RFC3339Nano: "2006-01-02T15:04:05.999999999Z07:00",
};
