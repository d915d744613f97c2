// The part of the WebAssembly JS API agentgate uses, typed here because the
// project compiles against Node's types without the DOM library that
// declares it.
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

const decoder = new TextDecoder();

/** The NUL-terminated UTF-8 string the wasm wrote at addr. */
export function cString(memory: WasmMemory, addr: number): string {
  const bytes = new Uint8Array(memory.buffer);
  const end = bytes.indexOf(0, addr);
  return decoder.decode(bytes.subarray(addr, end < 0 ? bytes.length : end));
}

export interface WasmInstance {
  readonly exports: Readonly<Record<string, unknown>>;
}

export type WasmImports = Record<string, Record<string, unknown>>;

interface WasmGlobal {
  readonly value: unknown;
}

interface WasmApi {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Global: abstract new (...args: never[]) => WasmGlobal;
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: WasmImports): Promise<WasmInstance>;
}

export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** An exported global's number (ABI version globals), undefined when absent. */
export function exportedNumber(instance: WasmInstance, name: string): number | undefined {
  const g = instance.exports[name];
  if (g instanceof wasmApi.Global) return Number(g.value);
  return typeof g === "number" ? g : undefined;
}
