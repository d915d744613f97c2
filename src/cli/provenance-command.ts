// `agentgate provenance`: its subcommands' flags and help. What verify runs
// (provenance-verify.ts) is imported only when it runs (src/cli/main.ts
// says why).
import type { Command } from "commander";
import type { Io } from "./review.ts";

export function registerProvenanceCommands(program: Command, io: Io, setExit: (code: number) => void): void {
  const provenance = program.command("provenance").description("check the signed provenance of agent runs");
  provenance
    .command("verify <file>")
    .description("verify a DSSE envelope, or an AgentRun's status.provenance, against a public key (- reads stdin)")
    .requiredOption("--key <public.pem>", "PEM public key (ECDSA P-256)")
    .action(async (file: string, opts: { key: string }) => {
      const { runProvenanceVerify } = await import("./provenance-verify.ts");
      setExit(await runProvenanceVerify(file, opts, io));
    });
}
