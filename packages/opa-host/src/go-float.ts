// Go's strconv.FormatFloat(v, 'e'|'E'|'f'|'g'|'G'|'b', prec, 64), which
// OPA's sprintf reaches through fmt for %e %f %g %v of a number with a
// fraction or exponent. JavaScript's toFixed/toExponential round ties away
// from zero and switch to exponents at 1e21; Go rounds the exact binary value
// half to even, so digits come from the exact decimal expansion here.

interface Digits {
  /** significant digits, no trailing zeros; "" for zero */
  d: string;
  /** position of the decimal point relative to the start of d */
  dp: number;
}

function decompose(v: number): { mant: bigint; exp: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(v));
  const bits = view.getBigUint64(0);
  const e = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  return e === 0 ? { mant: frac, exp: -1074 } : { mant: frac | (1n << 52n), exp: e - 1075 };
}

function exactDigits(v: number): Digits {
  const { mant, exp } = decompose(v);
  if (mant === 0n) return { d: "", dp: 0 };
  let s: string;
  let dp: number;
  if (exp >= 0) {
    s = (mant << BigInt(exp)).toString();
    dp = s.length;
  } else {
    s = (mant * 5n ** BigInt(-exp)).toString();
    dp = s.length + exp;
  }
  return trim({ d: s, dp });
}

function trim(x: Digits): Digits {
  const d = x.d.replace(/0+$/, "");
  return d === "" ? { d: "", dp: 0 } : { d, dp: x.dp };
}

/** Rounds to nd significant digits, half to even on the exact value (Go's decimal.Round). */
function round(x: Digits, nd: number): Digits {
  if (nd < 0 || nd >= x.d.length) return x;
  const next = x.d.charCodeAt(nd) - 48;
  const up = next > 5 || (next === 5 && (nd + 1 < x.d.length || (nd > 0 && (x.d.charCodeAt(nd - 1) - 48) % 2 === 1)));
  if (!up) return trim({ d: x.d.slice(0, nd), dp: x.d.length === 0 ? 0 : x.dp });
  const kept = x.d.slice(0, nd);
  if (kept === "") return { d: "1", dp: x.dp + 1 };
  const bumped = (BigInt(kept) + 1n).toString();
  return bumped.length > kept.length ? trim({ d: bumped, dp: x.dp + 1 }) : trim({ d: bumped, dp: x.dp });
}

/** Shortest digits that read back as v: the same digits Go's shortest mode picks. */
function shortestDigits(v: number): Digits {
  if (v === 0) return { d: "", dp: 0 };
  const [mantissa = "", exponent = "0"] = Math.abs(v).toExponential().split("e");
  const d = mantissa.replace(".", "");
  return trim({ d, dp: Number(exponent) + 1 });
}

function fmtE(neg: boolean, x: Digits, prec: number, e: string): string {
  let out = neg ? "-" : "";
  out += x.d.length > 0 ? x.d.charAt(0) : "0";
  if (prec > 0) {
    out += ".";
    const more = x.d.slice(1, Math.min(x.d.length, prec + 1));
    out += more + "0".repeat(prec - more.length);
  }
  let exp = x.d.length === 0 ? 0 : x.dp - 1;
  const sign = exp < 0 ? "-" : "+";
  exp = Math.abs(exp);
  return `${out}${e}${sign}${exp < 10 ? `0${exp}` : String(exp)}`;
}

function fmtF(neg: boolean, x: Digits, prec: number): string {
  let out = neg ? "-" : "";
  if (x.dp > 0) {
    out += x.d.slice(0, Math.min(x.d.length, x.dp)).padEnd(x.dp, "0");
  } else {
    out += "0";
  }
  if (prec > 0) {
    out += ".";
    for (let i = 0; i < prec; i++) {
      const j = x.dp + i;
      out += j >= 0 && j < x.d.length ? x.d.charAt(j) : "0";
    }
  }
  return out;
}

function formatDigits(shortest: boolean, neg: boolean, x: Digits, precIn: number, fmt: string): string {
  let prec = precIn;
  switch (fmt) {
    case "e":
    case "E":
      return fmtE(neg, x, prec, fmt);
    case "f":
      return fmtF(neg, x, prec);
    default: {
      const nd = x.d.length;
      let eprec = prec;
      if (eprec > nd && nd >= x.dp) eprec = nd;
      if (shortest) eprec = 6;
      const exp = x.dp - 1;
      if (exp < -4 || exp >= eprec) {
        if (prec > nd) prec = nd;
        return fmtE(neg, x, prec - 1, fmt === "g" ? "e" : "E");
      }
      if (prec > x.dp) prec = nd;
      return fmtF(neg, x, Math.max(prec - x.dp, 0));
    }
  }
}

const U64 = (1n << 64n) - 1n;

/** %x / %X: -0x1.yyyyp±dd, Go's fmtX (hexadecimal mantissa, binary exponent). */
function fmtX(neg: boolean, v: number, prec: number, fmt: string): string {
  const parts = decompose(v);
  let mant = parts.mant;
  let exp = parts.exp + 52;
  if (mant === 0n) exp = 0;
  mant = (mant << 8n) & U64;
  while (mant !== 0n && (mant & (1n << 60n)) === 0n) {
    mant = (mant << 1n) & U64;
    exp--;
  }
  if (prec >= 0 && prec < 15) {
    const shift = BigInt(prec * 4);
    const extra = (mant << shift) & ((1n << 60n) - 1n);
    mant >>= 60n - shift;
    if ((extra | (mant & 1n)) > 1n << 59n) mant++;
    mant = (mant << (60n - shift)) & U64;
    if ((mant & (1n << 61n)) !== 0n) {
      mant >>= 1n;
      exp++;
    }
  }
  const hex = fmt === "X" ? "0123456789ABCDEF" : "0123456789abcdef";
  let out = `${neg ? "-" : ""}0${fmt}${String((mant >> 60n) & 1n)}`;
  mant = (mant << 4n) & U64;
  if ((prec < 0 && mant !== 0n) || prec > 0) {
    out += ".";
    for (let i = 0; prec < 0 ? mant !== 0n : i < prec; i++) {
      out += hex.charAt(Number((mant >> 60n) & 15n));
      mant = (mant << 4n) & U64;
    }
  }
  const e = Math.abs(exp);
  return `${out}${fmt === "X" ? "P" : "p"}${exp < 0 ? "-" : "+"}${e < 10 ? `0${String(e)}` : String(e)}`;
}

/** strconv.FormatFloat(v, fmt, prec, 64) for fmt in b e E f g G x X; prec -1 is shortest. */
export function formatFloat(v: number, fmt: string, prec: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  const neg = v < 0 || Object.is(v, -0);
  if (fmt === "x" || fmt === "X") return fmtX(neg, v, prec, fmt);
  if (fmt === "b") {
    const { mant, exp } = decompose(v);
    return `${neg ? "-" : ""}${mant.toString()}p${exp >= 0 ? "+" : ""}${String(exp)}`;
  }
  if (prec < 0) {
    const x = shortestDigits(v);
    let p: number;
    if (fmt === "e" || fmt === "E") p = Math.max(x.d.length - 1, 0);
    else if (fmt === "f") p = Math.max(x.d.length - x.dp, 0);
    else p = x.d.length;
    return formatDigits(true, neg, x, p, fmt);
  }
  const exact = exactDigits(v);
  let x: Digits;
  let p = prec;
  if (fmt === "e" || fmt === "E") x = round(exact, p + 1);
  else if (fmt === "f") x = exact.d.length === 0 ? exact : round(exact, exact.dp + p);
  else {
    if (p === 0) p = 1;
    x = round(exact, p);
  }
  return formatDigits(false, neg, x, p, fmt);
}
