// The process Jazzer.js fuzzes one target in, started by run.ts as
// `node --import strip-types.ts child.ts` with the options in its
// environment. It loads no target code itself: entry.ts does, once
// Jazzer's instrumentation is in place.
import { fileURLToPath } from "node:url";
import { OptionSource, OptionsManager, startFuzzing } from "@jazzer.js/core";
import { ENV_OPTIONS } from "./target.ts";

export interface ChildOptions {
  /** libFuzzer's arguments: corpus directories, then flags */
  fuzzerOptions: string[];
  /** per input, in ms (libFuzzer's -timeout, rounded up to seconds) */
  timeout: number;
  /** path parts of the files to instrument, and of those not to */
  includes: string[];
  excludes: string[];
}

const opts = JSON.parse(process.env[ENV_OPTIONS] ?? "null") as ChildOptions | null;
if (opts === null) throw new Error(`${ENV_OPTIONS} is not set: run fuzz/jazzer/run.ts`);
const options = new OptionsManager(OptionSource.DefaultCLIOptions).merge(
  {
    fuzzTarget: fileURLToPath(new URL("./entry.ts", import.meta.url)),
    fuzzEntryPoint: "fuzz",
    fuzzerOptions: opts.fuzzerOptions,
    timeout: opts.timeout,
    includes: opts.includes,
    excludes: opts.excludes,
    sync: false,
    // Jazzer's remote-code-execution detector reports any code given to
    // Function or eval that contains its canary; ajv compiles every schema
    // into a function with `new Function`, with the schema's property names
    // as quoted string literals, so a bundle whose config schema names the
    // canary is reported (bundle-archive finds one in seconds). agentgate's
    // own code has no eval or Function; the other detectors stay on.
    disableBugDetectors: ["remote-code-execution"],
  },
  OptionSource.CommandLineArguments,
);
const { returnCode } = await startFuzzing(options);
process.exit(returnCode);
