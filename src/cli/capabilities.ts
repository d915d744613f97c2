// `agentgate capabilities`: the OPA capabilities of this gateway, for
// `opa check|build --capabilities` and linters while a bundle is written.
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { agentgateCapabilities, type Capabilities } from "../policy/builtins/capabilities.ts";
import { InputError } from "./manifests.ts";
import { runOpa } from "./opa.ts";
import type { Io } from "./review.ts";

/** `opa capabilities --current` of the opa that builds bundles, narrowed to what agentgate evaluates. */
export async function currentCapabilities(): Promise<Capabilities> {
  const { stdout } = await runOpa(["capabilities", "--current"]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch (err) {
    throw new InputError(`opa capabilities --current printed no JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return agentgateCapabilities(parsed);
}

export function registerCapabilitiesCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("capabilities")
    .description("print the OPA capabilities JSON of what agentgate evaluates (for opa check/build --capabilities)")
    .option("-o, --output <file>", "write it to a file instead of stdout")
    .action(async (opts: { output?: string }) => {
      const text = `${JSON.stringify(await currentCapabilities(), null, 2)}\n`;
      if (opts.output === undefined) io.out(text.trimEnd());
      else {
        await writeFile(opts.output, text).catch((err: unknown) => {
          throw new InputError(`cannot write ${opts.output ?? ""}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        });
      }
      setExit(0);
    });
}
