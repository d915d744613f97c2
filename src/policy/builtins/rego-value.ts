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
  constructor(entries: readonly (readonly [RegoValue, RegoValue])[]) {
    this.entries = entries;
  }

  get(key: string): RegoValue | undefined {
    return this.entries.find(([k]) => k === key)?.[1];
  }
}

export class RegoSet {
  readonly items: readonly RegoValue[];
  constructor(items: readonly RegoValue[]) {
    this.items = items;
  }
}

export type RegoValue = null | boolean | string | RegoNumber | RegoObject | RegoSet | readonly RegoValue[];

export class RegoValueError extends Error {
  constructor(text: string, at: number, why: string) {
    super(`rego value at offset ${at}: ${why} in ${text.length > 80 ? `${text.slice(0, 80)}…` : text}`);
    this.name = "RegoValueError";
  }
}

const NUMBER = /[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\]|\\.)*"/y;

/** Parses opa_value_dump's text: JSON plus sets (`{1, 2}`, `set()`) and non-string object keys. */
export function parseRegoValue(text: string): RegoValue {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && " \t\n\r".includes(text.charAt(i))) i++;
  };
  const fail = (why: string): never => {
    throw new RegoValueError(text, i, why);
  };
  const expect = (c: string): void => {
    ws();
    if (text.charAt(i) !== c) fail(`expected ${JSON.stringify(c)}`);
    i++;
  };
  const value = (): RegoValue => {
    ws();
    const c = text.charAt(i);
    if (c === '"') {
      STRING.lastIndex = i;
      const m = STRING.exec(text) ?? fail("unterminated string");
      i += m[0].length;
      return JSON.parse(m[0]) as string;
    }
    if (c === "[") {
      i++;
      const items: RegoValue[] = [];
      ws();
      if (text.charAt(i) === "]") {
        i++;
        return items;
      }
      for (;;) {
        items.push(value());
        ws();
        if (text.charAt(i) === ",") i++;
        else break;
      }
      expect("]");
      return items;
    }
    if (c === "{") {
      i++;
      ws();
      if (text.charAt(i) === "}") {
        i++;
        return new RegoObject([]);
      }
      const first = value();
      ws();
      if (text.charAt(i) === ":") {
        i++;
        const entries: [RegoValue, RegoValue][] = [[first, value()]];
        ws();
        while (text.charAt(i) === ",") {
          i++;
          const k = value();
          expect(":");
          entries.push([k, value()]);
          ws();
        }
        expect("}");
        return new RegoObject(entries);
      }
      const items: RegoValue[] = [first];
      while (text.charAt(i) === ",") {
        i++;
        items.push(value());
        ws();
      }
      expect("}");
      return new RegoSet(items);
    }
    for (const [word, v] of [["null", null], ["true", true], ["false", false], ["set()", new RegoSet([])]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text) ?? fail("unexpected character");
    i += m[0].length;
    return new RegoNumber(m[0]);
  };
  const result = value();
  ws();
  if (i !== text.length) fail("trailing text");
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
  if (a instanceof RegoSet) return compareLists(sortValues(a.items), sortValues((b as RegoSet).items));
  if (a instanceof RegoObject) {
    const x = sortEntries(a.entries);
    const y = sortEntries((b as RegoObject).entries);
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
  if (v instanceof RegoSet) return v.items.length === 0 ? "set()" : `{${sortValues(v.items).map(formatTerm).join(", ")}}`;
  if (v instanceof RegoObject) return `{${sortEntries(v.entries).map(([k, x]) => `${formatTerm(k)}: ${formatTerm(x)}`).join(", ")}}`;
  return `[${v.map(formatTerm).join(", ")}]`;
}
