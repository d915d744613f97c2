// Builtins that `opa build -t wasm` compiles into the module answer as OPA's
// wasm library does, not as OPA: its json.marshal writes object keys and set
// members in hash order where OPA sorts them. No host builtin can replace a
// compiled one, so before instantiation the body of such a function (found
// by its name in the module's name section, checked to be (i32) -> i32) is
// replaced by a call to the host import opa_builtin1 with a builtin id the
// wasm never uses (REDIRECTED_IDS), which dispatch.ts answers with OPA's
// semantics. A module without the function, or without a name section, is
// left as it is (and answers as OPA's wasm library does).

/** Compiled function → the builtin id its calls are redirected to. */
export const REDIRECTED_IDS: ReadonlyMap<string, { builtin: string; id: number }> = new Map([
  ["opa_json_marshal", { builtin: "json.marshal", id: 0x7fff0001 }],
]);

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

/** Returns the module with redirected functions, or the same bytes when there is nothing to redirect. */
export function redirectCompiledBuiltins(wasm: Uint8Array): Uint8Array {
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
  let builtin1: number | undefined;
  const importSection = section(2);
  if (importSection) {
    const t = new Reader(wasm, importSection.contentStart);
    for (let n = t.u32(); n > 0; n--) {
      const mod = t.name();
      const field = t.name();
      const kind = t.byte();
      if (kind === 0) {
        t.u32();
        if (mod === "env" && field === "opa_builtin1") builtin1 = importedFuncs;
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
        return wasm;
      }
    }
  }
  if (builtin1 === undefined) return wasm;

  const funcTypes: number[] = [];
  const funcSection = section(3);
  if (funcSection) {
    const t = new Reader(wasm, funcSection.contentStart);
    for (let n = t.u32(); n > 0; n--) funcTypes.push(t.u32());
  }

  const targets = new Map<number, number>();
  const names = section(0, "name");
  if (!names) return wasm;
  const t = new Reader(wasm, names.contentStart);
  t.name();
  while (t.pos < names.end) {
    const sub = t.byte();
    const size = t.u32();
    const next = t.pos + size;
    if (sub === 1) {
      for (let n = t.u32(); n > 0; n--) {
        const index = t.u32();
        const redirect = REDIRECTED_IDS.get(t.name());
        const type = types[funcTypes[index - importedFuncs] ?? -1];
        if (redirect && type?.params.length === 1 && type.params[0] === 0x7f && type.results.length === 1 && type.results[0] === 0x7f) {
          targets.set(index - importedFuncs, redirect.id);
        }
      }
    }
    t.pos = next;
  }
  const code = section(10);
  if (targets.size === 0 || !code) return wasm;

  const c = new Reader(wasm, code.contentStart);
  const count = c.u32();
  const bodies: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const size = c.u32();
    const id = targets.get(k);
    if (id === undefined) {
      bodies.push(wasm.subarray(c.pos - u32(size).length, c.pos + size));
    } else {
      // no locals; i32.const id; i32.const 0 (ctx); local.get 0; call opa_builtin1; end
      const body = [0x00, 0x41, ...s32(id), 0x41, 0x00, 0x20, 0x00, 0x10, ...u32(builtin1), 0x0b];
      bodies.push(Uint8Array.from([...u32(body.length), ...body]));
    }
    c.pos += size;
  }
  const content = [Uint8Array.from(u32(count)), ...bodies];
  const contentLength = content.reduce((n, b) => n + b.length, 0);
  const header = Uint8Array.from([10, ...u32(contentLength)]);
  const out = new Uint8Array(code.start + header.length + contentLength + (wasm.length - code.end));
  out.set(wasm.subarray(0, code.start), 0);
  let at = code.start;
  for (const part of [header, ...content]) {
    out.set(part, at);
    at += part.length;
  }
  out.set(wasm.subarray(code.end), at);
  return out;
}
