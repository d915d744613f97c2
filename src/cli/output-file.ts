// -o names an output format on every command (kubectl's convention); where a
// command writes a file, --output-file names it. bundle build, bundle sign
// and capabilities took the file as -o until this release: that still works
// for one release, with a line saying what to write instead.
import type { Command } from "commander";
import { Option } from "commander";

export interface OutputFileFlags {
  outputFile?: string;
  /** -o/--output FILE of the release before, where -o was a file */
  output?: string;
}

/** Adds --output-file and the hidden, deprecated -o/--output FILE. */
export function addOutputFileFlags(command: Command, help: string): Command {
  return command
    .option("--output-file <file>", help)
    .addOption(new Option("-o, --output <file>", "deprecated: --output-file").hideHelp());
}

/** The file to write, and the deprecation line to print when it came from -o. */
export function outputFileOf(command: string, opts: OutputFileFlags): { file?: string; deprecation?: string } {
  if (opts.output === undefined) return opts.outputFile !== undefined ? { file: opts.outputFile } : {};
  return {
    file: opts.outputFile ?? opts.output,
    deprecation: `agentgate: ${command} -o FILE is deprecated: use --output-file ${opts.output} (-o names an output format on every command)`,
  };
}
