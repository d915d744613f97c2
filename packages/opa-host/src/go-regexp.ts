// Go's regexp package, as OPA's regex builtins call it, on re2js (a port of
// RE2/J, itself a port of Go's regexp: Go's parser as it was before Go 1.25,
// syntax.Perl flags, leftmost-first matching, Go's error texts; where Go
// 1.26 reads a pattern otherwise, go-regexp-syntax.ts rewrites it first).
// What re2js exposes in Java's or
// JavaScript's manner (its Matcher, String.prototype.replace-style `$`
// expansion) is not used: the Go functions OPA calls are written here over
// its Go-shaped core (RE2.findAllSubmatchIndex is Go's allMatches), so that
// Go's rules hold: FindAll drops an empty match that abuts the previous
// match, ReplaceAllString expands `$1`, `${1}`, `$name` and `$$` as Go's
// Regexp.Expand does (`$1a` is the group named "1a", hence empty), Split
// keeps Go's edge cases.
//
// Offsets are UTF-16 code units where Go's are bytes: re2js steps over a
// code point where Go steps over a rune, so the matches are the same ones
// and every slice taken at them is the same text. RE2 (RE2JS.re2()) is
// re2js's typed but unexported class: go-regexp.test.ts runs these
// functions against Go's own on every test run, so a re2js upgrade that
// changes it fails there.
import { createRequire } from "node:module";
import type * as Re2js from "re2js";
import { RegexpSyntaxError, toRe2js } from "./go-regexp-syntax.ts";

// re2js (~2 MB resident, with its Unicode tables) is loaded when a policy
// first compiles a regexp, not when the host loads: most bundles never do.
let loaded: typeof Re2js | undefined;
const re2js = (): typeof Re2js => (loaded ??= createRequire(import.meta.url)("re2js") as typeof Re2js);

export { RegexpSyntaxError } from "./go-regexp-syntax.ts";

/** The part of re2js's RE2 (Go's Regexp) used here. */
interface Re2Core {
  match(s: string): boolean;
  findAllSubmatchIndex(s: string, n: number): number[][] | null;
  readonly namedGroups: Record<string, number>;
}

const LETTER_OR_DIGIT = /^[\p{L}\p{Nd}_]$/u;

export class GoRegexp {
  readonly pattern: string;
  private readonly re: Re2Core;
  /** group indices by name, in order (Go's SubexpNames: Go 1.26 allows a name twice) */
  private readonly names: ReadonlyMap<string, readonly number[]>;

  private constructor(pattern: string, re: Re2Core, renamed: ReadonlyMap<string, string>) {
    this.pattern = pattern;
    this.re = re;
    const names = new Map<string, number[]>();
    for (const [name, index] of Object.entries(re.namedGroups).sort(([, a], [, b]) => a - b)) {
      const as = renamed.get(name) ?? name;
      names.set(as, [...(names.get(as) ?? []), index]);
    }
    this.names = names;
  }

  /** regexp.Compile: syntax.Perl, leftmost-first. Throws a RegexpSyntaxError. */
  static compile(pattern: string): GoRegexp {
    const translated = toRe2js(pattern);
    const { RE2JS, RE2JSException } = re2js();
    try {
      return new GoRegexp(pattern, RE2JS.compile(translated.pattern).re2(), translated.renamed);
    } catch (err) {
      if (err instanceof RE2JSException) throw new RegexpSyntaxError(err.message);
      throw err;
    }
  }

  /** Regexp.MatchString */
  matchString(s: string): boolean {
    return this.re.match(s);
  }

  /** Regexp.FindAllStringSubmatchIndex: n < 0 for all; -1 for a group that took no part. */
  findAllIndex(s: string, n: number): number[][] {
    if (n === 0) return [];
    return this.re.findAllSubmatchIndex(s, n) ?? [];
  }

  /** Regexp.FindAllString */
  findAllString(s: string, n: number): string[] {
    return this.findAllIndex(s, n).map((m) => s.slice(m[0], m[1]));
  }

  /** Regexp.FindAllStringSubmatch: a group that took no part is "". */
  findAllStringSubmatch(s: string, n: number): string[][] {
    return this.findAllIndex(s, n).map((m) => Array.from({ length: m.length / 2 }, (_, j) => ((m[2 * j] ?? -1) >= 0 ? s.slice(m[2 * j], m[2 * j + 1]) : "")));
  }

  /**
   * Regexp.ReplaceAllString. Go's replaceAll and FindAll accept the same
   * matches (an empty match right after a match is dropped by both), which
   * is why OPA's cancellable path (FindAllSubmatchIndex, then Expand per
   * match) answers as ReplaceAllString does; this is that path.
   */
  replaceAllString(src: string, template: string): string {
    let out = "";
    let last = 0;
    for (const m of this.findAllIndex(src, -1)) {
      out += src.slice(last, m[0]);
      out += this.expand(template, src, m);
      last = m[1] ?? last;
    }
    return out + src.slice(last);
  }

  /** Regexp.Expand, for a string source. */
  expand(template: string, src: string, match: readonly number[]): string {
    let out = "";
    let rest = template;
    for (;;) {
      const dollar = rest.indexOf("$");
      if (dollar < 0) break;
      out += rest.slice(0, dollar);
      rest = rest.slice(dollar + 1);
      if (rest.startsWith("$")) {
        out += "$";
        rest = rest.slice(1);
        continue;
      }
      const ref = extract(rest);
      if (ref === undefined) {
        // Malformed: the $ is text.
        out += "$";
        continue;
      }
      rest = ref.rest;
      // A number is that group; a name the first group of that name that took part.
      const candidates = ref.num >= 0 ? [ref.num] : (this.names.get(ref.name) ?? []);
      const group = candidates.find((g) => (match[2 * g] ?? -1) >= 0);
      if (group !== undefined) out += src.slice(match[2 * group], match[2 * group + 1]);
    }
    return out + rest;
  }

  /** Regexp.Split */
  split(s: string, n: number): string[] {
    if (n === 0) return [];
    if (this.pattern.length > 0 && s.length === 0) return [""];
    const parts: string[] = [];
    let beg = 0;
    let end = 0;
    for (const m of this.findAllIndex(s, n)) {
      if (n > 0 && parts.length >= n - 1) break;
      end = m[0] ?? 0;
      if (m[1] !== 0) parts.push(s.slice(beg, end));
      beg = m[1] ?? 0;
    }
    if (end !== s.length) parts.push(s.slice(beg));
    return parts;
  }
}

/**
 * Go's extract: a leading `name` or `{name}` (letters, digits, _), with its
 * number when it is one (no leading zero, below 1e8), else num -1.
 */
function extract(str: string): { name: string; num: number; rest: string } | undefined {
  if (str === "") return undefined;
  const brace = str.startsWith("{");
  const body = brace ? str.slice(1) : str;
  let i = 0;
  for (const r of body) {
    if (!LETTER_OR_DIGIT.test(r)) break;
    i += r.length;
  }
  if (i === 0) return undefined;
  const name = body.slice(0, i);
  if (brace) {
    if (body[i] !== "}") return undefined;
    i++;
  }
  let num = 0;
  for (const c of name) {
    if (c < "0" || c > "9" || num >= 1e8) {
      num = -1;
      break;
    }
    num = num * 10 + Number(c);
  }
  if (name.startsWith("0") && name.length > 1) num = -1;
  return { name, num, rest: body.slice(i) };
}
