// The host builtins agentgate provides to wasm policies, with OPA's
// semantics, one file per family. A name here takes precedence over the
// SDK's JavaScript builtin of the same name (dispatch.ts); the SDK's are used
// only for names that no family here implements.
import { CRYPTO_BUILTINS } from "./crypto.ts";
import { ENCODING_BUILTINS } from "./encoding.ts";
import { GLOB_BUILTINS } from "./glob.ts";
import { JSON_BUILTINS, REDIRECTED_JSON_BUILTINS } from "./json.ts";
import { NET_BUILTINS } from "./net.ts";
import { NUMBERS_BUILTINS } from "./numbers.ts";
import { OBJECT_BUILTINS } from "./object.ts";
import type { RegoBuiltin } from "./operands.ts";
import { REDIRECTED_REGEX_BUILTINS, REGEX_BUILTINS } from "./regex.ts";
import { SDK_BUILTIN_NAMES, sdkBuiltins, type JsonBuiltin } from "./sdk-table.ts";
import { SEMVER_BUILTINS } from "./semver.ts";
import { REDIRECTED_STRINGS_BUILTINS, STRINGS_BUILTINS } from "./strings.ts";
import { REDIRECTED_TEMPLATE_BUILTINS } from "./template-string.ts";
import { TIME_BUILTINS } from "./time.ts";
import { TRACE_BUILTINS } from "./trace.ts";
import { UNITS_BUILTINS } from "./units.ts";
import { URI_BUILTINS } from "./uri.ts";
import { URLQUERY_BUILTINS } from "./urlquery.ts";
import { REDIRECTED_WALK_BUILTINS } from "./walk.ts";
import { YAML_BUILTINS } from "./yaml.ts";

export type { RegoBuiltin } from "./operands.ts";

/** agentgate's own builtins, by name. */
export const AGENTGATE_BUILTINS: ReadonlyMap<string, RegoBuiltin> = new Map(
  Object.entries({ ...STRINGS_BUILTINS, ...JSON_BUILTINS, ...UNITS_BUILTINS, ...SEMVER_BUILTINS, ...TIME_BUILTINS, ...YAML_BUILTINS, ...OBJECT_BUILTINS, ...CRYPTO_BUILTINS, ...ENCODING_BUILTINS, ...NET_BUILTINS, ...NUMBERS_BUILTINS, ...GLOB_BUILTINS, ...URLQUERY_BUILTINS, ...URI_BUILTINS, ...REGEX_BUILTINS, ...TRACE_BUILTINS }),
);

/** Builtins compiled into the wasm that agentgate answers instead (wasm-rewrite.ts redirects them). */
export const REDIRECTED_BUILTINS: ReadonlyMap<string, RegoBuiltin> = new Map(
  Object.entries({ ...REDIRECTED_JSON_BUILTINS, ...REDIRECTED_STRINGS_BUILTINS, ...REDIRECTED_TEMPLATE_BUILTINS, ...REDIRECTED_WALK_BUILTINS, ...REDIRECTED_REGEX_BUILTINS }),
);

/**
 * The SDK's builtins agentgate relies on: those it has no own version of
 * (json.is_valid; its regex.split, with JavaScript's RegExp, is replaced by
 * regex.ts's, with Go's).
 */
export const SDK_FALLBACK_NAMES: ReadonlySet<string> = new Set(SDK_BUILTIN_NAMES.filter((name) => !AGENTGATE_BUILTINS.has(name)));

/** One of SDK_FALLBACK_NAMES, loaded from the SDK's table on first use; undefined for any other name. */
export function sdkFallback(name: string): JsonBuiltin | undefined {
  return SDK_FALLBACK_NAMES.has(name) ? sdkBuiltins().get(name) : undefined;
}

/**
 * The host builtins whose answer can differ between two evaluations of the
 * same input: a policy calling one is not a function of its input, and its
 * outcomes may not be reused (every other builtin here is pure; trace only
 * answers true).
 */
export const VOLATILE_BUILTINS: ReadonlySet<string> = new Set(["time.now_ns"]);

/** Every host builtin a policy may call in this gateway. */
export const HOST_BUILTINS: ReadonlySet<string> = new Set([...AGENTGATE_BUILTINS.keys(), ...SDK_FALLBACK_NAMES]);
