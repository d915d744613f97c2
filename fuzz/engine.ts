// agentgate's fuzzing engine: a seeded, deterministic mutation fuzzer.
//
// It is not coverage-guided: the guidance is by outcome. An input whose
// outcome label (the class of error it met, the decision it got) is new
// joins the corpus, and later inputs are mutated from it. That reaches past
// the first check of a parser without instrumenting code, knows the inputs'
// structure (JSON trees, tar entries) and keeps every run reproducible from
// its seed. The coverage-guided engine over the same targets is Jazzer.js
// (fuzz/jazzer/, npm run fuzz:jazzer), whose native addon is built here
// from source because its npm prebuild needs a newer glibc.
import { createHash } from "node:crypto";
import { seededRandom } from "../test/support/seeded-random.ts";

export class Rng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  float(): number {
    return this.next();
  }

  /** an integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[this.int(items.length)] as T;
  }

  /** small sizes far more often than large ones, up to max */
  size(max: number): number {
    const r = this.next();
    return Math.min(max, Math.floor(r * r * r * max) + 1);
  }
}

/** What a target found wrong with one input. */
export class PropertyViolation extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PropertyViolation";
  }
}

export interface FuzzTarget {
  readonly name: string;
  /** what is checked on every input, for the report and the README */
  readonly property: string;
  /** inputs are kept to this many bytes */
  readonly maxLength: number;
  /** tokens the byte mutator inserts (field names, enum values, syntax) */
  readonly dictionary: readonly string[];
  /** structure-aware mutation (a JSON tree, tar entries); undefined when the input has no structure it knows */
  readonly mutate?: (input: Buffer, rng: Rng) => Buffer | undefined;
  /** how often mutate is tried rather than bytes alone (default 0.6): a parser that refuses most bytes needs more structure */
  readonly structureRate?: number;
  /**
   * Runs one input and checks the property; returns a short label of the
   * outcome (an input with a label not seen before joins the corpus).
   * Throws PropertyViolation, or anything else the code under test let out.
   */
  run(input: Buffer): string | Promise<string>;
  /** releases what the target holds (timers, engines), so a process can exit */
  close?(): void;
}

export type TargetFactory = () => Promise<FuzzTarget>;

export type FailureKind = "crash" | "pollution" | "hang" | "memory";

export interface Failure {
  /**
   * "crash": an exception or a violated property; "pollution": a changed
   * built-in prototype; "hang": no answer within the runner's limit;
   * "memory": the heap or the process outgrew the runner's limit
   */
  kind: FailureKind;
  message: string;
  stack: string;
  input: Buffer;
  /** the label failures are told apart by */
  signature: string;
}

export interface LoopOptions {
  seed: number;
  /** stop after this many executions */
  runs?: number;
  /** stop at this time (performance.now()) */
  deadline?: number;
  /** corpus entries are run first, as they are */
  corpus: readonly Buffer[];
  /** told before each execution (the runner's watchdog keeps the input) */
  onInput?: (input: Buffer) => void;
  /** told after each execution */
  onDone?: (execs: number) => void;
  /** failures with the same signature are reported once; stop after this many distinct ones */
  maxFailures?: number;
  /** told of each distinct failure as it is found (a long run that is stopped keeps what it found) */
  onFailure?: (failure: Failure) => void;
  /** asked before each execution: true stops the loop (the runner's Ctrl-C) */
  stopped?: () => boolean;
}

export interface LoopResult {
  execs: number;
  elapsedMs: number;
  /** corpus size at the end: the seeds and the inputs with new outcomes */
  corpusSize: number;
  outcomes: number;
  failures: Failure[];
  slowestMs: number;
  slowestInput: Buffer | undefined;
}

const CORPUS_CAP = 4000;

/** Names in messages vary per input; the label keeps the shape: "x" and 12 read as the same. */
export function normaliseLabel(label: string): string {
  return label
    .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
    .replace(/'[^']*'/g, "'…'")
    .replace(/\d+/g, "N")
    .slice(0, 160);
}

/** The prototypes a parser could pollute through "__proto__" or "constructor.prototype" keys. */
const GUARDED: readonly [string, object][] = [
  ["Object.prototype", Object.prototype],
  ["Array.prototype", Array.prototype],
  ["Function.prototype", Function.prototype],
  ["String.prototype", String.prototype],
];
const guardedKeys = GUARDED.map(([, proto]) => new Set(Reflect.ownKeys(proto)));

/** Keys an input added to a built-in prototype, removed again so later inputs run in a clean process. */
function pollution(): string[] {
  const found: string[] = [];
  GUARDED.forEach(([name, proto], i) => {
    const keys = Reflect.ownKeys(proto);
    const known = guardedKeys[i] as Set<string | symbol>;
    if (keys.length === known.size) return;
    for (const key of keys) {
      if (known.has(key)) continue;
      found.push(`${name}.${String(key)}`);
      Reflect.deleteProperty(proto, key);
    }
  });
  return found;
}

const INTERESTING_BYTES = [0, 1, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x0a, 0x0d, 0x20, 0x09, 0x30, 0x2d, 0x65, 0x2e, 0x26, 0x2a, 0x23, 0x3e, 0x7c];
const INTERESTING_NUMBERS = ["0", "-0", "1", "-1", "255", "65536", "2147483648", "-2147483649", "9007199254740993", "18446744073709551616", "1e308", "1e309", "-1e-400", "0.000001", "1.50", "1E+2", "NaN", "Infinity", "0x10", "1_000", ".5", "5."];

function splice(parts: readonly Buffer[]): Buffer {
  return Buffer.concat(parts);
}

/** One byte-level mutation, libFuzzer's repertoire plus long repeats (for nesting and length limits). */
function mutateOnce(input: Buffer, rng: Rng, dict: readonly Buffer[], corpus: readonly Buffer[], maxLength: number): Buffer {
  const n = input.length;
  const at = (): number => rng.int(n + 1);
  const op = rng.int(13);
  switch (op) {
    case 0: {
      if (n === 0) break;
      const out = Buffer.from(input);
      const i = rng.int(n);
      out[i] = (out[i] as number) ^ (1 << rng.int(8));
      return out;
    }
    case 1: {
      if (n === 0) break;
      const out = Buffer.from(input);
      out[rng.int(n)] = rng.chance(0.5) ? rng.int(256) : rng.pick(INTERESTING_BYTES);
      return out;
    }
    case 2: {
      const i = at();
      const bytes = Buffer.alloc(rng.size(8));
      for (let k = 0; k < bytes.length; k++) bytes[k] = rng.chance(0.5) ? rng.int(256) : rng.pick(INTERESTING_BYTES);
      return splice([input.subarray(0, i), bytes, input.subarray(i)]);
    }
    case 3: {
      if (n === 0) break;
      const i = rng.int(n);
      const len = rng.size(Math.min(n - i, 64));
      return splice([input.subarray(0, i), input.subarray(i + len)]);
    }
    case 4: {
      if (n === 0) break;
      const from = rng.int(n);
      const len = rng.size(Math.min(n - from, 128));
      const i = at();
      return splice([input.subarray(0, i), input.subarray(from, from + len), input.subarray(i)]);
    }
    case 5: {
      if (n < 2) break;
      const from = rng.int(n);
      const len = rng.size(Math.min(n - from, 64));
      const to = rng.int(n - len + 1);
      const out = Buffer.from(input);
      input.copy(out, to, from, from + len);
      return out;
    }
    case 6:
    case 7: {
      if (dict.length === 0) break;
      const i = at();
      const token = rng.pick(dict);
      if (op === 7 && n > 0 && rng.chance(0.5)) {
        // replace: a token where another stood keeps the syntax around it
        const len = rng.size(Math.min(n - Math.min(i, n - 1), token.length + 4));
        return splice([input.subarray(0, i), token, input.subarray(i + len)]);
      }
      return splice([input.subarray(0, i), token, input.subarray(i)]);
    }
    case 8: {
      if (corpus.length === 0) break;
      const other = rng.pick(corpus);
      return splice([input.subarray(0, at()), other.subarray(rng.int(other.length + 1))]);
    }
    case 9: {
      if (n === 0) break;
      return input.subarray(0, rng.int(n));
    }
    case 10: {
      // A long repeat: deep nesting, long lines, many values.
      const unit = rng.chance(0.6) && dict.length > 0 ? rng.pick(dict) : n > 0 ? input.subarray(rng.int(n)).subarray(0, rng.size(8)) : Buffer.from("[");
      if (unit.length === 0) break;
      const times = Math.max(1, Math.min(rng.size(20000), Math.floor((maxLength - n) / unit.length)));
      const i = at();
      return splice([input.subarray(0, i), Buffer.alloc(unit.length * times, unit), input.subarray(i)]);
    }
    case 11: {
      // A digit run as an interesting number.
      const text = input.toString("latin1");
      const runs = [...text.matchAll(/-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/g)];
      if (runs.length === 0) break;
      const m = rng.pick(runs);
      const start = m.index;
      return splice([input.subarray(0, start), Buffer.from(rng.pick(INTERESTING_NUMBERS)), input.subarray(start + m[0].length)]);
    }
    default: {
      // Swap two bytes apart: a quote or bracket moved.
      if (n < 2) break;
      const out = Buffer.from(input);
      const i = rng.int(n);
      const j = rng.int(n);
      const t = out[i] as number;
      out[i] = out[j] as number;
      out[j] = t;
      return out;
    }
  }
  // The op needed what the input lacks: insert a token instead.
  return splice([input, dict.length > 0 ? rng.pick(dict) : Buffer.from([rng.int(256)])]);
}

export function mutateBytes(input: Buffer, rng: Rng, dict: readonly Buffer[], corpus: readonly Buffer[], maxLength: number): Buffer {
  let out = input;
  const count = rng.size(6);
  for (let k = 0; k < count; k++) out = mutateOnce(out, rng, dict, corpus, maxLength);
  return out.length > maxLength ? out.subarray(0, maxLength) : out;
}

// ---- JSON-structure mutation, for targets whose input is (mostly) JSON ----

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Slot {
  parent: Json[] | { [key: string]: Json };
  key: string | number;
  depth: number;
}

function slotsOf(root: Json, limit: number): Slot[] {
  const slots: Slot[] = [];
  const visit = (node: Json, depth: number): void => {
    // Deep trees are mutated near their top: the walk is recursive.
    if (slots.length >= limit || depth > 400 || node === null || typeof node !== "object") return;
    if (Array.isArray(node)) {
      node.forEach((child, i) => {
        slots.push({ parent: node, key: i, depth });
        visit(child, depth + 1);
      });
    } else {
      for (const key of Object.keys(node)) {
        slots.push({ parent: node, key, depth });
        visit(node[key] as Json, depth + 1);
      }
    }
  };
  visit(root, 1);
  return slots;
}

function randomString(rng: Rng, dict: readonly string[]): string {
  switch (rng.int(6)) {
    case 0:
      return "";
    case 1:
      return "x".repeat(rng.size(5000));
    case 2: {
      const chars = ["\u0000", "\n", "\r", '"', "\\", "\u2028", "\uFEFF", "\uD800", "é", "😀", "%", "$", "{", "}", "*", "..", "/", " "];
      let s = "";
      for (let k = rng.size(8); k > 0; k--) s += rng.pick(chars);
      return s;
    }
    default:
      return dict.length > 0 ? rng.pick(dict) : "a";
  }
}

function randomValue(rng: Rng, dict: readonly string[], depth = 0): Json {
  switch (rng.int(depth > 2 ? 5 : 8)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return Number(rng.pick(INTERESTING_NUMBERS.filter((s) => Number.isFinite(Number(s)))));
    case 3:
    case 4:
      return randomString(rng, dict);
    case 5:
      return rng.chance(0.5) ? [] : {};
    case 6: {
      const list: Json[] = [];
      for (let k = rng.size(4); k > 0; k--) list.push(randomValue(rng, dict, depth + 1));
      return list;
    }
    default: {
      const obj: { [key: string]: Json } = {};
      for (let k = rng.size(4); k > 0; k--) obj[randomString(rng, dict)] = randomValue(rng, dict, depth + 1);
      return obj;
    }
  }
}

function getSlot(s: Slot): Json {
  return (Array.isArray(s.parent) ? s.parent[s.key as number] : s.parent[s.key as string]) as Json;
}

function setSlot(s: Slot, value: Json): void {
  if (Array.isArray(s.parent)) s.parent[s.key as number] = value;
  else s.parent[s.key as string] = value;
}

function deleteSlot(s: Slot): void {
  if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
  else Reflect.deleteProperty(s.parent, s.key);
}

/** One change to a JSON tree in place (the root itself is replaced through the returned value). */
function mutateTree(root: Json, rng: Rng, dict: readonly string[], maxLength: number): Json {
  const slots = slotsOf(root, 5000);
  if (slots.length === 0 || rng.chance(0.02)) return randomValue(rng, dict);
  const s = rng.pick(slots);
  const current = getSlot(s);
  switch (rng.int(10)) {
    case 0:
      deleteSlot(s);
      break;
    case 1:
    case 2:
      setSlot(s, randomValue(rng, dict));
      break;
    case 3: {
      // a new key beside this one
      if (!Array.isArray(s.parent)) s.parent[randomString(rng, dict)] = randomValue(rng, dict);
      else s.parent.push(randomValue(rng, dict));
      break;
    }
    case 4: {
      // deep nesting at one place
      let v: Json = current;
      const times = rng.size(rng.chance(0.2) ? 3000 : 200);
      for (let k = 0; k < times; k++) v = rng.chance(0.5) ? [v] : { a: v };
      setSlot(s, v);
      break;
    }
    case 5: {
      // another slot's value here (a valid value in the wrong place)
      setSlot(s, structuredClone(getSlot(rng.pick(slots))));
      break;
    }
    case 6: {
      if (typeof current === "string") setSlot(s, rng.chance(0.5) ? current + randomString(rng, dict) : randomString(rng, dict));
      else if (typeof current === "number") setSlot(s, rng.chance(0.5) ? String(current) : Number(rng.pick(INTERESTING_NUMBERS)));
      else setSlot(s, typeof current === "boolean" ? String(current) : randomString(rng, dict));
      break;
    }
    case 7: {
      // many copies: a long list (no longer than an input may be)
      const unit = (JSON.stringify(current) as string | undefined)?.length ?? 4;
      const times = Math.max(1, Math.min(rng.size(3000), Math.floor(maxLength / (unit + 1))));
      setSlot(s, Array.from({ length: times }, () => structuredClone(current)));
      break;
    }
    case 8: {
      if (Array.isArray(current) && current.length > 0) current.push(structuredClone(rng.pick(current)));
      else setSlot(s, [current]);
      break;
    }
    default: {
      const keys = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "length"];
      if (!Array.isArray(s.parent)) {
        // JSON.parse makes "__proto__" an own key; so does this
        Object.defineProperty(s.parent, rng.pick(keys), { value: randomValue(rng, dict), enumerable: true, writable: true, configurable: true });
      } else {
        setSlot(s, { [rng.pick(keys)]: randomValue(rng, dict) });
      }
    }
  }
  return root;
}

/** A JSON text changed in its structure, or undefined when the input is not JSON. */
export function mutateJsonText(text: string, rng: Rng, dict: readonly string[], maxLength = 64 * 1024): string | undefined {
  let root: Json;
  try {
    root = JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
  try {
    for (let k = rng.size(3); k > 0; k--) root = mutateTree(root, rng, dict, maxLength);
    return JSON.stringify(root, null, rng.chance(0.1) ? rng.pick([1, 2, "\t"]) : undefined);
  } catch {
    // A tree nested past what the walk or JSON.stringify can recurse through: no structural mutation this time.
    return undefined;
  }
}

export function jsonMutator(dict: readonly string[]): (input: Buffer, rng: Rng) => Buffer | undefined {
  return (input, rng) => {
    const text = mutateJsonText(input.toString("utf8"), rng, dict);
    return text === undefined ? undefined : Buffer.from(text);
  };
}

/** The next input: a corpus entry mutated by structure, by bytes, or both. */
export function nextInput(target: FuzzTarget, rng: Rng, corpus: readonly Buffer[], dict: readonly Buffer[]): Buffer {
  const base = rng.pick(corpus);
  let input = base;
  if (target.mutate && rng.chance(target.structureRate ?? 0.6)) {
    try {
      input = target.mutate(base, rng) ?? base;
    } catch {
      // A tree too deep for the mutator's own JSON.stringify: mutate its bytes instead.
      input = base;
    }
  }
  if (input === base || rng.chance(0.15)) input = mutateBytes(input, rng, dict, corpus, target.maxLength);
  return input.length > target.maxLength ? input.subarray(0, target.maxLength) : input;
}

export function describeError(err: unknown): { message: string; stack: string; name: string } {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `\ncaused by ${err.cause.stack ?? err.cause.message}` : "";
    return { message: err.message, stack: `${err.stack ?? err.message}${cause}`, name: err.name };
  }
  return { message: String(err), stack: String(err), name: typeof err };
}

/**
 * Where a failure was raised: what tells two failures with alike messages
 * apart. A stack overflow is named by the frame that recurs most, not by
 * wherever it happened to run out.
 */
function topFrame(stack: string): string {
  const frames = stack.split("\n").filter((l) => l.trim().startsWith("at ")).map((l) => l.trim().replace(/:\d+:\d+\)?$/, "").replace(/^at /, ""));
  if (!stack.includes("Maximum call stack size exceeded")) return frames[0] ?? "";
  const counts = new Map<string, number>();
  for (const f of frames) counts.set(f, (counts.get(f) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "";
}

/** The first words of a message: what it says, without the input it quotes. */
export function gist(message: string): string {
  const line = (message.split("\n")[0] ?? "").split(/,? got |[[{]/)[0] ?? "";
  return normaliseLabel(line).split(/\s+/).slice(0, 8).join(" ");
}

export function failureOf(err: unknown, input: Buffer): Failure {
  const { message, stack, name } = describeError(err);
  return { kind: "crash", message: `${name}: ${message}`, stack, input, signature: `${name} ${gist(message)} @ ${topFrame(stack)}` };
}

export function inputId(input: Buffer): string {
  return createHash("sha256").update(input).digest("hex").slice(0, 16);
}

/** Runs one input and the checks every target shares; a failure or undefined, and the outcome label. */
export async function runOne(target: FuzzTarget, input: Buffer): Promise<{ failure?: Failure; label: string }> {
  let label: string;
  try {
    label = await target.run(input);
  } catch (err) {
    const failure = failureOf(err, input);
    pollution();
    return { failure, label: failure.signature };
  }
  const polluted = pollution();
  if (polluted.length > 0) {
    const message = `the input added ${polluted.join(", ")} to a built-in prototype (prototype pollution)`;
    return { failure: { kind: "pollution", message, stack: message, input, signature: `pollution ${polluted.join(",")}` }, label };
  }
  return { label };
}

/**
 * The fuzzing loop: the corpus first, each entry as it is, then mutated
 * inputs until runs or the deadline. Deterministic for a seed (the order of
 * outcomes, hence of the corpus, is part of it).
 */
export async function fuzzLoop(target: FuzzTarget, opts: LoopOptions): Promise<LoopResult> {
  const rng = new Rng(opts.seed);
  const dict = target.dictionary.map((t) => Buffer.from(t));
  const corpus: Buffer[] = opts.corpus.length > 0 ? [...opts.corpus] : [Buffer.alloc(0)];
  const seen = new Set<string>();
  const failures = new Map<string, Failure>();
  const maxFailures = opts.maxFailures ?? 10;
  const started = performance.now();
  let execs = 0;
  let slowestMs = 0;
  let slowestInput: Buffer | undefined;
  const done = (): boolean =>
    failures.size >= maxFailures ||
    opts.stopped?.() === true || (opts.runs !== undefined && execs >= opts.runs) || (opts.deadline !== undefined && performance.now() >= opts.deadline);
  let index = 0;
  while (!done()) {
    const input = index < opts.corpus.length ? (opts.corpus[index] as Buffer) : nextInput(target, rng, corpus, dict);
    index++;
    opts.onInput?.(input);
    const t0 = performance.now();
    const { failure, label } = await runOne(target, input);
    const ms = performance.now() - t0;
    execs++;
    opts.onDone?.(execs);
    if (ms > slowestMs) {
      slowestMs = ms;
      slowestInput = input;
    }
    if (failure && !failures.has(failure.signature)) {
      failures.set(failure.signature, failure);
      opts.onFailure?.(failure);
    }
    const key = normaliseLabel(label);
    if (!seen.has(key)) {
      seen.add(key);
      if (index > opts.corpus.length && corpus.length < CORPUS_CAP) corpus.push(input);
    }
  }
  return { execs, elapsedMs: performance.now() - started, corpusSize: corpus.length, outcomes: seen.size, failures: [...failures.values()], slowestMs, slowestInput };
}
