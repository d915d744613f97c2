// OPA's sprintf: Go's fmt.Sprintf over the arguments OPA hands it
// (topdown/strings.go builtinSprintf). A number with a fraction or exponent
// in its text is a float64, another an int64 (a *big.Int past int64), a
// string a string, and every other value its term text (`[1, "a"]`,
// `{"a": 1}`, `{1, 2}`, `true`) as a string. So `%t` of true is
// `%!t(string=true)` in OPA, and so it is here. This is a port of fmt's
// doPrintf for those four argument types, errors (`%!d(MISSING)`, EXTRA,
// BADINDEX, NOVERB, BADWIDTH, BADPREC) included.
//
// Over 400 lines on purpose: it is one port of fmt's doPrintf (verbs, flags,
// width, precision, argument index, the error forms) whose parts follow the
// Go source function by function; split, a reader comparing it with fmt
// would have to follow it across files.
import { formatFloat } from "./go-float.ts";
import { RegoNumber, formatTerm, goQuote, isPrint, type RegoValue } from "./rego-value.ts";

type Arg =
  | { kind: "int"; v: bigint }
  | { kind: "float"; v: number }
  | { kind: "big"; v: bigint }
  | { kind: "string"; v: string };

const TYPE_NAME = { int: "int64", float: "float64", big: "*big.Int", string: "string" } as const;
const MIN_INT64 = -(1n << 63n);
const MAX_INT64 = (1n << 63n) - 1n;

function toArg(value: RegoValue): Arg {
  if (typeof value === "string") return { kind: "string", v: value };
  if (value instanceof RegoNumber) {
    const text = value.text;
    if (/[.eE]/.test(text)) {
      const f = Number(text);
      return Number.isFinite(f) ? { kind: "float", v: f } : { kind: "string", v: text };
    }
    const n = BigInt(text);
    return n >= MIN_INT64 && n <= MAX_INT64 ? { kind: "int", v: n } : { kind: "big", v: n };
  }
  return { kind: "string", v: formatTerm(value) };
}

interface Flags {
  plus: boolean;
  minus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  plusV: boolean;
  sharpV: boolean;
  wid: number;
  widPresent: boolean;
  prec: number;
  precPresent: boolean;
}

const clearFlags = (): Flags => ({
  plus: false, minus: false, sharp: false, space: false, zero: false, plusV: false, sharpV: false,
  wid: 0, widPresent: false, prec: 0, precPresent: false,
});

const runeCount = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

const tooLarge = (x: number): boolean => x > 1e6 || x < -1e6;

/** Go's utf8 byte view of a string, for %x and precision on bytes. */
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

class Printer {
  out = "";
  f: Flags = clearFlags();

  private writePadding(n: number): void {
    if (n <= 0) return;
    this.out += (this.f.zero && !this.f.minus ? "0" : " ").repeat(n);
  }

  pad(s: string): void {
    if (!this.f.widPresent || this.f.wid === 0) {
      this.out += s;
      return;
    }
    const width = this.f.wid - runeCount(s);
    if (!this.f.minus) {
      this.writePadding(width);
      this.out += s;
    } else {
      this.out += s;
      this.writePadding(width);
    }
  }

  private withoutZero(fn: () => void): void {
    const old = this.f.zero;
    this.f.zero = false;
    fn();
    this.f.zero = old;
  }

  private truncate(s: string): string {
    if (!this.f.precPresent) return s;
    let n = this.f.prec;
    let i = 0;
    for (const ch of s) {
      n--;
      if (n < 0) return s.slice(0, i);
      i += ch.length;
    }
    return s;
  }

  private fmtS(s: string): void {
    this.pad(this.truncate(s));
  }

  private fmtQ(s: string): void {
    const t = this.truncate(s);
    if (this.f.sharp && canBackquote(t)) {
      this.pad(`\`${t}\``);
      return;
    }
    this.pad(goQuote(t, this.f.plus));
  }

  private fmtSx(s: string, upper: boolean): void {
    const bytes = utf8(s);
    const digits = upper ? "0123456789ABCDEFX" : "0123456789abcdefx";
    let length = bytes.length;
    if (this.f.precPresent && this.f.prec < length) length = this.f.prec;
    let width = 2 * length;
    if (width > 0) {
      if (this.f.space) {
        if (this.f.sharp) width *= 2;
        width += length - 1;
      } else if (this.f.sharp) {
        width += 2;
      }
    } else {
      if (this.f.widPresent) this.writePadding(this.f.wid);
      return;
    }
    if (this.f.widPresent && this.f.wid > width && !this.f.minus) this.writePadding(this.f.wid - width);
    let buf = "";
    const prefix = `0${digits.charAt(16)}`;
    if (this.f.sharp) buf += prefix;
    for (let i = 0; i < length; i++) {
      if (this.f.space && i > 0) {
        buf += " ";
        if (this.f.sharp) buf += prefix;
      }
      const c = bytes[i] ?? 0;
      buf += digits.charAt(c >> 4) + digits.charAt(c & 0xf);
    }
    this.out += buf;
    if (this.f.widPresent && this.f.wid > width && this.f.minus) this.writePadding(this.f.wid - width);
  }

  private fmtInteger(value: bigint, base: number, verb: string, upper: boolean): void {
    const negative = value < 0n;
    const u = negative ? -value : value;
    let prec = 0;
    if (this.f.precPresent) {
      prec = this.f.prec;
      if (prec === 0 && u === 0n) {
        this.withoutZero(() => { this.writePadding(this.f.wid); });
        return;
      }
    } else if (this.f.zero && !this.f.minus && this.f.widPresent) {
      prec = this.f.wid;
      if (negative || this.f.plus || this.f.space) prec--;
    }
    let digits = u.toString(base);
    if (upper) digits = digits.toUpperCase();
    if (digits.length < prec) digits = "0".repeat(prec - digits.length) + digits;
    if (this.f.sharp) {
      if (base === 2) digits = `0b${digits}`;
      else if (base === 8 && !digits.startsWith("0")) digits = `0${digits}`;
      else if (base === 16) digits = `0${upper ? "X" : "x"}${digits}`;
    }
    if (verb === "O") digits = `0o${digits}`;
    if (negative) digits = `-${digits}`;
    else if (this.f.plus) digits = `+${digits}`;
    else if (this.f.space) digits = ` ${digits}`;
    this.withoutZero(() => { this.pad(digits); });
  }

  private fmtUnicode(u: bigint): void {
    let prec = 4;
    if (this.f.precPresent && this.f.prec > 4) prec = this.f.prec;
    let s = `U+${u.toString(16).toUpperCase().padStart(prec, "0")}`;
    if (this.f.sharp && u <= 0x10ffffn && isPrint(Number(u))) s += ` '${String.fromCodePoint(Number(u))}'`;
    this.withoutZero(() => { this.pad(s); });
  }

  private rune(u: bigint): string {
    const n = u > 0x10ffffn || u < 0n ? 0xfffd : Number(u);
    return n >= 0xd800 && n <= 0xdfff ? "\ufffd" : String.fromCodePoint(n);
  }

  private fmtFloat(v: number, verb: string, precIn: number): void {
    const prec = this.f.precPresent ? this.f.prec : precIn;
    let num = formatFloat(v, verb, prec);
    if (num.startsWith("-") || num.startsWith("+")) {
      // already signed
    } else {
      num = `+${num}`;
    }
    if (this.f.space && num.startsWith("+") && !this.f.plus) num = ` ${num.slice(1)}`;
    if (num.charAt(1) === "I" || num.charAt(1) === "N") {
      this.withoutZero(() => { this.pad(num); });
      return;
    }
    if (this.f.sharp && verb !== "b") {
      let digits = 0;
      if (verb === "v" || verb === "g" || verb === "G" || verb === "x") digits = prec === -1 ? 6 : prec;
      let tail = "";
      let body = num;
      const e = body.search(/[eEpP]/);
      if (e > 0) {
        tail = body.slice(e);
        body = body.slice(0, e);
      }
      let hasPoint = false;
      let sawNonzero = false;
      for (let i = 1; i < body.length; i++) {
        const c = body.charAt(i);
        if (c === ".") {
          hasPoint = true;
          continue;
        }
        if (c !== "0") sawNonzero = true;
        if (sawNonzero) digits--;
      }
      if (!hasPoint) {
        if (body.length === 2 && body.charAt(1) === "0") digits--;
        body += ".";
      }
      while (digits > 0) {
        body += "0";
        digits--;
      }
      num = body + tail;
    }
    if (this.f.plus || !num.startsWith("+")) {
      if (this.f.zero && !this.f.minus && this.f.widPresent && this.f.wid > num.length) {
        this.out += num.charAt(0);
        this.writePadding(this.f.wid - num.length);
        this.out += num.slice(1);
        return;
      }
      this.pad(num);
      return;
    }
    this.pad(num.slice(1));
  }

  private fmtBig(x: bigint, verb: string): void {
    let base: number;
    if (verb === "b") base = 2;
    else if (verb === "o" || verb === "O") base = 8;
    else if (verb === "d" || verb === "s" || verb === "v") base = 10;
    else if (verb === "x" || verb === "X") base = 16;
    else {
      this.out += `%!${verb}(big.Int=${x.toString()})`;
      return;
    }
    const sign = x < 0n ? "-" : this.f.plus || this.f.plusV ? "+" : this.f.space ? " " : "";
    let prefix = "";
    if (this.f.sharp || this.f.sharpV) prefix = ({ b: "0b", o: "0", x: "0x", X: "0X" } as Record<string, string>)[verb] ?? "";
    if (verb === "O") prefix = "0o";
    let digits = (x < 0n ? -x : x).toString(base);
    if (verb === "X") digits = digits.toUpperCase();
    let left = 0;
    let zeros = 0;
    let right = 0;
    if (this.f.precPresent) {
      if (digits.length < this.f.prec) zeros = this.f.prec - digits.length;
      else if (digits === "0" && this.f.prec === 0) return;
    }
    const length = sign.length + prefix.length + zeros + digits.length;
    if (this.f.widPresent && length < this.f.wid) {
      const d = this.f.wid - length;
      if (this.f.minus) right = d;
      else if (this.f.zero && !this.f.precPresent) zeros = d;
      else left = d;
    }
    this.out += " ".repeat(left) + sign + prefix + "0".repeat(zeros) + digits + " ".repeat(right);
  }

  badVerb(verb: string, arg: Arg): void {
    this.out += `%!${verb}(${TYPE_NAME[arg.kind]}=`;
    this.printArg(arg, "v");
    this.out += ")";
  }

  printArg(arg: Arg, verb: string): void {
    if (verb === "T") {
      this.fmtS(TYPE_NAME[arg.kind]);
      return;
    }
    if (verb === "p" && arg.kind !== "big") {
      this.badVerb(verb, arg);
      return;
    }
    switch (arg.kind) {
      case "int":
        switch (verb) {
          case "v":
          case "d":
            this.fmtInteger(arg.v, 10, verb, false);
            return;
          case "b":
            this.fmtInteger(arg.v, 2, verb, false);
            return;
          case "o":
          case "O":
            this.fmtInteger(arg.v, 8, verb, false);
            return;
          case "x":
          case "X":
            this.fmtInteger(arg.v, 16, verb, verb === "X");
            return;
          case "c":
            this.pad(this.rune(arg.v));
            return;
          case "q":
            this.pad(goQuote(this.rune(arg.v), this.f.plus, "'"));
            return;
          case "U":
            this.fmtUnicode(arg.v);
            return;
          default:
            this.badVerb(verb, arg);
            return;
        }
      case "float":
        switch (verb) {
          case "v":
            this.fmtFloat(arg.v, "g", -1);
            return;
          case "b":
          case "g":
          case "G":
          case "x":
          case "X":
            this.fmtFloat(arg.v, verb, -1);
            return;
          case "f":
          case "e":
          case "E":
            this.fmtFloat(arg.v, verb, 6);
            return;
          case "F":
            this.fmtFloat(arg.v, "f", 6);
            return;
          default:
            this.badVerb(verb, arg);
            return;
        }
      case "string":
        switch (verb) {
          case "v":
            if (this.f.sharpV) this.fmtQ(arg.v);
            else this.fmtS(arg.v);
            return;
          case "s":
            this.fmtS(arg.v);
            return;
          case "x":
          case "X":
            this.fmtSx(arg.v, verb === "X");
            return;
          case "q":
            this.fmtQ(arg.v);
            return;
          default:
            this.badVerb(verb, arg);
            return;
        }
      case "big":
        this.fmtBig(arg.v, verb);
        return;
    }
  }
}

/** strconv.CanBackquote: no control characters but tab, no backquote, no BOM. */
function canBackquote(s: string): boolean {
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === "`" || cp === 0xfeff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if ((cp < 0x20 && ch !== "\t") || cp === 0x7f) return false;
  }
  return true;
}

function parsenum(s: string, start: number, end: number): { num: number; isnum: boolean; newi: number } {
  if (start >= end) return { num: 0, isnum: false, newi: end };
  let num = 0;
  let isnum = false;
  let newi = start;
  for (; newi < end && s.charCodeAt(newi) >= 48 && s.charCodeAt(newi) <= 57; newi++) {
    if (tooLarge(num)) return { num: 0, isnum: false, newi: end };
    num = num * 10 + (s.charCodeAt(newi) - 48);
    isnum = true;
  }
  return { num, isnum, newi };
}

/** fmt.Sprintf(format, args...) with Go's semantics for OPA's argument types. */
export function goSprintf(format: string, values: readonly RegoValue[]): string {
  // Go indexes the format by bytes; every byte that matters here is ASCII,
  // and a multi-byte verb is decoded as one rune, as Go does.
  const a = values.map(toArg);
  const p = new Printer();
  const end = format.length;
  let argNum = 0;
  let afterIndex: boolean;
  const seen = { reordered: false };
  let goodArgNum: boolean;

  const argNumber = (i: number): { argNum: number; i: number; found: boolean } => {
    if (i >= end || format.charAt(i) !== "[") return { argNum, i, found: false };
    seen.reordered = true;
    // parseArgNumber
    let index = 0;
    let wid = 1;
    let ok = false;
    if (end - i >= 3) {
      for (let j = i + 1; j < end; j++) {
        if (format.charAt(j) === "]") {
          const { num, isnum, newi } = parsenum(format, i + 1, j);
          if (!isnum || newi !== j) {
            wid = j - i + 1;
            ok = false;
          } else {
            index = num - 1;
            wid = j - i + 1;
            ok = true;
          }
          break;
        }
      }
    }
    if (ok && index >= 0 && index < a.length) return { argNum: index, i: i + wid, found: true };
    goodArgNum = false;
    return { argNum, i: i + wid, found: ok };
  };

  const intFromArg = (): { num: number; isInt: boolean } => {
    let num = 0;
    let isInt = false;
    if (argNum < a.length) {
      const arg = a[argNum] as Arg;
      if (arg.kind === "int" && arg.v >= BigInt(Number.MIN_SAFE_INTEGER) && arg.v <= BigInt(Number.MAX_SAFE_INTEGER)) {
        num = Number(arg.v);
        isInt = true;
      }
      argNum++;
      if (tooLarge(num)) {
        num = 0;
        isInt = false;
      }
    }
    return { num, isInt };
  };

  let i = 0;
  formatLoop: while (i < end) {
    goodArgNum = true;
    const lasti = i;
    while (i < end && format.charAt(i) !== "%") i++;
    if (i > lasti) p.out += format.slice(lasti, i);
    if (i >= end) break;
    i++;
    p.f = clearFlags();
    simpleFormat: for (; i < end; i++) {
      const c = format.charAt(i);
      switch (c) {
        case "#":
          p.f.sharp = true;
          break;
        case "0":
          p.f.zero = true;
          break;
        case "+":
          p.f.plus = true;
          break;
        case "-":
          p.f.minus = true;
          break;
        case " ":
          p.f.space = true;
          break;
        default:
          if (c >= "a" && c <= "z" && argNum < a.length) {
            if (c === "v" || c === "w") {
              p.f.sharpV = p.f.sharp;
              p.f.sharp = false;
              p.f.plusV = p.f.plus;
              p.f.plus = false;
            }
            p.printArg(a[argNum] as Arg, c === "w" ? "w" : c);
            argNum++;
            i++;
            continue formatLoop;
          }
          break simpleFormat;
      }
    }

    let r = argNumber(i);
    argNum = r.argNum;
    i = r.i;
    afterIndex = r.found;

    if (i < end && format.charAt(i) === "*") {
      i++;
      const w = intFromArg();
      p.f.wid = w.num;
      p.f.widPresent = w.isInt;
      if (!p.f.widPresent) p.out += "%!(BADWIDTH)";
      if (p.f.wid < 0) {
        p.f.wid = -p.f.wid;
        p.f.minus = true;
        p.f.zero = false;
      }
      afterIndex = false;
    } else {
      const n = parsenum(format, i, end);
      p.f.wid = n.num;
      p.f.widPresent = n.isnum;
      i = n.newi;
      if (afterIndex && p.f.widPresent) goodArgNum = false;
    }

    if (i + 1 < end && format.charAt(i) === ".") {
      i++;
      if (afterIndex) goodArgNum = false;
      r = argNumber(i);
      argNum = r.argNum;
      i = r.i;
      afterIndex = r.found;
      if (i < end && format.charAt(i) === "*") {
        i++;
        const w = intFromArg();
        p.f.prec = w.num;
        p.f.precPresent = w.isInt;
        if (p.f.prec < 0) {
          p.f.prec = 0;
          p.f.precPresent = false;
        }
        if (!p.f.precPresent) p.out += "%!(BADPREC)";
        afterIndex = false;
      } else {
        const n = parsenum(format, i, end);
        p.f.prec = n.num;
        p.f.precPresent = n.isnum;
        i = n.newi;
        if (!p.f.precPresent) {
          p.f.prec = 0;
          p.f.precPresent = true;
        }
      }
    }

    if (!afterIndex) {
      r = argNumber(i);
      argNum = r.argNum;
      i = r.i;
    }

    if (i >= end) {
      p.out += "%!(NOVERB)";
      break;
    }

    const verb = String.fromCodePoint(format.codePointAt(i) ?? 0xfffd);
    i += verb.length;

    if (verb === "%") {
      p.out += "%";
    } else if (!goodArgNum) {
      p.out += `%!${verb}(BADINDEX)`;
    } else if (argNum >= a.length) {
      p.out += `%!${verb}(MISSING)`;
    } else {
      if (verb === "v" || verb === "w") {
        p.f.sharpV = p.f.sharp;
        p.f.sharp = false;
        p.f.plusV = p.f.plus;
        p.f.plus = false;
      }
      p.printArg(a[argNum] as Arg, verb);
      argNum++;
    }
  }

  if (!seen.reordered && argNum < a.length) {
    p.f = clearFlags();
    p.out += "%!(EXTRA ";
    a.slice(argNum).forEach((arg, k) => {
      if (k > 0) p.out += ", ";
      p.out += `${TYPE_NAME[arg.kind]}=`;
      p.printArg(arg, "v");
    });
    p.out += ")";
  }
  return p.out;
}
