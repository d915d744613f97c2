// The opa-wasm SDK's own JavaScript builtins, used for the names agentgate
// does not implement itself.
//
// The SDK dispatches a host builtin as `builtinFuncs[name] || customBuiltins[name]`,
// so a custom builtin passed to its loadPolicy can never replace one it ships
// (its `sprintf` is sprintf-js, not OPA's), and its builtins get JSON, in
// which a set is an array. agentgate therefore instantiates the wasm with its
// own host imports (dispatch.ts) and only borrows from the SDK what it has no
// answer of its own for. The table is reached through the SDK's installed
// files, not a public export: `sdk-table.test.ts` fails when its layout or its
// list of names changes, so an SDK upgrade is looked at, not silently taken.
// It is loaded on the first call of one of its builtins, not at start: the
// table brings the SDK's own yaml (~0.5 MB of source) into memory, for the
// one name agentgate borrows (json.is_valid).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

export type JsonBuiltin = (...args: unknown[]) => unknown;

function loadTable(): ReadonlyMap<string, JsonBuiltin> {
  const entry = require.resolve("@open-policy-agent/opa-wasm");
  const table: unknown = require(join(dirname(entry), "builtins", "index.js"));
  if (typeof table !== "object" || table === null) {
    throw new Error("@open-policy-agent/opa-wasm: src/builtins/index.js no longer exports its builtin table");
  }
  const out = new Map<string, JsonBuiltin>();
  for (const [name, fn] of Object.entries(table)) {
    if (typeof fn === "function") out.set(name, fn as JsonBuiltin);
  }
  return out;
}

/** The names in the SDK's table, as agentgate was checked against it (sdk-table.test.ts compares them with the table). */
export const SDK_BUILTIN_NAMES: readonly string[] = ["json.is_valid", "regex.split", "sprintf", "yaml.is_valid", "yaml.marshal", "yaml.unmarshal"];

let table: ReadonlyMap<string, JsonBuiltin> | undefined;

/** The SDK's JavaScript builtins by name, as shipped; loaded on first use. */
export function sdkBuiltins(): ReadonlyMap<string, JsonBuiltin> {
  table ??= loadTable();
  return table;
}
