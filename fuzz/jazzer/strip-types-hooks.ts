// A module load hook that hands TypeScript on as JavaScript with its types
// stripped, the way Node runs it. Jazzer.js's ESM hook instruments only
// modules of format "module" and leaves "module-typescript" (what Node's
// type stripping loads a .ts file as) alone; it runs before this hook (the
// later registered runs first) and gets the stripped text from it.
// Stripping keeps every line and column, so stacks point into the .ts files.
import { stripTypeScriptTypes, type LoadHook } from "node:module";

export const load: LoadHook = async (url, context, nextLoad) => {
  const result = await nextLoad(url, context);
  if (result.format !== "module-typescript" || result.source === undefined) return result;
  const source = typeof result.source === "string" ? result.source : Buffer.from(result.source as Uint8Array).toString("utf8");
  return { ...result, format: "module", source: stripTypeScriptTypes(source, { mode: "strip", sourceUrl: url }) };
};
