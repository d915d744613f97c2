// Imported first by entry.ts, before any instrumented module runs: Jazzer.js
// registers the source map of each module it instruments by file path, but
// an ES module's stack frames name it by file: URL, so its stacks would show
// the instrumented code's lines. Registering each map under the URL too puts
// the stacks of findings back on the lines of the .ts files.
import { pathToFileURL } from "node:url";

type Register = (filename: string, map: unknown) => void;
const g = globalThis as { __jazzer_registerSourceMap?: Register };
const register = g.__jazzer_registerSourceMap;
if (register !== undefined) {
  g.__jazzer_registerSourceMap = (filename, map) => {
    register(filename, map);
    if (filename.startsWith("/")) register(pathToFileURL(filename).href, map);
  };
}
