// One compiled policy.wasm, evaluated through OPA's wasm ABI (1.2+: the
// single-call opa_eval). The only file that evaluates a policy.wasm.
//
// The wasm is instantiated and evaluated here, not by the opa-wasm SDK:
// its loadPolicy lets its own JavaScript builtins win over custom ones and
// hands builtins JSON, in which sets are arrays (@agentgate/opa-host's
// hostImports are agentgate's host imports instead), and its evaluate asks
// for the result as JSON, which the wasm writes with sets as arrays in hash
// order. Here the result is asked for as a Rego value (opa_eval's last
// argument) and converted to JSON as OPA converts it: sets sorted, so a
// set-valued field of agentgate/defaults or a set in any entrypoint's value
// reads as `opa eval` prints it.
import { HOST_BUILTINS, RegoObject, RegoSet, cString, exportedNumber, hostImports, parseRegoValue, redirectCompiledBuiltins, startEvaluation, toJson, wasmApi, type WasmInstance, type WasmMemory } from "@agentgate/opa-host";
import { BundleError, type Bundle } from "./bundle.ts";

const INITIAL_PAGES = 8;
const PAGE = 64 * 1024;

/** The exports of OPA's wasm ABI 1.2 this file calls. */
interface PolicyAbi {
  entrypoints(): number;
  opa_eval(reserved: number, entrypoint: number, data: number, input: number, inputLength: number, heap: number, wantValue: number): number;
  opa_heap_ptr_get(): number;
  opa_heap_ptr_set(addr: number): void;
  opa_json_dump(addr: number): number;
  opa_json_parse(addr: number, length: number): number;
  opa_malloc(length: number): number;
}

const ABI_FUNCTIONS = ["entrypoints", "opa_eval", "opa_heap_ptr_get", "opa_heap_ptr_set", "opa_json_dump", "opa_json_parse", "opa_malloc"] as const;

/** The JSON text of an input document (engine.ts's encodeInput); empty for no input. */
export type EncodedInput = ArrayBuffer | Uint8Array;

export class WasmPolicy {
  readonly entrypoints: ReadonlySet<string>;
  /** host builtins the wasm calls out for */
  readonly requiredBuiltins: readonly string[];
  /** builtins compiled into the wasm that agentgate answers instead (@agentgate/opa-host's redirectCompiledBuiltins) */
  readonly redirectedBuiltins: readonly string[];
  private readonly abi: PolicyAbi;
  private readonly builtinErrors: string[];
  private readonly memory: WasmMemory;
  private readonly entrypointIds: ReadonlyMap<string, number>;
  /** the parsed data document */
  private readonly dataAddr: number;
  /** the heap above the data: each evaluation writes its input here and starts its heap after it */
  private readonly evalHeap: number;

  private constructor(abi: PolicyAbi, memory: WasmMemory, builtinErrors: string[], entrypointIds: Map<string, number>, data: { addr: number; heap: number }, requiredBuiltins: string[], redirectedBuiltins: string[]) {
    this.abi = abi;
    this.builtinErrors = builtinErrors;
    this.memory = memory;
    this.entrypointIds = entrypointIds;
    this.entrypoints = new Set(entrypointIds.keys());
    this.dataAddr = data.addr;
    this.evalHeap = data.heap;
    this.requiredBuiltins = requiredBuiltins;
    this.redirectedBuiltins = redirectedBuiltins;
  }

  /** Loads the bundle's wasm with its data; refuses builtins nobody implements. */
  static async load(bundle: Bundle, data: Record<string, unknown>): Promise<WasmPolicy> {
    const memory = new wasmApi.Memory({ initial: INITIAL_PAGES });
    const host = hostImports(memory);
    let instance: WasmInstance;
    let required: string[];
    let redirected: string[];
    try {
      const rewritten = redirectCompiledBuiltins(bundle.wasm);
      redirected = rewritten.redirected;
      instance = await wasmApi.instantiate(await wasmApi.compile(rewritten.wasm), host.imports);
      const abi = exportedNumber(instance, "opa_wasm_abi_version");
      const minor = exportedNumber(instance, "opa_wasm_abi_minor_version") ?? 0;
      if (abi !== 1 || minor < 2) {
        throw new Error(`unsupported wasm ABI version ${String(abi)}.${String(minor)} (agentgate evaluates ABI 1.2 and later: rebuild it with opa v0.34 or newer)`);
      }
      const absent = ABI_FUNCTIONS.filter((name) => typeof instance.exports[name] !== "function");
      if (absent.length > 0) throw new Error(`exports no ${absent.join(", ")}`);
      required = host.bind(instance);
    } catch (err) {
      throw new BundleError(bundle.name, `policy.wasm does not load: ${describe(err)}`, { cause: err });
    }
    const missing = required.filter((name) => !HOST_BUILTINS.has(name));
    if (missing.length > 0) {
      throw new BundleError(
        bundle.name,
        `(revision ${bundle.revision}) policy.wasm needs builtin${missing.length > 1 ? "s" : ""} ${missing.join(", ")}, which this gateway does not provide; run \`agentgate capabilities\` for what it does`,
      );
    }
    const abi = instance.exports as unknown as PolicyAbi;
    const entrypoints = JSON.parse(cString(memory, abi.opa_json_dump(abi.entrypoints()))) as Record<string, number>;
    let parsed: { addr: number; heap: number };
    try {
      parsed = loadData(abi, memory, data);
    } catch (err) {
      throw new BundleError(bundle.name, `data does not load into policy.wasm: ${describe(err)}`, { cause: err });
    }
    return new WasmPolicy(abi, memory, host.builtinErrors, new Map(Object.entries(entrypoints)), parsed, required, redirected);
  }

  /**
   * The builtin errors of the last evaluation (`name: message`): each made
   * its expression undefined, as in OPA outside strict mode.
   */
  get lastBuiltinErrors(): readonly string[] {
    return [...this.builtinErrors];
  }

  /** whether a builtin failed in the last evaluation (lastBuiltinErrors without the copy) */
  get hadBuiltinErrors(): boolean {
    return this.builtinErrors.length > 0;
  }

  /**
   * Evaluates one entrypoint. `input` is the JSON text of the input document,
   * encoded once per request and shared by every bundle and entrypoint; an
   * empty buffer leaves input undefined, as in `opa eval` without `-i`.
   * Returns undefined when the entrypoint's value is undefined.
   */
  evaluate(entrypoint: string, input: EncodedInput): unknown {
    const id = this.entrypointIds.get(entrypoint);
    if (id === undefined) throw new Error(`entrypoint ${entrypoint} is not in this policy.wasm (it has ${[...this.entrypoints].sort().join(", ")})`);
    startEvaluation();
    this.builtinErrors.length = 0;
    const length = input.byteLength;
    const shortBy = this.evalHeap + length - this.memory.buffer.byteLength;
    if (shortBy > 0) this.memory.grow(Math.ceil(shortBy / PAGE));
    new Uint8Array(this.memory.buffer).set(input instanceof Uint8Array ? input : new Uint8Array(input), this.evalHeap);
    const addr = this.abi.opa_eval(0, id, this.dataAddr, this.evalHeap, length, this.evalHeap + length, 1);
    // The result set, as a Rego value: set() or {{"result": value}}.
    const resultSet = parseRegoValue(cString(this.memory, addr));
    if (!(resultSet instanceof RegoSet) || resultSet.items.length === 0) return undefined;
    const first = resultSet.items[0];
    const value = first instanceof RegoObject ? first.get("result") : undefined;
    return value === undefined ? undefined : toJson(value);
  }
}

/** The builtins a policy.wasm calls the host for (its builtins() table), provided or not. */
export async function calledBuiltins(wasm: Uint8Array): Promise<string[]> {
  const memory = new wasmApi.Memory({ initial: INITIAL_PAGES });
  const host = hostImports(memory);
  return host.bind(await wasmApi.instantiate(await wasmApi.compile(wasm), host.imports));
}

/** Parses the data document into the wasm's heap; what is above it is free for evaluations. */
function loadData(abi: PolicyAbi, memory: WasmMemory, data: Record<string, unknown>): { addr: number; heap: number } {
  const bytes = new TextEncoder().encode(JSON.stringify(data));
  const raw = abi.opa_malloc(bytes.length);
  new Uint8Array(memory.buffer).set(bytes, raw);
  const addr = abi.opa_json_parse(raw, bytes.length);
  if (addr === 0) throw new Error("policy.wasm could not parse it as JSON");
  return { addr, heap: abi.opa_heap_ptr_get() };
}

/** The wasm and its host throw strings and plain objects as well as Errors. */
export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "string") return err;
  if (typeof err === "object" && err !== null && "message" in err) return String((err).message);
  return JSON.stringify(err);
}
