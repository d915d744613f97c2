// How the policy config's schema and a refused value are put into words:
// what was expected ("an integer ≥ 1"), what was found, and the nearest
// known key for a misspelling, so a refusal reads as one line a platform
// engineer can act on (config-schema.ts decides what is refused).
import { isRecord } from "../types/kube.ts";

type Schema = Record<string, unknown>;

/** A key the schema lists as removed (`not: {}`), kept only to say so. */
export function isRemoved(schema: unknown): boolean {
  return isRecord(schema) && isRecord(schema.not) && Object.keys(schema.not).length === 0;
}

export function knownKeys(schema: Schema): string[] {
  const properties = isRecord(schema.properties) ? schema.properties : {};
  return Object.keys(properties).filter((k) => !isRemoved(properties[k]));
}

/** The option a misspelling most likely meant: same letters in another case, a typo or two, or a prefix ("warning" → warn). */
export function closest(word: string, options: readonly string[], prefixes = false): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const option of options) {
    const o = option.toLowerCase();
    const d = o === w ? 0 : prefixes && (w.startsWith(o) || o.startsWith(w)) ? 1 : editDistance(w, o);
    if (d < bestDistance) {
      best = option;
      bestDistance = d;
    }
  }
  const allowed = w.length > 5 ? 2 : 1;
  return bestDistance <= allowed ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

const DURATION = 'a duration greater than 0 such as "15m" or "1h30m" (units ns, us, ms, s, m, h, d, w, y)';

/** What a schema admits, in words. */
export function expected(schema: unknown): string {
  if (!isRecord(schema)) return "a valid value";
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(", ")}`;
  if (typeof schema.description === "string") return schema.description;
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const types = Array.isArray(schema.type) ? schema.type : [schema.type ?? impliedType(schema)];
  const words = types.map((t) => typeWords(schema, t)).filter((w) => w !== undefined);
  return words.length > 0 ? words.join(" or ") : "a valid value";
}

/** The type a schema without "type" speaks of, from its keywords (a team's {"minimum": 10}). */
function impliedType(schema: Schema): string | undefined {
  if (["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"].some((k) => k in schema)) return "number";
  if (["pattern", "minLength", "maxLength", "format"].some((k) => k in schema)) return "string";
  if (["items", "minItems", "maxItems"].some((k) => k in schema)) return "array";
  if (["properties", "additionalProperties", "required"].some((k) => k in schema)) return "object";
  return undefined;
}

function bounds(schema: Schema): string {
  const { minimum, maximum, exclusiveMinimum } = schema;
  if (typeof minimum === "number" && typeof maximum === "number") return ` from ${String(minimum)} to ${String(maximum)}`;
  if (typeof minimum === "number") return ` ≥ ${String(minimum)}`;
  if (typeof exclusiveMinimum === "number") return ` > ${String(exclusiveMinimum)}`;
  if (typeof maximum === "number") return ` ≤ ${String(maximum)}`;
  return "";
}

function typeWords(schema: Schema, type: unknown): string | undefined {
  switch (type) {
    case "integer":
      return `an integer${bounds(schema)}`;
    case "number":
      return `a number${bounds(schema)}`;
    case "boolean":
      return "true or false";
    case "null":
      return "null";
    case "string":
      if (schema.format === "go-duration") return DURATION;
      if (schema.format === "re2") return "a regular expression in RE2 syntax (Go's regexp, as Rego's regex.match reads it)";
      if (typeof schema.pattern === "string") return `a string matching ${schema.pattern}`;
      return typeof schema.minLength === "number" && schema.minLength > 0 ? "a non-empty string" : "a string";
    case "array": {
      const list = typeof schema.minItems === "number" && schema.minItems > 0 ? "a non-empty list" : "a list";
      return schema.items === undefined ? list : `${list}, each ${expected(schema.items)}`;
    }
    case "object": {
      if (isRecord(schema.properties)) {
        const required = Array.isArray(schema.required) ? schema.required : [];
        return `an object {${knownKeys(schema).map((k) => (required.includes(k) ? k : `${k}?`)).join(", ")}}`;
      }
      return isRecord(schema.additionalProperties) ? `an object of named values, each ${expected(schema.additionalProperties)}` : "an object";
    }
    default:
      return undefined;
  }
}

/** How a value of the wrong type most likely got there, and the fix. */
export function typeHint(schema: Schema, value: unknown): string {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (typeof value === "string" && (((types.includes("integer") || types.includes("number")) && /^-?\d+(\.\d+)?$/.test(value.trim())) || (types.includes("boolean") && /^(true|false)$/.test(value.trim())))) {
    return " — in Helm use --set, not --set-string";
  }
  if (typeof value === "number" && schema.format === "go-duration") return ` — a duration is a string with a unit, such as "${String(value)}s" or "${String(value)}m"`;
  if (typeof value === "string" && types.includes("array")) return ` — write a list, such as [${JSON.stringify(value)}]`;
  return "";
}

export function show(value: unknown): string {
  if (value === undefined) return "missing";
  // JSON has no text for a function (an inherited method): say so rather than the message writer throwing.
  const text = (JSON.stringify(value) as string | undefined) ?? `a ${typeof value}`;
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  if (typeof value === "object") return "an object";
  return typeof value === "string" ? "a string" : typeof value === "number" ? "a number" : typeof value === "boolean" ? "a boolean" : typeof value;
}
