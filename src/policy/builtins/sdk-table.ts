// How agentgate's builtins take precedence over the opa-wasm SDK's own.
//
// The SDK (src/opa.js) dispatches a host builtin as
//   builtinFuncs[name] || customBuiltins[name]
// where builtinFuncs is the object exported by its src/builtins/index.js. So a
// custom builtin passed to loadPolicy never replaces one the SDK ships (its
// `sprintf`, for one, is sprintf-js and not OPA's). The SDK offers no option
// for this, so agentgate removes the names it implements itself from that one
// shared table, once, before any policy loads. The table is reached through
// the SDK's installed files, not a public export: `sdk-table.test.ts` fails if
// the SDK stops dispatching through it (a changed layout, a frozen table, a
// new precedence), instead of the override silently doing nothing.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

type BuiltinTable = Record<string, unknown>;

function loadTable(): BuiltinTable {
  const entry = require.resolve("@open-policy-agent/opa-wasm");
  const table: unknown = require(join(dirname(entry), "builtins", "index.js"));
  if (typeof table !== "object" || table === null) {
    throw new Error("@open-policy-agent/opa-wasm: src/builtins/index.js no longer exports its builtin table");
  }
  return table as BuiltinTable;
}

const table = loadTable();

/** Names the SDK implements in JavaScript, as shipped (before any override). */
export const SDK_HOST_BUILTINS: ReadonlySet<string> = new Set(Object.keys(table));

/** Makes the SDK defer to agentgate's implementation for these names. */
export function yieldToCustomBuiltins(names: Iterable<string>): void {
  for (const name of names) {
    if (Object.prototype.hasOwnProperty.call(table, name)) {
      Reflect.deleteProperty(table, name);
      if (Object.prototype.hasOwnProperty.call(table, name)) {
        throw new Error(`@open-policy-agent/opa-wasm: cannot override builtin ${name}: its table is read-only`);
      }
    }
  }
}
