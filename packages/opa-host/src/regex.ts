// The regex builtins as OPA's topdown/regex.go answers them, with Go's
// regexp (go-regexp.ts): regex.replace, regex.find_n, regex.split,
// regex.template_match and regex.globs_match, which the wasm target leaves
// to the host, and regex.match (and re_match), regex.is_valid and
// regex.find_all_string_submatch_n, which it compiles with the C++ RE2 of
// OPA's wasm library: that RE2 is not Go's regexp (it refuses `(?<name>…)`,
// accepts `\C`, knows other Unicode class names, refuses a large repetition
// such as `\pL{1000}`, and returns no match for an n below -1), so
// wasm-rewrite.ts redirects those three here too.
//
// An invalid pattern is an error, so the expression is undefined, as in OPA
// outside strict mode. Compiled patterns are kept (the most recently used
// CACHE_SIZE, failures included): admission evaluates the same patterns on
// every request.
import { GoRegexp, RegexpSyntaxError } from "./go-regexp.ts";
import { globsIntersect } from "./glob-intersection.ts";
import { BuiltinError, intOperand, stringOperand, type RegoBuiltin } from "./operands.ts";
import { goQuote, type RegoValue } from "./rego-value.ts";

/** OPA keeps 100 compiled patterns (regexCacheMaxSize); the wasm library as many. */
export const CACHE_SIZE = 100;
const cache = new Map<string, GoRegexp | RegexpSyntaxError>();

/** The patterns kept, least recently used first. */
export function cachedPatterns(): string[] {
  return [...cache.keys()];
}

/** regexp.Compile through the cache; throws Go's error as the builtin's. */
function compile(builtin: string, pattern: string): GoRegexp {
  let re = cache.get(pattern);
  if (re === undefined) {
    try {
      re = GoRegexp.compile(pattern);
    } catch (err) {
      if (!(err instanceof RegexpSyntaxError)) throw err;
      re = err;
    }
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value ?? "");
  } else {
    // Most recently used last: the first key is the one to drop.
    cache.delete(pattern);
  }
  cache.set(pattern, re);
  if (re instanceof RegexpSyntaxError) throw new BuiltinError(builtin, re.message);
  return re;
}

/** Go's regexp.QuoteMeta */
function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

/**
 * OPA's regex_template.go (from gorilla/mux): the template's delimited
 * parts are patterns, the rest literal text, the whole anchored. Each part
 * must compile on its own, as OPA checks it. Delimiters are single bytes, as
 * OPA counts them.
 */
function templatePattern(builtin: string, template: string, start: string, end: string): string {
  const bounds: number[] = [];
  let level = 0;
  let open = 0;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === start) {
      if (++level === 1) open = i;
    } else if (c === end) {
      if (--level === 0) bounds.push(open, i + 1);
      else if (level < 0) throw new BuiltinError(builtin, `unbalanced braces in ${goQuote(template)}`);
    }
  }
  if (level !== 0) throw new BuiltinError(builtin, `unbalanced braces in ${goQuote(template)}`);
  let pattern = "^";
  let last = 0;
  for (let i = 0; i < bounds.length; i += 2) {
    const from = bounds[i] ?? 0;
    const to = bounds[i + 1] ?? 0;
    const part = template.slice(from + 1, to - 1);
    pattern += `${quoteMeta(template.slice(last, from))}(${part})`;
    compile(builtin, `^${part}$`);
    last = to;
  }
  return `${pattern}${quoteMeta(template.slice(last))}$`;
}

function templateMatch(template: RegoValue | undefined, value: RegoValue | undefined, delimStart: RegoValue | undefined, delimEnd: RegoValue | undefined): boolean {
  const name = "regex.template_match";
  const tpl = stringOperand(name, template, 1);
  const s = stringOperand(name, value, 2);
  const start = stringOperand(name, delimStart, 3);
  const end = stringOperand(name, delimEnd, 4);
  // OPA's own message for the end delimiter gives the start's length.
  if (Buffer.byteLength(start) !== 1) throw new BuiltinError(name, `start delimiter has to be exactly one character long but is ${String(Buffer.byteLength(start))} long`);
  if (Buffer.byteLength(end) !== 1) throw new BuiltinError(name, `end delimiter has to be exactly one character long but is ${String(Buffer.byteLength(start))} long`);
  return compile(name, templatePattern(name, tpl, start, end)).matchString(s);
}

function regexMatch(pattern: RegoValue | undefined, value: RegoValue | undefined): boolean {
  const p = stringOperand("regex.match", pattern, 1);
  const s = stringOperand("regex.match", value, 2);
  return compile("regex.match", p).matchString(s);
}

export const REGEX_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "regex.replace": (s, pattern, value) => {
    const base = stringOperand("regex.replace", s, 1);
    const p = stringOperand("regex.replace", pattern, 2);
    const template = stringOperand("regex.replace", value, 3);
    return compile("regex.replace", p).replaceAllString(base, template);
  },
  "regex.find_n": (pattern, value, number) => {
    const p = stringOperand("regex.find_n", pattern, 1);
    const s = stringOperand("regex.find_n", value, 2);
    const n = intOperand("regex.find_n", number, 3);
    return compile("regex.find_n", p).findAllString(s, n);
  },
  "regex.split": (pattern, value) => {
    const p = stringOperand("regex.split", pattern, 1);
    const s = stringOperand("regex.split", value, 2);
    return compile("regex.split", p).split(s, -1);
  },
  "regex.template_match": templateMatch,
  "regex.globs_match": (glob1, glob2) => globsIntersect(stringOperand("regex.globs_match", glob1, 1), stringOperand("regex.globs_match", glob2, 2)),
};

/** Compiled into the wasm with the C++ RE2; wasm-rewrite.ts sends them here. */
export const REDIRECTED_REGEX_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "regex.match": regexMatch,
  // OPA checks the syntax only (syntax.Parse), and a non-string is not valid: never an error.
  "regex.is_valid": (pattern) => {
    if (typeof pattern !== "string") return false;
    try {
      compile("regex.is_valid", pattern);
      return true;
    } catch {
      return false;
    }
  },
  "regex.find_all_string_submatch_n": (pattern, value, number) => {
    const name = "regex.find_all_string_submatch_n";
    const p = stringOperand(name, pattern, 1);
    const s = stringOperand(name, value, 2);
    const n = intOperand(name, number, 3);
    return compile(name, p).findAllStringSubmatch(s, n);
  },
};
