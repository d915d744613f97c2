// trace(note) as OPA answers it: true for a string. OPA hands the note to
// its query tracers, which only `opa eval --explain notes` (or the REST
// API's explain=notes) installs; a decision never depends on it. The
// gateway evaluates without an explanation, as OPA's server does by
// default, so the note goes nowhere, like print()'s output
// (dispatch.ts): admission logs say which rule denied, not the policy's
// working notes.
import { stringOperand, type RegoBuiltin } from "./operands.ts";

export const TRACE_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  trace: (note) => {
    stringOperand("trace", note, 1);
    return true;
  },
};
