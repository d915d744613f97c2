// regex.globs_match as OPA answers it: github.com/yashtewari/glob-intersection
// v0.2.0's NonEmpty, followed step for step. It is not the intersection of
// two regular languages: the library reads a glob of its own (a character,
// `.` for any character, a `[…]` set with ranges, each optionally followed
// by `+` or `*`, `\` escaping the next character), trims a common prefix
// and suffix and walks the two globs greedily. Its answer, including where
// it differs from a true intersection, is OPA's, so it is kept as it is.
// Its error texts are kept too (`input:…, pos:…, …: the input provided is
// invalid`, pos counted in code points), except that Go formats its message
// twice, so a `%` in the glob reads as a formatting verb there and not here.
import { BuiltinError } from "./operands.ts";

/** The library's token types, in its order (Match orders a pair by it). */
const Kind = { Character: 0, Dot: 1, Set: 2 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

const Flag = { None: 0, Plus: 1, Star: 2 } as const;
type Flag = (typeof Flag)[keyof typeof Flag];

interface Token {
  readonly kind: Kind;
  flag: Flag;
  /** the character, for Kind.Character */
  readonly rune?: number;
  /** the members, for Kind.Set */
  readonly runes?: ReadonlySet<number>;
}

const FLAGS: ReadonlyMap<number, Flag> = new Map([
  [0x2b, Flag.Plus],
  [0x2a, Flag.Star],
]);
const BACKSLASH = 0x5c;

class GlobError extends Error {
  constructor(input: readonly number[], index: number, message: string) {
    super(`input:${String.fromCodePoint(...input)}, pos:${String(index)}, ${message}: the input provided is invalid`);
    this.name = "GlobError";
  }
}

/** The library's errEndOfInput: not an error, the end of the glob. */
const END = Symbol("end of input");

interface Rune {
  next: number;
  rune: number;
  escaped: boolean;
}

function nextRune(index: number, input: readonly number[]): Rune | typeof END {
  const r = input[index];
  if (r === undefined) return END;
  if (r !== BACKSLASH) return { next: index + 1, rune: r, escaped: false };
  const escaped = input[index + 1];
  if (escaped === undefined) throw new GlobError(input, index, "input ends with a \\ (escape) character");
  return { next: index + 2, rune: escaped, escaped: true };
}

function nextToken(index: number, input: readonly number[]): { next: number; token: Token } | typeof END {
  const first = nextRune(index, input);
  if (first === END) return END;
  let { next } = first;
  let token: Token;
  const c = String.fromCodePoint(first.rune);
  if (!first.escaped && c === ".") token = { kind: Kind.Dot, flag: Flag.None };
  else if (!first.escaped && c === "]") throw new GlobError(input, next, "set-close ']' with no preceding '['");
  else if (!first.escaped && c === "[") ({ next, token } = nextTokenSet(next, input));
  else if (!first.escaped && FLAGS.has(first.rune)) throw new GlobError(input, next, `flag '${c}' must be preceded by a non-flag`);
  else token = { kind: Kind.Character, flag: Flag.None, rune: first.rune };
  const flag = nextRune(next, input);
  if (flag !== END && !flag.escaped) {
    const f = FLAGS.get(flag.rune);
    if (f !== undefined) {
      token.flag = f;
      next = flag.next;
    }
  }
  return { next, token };
}

function nextTokenSet(index: number, input: readonly number[]): { next: number; token: Token } {
  const runes = new Set<number>();
  let prev = 0;
  let prevExists = false;
  let next = index;
  for (let r = nextRune(next, input); r !== END; r = nextRune(next, input)) {
    next = r.next;
    if (r.escaped) {
      runes.add(r.rune);
      prev = r.rune;
      prevExists = true;
      continue;
    }
    if (r.rune === 0x5d) return { next, token: { kind: Kind.Set, flag: Flag.None, runes } };
    if (r.rune !== 0x2d) {
      runes.add(r.rune);
      prev = r.rune;
      prevExists = true;
      continue;
    }
    if (!prevExists) throw new GlobError(input, next, "range character '-' must be preceded by a Unicode character");
    if (next >= input.length - 1) throw new GlobError(input, next, "range character '-' must be followed by a Unicode character");
    // At least two runes follow (checked above): one is there.
    const hi = nextRune(next, input);
    if (hi === END) throw new GlobError(input, next, "range character '-' must be followed by a Unicode character");
    next = hi.next;
    if (!hi.escaped && (hi.rune === 0x5d || hi.rune === 0x2d)) throw new GlobError(input, next, "range character '-' cannot be followed by a special symbol");
    if (hi.rune < prev) {
      throw new GlobError(input, next, `range is out of order: '${String.fromCodePoint(hi.rune)}' comes before '${String.fromCodePoint(prev)}' in Unicode`);
    }
    for (let x = prev; x <= hi.rune; x++) runes.add(x);
    prevExists = false;
  }
  throw new GlobError(input, next, "found [ without matching ]");
}

function tokenize(glob: string): Token[] {
  // Go's []rune(glob): code points, as the library counts positions.
  const input = Array.from(glob, (c) => c.codePointAt(0) ?? 0);
  const tokens: Token[] = [];
  for (let t = nextToken(0, input); t !== END; t = nextToken(t.next, input)) tokens.push(t.token);
  return tokens;
}

function someRune(a: ReadonlySet<number> | undefined, test: (r: number) => boolean): boolean {
  for (const r of a ?? []) if (test(r)) return true;
  return false;
}

/** The same token, flags aside. */
function equal(a: Token, b: Token): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === Kind.Character) return a.rune === b.rune;
  if (a.kind === Kind.Set) return a.runes?.size === b.runes?.size && !someRune(a.runes, (r) => b.runes?.has(r) !== true);
  return true;
}

/** The library's Simplify: t*t* is t*, t+t* and t*t+ are t+. */
function simplify(tokens: Token[]): Token[] {
  const first = tokens[0];
  if (first === undefined) return tokens;
  const simple = [first];
  let latest = first;
  for (const t of tokens.slice(1)) {
    if (t.flag !== Flag.None && latest.flag !== Flag.None && equal(t, latest)) {
      latest.flag = t.flag === Flag.Plus || latest.flag === Flag.Plus ? Flag.Plus : Flag.Star;
      continue;
    }
    latest = t;
    simple.push(t);
  }
  return simple;
}

/** Whether two tokens, flags aside, have a character in common. */
function match(t1: Token, t2: Token): boolean {
  const [a, b] = t1.kind > t2.kind ? [t2, t1] : [t1, t2];
  if (a.kind === Kind.Character) {
    if (b.kind === Kind.Character) return a.rune === b.rune;
    if (b.kind === Kind.Dot) return true;
    return b.runes?.has(a.rune ?? -1) ?? false;
  }
  if (a.kind === Kind.Dot) return true;
  return someRune(a.runes, (r) => b.runes?.has(r) === true);
}

type Glob = readonly Token[];

function at(g: Glob, i: number): Token {
  const t = g[i];
  // The library indexes past the end nowhere; if it did, Go would panic.
  if (t === undefined) throw new Error(`regex.globs_match: token ${String(i)} of ${String(g.length)}`);
  return t;
}

function trimGlobs(g1: Glob, g2: Glob): [Glob, Glob] | undefined {
  let l = 0;
  for (; l < g1.length && l < g2.length && at(g1, l).flag === Flag.None && at(g2, l).flag === Flag.None; l++) {
    if (!match(at(g1, l), at(g2, l))) return undefined;
  }
  // One prefix token stays, so that neither glob is left empty.
  if (l > 0) l--;
  let r1 = g1.length - 1;
  let r2 = g2.length - 1;
  for (; r1 >= 0 && r1 >= l && r2 >= 0 && r2 >= l && at(g1, r1).flag === Flag.None && at(g2, r2).flag === Flag.None; r1--, r2--) {
    if (!match(at(g1, r1), at(g2, r2))) return undefined;
  }
  if (r1 < g1.length - 1) {
    r1++;
    r2++;
  }
  return [g1.slice(l, r1 + 1), g2.slice(l, r2 + 1)];
}

function intersectNormal(g1: Glob, g2: Glob): boolean {
  let i = 0;
  let j = 0;
  for (; i < g1.length && j < g2.length; i++, j++) {
    if (at(g1, i).flag === Flag.None && at(g2, j).flag === Flag.None) {
      if (!match(at(g1, i), at(g2, j))) return false;
    } else {
      return intersectSpecial(g1.slice(i), g2.slice(j));
    }
  }
  return i === g1.length && j === g2.length;
}

function intersectSpecial(g1: Glob, g2: Glob): boolean {
  const [flagged, other] = at(g1, 0).flag !== Flag.None ? [g1, g2] : [g2, g1];
  return at(flagged, 0).flag === Flag.Plus ? intersectPlus(flagged, other) : intersectStar(flagged, other);
}

function intersectPlus(plussed: Glob, other: Glob): boolean {
  if (!match(at(plussed, 0), at(other, 0))) return false;
  if (intersectStar(plussed, other.slice(1))) return true;
  return at(other, 0).flag !== Flag.None && intersectNormal(plussed.slice(1), other);
}

function intersectStar(starred: Glob, other: Glob): boolean {
  const star = at(starred, 0);
  const next = starred[1];
  for (const [i, t] of other.entries()) {
    if (next !== undefined && match(t, next)) {
      if (intersectNormal(starred.slice(1), other.slice(i))) return true;
      if (!match(t, star)) return false;
    } else if (!match(t, star)) {
      return false;
    }
  }
  return next === undefined;
}

/** gintersect.NonEmpty: whether the two globs' intersection matches a non-empty string, as the library decides it. */
export function globsIntersect(lhs: string, rhs: string): boolean {
  let g1: Glob;
  let g2: Glob;
  try {
    g1 = simplify(tokenize(lhs));
    g2 = simplify(tokenize(rhs));
  } catch (err) {
    if (err instanceof GlobError) throw new BuiltinError("regex.globs_match", err.message);
    throw err;
  }
  const trimmed = trimGlobs(g1, g2);
  return trimmed !== undefined && intersectNormal(...trimmed);
}
