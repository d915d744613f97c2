// The public surface of @agentgate/opa-host: what a program evaluating a
// policy.wasm built by `opa build -t wasm` needs from the host side of OPA's
// wasm ABI. Everything else in src/ is the builtins' implementation and may
// change without notice; tests and fuzz targets that need the Rego value
// model use "@agentgate/opa-host/values", durations "@agentgate/opa-host/duration".

// The instance: its imports, the compiled builtins it redirects, the
// WebAssembly API it is instantiated with.
export { hostImports, PolicyAbortError, type HostImports } from "./dispatch.ts";
export { REDIRECTS, WasmShapeError, redirectCompiledBuiltins, type Redirect, type Rewritten } from "./wasm-rewrite.ts";
export { cString, exportedNumber, wasmApi, type WasmImports, type WasmInstance, type WasmMemory } from "./wasm-api.ts";
export { startEvaluation } from "./time.ts";

// Which builtins the host answers.
export { AGENTGATE_BUILTINS, HOST_BUILTINS, REDIRECTED_BUILTINS, VOLATILE_BUILTINS, type RegoBuiltin } from "./builtins.ts";
export { CapabilitiesError, agentgateCapabilities, asCapabilities, probeModules, type Capabilities } from "./capabilities.ts";

// Results and values: what opa_eval returns, read as OPA reads it.
export { RegoObject, RegoSet, parseRegoValue, type RegoValue } from "./rego-value.ts";
export { toJson } from "./json.ts";

// Go semantics the builtins need that a host program needs too.
export { GoRegexp, RegexpSyntaxError } from "./go-regexp.ts";
export { DurationError, parseDurationNs, parseExtendedDurationNs } from "./duration.ts";
