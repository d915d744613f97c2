// glob.quote_meta as OPA answers it (gobwas/glob QuoteMeta): a backslash
// before each of * ? \ [ ] { }.
import { stringOperand, type RegoBuiltin } from "./operands.ts";

export const GLOB_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "glob.quote_meta": (x) => stringOperand("glob.quote_meta", x, 1).replace(/[*?\\[\]{}]/g, "\\$&"),
};
