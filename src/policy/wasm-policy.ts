// One compiled policy.wasm, evaluated through the opa-wasm SDK's
// LoadedPolicy. The only file that touches the SDK's evaluation API.
//
// The wasm is instantiated here, not by the SDK's loadPolicy, so that the
// host builtins are agentgate's (builtins/dispatch.ts): the SDK's loadPolicy
// lets its own JavaScript builtins win over custom ones and hands builtins
// JSON, in which sets are arrays. LoadedPolicy takes an instance it did not
// create (its constructor's contract); sdk-table.test.ts checks that it still
// does.
import { createRequire } from "node:module";
import type { LoadedPolicy } from "@open-policy-agent/opa-wasm";
import { BundleError, type Bundle } from "./bundle.ts";
import { hostImports } from "./builtins/dispatch.ts";
import { HOST_BUILTINS } from "./builtins/index.ts";
import { startEvaluation } from "./builtins/time.ts";
import { redirectCompiledBuiltins } from "./builtins/wasm-rewrite.ts";
import { exportedNumber, wasmApi, type WasmInstance } from "./builtins/wasm-api.ts";

const require = createRequire(import.meta.url);
const { LoadedPolicy: LoadedPolicyClass } = require("@open-policy-agent/opa-wasm") as { LoadedPolicy: typeof LoadedPolicy };

const INITIAL_PAGES = 8;

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
    const memory = new wasmApi.Memory({ initial: INITIAL_PAGES });
    const host = hostImports(memory);
    let instance: WasmInstance;
    let required: string[];
    try {
      const module = await wasmApi.compile(redirectCompiledBuiltins(bundle.wasm));
      instance = await wasmApi.instantiate(module, host.imports);
      const abi = exportedNumber(instance, "opa_wasm_abi_version");
      if (abi !== 1) throw new Error(`unsupported wasm ABI version ${String(abi)} (agentgate evaluates ABI 1.x)`);
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
    const policy = new LoadedPolicyClass(instance, memory, exportedNumber(instance, "opa_wasm_abi_minor_version"));
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
    startEvaluation();
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
