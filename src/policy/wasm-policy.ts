// One compiled policy.wasm, loaded through the opa-wasm SDK. The only file
// that touches the SDK's evaluation API.
import { loadPolicy, type LoadedPolicy } from "@open-policy-agent/opa-wasm";
import { BundleError, type Bundle } from "./bundle.ts";
import { CUSTOM_BUILTINS, HOST_BUILTINS } from "./builtins/index.ts";

interface WasmExports {
  builtins(): number;
  opa_json_dump(addr: number): number;
}

interface InstanceLike {
  instance?: { exports: unknown };
  exports?: unknown;
}

// The SDK keeps the builtin table it reads from the wasm to itself; the
// gateway needs it at load time to refuse what it cannot evaluate, so it
// reads the same export (builtins(), ABI 1.x) from the instance.
function readBuiltinNames(policy: LoadedPolicy): string[] {
  const holder = policy.wasmInstance as unknown as InstanceLike;
  const exports = (holder.instance?.exports ?? holder.exports) as WasmExports;
  const raw = exports.opa_json_dump(exports.builtins());
  const memory = (policy as unknown as { mem: { buffer: ArrayBuffer } }).mem;
  const bytes = new Uint8Array(memory.buffer);
  let end = raw;
  while (bytes[end] !== 0) end++;
  const table: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(raw, end)));
  return Object.keys(table as Record<string, number>).sort();
}

export class WasmPolicy {
  readonly entrypoints: ReadonlySet<string>;
  /** host builtins the wasm calls out for */
  readonly requiredBuiltins: readonly string[];
  private readonly policy: LoadedPolicy;

  private constructor(policy: LoadedPolicy, requiredBuiltins: string[]) {
    this.policy = policy;
    this.entrypoints = new Set(Object.keys(policy.entrypoints as Record<string, number>));
    this.requiredBuiltins = requiredBuiltins;
  }

  /** Loads the bundle's wasm with its data; refuses builtins nobody implements. */
  static async load(bundle: Bundle, data: Record<string, unknown>): Promise<WasmPolicy> {
    let policy: LoadedPolicy;
    try {
      policy = await loadPolicy(bundle.wasm, { initial: 8 }, CUSTOM_BUILTINS);
    } catch (err) {
      throw new BundleError(bundle.name, `policy.wasm does not load: ${describe(err)}`, { cause: err });
    }
    const required = readBuiltinNames(policy);
    const missing = required.filter((name) => !HOST_BUILTINS.has(name));
    if (missing.length > 0) {
      throw new BundleError(
        bundle.name,
        `(revision ${bundle.revision}) policy.wasm needs builtin${missing.length > 1 ? "s" : ""} ${missing.join(", ")}, which this gateway does not provide; run \`agentgate capabilities\` for what it does`,
      );
    }
    try {
      policy.setData(data);
    } catch (err) {
      throw new BundleError(bundle.name, `data does not load into policy.wasm: ${describe(err)}`, { cause: err });
    }
    return new WasmPolicy(policy, required);
  }

  /**
   * Evaluates one entrypoint. `input` is the JSON text of the input document,
   * encoded once per request and shared by every bundle and entrypoint.
   * Returns undefined when the entrypoint's value is undefined.
   */
  evaluate(entrypoint: string, input: ArrayBuffer): unknown {
    const resultSet: unknown = this.policy.evaluate(input, entrypoint);
    if (!Array.isArray(resultSet) || resultSet.length === 0) return undefined;
    const first: unknown = resultSet[0];
    if (typeof first !== "object" || first === null || !("result" in first)) return undefined;
    return (first).result;
  }
}

/** The SDK throws strings and plain objects as well as Errors. */
export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "string") return err;
  if (typeof err === "object" && err !== null && "message" in err) return String((err).message);
  return JSON.stringify(err);
}
