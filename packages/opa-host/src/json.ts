// json.marshal and json.marshal_with_options as OPA answers them: Go's
// encoding/json over the value (object keys sorted, sets as sorted arrays,
// numbers as their text, <, > and & escaped as Go escapes them), indented as
// json.MarshalIndent does. json.marshal is compiled into the wasm; its calls
// reach the host through wasm-rewrite.ts.
import { BuiltinError, type RegoBuiltin } from "./operands.ts";
import { RegoNumber, RegoObject, RegoSet, compareStrings, formatTerm, goQuote, sortEntries, sortValues, typeOf, type RegoValue } from "./rego-value.ts";

/** Go's json string encoding with HTML escaping (json.Marshal's default). */
export function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (cp < 0x20 || ch === "<" || ch === ">" || ch === "&") out += `\\u00${cp.toString(16).padStart(2, "0")}`;
    else if (cp === 0x2028 || cp === 0x2029) out += `\\u${cp.toString(16)}`;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += "\\ufffd";
    else out += ch;
  }
  return `${out}"`;
}

/** Go's json.Marshal (indent undefined) or json.MarshalIndent of OPA's JSON form of a value. */
export function goJson(v: RegoValue, indent?: { prefix: string; indent: string }, depth = 0): string {
  if (v === null || typeof v === "boolean") return String(v);
  if (typeof v === "string") return goJsonString(v);
  if (v instanceof RegoNumber) return v.text;
  const nl = (d: number): string => (indent ? `\n${indent.prefix}${indent.indent.repeat(d)}` : "");
  const sep = indent ? ": " : ":";
  let items: string[];
  let open: string;
  let close: string;
  if (v instanceof RegoObject) {
    // A key that is not a string becomes its own JSON text, as OPA's ast.JSON makes it.
    const entries = v.entries.map(([k, x]) => [typeof k === "string" ? k : goJson(k), x] as const);
    entries.sort((a, b) => compareStrings(a[0], b[0]));
    items = entries.map(([k, x]) => `${goJsonString(k)}${sep}${goJson(x, indent, depth + 1)}`);
    [open, close] = ["{", "}"];
  } else {
    const list = v instanceof RegoSet ? sortValues(v.items) : v;
    items = list.map((x) => goJson(x, indent, depth + 1));
    [open, close] = ["[", "]"];
  }
  if (items.length === 0) return open + close;
  return `${open}${nl(depth + 1)}${items.join(`,${nl(depth + 1)}`)}${nl(depth)}${close}`;
}

/**
 * A Rego value as JSON, the way OPA converts one (ast.JSON, what `opa eval`
 * prints): sets become sorted arrays, a key that is not a string becomes
 * its json.marshal text.
 */
export function toJson(v: RegoValue): unknown {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (v instanceof RegoNumber) return Number(v.text);
  if (v instanceof RegoSet) return v.sorted().map(toJson);
  if (v instanceof RegoObject) {
    return Object.fromEntries(v.entries.map(([k, x]) => [typeof k === "string" ? k : goJson(k), toJson(x)]));
  }
  return v.map(toJson);
}

export const JSON_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "json.marshal_with_options": (value, opts) => {
    const name = "json.marshal_with_options";
    if (!(opts instanceof RegoObject)) throw new BuiltinError(name, `operand 2 must be object but got ${typeOf(opts)}`);
    let indentWith = "\t";
    let prefix = "";
    let implicit = false;
    let explicit: boolean | undefined;
    // OPA's messages, keys in its (sorted) order; the first bad one is reported.
    for (const [k, x] of sortEntries(opts.entries)) {
      if (typeof k !== "string") throw new BuiltinError(name, `operand 2 failed to stringify key ${formatTerm(k)}`);
      if (k === "prefix" || k === "indent") {
        if (typeof x !== "string") throw new BuiltinError(name, `operand 2 key ${k} failed cast to string`);
        if (k === "prefix") prefix = x;
        else indentWith = x;
        implicit = true;
      } else if (k === "pretty") {
        if (typeof x !== "boolean") throw new BuiltinError(name, `operand 2 key ${k} failed cast to bool`);
        explicit = x;
      } else {
        throw new BuiltinError(name, `operand 2 object contained unknown key ${goQuote(k)}`);
      }
    }
    const pretty = explicit ?? implicit;
    return pretty ? prefix + goJson(value, { prefix, indent: indentWith }) : goJson(value);
  },
};

/** Compiled builtins whose calls wasm-rewrite.ts redirects to the host. */
export const REDIRECTED_JSON_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "json.marshal": (value) => goJson(value),
};
