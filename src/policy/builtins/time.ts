// Time builtins the wasm target leaves to the host. time.now_ns is read once
// per evaluation in OPA; here once per call, which only differs for a policy
// that calls it twice and compares the results.
import { parseDurationNs } from "./duration.ts";
import { stringOperand, type RegoBuiltin } from "./operands.ts";
import { numberValue } from "./rego-value.ts";

export const TIME_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "time.parse_duration_ns": (s) => numberValue(parseDurationNs(stringOperand("time.parse_duration_ns", s, 1))),
  "time.now_ns": () => numberValue(BigInt(Date.now()) * 1_000_000n),
};
