// The module Jazzer.js fuzzes (its `fuzz` export). Jazzer imports it after
// its instrumentation hooks are in place, so it, the target and the code
// under test are instrumented for coverage and comparison feedback (the
// TypeScript reaches Jazzer stripped of its types: strip-types-hooks.ts).
// Each input runs through the target's own property check and the checks
// every target shares (fuzz/engine.ts runOne: an exception of an
// unexpected type, a changed built-in prototype); a failure is saved as
// fuzz/ saves it, then thrown, and Jazzer reports it as a finding.
import "./source-maps.ts";
import { runOne } from "../engine.ts";
import { ENV_CRASH_DIR, ENV_SPEC, loadTarget, saveFinding, type TargetSpec } from "./target.ts";

const spec = JSON.parse(process.env[ENV_SPEC] ?? "{}") as TargetSpec;
const crashDir: string = process.env[ENV_CRASH_DIR] ?? "";
if (crashDir === "") throw new Error(`${ENV_CRASH_DIR} is not set: run fuzz/jazzer/run.ts`);
const target = await loadTarget(spec);

/** A failure that Jazzer reports: the target's failure message, and the stack where it was raised. */
class PropertyFinding extends Error {
  constructor(message: string, stack: string) {
    super(message);
    this.name = "PropertyFinding";
    this.stack = `${this.name}: ${message}\n${stack}`;
  }
}

export async function fuzz(data: Buffer): Promise<void> {
  const input = data.length > target.maxLength ? data.subarray(0, target.maxLength) : data;
  const { failure } = await runOne(target, Buffer.from(input));
  if (!failure) return;
  const path = await saveFinding(crashDir, failure);
  throw new PropertyFinding(`${failure.kind}: ${failure.message}\n  reproducer: ${path}`, failure.stack);
}
