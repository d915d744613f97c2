// Just enough of the ustar format for the bundle target to take an archive
// apart, change one file, and put it back together: the mutations that
// reach past tar's header checksums and into .manifest, data.json and
// .signatures.json. The archive reader under test is node-tar, not this.

export interface TarEntry {
  name: string;
  /** "0" a file, "5" a directory, "2" a symlink, anything else as it was */
  type: string;
  content: Buffer;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function header(entry: TarEntry): Buffer {
  const h = Buffer.alloc(BLOCK);
  let name = entry.name;
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", 155);
    if (cut > 0) {
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    }
  }
  h.write(name.slice(0, 100), 0, 100, "utf8");
  h.write(octal(0o644, 8), 100, "latin1");
  h.write(octal(0, 8), 108, "latin1");
  h.write(octal(0, 8), 116, "latin1");
  h.write(octal(entry.content.length, 12), 124, "latin1");
  h.write(octal(0, 12), 136, "latin1");
  h.write("        ", 148, "latin1");
  h.write(entry.type.slice(0, 1) || "0", 156, "latin1");
  h.write("ustar\u000000", 257, "latin1");
  h.write(prefix.slice(0, 155), 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return h;
}

export function packTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(header(e), e.content);
    const pad = (BLOCK - (e.content.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function field(block: Buffer, at: number, width: number): string {
  const raw = block.subarray(at, at + width);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? width : nul).toString("utf8");
}

/** The entries of an uncompressed ustar archive, as far as it reads; undefined when it does not start like one. */
export function unpackTar(archive: Buffer): TarEntry[] | undefined {
  const entries: TarEntry[] = [];
  let at = 0;
  while (at + BLOCK <= archive.length) {
    const block = archive.subarray(at, at + BLOCK);
    if (block.every((b) => b === 0)) break;
    const size = parseInt(field(block, 124, 12).trim() || "0", 8);
    if (!Number.isFinite(size) || size < 0) return entries.length > 0 ? entries : undefined;
    const prefix = field(block, 345, 155);
    const name = field(block, 0, 100);
    entries.push({ name: prefix ? `${prefix}/${name}` : name, type: field(block, 156, 1) || "0", content: Buffer.from(archive.subarray(at + BLOCK, at + BLOCK + size)) });
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return entries.length > 0 ? entries : undefined;
}
