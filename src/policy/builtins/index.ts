// The host builtins agentgate provides to wasm policies, with OPA's
// semantics. A builtin that fails returns undefined, as OPA's do outside
// strict mode: the expression is undefined rather than the evaluation failing.
import { parseDurationNs } from "./duration.ts";
import { SDK_HOST_BUILTINS, yieldToCustomBuiltins } from "./sdk-table.ts";

export type Builtin = (...args: unknown[]) => unknown;

function undefinedOnError(fn: Builtin): Builtin {
  return (...args: unknown[]) => {
    try {
      return fn(...args);
    } catch {
      return undefined;
    }
  };
}

const implementations: Record<string, Builtin> = {
  "time.parse_duration_ns": (s) => {
    if (typeof s !== "string") throw new TypeError("operand 1 must be string");
    return Number(parseDurationNs(s));
  },
};

export const CUSTOM_BUILTINS: Readonly<Record<string, Builtin>> = Object.fromEntries(
  Object.entries(implementations).map(([name, fn]) => [name, undefinedOnError(fn)]),
);

yieldToCustomBuiltins(Object.keys(CUSTOM_BUILTINS));

/** Every host builtin a policy may call in this gateway. */
export const HOST_BUILTINS: ReadonlySet<string> = new Set([
  ...SDK_HOST_BUILTINS,
  ...Object.keys(CUSTOM_BUILTINS),
]);
