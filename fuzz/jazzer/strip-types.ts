// Preloaded (node --import) into the process Jazzer.js fuzzes in: registers
// strip-types-hooks.ts before Jazzer.js registers its own ESM hooks, so that
// agentgate's TypeScript reaches Jazzer's instrumentation as JavaScript.
import { register } from "node:module";

// Not module.registerHooks(): hooks registered so run in this thread, after
// the loader thread's hooks of module.register(), where Jazzer.js's are; there
// Jazzer would see the TypeScript and leave it uninstrumented.
// eslint-disable-next-line @typescript-eslint/no-deprecated
register("./strip-types-hooks.ts", import.meta.url);
