#!/usr/bin/env node
// Runs the compiled CLI when the package was built (npm pack, container
// image), and the TypeScript sources directly otherwise: Node >= 24 strips
// types natively, so a fresh clone needs no build step.
import { existsSync } from "node:fs";
import { registerHooks } from "node:module";

// A reader that stops early (`agentgate capabilities | head`) closes the
// pipe: that ends the output, quietly, as it does for other tools.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}

// In a checkout (src/ present) the sources run, even after `npm run build`:
// a dist/ left from an earlier build would otherwise run stale code behind
// every edit, and the tests that spawn this file would test it.
// AGENTGATE_COMPILED=1 asks for dist/ there too.
const compiled = new URL("../dist/cli/main.js", import.meta.url);
const sources = new URL("../src/cli/main.ts", import.meta.url);
const useCompiled = existsSync(compiled) && (!existsSync(sources) || process.env.AGENTGATE_COMPILED === "1");
if (useCompiled) {
  // The workspace package @agentgate/opa-host serves its TypeScript by
  // default, so a clone runs and tests it unbuilt; its "agentgate-compiled"
  // condition serves its dist/. The compiled CLI asks for that, so the image
  // and an installed package run no TypeScript (Node refuses to strip types
  // under node_modules, and the stripper alone costs ~25 MB of RSS).
  registerHooks({ resolve: (specifier, context, next) => next(specifier, { ...context, conditions: [...context.conditions, "agentgate-compiled"] }) });
}
const entry = useCompiled ? compiled : sources;
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
