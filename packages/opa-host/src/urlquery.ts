// urlquery.encode/decode/encode_object/decode_object as OPA's
// topdown/encoding.go answers them, with Go's net/url: QueryEscape keeps
// A–Z a–z 0–9 - _ . ~, writes a space as + and every other byte of the
// UTF-8 text as %XX; QueryUnescape reads + as a space and refuses a % not
// followed by two hex digits; Values.Encode sorts the keys; ParseQuery
// splits on & only (a ; is an error), at most 10,000 pairs (Go 1.26, which
// builds opa v1.22), and unescapes keys and values.
import { toJson } from "./json.ts";
import { BuiltinError, stringOperand, type RegoBuiltin } from "./operands.ts";
import { RegoObject, compareStrings, goQuote, typeOf, type RegoValue } from "./rego-value.ts";

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

export function queryEscape(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    if (b < 0x80 && UNRESERVED.test(c)) out += c;
    else if (c === " ") out += "+";
    else out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

const HEX = /^[0-9a-fA-F]{2}$/;
const MAX_PARAMS = 10_000;

export function queryUnescape(builtin: string, s: string): string {
  const bytes: number[] = [];
  const utf8 = Buffer.from(s, "utf8");
  for (let i = 0; i < utf8.length; i++) {
    const b = utf8[i] ?? 0;
    if (b === 0x25) {
      const pair = utf8.subarray(i + 1, i + 3).toString("latin1");
      if (!HEX.test(pair)) throw new BuiltinError(builtin, `invalid URL escape ${goQuote(utf8.subarray(i, i + 3).toString("utf8"))}`);
      bytes.push(parseInt(pair, 16));
      i += 2;
    } else {
      bytes.push(b === 0x2b ? 0x20 : b);
    }
  }
  // Bytes that are not UTF-8 read as U+FFFD, as OPA's JSON output shows them.
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

function encodeObject(v: RegoValue | undefined): string {
  const name = "urlquery.encode_object";
  if (!(v instanceof RegoObject)) throw new BuiltinError(name, `operand 1 must be object but got ${v === undefined ? "nothing" : typeOf(v)}`);
  // Through OPA's JSON form: sets become sorted arrays, keys strings.
  const json = toJson(v) as Record<string, unknown>;
  const pairs: string[] = [];
  for (const key of Object.keys(json).sort(compareStrings)) {
    const value = json[key];
    const values = typeof value === "string" ? [value] : Array.isArray(value) ? value : undefined;
    if (values === undefined || values.some((x) => typeof x !== "string")) {
      throw new BuiltinError(name, "operand 1 values must be string, array[string], or set[string]");
    }
    for (const x of values as string[]) pairs.push(`${queryEscape(key)}=${queryEscape(x)}`);
  }
  return pairs.join("&");
}

function decodeObject(s: string): RegoValue {
  const name = "urlquery.decode_object";
  const params = new Map<string, string[]>();
  if (s.split("&").length > MAX_PARAMS) throw new BuiltinError(name, "number of URL query parameters exceeded limit");
  let failure: BuiltinError | undefined;
  for (const part of s.split("&")) {
    if (part.includes(";")) {
      failure ??= new BuiltinError(name, "invalid semicolon separator in query");
      continue;
    }
    if (part === "") continue;
    const eq = part.indexOf("=");
    const [rawKey, rawValue] = eq < 0 ? [part, ""] : [part.slice(0, eq), part.slice(eq + 1)];
    try {
      const key = queryUnescape(name, rawKey);
      const value = queryUnescape(name, rawValue);
      params.set(key, [...(params.get(key) ?? []), value]);
    } catch (err) {
      failure ??= err as BuiltinError;
    }
  }
  // Go's ParseQuery reports the first error after reading every pair; OPA then fails.
  if (failure) throw failure;
  return new RegoObject([...params].map(([k, vs]) => [k, vs] as const));
}

export const URLQUERY_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "urlquery.encode": (s) => queryEscape(stringOperand("urlquery.encode", s, 1)),
  "urlquery.decode": (s) => queryUnescape("urlquery.decode", stringOperand("urlquery.decode", s, 1)),
  "urlquery.encode_object": (v) => encodeObject(v),
  "urlquery.decode_object": (s) => decodeObject(stringOperand("urlquery.decode_object", s, 1)),
};
