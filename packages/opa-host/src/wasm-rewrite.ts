// Builtins that `opa build -t wasm` compiles into the module answer as OPA's
// wasm library does, not as OPA, where their output shows the order of a set
// or an object: the library keeps both as hash tables and walks them in
// bucket order where OPA sorts. No host builtin can replace a compiled one,
// so before instantiation the body of each function of REDIRECTS (found by
// its name in the module's name section) is replaced by a call to the host
// import opa_builtin<arity> with a builtin id the wasm never uses, which
// dispatch.ts answers with OPA's semantics. A redirected function's calls
// keep their place in the compiled plan; only what answers them changes.
//
// Checked against opa v1.22's wasm library (wasm/src/*.c), every function
// that renders or orders a value:
// - opa_json_marshal (json.marshal): object keys and set members unsorted;
// - opa_template_string (`$"…{x}…"`): prints objects and sets unsorted;
// - opa_strings_concat (concat): joins a set's members unsorted;
// - opa_value_transitive_closure (walk): visits object keys and set members
//   unsorted, so `[p | walk(x, p)]` comes out in another order.
// And the regex functions (wasm/src/regex.cc), whose C++ RE2 is not the Go
// regexp OPA matches with (see regex.ts): opa_regex_match (regex.match and
// re_match), opa_regex_is_valid, opa_regex_find_all_string_submatch. The
// wasm's glob.match translates its glob to an RE2 pattern and calls
// opa_regex_match with it, so it is matched by Go's regexp too; the
// translation (escaped punctuation, classes, `.*`) reads the same in both,
// and OPA's globmatch conformance topic holds.
// Not redirectable: iteration over a set or an object in a comprehension,
// `some … in` or a rule body (the plan's scan loops call opa_value_iter,
// the set's own representation, for every value the policy touches); see
// the README. Sorting-based builtins (sort, max, min, object.keys, set
// operations) already answer as OPA does.
//
// The redirect is loud when the wasm changes shape: a listed function with
// another signature than the one checked refuses the bundle at load
// (WasmShapeError), and wasm-rewrite.test.ts builds a policy calling every
// redirected builtin with the real opa and fails when one is not found.
// A redirect may apply only to one operand type (concat: sets), the rest of
// the calls keep the compiled body, moved to a function appended to the
// module (existing function indices do not change).

export interface Redirect {
  /** the compiled function's name in the module's name section */
  readonly fn: string;
  /** the builtin whose semantics dispatch.ts answers it with */
  readonly builtin: string;
  /** its operands, each an opa_value* (i32); it returns one */
  readonly arity: 1 | 2 | 3;
  /** the builtin id its calls reach the host with: outside the ids opa assigns (0, 1, 2, … per wasm) */
  readonly id: number;
  /**
   * Only calls whose operand `operand` is of this opa_value type (the first
   * byte of an opa_value, value.h: OPA_SET is 7) go to the host; the others
   * keep the compiled code, kept as a function of its own: the host round
   * trip costs microseconds and concat over an array needs none.
   */
  readonly onlyWhen?: { operand: number; type: number };
}

/** value.h */
const OPA_SET = 7;

export const REDIRECTS: readonly Redirect[] = [
  { fn: "opa_json_marshal", builtin: "json.marshal", arity: 1, id: 0x7fff0001 },
  { fn: "opa_template_string", builtin: "internal.template_string", arity: 1, id: 0x7fff0002 },
  { fn: "opa_strings_concat", builtin: "concat", arity: 2, id: 0x7fff0003, onlyWhen: { operand: 1, type: OPA_SET } },
  { fn: "opa_value_transitive_closure", builtin: "walk", arity: 1, id: 0x7fff0004 },
  { fn: "opa_regex_match", builtin: "regex.match", arity: 2, id: 0x7fff0005 },
  { fn: "opa_regex_is_valid", builtin: "regex.is_valid", arity: 1, id: 0x7fff0006 },
  { fn: "opa_regex_find_all_string_submatch", builtin: "regex.find_all_string_submatch_n", arity: 3, id: 0x7fff0007 },
];

export class WasmShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WasmShapeError";
  }
}

export interface Rewritten {
  wasm: Uint8Array;
  /** the builtins whose compiled function was redirected, sorted */
  redirected: string[];
}

class Reader {
  pos: number;
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array, pos = 0) {
    this.bytes = bytes;
    this.pos = pos;
  }
  byte(): number {
    const b = this.bytes[this.pos++];
    if (b === undefined) throw new Error("policy.wasm: unexpected end of module");
    return b;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
  }
  name(): string {
    const len = this.u32();
    const s = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }
  limits(): void {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
}

function u32(n: number): number[] {
  const out: number[] = [];
  let v = n;
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

function s32(n: number): number[] {
  const out: number[] = [];
  let v = n;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

interface Section {
  id: number;
  start: number;
  contentStart: number;
  end: number;
}

const I32 = 0x7f;
const BY_NAME: ReadonlyMap<string, Redirect> = new Map(REDIRECTS.map((r) => [r.fn, r]));

function signature(type: { params: number[]; results: number[] } | undefined): string {
  if (!type) return "of unknown type";
  const show = (xs: number[]): string => xs.map((x) => (x === I32 ? "i32" : `0x${x.toString(16)}`)).join(", ");
  return `(${show(type.params)}) -> (${show(type.results)})`;
}

/**
 * The module with REDIRECTS' functions calling the host, and which were.
 * A module without any of them (or without a name section, which every
 * `opa build -t wasm` writes) comes back as it is.
 */
export function redirectCompiledBuiltins(wasm: Uint8Array): Rewritten {
  const unchanged: Rewritten = { wasm, redirected: [] };
  const r = new Reader(wasm, 8);
  const sections: Section[] = [];
  while (r.pos < wasm.length) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    sections.push({ id, start, contentStart: r.pos, end: r.pos + size });
    r.pos += size;
  }
  const section = (id: number, name?: string): Section | undefined =>
    sections.find((s) => s.id === id && (name === undefined || new Reader(wasm, s.contentStart).name() === name));

  const types: { params: number[]; results: number[] }[] = [];
  const typeSection = section(1);
  if (typeSection) {
    const t = new Reader(wasm, typeSection.contentStart);
    for (let n = t.u32(); n > 0; n--) {
      t.byte();
      const params = Array.from({ length: t.u32() }, () => t.byte());
      const results = Array.from({ length: t.u32() }, () => t.byte());
      types.push({ params, results });
    }
  }

  let importedFuncs = 0;
  /** function index of env.opa_builtin<n>, by n */
  const dispatchers = new Map<number, number>();
  const importSection = section(2);
  if (importSection) {
    const t = new Reader(wasm, importSection.contentStart);
    for (let n = t.u32(); n > 0; n--) {
      const mod = t.name();
      const field = t.name();
      const kind = t.byte();
      if (kind === 0) {
        t.u32();
        const m = /^opa_builtin([0-4])$/.exec(field);
        if (mod === "env" && m) dispatchers.set(Number(m[1]), importedFuncs);
        importedFuncs++;
      } else if (kind === 1) {
        t.byte();
        t.limits();
      } else if (kind === 2) {
        t.limits();
      } else if (kind === 3) {
        t.byte();
        t.byte();
      } else {
        throw new WasmShapeError(`import ${mod}.${field} has kind ${String(kind)}, which a wasm module of ABI 1 does not have`);
      }
    }
  }

  const funcTypes: number[] = [];
  const funcSection = section(3);
  if (funcSection) {
    const t = new Reader(wasm, funcSection.contentStart);
    for (let n = t.u32(); n > 0; n--) funcTypes.push(t.u32());
  }

  /** code-section index → the redirect that replaces its body */
  const targets = new Map<number, Redirect>();
  const names = section(0, "name");
  if (!names) return unchanged;
  const t = new Reader(wasm, names.contentStart);
  t.name();
  while (t.pos < names.end) {
    const sub = t.byte();
    const size = t.u32();
    const next = t.pos + size;
    if (sub === 1) {
      for (let n = t.u32(); n > 0; n--) {
        const index = t.u32();
        const redirect = BY_NAME.get(t.name());
        if (!redirect || index < importedFuncs) continue;
        const type = types[funcTypes[index - importedFuncs] ?? -1];
        const expected = { params: Array<number>(redirect.arity).fill(I32), results: [I32] };
        if (signature(type) !== signature(expected)) {
          throw new WasmShapeError(
            `compiled ${redirect.builtin} (${redirect.fn}) is ${signature(type)}, not the ${signature(expected)} agentgate redirects to its own ${redirect.builtin}: built by an opa whose wasm library agentgate was not checked against`,
          );
        }
        if (!dispatchers.has(redirect.arity)) throw new WasmShapeError(`compiled ${redirect.builtin} (${redirect.fn}) is there but the import env.opa_builtin${String(redirect.arity)} is not`);
        targets.set(index - importedFuncs, redirect);
      }
    }
    t.pos = next;
  }
  const code = section(10);
  if (targets.size === 0 || !code) return unchanged;

  const funcs = section(3);
  if (!funcs) return unchanged;
  const c = new Reader(wasm, code.contentStart);
  const count = c.u32();
  const bodies: Uint8Array[] = [];
  /** original bodies kept as functions of their own, appended after the module's: [type index, body] */
  const kept: [number, Uint8Array][] = [];
  for (let k = 0; k < count; k++) {
    const size = c.u32();
    const whole = wasm.subarray(c.pos - u32(size).length, c.pos + size);
    const redirect = targets.get(k);
    if (redirect === undefined) {
      bodies.push(whole);
    } else {
      // i32.const id; i32.const 0 (ctx); local.get 0 … arity-1; call opa_builtin<arity>
      const operands = Array.from({ length: redirect.arity }, (_, i) => [0x20, ...u32(i)]).flat();
      const toHost = [0x41, ...s32(redirect.id), 0x41, 0x00, ...operands, 0x10, ...u32(dispatchers.get(redirect.arity) ?? 0)];
      let body: number[];
      if (redirect.onlyWhen === undefined) {
        body = [0x00, ...toHost, 0x0b];
      } else {
        const original = importedFuncs + count + kept.length;
        kept.push([funcTypes[k] ?? 0, whole]);
        // if (*(u8*)operand == type) host(…) else original(…)
        const test = [0x20, ...u32(redirect.onlyWhen.operand), 0x2d, 0x00, 0x00, 0x41, ...s32(redirect.onlyWhen.type), 0x46];
        body = [0x00, ...test, 0x04, I32, ...toHost, 0x05, ...operands, 0x10, ...u32(original), 0x0b, 0x0b];
      }
      bodies.push(Uint8Array.from([...u32(body.length), ...body]));
    }
    c.pos += size;
  }
  const allTypes = [...funcTypes, ...kept.map(([type]) => type)];
  const replaced = new Map<Section, Uint8Array[]>([
    [funcs, [Uint8Array.from(u32(allTypes.length)), ...allTypes.map((type) => Uint8Array.from(u32(type)))]],
    [code, [Uint8Array.from(u32(count + kept.length)), ...bodies, ...kept.map(([, body]) => body)]],
  ]);
  const parts: Uint8Array[] = [wasm.subarray(0, 8)];
  for (const sec of sections) {
    const content = replaced.get(sec);
    if (!content) {
      parts.push(wasm.subarray(sec.start, sec.end));
      continue;
    }
    const length = content.reduce((n, b) => n + b.length, 0);
    parts.push(Uint8Array.from([sec.id, ...u32(length)]), ...content);
  }
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return { wasm: out, redirected: [...new Set([...targets.values()].map((x) => x.builtin))].sort() };
}
