// `agentgate version` and `agentgate --version`: which agentgate this is, and
// which default bundle it embeds (what a bug report needs first).
import type { Command } from "commander";
import { readBundle } from "../policy/bundle.ts";
import { DEFAULT_BUNDLE_PATH } from "../policy/load.ts";
import type { Io } from "./review.ts";

import { VERSION } from "../version.ts";

export function registerVersionCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program.version(VERSION, "--version", "print agentgate's version");
  program
    .command("version")
    .description("print agentgate's version, the embedded default bundle's revision and digest, and the Node.js it runs on")
    .action(async () => {
      const bundle = await readBundle(DEFAULT_BUNDLE_PATH, "default").catch(() => undefined);
      io.out(`agentgate ${VERSION}`);
      io.out(`default bundle: ${bundle ? `${bundle.revision} (${bundle.digest})` : "not found"}`);
      io.out(`node: ${process.version}`);
      setExit(0);
    });
}
