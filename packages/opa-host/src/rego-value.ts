// Rego values as the wasm module holds them, for host builtins that must
// answer as OPA does. JSON loses what OPA's answers depend on: a set is not an
// array (sprintf prints `{1, 2}` and `set()`), object keys need not be
// strings, and a number keeps its text (`2.50`, 12345678901234567890). So
// arguments are read from opa_value_dump's text and results written back in
// the text opa_value_parse reads.

export class RegoNumber {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

export class RegoObject {
  readonly entries: readonly (readonly [RegoValue, RegoValue])[];
  private sortedCache: readonly (readonly [RegoValue, RegoValue])[] | undefined;
  constructor(entries: readonly (readonly [RegoValue, RegoValue])[]) {
    this.entries = entries;
  }

  /** The entries by key in OPA's order, computed once (comparisons and sorts ask again and again). */
  sorted(): readonly (readonly [RegoValue, RegoValue])[] {
    this.sortedCache ??= sortEntries(this.entries);
    return this.sortedCache;
  }

  get(key: string): RegoValue | undefined {
    return this.entries.find(([k]) => k === key)?.[1];
  }
}

export class RegoSet {
  readonly items: readonly RegoValue[];
  private sortedCache: readonly RegoValue[] | undefined;
  constructor(items: readonly RegoValue[]) {
    this.items = items;
  }

  /** The members in OPA's order, computed once. */
  sorted(): readonly RegoValue[] {
    this.sortedCache ??= sortValues(this.items);
    return this.sortedCache;
  }
}

export type RegoValue = null | boolean | string | RegoNumber | RegoObject | RegoSet | readonly RegoValue[];

export class RegoValueError extends Error {
  constructor(text: string, at: number, why: string) {
    super(`rego value at offset ${at}: ${why} in ${text.length > 80 ? `${text.slice(0, 80)}…` : text}`);
    this.name = "RegoValueError";
  }
}

// One way to match each digit: `\d+\.?\d*` split a run of digits every which way, quadratic on a long run that fails to match.
const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Nesting the reader accepts. It recurses (as does every walk over a value
 * after it), and past some thousands of levels the stack overflows with a
 * RangeError instead of a RegoValueError; an admission review nests at most
 * 100 levels (DEFAULT_REVIEW_LIMITS), so no real value comes near this.
 */
export const MAX_VALUE_DEPTH = 1000;

/** Parses opa_value_dump's text: JSON plus sets (`{1, 2}`, `set()`) and non-string object keys. */
export function parseRegoValue(text: string): RegoValue {
  // On the admission path for every entrypoint value: a hand scanner over char codes.
  let i = 0;
  let depth = 0;
  const n = text.length;
  const fail = (why: string): never => {
    throw new RegoValueError(text, i, why);
  };
  const ws = (): number => {
    let c = text.charCodeAt(i);
    while (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) c = text.charCodeAt(++i);
    return c;
  };
  const expect = (code: number, what: string): void => {
    if (ws() !== code) fail(`expected ${what}`);
    i++;
  };
  const string = (): string => {
    const start = i;
    let escaped = false;
    for (i++; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x5c) {
        escaped = true;
        i++;
      } else if (c === 0x22) {
        i++;
        if (!escaped) return text.slice(start + 1, i - 1);
        try {
          return JSON.parse(text.slice(start, i)) as string;
        } catch {
          // JSON.parse's own SyntaxError would leave the reader as another kind of error.
          i = start;
          return fail("invalid escape or control character in a string");
        }
      }
    }
    return fail("unterminated string");
  };
  const value = (): RegoValue => {
    const c = ws();
    if (c === 0x22) return string();
    if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_VALUE_DEPTH) fail(`nested deeper than ${MAX_VALUE_DEPTH} levels`);
      const composite = c === 0x5b ? array() : object();
      depth--;
      return composite;
    }
    return scalar();
  };
  const array = (): RegoValue => {
    i++;
    const items: RegoValue[] = [];
    if (ws() === 0x5d) {
      i++;
      return items;
    }
    for (;;) {
      items.push(value());
      const sep = ws();
      i++;
      if (sep === 0x5d) return items;
      if (sep !== 0x2c) fail('expected "," or "]"');
    }
  };
  const object = (): RegoValue => {
    i++;
    if (ws() === 0x7d) {
      i++;
      return new RegoObject([]);
    }
    const first = value();
    if (ws() === 0x3a) {
      i++;
      const entries: [RegoValue, RegoValue][] = [[first, value()]];
      for (;;) {
        const sep = ws();
        i++;
        if (sep === 0x7d) return new RegoObject(entries);
        if (sep !== 0x2c) fail('expected "," or "}"');
        const k = value();
        expect(0x3a, '":"');
        entries.push([k, value()]);
      }
    }
    const items: RegoValue[] = [first];
    for (;;) {
      const sep = ws();
      i++;
      if (sep === 0x7d) return new RegoSet(items);
      if (sep !== 0x2c) fail('expected "," or "}"');
      items.push(value());
    }
  };
  const scalar = (): RegoValue => {
    const start = i;
    while (i < n) {
      const d = text.charCodeAt(i);
      if (d === 0x2c || d === 0x5d || d === 0x7d || d === 0x3a || d === 0x20 || d === 0x0a || d === 0x09 || d === 0x0d) break;
      i++;
    }
    const word = text.slice(start, i);
    if (word === "null") return null;
    if (word === "true") return true;
    if (word === "false") return false;
    if (word === "set()") return new RegoSet([]);
    if (NUMBER.test(word)) return new RegoNumber(word);
    i = start;
    return fail(word === "" ? "unexpected character" : `unexpected ${JSON.stringify(word.length > 40 ? `${word.slice(0, 40)}…` : word)}`);
  };
  const result = value();
  ws();
  if (i !== n) fail("trailing text");
  return result;
}

/** The text opa_value_parse reads back (sets and non-string keys included). */
export function serializeRegoValue(v: RegoValue): string {
  if (v === null || typeof v === "boolean") return String(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (v instanceof RegoNumber) return v.text;
  if (v instanceof RegoObject) return `{${v.entries.map(([k, x]) => `${serializeRegoValue(k)}:${serializeRegoValue(x)}`).join(",")}}`;
  if (v instanceof RegoSet) return v.items.length === 0 ? "set()" : `{${v.items.map(serializeRegoValue).join(",")}}`;
  return `[${v.map(serializeRegoValue).join(",")}]`;
}

/** A JSON value (as the SDK's builtins take and give) as a Rego value. */
export function fromJson(v: unknown): RegoValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") return new RegoNumber(numberText(v));
  if (typeof v === "bigint") return new RegoNumber(v.toString());
  if (Array.isArray(v)) return v.map(fromJson);
  if (typeof v === "object") return new RegoObject(Object.entries(v).map(([k, x]) => [k, fromJson(x)] as const));
  throw new TypeError(`not a JSON value: ${typeof v}`);
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) throw new TypeError(`not a JSON number: ${String(n)}`);
  return Number.isInteger(n) && Math.abs(n) < 1e21 ? BigInt(n).toString() : String(n);
}

export function numberValue(n: number | bigint): RegoNumber {
  return new RegoNumber(typeof n === "bigint" ? n.toString() : numberText(n));
}

const RANK = { null: 0, boolean: 1, number: 2, string: 3, array: 4, object: 5, set: 6 } as const;

export function typeOf(v: RegoValue): keyof typeof RANK {
  if (v === null) return "null";
  if (typeof v === "boolean") return "boolean";
  if (typeof v === "string") return "string";
  if (v instanceof RegoNumber) return "number";
  if (v instanceof RegoObject) return "object";
  if (v instanceof RegoSet) return "set";
  return "array";
}

/** Go compares strings bytewise in UTF-8, which is code point order. */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

const INTEGER = /^-?\d+$/;

export function compareNumbers(a: RegoNumber, b: RegoNumber): number {
  if (INTEGER.test(a.text) && INTEGER.test(b.text)) {
    const x = BigInt(a.text);
    const y = BigInt(b.text);
    return x === y ? 0 : x < y ? -1 : 1;
  }
  const x = Number(a.text);
  const y = Number(b.text);
  return x === y ? 0 : x < y ? -1 : 1;
}

/** OPA's total order of values (ast.Compare): the order sets and object keys print in. */
export function compareValues(a: RegoValue, b: RegoValue): number {
  const ta = typeOf(a);
  const tb = typeOf(b);
  if (ta !== tb) return RANK[ta] - RANK[tb];
  if (typeof a === "boolean") return a === b ? 0 : a ? 1 : -1;
  if (typeof a === "string") return compareStrings(a, b as string);
  if (a instanceof RegoNumber) return compareNumbers(a, b as RegoNumber);
  if (a instanceof RegoSet) return compareLists(a.sorted(), (b as RegoSet).sorted());
  if (a instanceof RegoObject) {
    const x = a.sorted();
    const y = (b as RegoObject).sorted();
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const [kx, vx] = x[i] as readonly [RegoValue, RegoValue];
      const [ky, vy] = y[i] as readonly [RegoValue, RegoValue];
      const c = compareValues(kx, ky) || compareValues(vx, vy);
      if (c !== 0) return c;
    }
    return x.length - y.length;
  }
  if (Array.isArray(a)) return compareLists(a, b as readonly RegoValue[]);
  return 0;
}

function compareLists(a: readonly RegoValue[], b: readonly RegoValue[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareValues(a[i] as RegoValue, b[i] as RegoValue);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

export function sortValues(items: readonly RegoValue[]): RegoValue[] {
  return [...items].sort(compareValues);
}

export function sortEntries(entries: readonly (readonly [RegoValue, RegoValue])[]): (readonly [RegoValue, RegoValue])[] {
  return [...entries].sort((x, y) => compareValues(x[0], y[0]));
}

/** Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export function isPrint(cp: number): boolean {
  if (cp === 0x20) return true;
  return PRINTABLE.test(String.fromCodePoint(cp));
}
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** Go's strconv.Quote (asciiOnly: QuoteToASCII), the way OPA prints a string term. */
export function goQuote(s: string, asciiOnly = false, quote = '"'): string {
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === quote || ch === "\\") {
      out += `\\${ch}`;
    } else if (cp >= 0xd800 && cp <= 0xdfff) {
      out += "\\ufffd";
    } else if (asciiOnly ? cp < 0x80 && isPrint(cp) : isPrint(cp)) {
      out += ch;
    } else {
      const esc = ESCAPES[ch];
      if (esc !== undefined) out += esc;
      else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
      else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
      else out += `\\U${hex(cp, 8)}`;
    }
  }
  return out + quote;
}
const ESCAPES: Record<string, string> = { "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v" };

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

/** How OPA prints a term (ast.Value.String()): what sprintf's %v shows for composites. */
export function formatTerm(v: RegoValue): string {
  if (v === null || typeof v === "boolean") return String(v);
  if (typeof v === "string") return goQuote(v);
  if (v instanceof RegoNumber) return v.text;
  if (v instanceof RegoSet) return v.items.length === 0 ? "set()" : `{${v.sorted().map(formatTerm).join(", ")}}`;
  if (v instanceof RegoObject) return `{${v.sorted().map(([k, x]) => `${formatTerm(k)}: ${formatTerm(x)}`).join(", ")}}`;
  return `[${v.map(formatTerm).join(", ")}]`;
}
