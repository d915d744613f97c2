// Reading manifests as kubectl would: multi-document YAML or JSON, `-` for
// stdin, a directory's .yaml/.yml/.json files (not recursive, as `kubectl
// apply -f dir/` without -R), List objects flattened.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { LineCounter, parseAllDocuments } from "yaml";
import { isRecord, type KubeObject } from "../types/kube.ts";
import { objectMetaProblem } from "../wire/object-meta.ts";
import { describeFileError } from "../file-errors.ts";
import { InputError } from "../errors.ts";

export interface Manifest {
  file: string;
  object: KubeObject;
}

async function readSource(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    if (file === "-") {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      bytes = Buffer.concat(chunks);
    } else {
      bytes = await readFile(file);
    }
  } catch (err) {
    throw new InputError(`${file}: cannot read: ${describeFileError(err)}`);
  }
  // YAML and JSON are UTF-8 text: a NUL byte or a byte that is not UTF-8 means
  // an archive, an image or a key was given, and its bytes would otherwise
  // come back as an odd "string" document.
  const at = bytes.indexOf(0);
  const text = bytes.toString("utf8");
  if (at >= 0 || text.includes("\uFFFD")) {
    throw new InputError(`${file}: binary data (${at >= 0 ? `a NUL byte at offset ${String(at)}` : "bytes that are not UTF-8"}), not YAML or JSON text`);
  }
  return text;
}

/** What a value is, for "document 1 is a string, not ...". */
export function kindOfValue(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  return typeof value === "object" ? "a mapping" : `a ${typeof value}`;
}

function flatten(object: Record<string, unknown>, where: string, out: Manifest[], file: string): void {
  if (typeof object.kind === "string" && object.kind.endsWith("List") && Array.isArray(object.items)) {
    for (const [i, item] of (object.items as unknown[]).entries()) {
      if (!isRecord(item)) throw new InputError(`${where}: items[${String(i)}] of the ${object.kind} is ${kindOfValue(item)}, not a Kubernetes object`);
      flatten(item, `${where}, items[${String(i)}]`, out, file);
    }
    return;
  }
  if (typeof object.apiVersion !== "string" || typeof object.kind !== "string") {
    const missing = [typeof object.apiVersion !== "string" ? "apiVersion" : "", typeof object.kind !== "string" ? "kind" : ""].filter(Boolean).join(" and ");
    throw new InputError(`${where} has no ${missing}: not a Kubernetes object`);
  }
  // As kubectl: "cannot unmarshal array into … metadata.namespace of type string".
  const problem = objectMetaProblem(object.metadata);
  if (problem !== undefined) throw new InputError(`${where}: ${problem}`);
  out.push({ file, object: object });
}

export interface Document {
  /** "FILE: document N (line L)", for messages */
  where: string;
  value: unknown;
}

/** The documents of a multi-document YAML or JSON text, empty ones left out; a syntax error names the document and its line. */
export function parseDocuments(text: string, file: string): Document[] {
  const out: Document[] = [];
  const lines = new LineCounter();
  const parse = () => parseAllDocuments(text, { prettyErrors: false, lineCounter: lines });
  let docs: ReturnType<typeof parse>;
  try {
    docs = parse();
  } catch (err) {
    // The parser reports syntax in doc.errors; what it throws is its own stack
    // running out on nesting thousands of levels deep (a RangeError).
    throw new InputError(`${file}: not YAML or JSON this reader can take: ${(err instanceof Error ? err.message : String(err)).split("\n")[0] ?? ""} (nested too deeply?)`);
  }
  for (const [index, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    const error = doc.errors[0];
    if (error) {
      const line = error.linePos?.[0].line ?? lines.linePos(error.pos[0]).line;
      throw new InputError(`${file}: document ${index + 1}${line ? ` (line ${line})` : ""} is not valid YAML or JSON: ${error.message.split("\n")[0] ?? ""}`);
    }
    const start = doc.contents?.range[0];
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (err) {
      // An alias to an anchor not yet set, or more aliases than the parser
      // expands (a billion-laughs document): yaml throws a ReferenceError.
      const line = start !== undefined ? ` (line ${lines.linePos(start).line})` : "";
      throw new InputError(`${file}: document ${index + 1}${line} is not valid YAML: ${(err instanceof Error ? err.message : String(err)).split("\n")[0] ?? ""}`);
    }
    if (value === null || value === undefined) continue;
    out.push({ where: `${file}: document ${index + 1}${start !== undefined ? ` (line ${lines.linePos(start).line})` : ""}`, value });
  }
  return out;
}

export function parseManifests(text: string, file: string): Manifest[] {
  const out: Manifest[] = [];
  for (const { where, value } of parseDocuments(text, file)) {
    if (!isRecord(value)) throw new InputError(`${where} is ${kindOfValue(value)}, not a Kubernetes object (a mapping with apiVersion and kind)`);
    flatten(value, where, out, file);
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
  const entries = await readdir(file, { withFileTypes: true }).catch((err: unknown) => {
    throw new InputError(`${file}: cannot read the directory: ${describeFileError(err)}`);
  });
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
