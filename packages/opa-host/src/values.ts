// The Rego value model of the host ("@agentgate/opa-host/values"): the text
// opa_value_dump writes and opa_value_parse reads, compared, sorted and
// printed as OPA does. Exported for fuzz targets and tests that check it
// against its invariants; a host program needs only what index.ts exports.
export { MAX_VALUE_DEPTH, RegoNumber, RegoObject, RegoSet, RegoValueError, compareValues, formatTerm, fromJson, parseRegoValue, serializeRegoValue, type RegoValue } from "./rego-value.ts";
export { goJson, toJson } from "./json.ts";
