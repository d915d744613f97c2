// agentgate's version: package.json's, the one release tags and the image carry.
import { createRequire } from "node:module";

export const VERSION: string = (createRequire(import.meta.url)("../package.json") as { version: string }).version;
