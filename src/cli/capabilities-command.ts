// `agentgate capabilities`: its flags and help. What it runs
// (capabilities.ts) is imported only when it runs (src/cli/main.ts says why).
import type { Command } from "commander";
import type { Io } from "./review.ts";

export function registerCapabilitiesCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("capabilities")
    .description("print the OPA capabilities JSON of what agentgate evaluates (for opa check/build --capabilities)")
    .option("-o, --output <format>", "json, or yaml", "json")
    .option("--output-file <file>", "write it to a file instead of stdout")
    .action(async (opts: { output: string; outputFile?: string }) => {
      const { runCapabilities } = await import("./capabilities.ts");
      setExit(await runCapabilities(opts, io));
    });
}
