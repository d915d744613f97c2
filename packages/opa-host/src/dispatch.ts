// The host side of a policy.wasm: the imports it is instantiated with and
// the dispatch of its builtin calls. agentgate's builtins get the arguments
// as Rego values (opa_value_dump: sets stay sets, numbers keep their text)
// and answer in opa_value_parse's text; the SDK's fallbacks get and give
// JSON, as they do inside the SDK. A builtin that throws yields undefined, as
// builtin errors do in OPA outside strict mode, except an EvaluationHalt,
// which fails the evaluation as OPA's halting errors do.
import { AGENTGATE_BUILTINS, REDIRECTED_BUILTINS, sdkFallback } from "./builtins.ts";
import { EvaluationHalt } from "./operands.ts";
import { REDIRECTS } from "./wasm-rewrite.ts";
import { cString, type WasmImports, type WasmInstance, type WasmMemory } from "./wasm-api.ts";
import { fromJson, parseRegoValue, serializeRegoValue, type RegoValue } from "./rego-value.ts";

interface PolicyExports {
  builtins(): number;
  opa_json_dump(addr: number): number;
  opa_json_parse(addr: number, len: number): number;
  opa_value_dump(addr: number): number;
  opa_value_parse(addr: number, len: number): number;
  opa_malloc(len: number): number;
}

export interface HostImports {
  imports: WasmImports;
  /**
   * The builtin errors that became undefined since it was last emptied, as
   * `name: message` (OPA outside strict mode hides them the same way): what
   * `bundle check` and the conformance test look at to tell an expected
   * builtin error from another failure.
   */
  readonly builtinErrors: string[];
  /** Connects the imports to their instance; returns the builtin names the wasm calls out for. */
  bind(instance: WasmInstance): string[];
}

export class PolicyAbortError extends Error {
  constructor(message: string) {
    super(`policy.wasm aborted: ${message}`);
    this.name = "PolicyAbortError";
  }
}

const REDIRECTED_BY_ID: ReadonlyMap<number, string> = new Map(REDIRECTS.map((r) => [r.id, r.builtin]));
for (const r of REDIRECTS) {
  // A redirect without its implementation would throw on every call: refuse to start instead.
  if (!REDIRECTED_BUILTINS.has(r.builtin)) throw new Error(`wasm-rewrite.ts redirects ${r.fn} to ${r.builtin}, which no builtin family implements`);
}

export function hostImports(memory: WasmMemory): HostImports {
  let exports: PolicyExports | undefined;
  let names: Record<number, string> = {};
  const encoder = new TextEncoder();
  const builtinErrors: string[] = [];
  const swallow = (name: string, err: unknown): number => {
    if (err instanceof EvaluationHalt) throw err;
    const message = err instanceof Error ? err.message : String(err);
    builtinErrors.push(message.startsWith(`${name}: `) ? message : `${name}: ${message}`);
    return 0;
  };
  const readString = (addr: number): string => cString(memory, addr);
  const write = (text: string, parse: (addr: number, len: number) => number): number => {
    const ex = exports as PolicyExports;
    // Encoded straight into the wasm's heap (no intermediate buffer per builtin call).
    const length = Buffer.byteLength(text, "utf8");
    const addr = ex.opa_malloc(length);
    encoder.encodeInto(text, new Uint8Array(memory.buffer, addr, length));
    return parse(addr, length);
  };

  const call = (id: number, args: number[]): number => {
    const ex = exports;
    if (!ex) throw new Error("policy.wasm called a builtin before it was bound");
    const redirected = REDIRECTED_BY_ID.get(id);
    const name = redirected ?? names[id] ?? `#${String(id)}`;
    const own = redirected === undefined ? AGENTGATE_BUILTINS.get(name) : REDIRECTED_BUILTINS.get(name);
    if (own) {
      let result: RegoValue | undefined;
      try {
        result = own(...args.map((a) => parseRegoValue(readString(ex.opa_value_dump(a)))));
      } catch (err) {
        return swallow(name, err);
      }
      return result === undefined ? 0 : write(serializeRegoValue(result), (a, l) => ex.opa_value_parse(a, l));
    }
    const sdk = sdkFallback(name);
    if (sdk) {
      let result: unknown;
      try {
        result = sdk(...args.map((a) => JSON.parse(readString(ex.opa_json_dump(a))) as unknown));
      } catch (err) {
        return swallow(name, err);
      }
      return result === undefined ? 0 : write(serializeRegoValue(fromJson(result)), (a, l) => ex.opa_value_parse(a, l));
    }
    throw new Error(`not implemented: builtin ${name}`);
  };

  const imports: WasmImports = {
    env: {
      memory,
      opa_abort: (addr: number) => {
        throw new PolicyAbortError(readString(addr));
      },
      // print() output has no place on the admission path.
      opa_println: () => undefined,
      opa_builtin0: (id: number) => call(id, []),
      opa_builtin1: (id: number, _ctx: number, a: number) => call(id, [a]),
      opa_builtin2: (id: number, _ctx: number, a: number, b: number) => call(id, [a, b]),
      opa_builtin3: (id: number, _ctx: number, a: number, b: number, c: number) => call(id, [a, b, c]),
      opa_builtin4: (id: number, _ctx: number, a: number, b: number, c: number, d: number) => call(id, [a, b, c, d]),
    },
  };

  return {
    imports,
    builtinErrors,
    bind(instance) {
      exports = instance.exports as unknown as PolicyExports;
      const table = JSON.parse(readString(exports.opa_json_dump(exports.builtins()))) as Record<string, number>;
      names = Object.fromEntries(Object.entries(table).map(([name, id]) => [id, name]));
      return Object.keys(table).sort();
    },
  };
}
