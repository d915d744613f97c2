// scanJson: the byte pass the webhook makes over every body before it is
// parsed, to refuse a review too costly to parse. Whatever it measures is
// what the limits are held to, so it is checked against JSON.parse.
import { isDeepStrictEqual } from "node:util";
import { isRecord } from "../src/types/kube.ts";
import { scanJson, type ReviewEnvelope } from "../src/wire/json-scan.ts";
import { MAX_VALUE_DEPTH, RegoObject, parseRegoValue, type RegoValue } from "@agentgate/opa-host/values";
import { PropertyViolation, jsonMutator, type FuzzTarget } from "./engine.ts";
import { REVIEW_DICTIONARY } from "./admission-seeds.ts";

/** Values (keys not counted) and depth of a JSON text as written, duplicate keys included. */
function measure(v: RegoValue): { values: number; depth: number } {
  let values = 1;
  let depth = 0;
  const children: RegoValue[] = v instanceof RegoObject ? v.entries.map(([, x]) => x) : Array.isArray(v) ? [...(v as readonly RegoValue[])] : [];
  if (v instanceof RegoObject || Array.isArray(v)) depth = 1;
  for (const child of children) {
    const m = measure(child);
    values += m.values;
    depth = Math.max(depth, m.depth + 1);
  }
  return { values, depth };
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const at = (v: unknown, ...path: string[]): unknown => path.reduce<unknown>((node, key) => (isRecord(node) ? node[key] : undefined), v);

/** The envelope JSON.parse's reading gives. */
function envelopeOf(parsed: unknown): ReviewEnvelope {
  const pick = (...path: string[]): string | undefined => str(at(parsed, ...path));
  const e: ReviewEnvelope = { requestKind: {}, resource: {} };
  const set = <K extends keyof ReviewEnvelope>(key: K, value: ReviewEnvelope[K] | undefined): void => {
    if (value !== undefined) e[key] = value;
  };
  set("apiVersion", pick("apiVersion"));
  set("kind", pick("kind"));
  set("uid", pick("request", "uid"));
  set("operation", pick("request", "operation"));
  set("namespace", pick("request", "namespace"));
  set("name", pick("request", "name"));
  set("username", pick("request", "userInfo", "username"));
  for (const k of ["group", "version", "kind"] as const) {
    const v = pick("request", "kind", k);
    if (v !== undefined) e.requestKind[k] = v;
  }
  for (const k of ["group", "version", "resource"] as const) {
    const v = pick("request", "resource", k);
    if (v !== undefined) e.resource[k] = v;
  }
  return e;
}

export function create(): Promise<FuzzTarget> {
  return Promise.resolve({
    name: "json-scan",
    property:
      "scanJson never throws and never calls valid JSON malformed; on valid JSON it counts exactly the values and depth written, and (without duplicate keys) reads the envelope JSON.parse reads",
    maxLength: 4 * 1024,
    dictionary: REVIEW_DICTIONARY,
    mutate: jsonMutator(REVIEW_DICTIONARY),
    run(input: Buffer): string {
      const scan = scanJson(input);
      let parsed: unknown;
      try {
        parsed = JSON.parse(input.toString("utf8"));
      } catch {
        return `not JSON${scan.malformed !== undefined ? `, scan: ${scan.malformed.replace(/ at byte \d+| from byte \d+/, "")}` : ", scan saw nothing"}`;
      }
      if (scan.malformed !== undefined) throw new PropertyViolation(`valid JSON called malformed: ${scan.malformed}`);
      if (scan.depth > MAX_VALUE_DEPTH) return "JSON nested too deep to measure";
      // JSON.parse drops duplicate keys; the Rego reader keeps every one, as the scan counts them.
      const written = measure(parseRegoValue(input.toString("utf8")));
      if (scan.values !== written.values) throw new PropertyViolation(`scan counted ${scan.values} values, the text has ${written.values}`);
      if (scan.depth !== written.depth) throw new PropertyViolation(`scan measured depth ${scan.depth}, the text nests ${written.depth}`);
      const plain = JSON.stringify(parsed);
      const duplicates = measure(parseRegoValue(plain)).values !== written.values;
      if (!duplicates) {
        const expected = envelopeOf(parsed);
        if (!isDeepStrictEqual(scan.envelope, expected)) {
          throw new PropertyViolation(`envelope ${JSON.stringify(scan.envelope)} differs from JSON.parse's ${JSON.stringify(expected)}`);
        }
      }
      return `JSON ${isRecord(parsed) ? "object" : Array.isArray(parsed) ? "array" : typeof parsed}${scan.envelope.uid !== undefined ? " with uid" : ""}${duplicates ? " dup" : ""}`;
    },
  });
}
