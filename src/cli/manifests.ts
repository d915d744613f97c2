// Reading manifests as kubectl would: multi-document YAML or JSON, `-` for
// stdin, a directory's .yaml/.yml/.json files (not recursive, as `kubectl
// apply -f dir/` without -R), List objects flattened.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { LineCounter, parseAllDocuments } from "yaml";
import { isRecord, type KubeObject } from "../types/kube.ts";

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

export interface Manifest {
  file: string;
  object: KubeObject;
}

const READ_ERRORS: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EISDIR: "is a directory, not a file",
  ENOTDIR: "a part of the path is not a directory",
};

async function readSource(file: string): Promise<string> {
  try {
    if (file === "-") {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    }
    return await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code !== undefined ? READ_ERRORS[code] : undefined;
    throw new InputError(`${file}: cannot read: ${why !== undefined ? `${why} (${code ?? ""})` : (code ?? String(err))}`);
  }
}

function flatten(object: Record<string, unknown>, file: string, out: Manifest[]): void {
  if (typeof object.kind === "string" && object.kind.endsWith("List") && Array.isArray(object.items)) {
    for (const item of object.items as unknown[]) {
      if (isRecord(item)) flatten(item, file, out);
    }
    return;
  }
  if (typeof object.apiVersion !== "string" || typeof object.kind !== "string") {
    throw new InputError(`${file}: a document has no apiVersion or kind`);
  }
  out.push({ file, object: object });
}

export function parseManifests(text: string, file: string): Manifest[] {
  const out: Manifest[] = [];
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { prettyErrors: false, lineCounter: lines });
  for (const [index, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    const error = doc.errors[0];
    if (error) {
      const line = error.linePos?.[0].line ?? lines.linePos(error.pos[0]).line;
      throw new InputError(`${file}: document ${index + 1}${line ? ` (line ${line})` : ""} is not valid YAML or JSON: ${error.message.split("\n")[0] ?? ""}`);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isRecord(value)) throw new InputError(`${file}: document ${index + 1} is not a mapping`);
    flatten(value, file, out);
  }
  return out;
}

const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/i;

/** A directory stands for its manifest files, in name order, as kubectl reads them. */
async function expand(file: string): Promise<string[]> {
  if (file === "-") return [file];
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(file)).isDirectory();
  } catch {
    return [file]; // readSource names the problem
  }
  if (!isDirectory) return [file];
  const entries = await readdir(file, { withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && MANIFEST_EXTENSIONS.test(e.name)).map((e) => join(file, e.name)).sort();
  if (files.length === 0) throw new InputError(`${file}: directory holds no .yaml, .yml or .json file`);
  return files;
}

export async function readManifests(files: readonly string[]): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const given of files) {
    for (const file of await expand(given)) out.push(...parseManifests(await readSource(file), file));
  }
  return out;
}

export async function readText(file: string): Promise<string> {
  return readSource(file);
}
