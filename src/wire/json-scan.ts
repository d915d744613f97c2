// A byte-level pass over a JSON body that costs far less than parsing it:
// how many values it holds and how deep it nests, and the few strings of an
// AdmissionReview's envelope (uid, operation, kind, resource, namespace,
// name), so that a review too costly to parse can still be answered. It is
// not a validator: a body within the limits is parsed by JSON.parse, which
// refuses what this pass lets through.
//
// Why count values rather than bytes: the API server already caps bytes
// (3 MiB), but a 3 MiB body of `[],[],…` is a million values, and each value
// costs a JS object when parsed, another in the policy's wasm heap (which
// never shrinks), and time in every step between.

/** The envelope strings a refusal needs; each absent when the body lacks it or it is not a string. */
export interface ReviewEnvelope {
  apiVersion?: string;
  kind?: string;
  uid?: string;
  operation?: string;
  namespace?: string;
  name?: string;
  /** request.userInfo.username, for logs */
  username?: string;
  requestKind: { group?: string; version?: string; kind?: string };
  resource: { group?: string; version?: string; resource?: string };
}

export interface JsonScan {
  /** objects, arrays, strings, numbers, true, false and null, object keys not counted */
  values: number;
  /** deepest nesting of objects and arrays (a bare scalar is 0, `{}` is 1) */
  depth: number;
  envelope: ReviewEnvelope;
  /** why the body is not JSON, when the pass noticed; JSON.parse notices the rest */
  malformed?: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** the path element of an array's elements (the envelope wants nothing below an array) */
const IN_ARRAY = "\u0000[]";

/** characters of numbers and of true/false/null */
const isBare = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x45;

/** Index of the quote that closes the string whose opening quote is at `open`, or -1. */
function stringEnd(bytes: Uint8Array, open: number, buffer: Buffer): number {
  const n = bytes.length;
  let from = open + 1;
  // Most strings (keys, names) end sooner than a native search pays for its call.
  const near = Math.min(n, from + 48);
  while (from < near) {
    const c = bytes[from];
    if (c === QUOTE) return from;
    from += c === BACKSLASH ? 2 : 1;
  }
  for (;;) {
    const quote = buffer.indexOf(QUOTE, from);
    if (quote < 0) return -1;
    // A quote is escaped when an odd number of backslashes precede it.
    let slashes = 0;
    while (quote - 1 - slashes > open && bytes[quote - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

function decodeString(buffer: Buffer, open: number, close: number): string | undefined {
  const raw = buffer.toString("utf8", open, close + 1);
  if (!raw.includes("\\")) return raw.slice(1, -1);
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The envelope field a string at `path` (`length` keys from the top) fills, if any. */
function slotOf(path: readonly string[], length: number): ((envelope: ReviewEnvelope, value: string) => void) | undefined {
  const [a, b, c] = path;
  if (length === 1) {
    if (a === "apiVersion") return (e, v) => { e.apiVersion = v; };
    if (a === "kind") return (e, v) => { e.kind = v; };
    return undefined;
  }
  if (a !== "request") return undefined;
  if (length === 2) {
    if (b === "uid") return (e, v) => { e.uid = v; };
    if (b === "operation") return (e, v) => { e.operation = v; };
    if (b === "namespace") return (e, v) => { e.namespace = v; };
    if (b === "name") return (e, v) => { e.name = v; };
    return undefined;
  }
  if (b === "kind" && (c === "group" || c === "version" || c === "kind")) return (e, v) => { e.requestKind[c] = v; };
  if (b === "resource" && (c === "group" || c === "version" || c === "resource")) return (e, v) => { e.resource[c] = v; };
  if (b === "userInfo" && c === "username") return (e, v) => { e.username = v; };
  return undefined;
}

/** Every key on a path the envelope wants; any other key reads as "". */
const KEYS = ["apiVersion", "kind", "request", "uid", "operation", "namespace", "name", "resource", "userInfo", "group", "version", "username"] as const;
const KEY_BYTES = KEYS.map((k) => Buffer.from(k));

/**
 * The key between the quotes at `open` and `close`, if the envelope could
 * want it. Compared as bytes: decoding every key of a small review costs more
 * than the rest of the pass. A key with an escape is decoded, as JSON.parse would.
 */
function keyName(bytes: Uint8Array, buffer: Buffer, open: number, close: number): string {
  const from = open + 1;
  const length = close - from;
  for (let j = from; j < close; j++) if (bytes[j] === BACKSLASH) return decodeString(buffer, open, close) ?? "";
  for (let k = 0; k < KEYS.length; k++) {
    const key = KEY_BYTES[k] as Buffer;
    if (key.length !== length) continue;
    let j = 0;
    while (j < length && bytes[from + j] === key[j]) j++;
    if (j === length) return KEYS[k] as string;
  }
  return "";
}

/** One pass, O(length); strings are skipped with a native search for their closing quote. */
export function scanJson(body: Uint8Array): JsonScan {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const envelope: ReviewEnvelope = { requestKind: {}, resource: {} };
  // One byte per open container (1: object, 0: array), grown as needed.
  let stack = new Uint8Array(64);
  let level = 0;
  // The keys leading to the current position, kept for the first three
  // levels only: path[d] is the current key of the container at depth d+1.
  const path = ["", "", ""];
  let pathLength = 0;
  let values = 0;
  let depth = 0;
  let expectKey = false;
  let topDone = false;
  const result = (malformed?: string): JsonScan => ({ values, depth, envelope, ...(malformed === undefined ? {} : { malformed }) });
  const n = body.length;
  let i = 0;
  while (i < n) {
    const c = body[i] as number;
    switch (c) {
      case 0x20: case 0x0a: case 0x0d: case 0x09: case COLON:
        i++;
        continue;
      case COMMA:
        if (level === 0) return result(`unexpected , at byte ${i}`);
        expectKey = stack[level - 1] === 1;
        i++;
        continue;
      case OPEN_OBJECT:
      case OPEN_ARRAY:
        if (topDone) return result(`unexpected data after the top-level value at byte ${i}`);
        values++;
        if (level === stack.length) {
          const grown = new Uint8Array(stack.length * 2);
          grown.set(stack);
          stack = grown;
        }
        stack[level] = c === OPEN_OBJECT ? 1 : 0;
        // Array elements have no key: a path through an array names nothing the envelope wants.
        if (c === OPEN_ARRAY && level < 3) {
          path[level] = IN_ARRAY;
          pathLength = level + 1;
        }
        level++;
        if (level > depth) depth = level;
        expectKey = c === OPEN_OBJECT;
        i++;
        continue;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        if (level === 0 || stack[level - 1] !== (c === CLOSE_OBJECT ? 1 : 0)) return result(`unbalanced ${String.fromCharCode(c)} at byte ${i}`);
        level--;
        if (level < 3) pathLength = level;
        expectKey = false;
        if (level === 0) topDone = true;
        i++;
        continue;
      case QUOTE: {
        if (topDone) return result(`unexpected data after the top-level value at byte ${i}`);
        const close = stringEnd(body, i, buffer);
        if (close < 0) return result(`unterminated string from byte ${i}`);
        if (expectKey) {
          if (level <= 3) {
            path[level - 1] = keyName(body, buffer, i, close);
            pathLength = level;
          }
          expectKey = false;
        } else {
          values++;
          if (level <= 3 && level === pathLength && level > 0) {
            const slot = slotOf(path, level);
            const value = slot && decodeString(buffer, i, close);
            if (slot && value !== undefined) slot(envelope, value);
          }
          if (level === 0) topDone = true;
        }
        i = close + 1;
        continue;
      }
      default:
        if (topDone) return result(`unexpected data after the top-level value at byte ${i}`);
        if (!isBare(c)) return result(`unexpected character ${JSON.stringify(String.fromCharCode(c))} at byte ${i}`);
        values++;
        i++;
        while (i < n && isBare(body[i] as number)) i++;
        if (level === 0) topDone = true;
    }
  }
  if (level > 0) return result("unexpected end of JSON: a container is not closed");
  return result();
}
