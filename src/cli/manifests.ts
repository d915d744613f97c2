// Reading manifests as kubectl would: multi-document YAML or JSON, `-` for
// stdin, List objects flattened.
import { readFile } from "node:fs/promises";
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

export async function readManifests(files: readonly string[]): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const file of files) out.push(...parseManifests(await readSource(file), file));
  return out;
}

export async function readText(file: string): Promise<string> {
  return readSource(file);
}
