// The Rego-value reader (parseRegoValue): the text opa_value_dump gives for
// every value a host builtin takes and every entrypoint answers.
import { isDeepStrictEqual } from "node:util";
import { MAX_VALUE_DEPTH, RegoNumber, RegoObject, RegoSet, RegoValueError, compareValues, formatTerm, goJson, parseRegoValue, serializeRegoValue, type RegoValue } from "@agentgate/opa-host/values";
import { PropertyViolation, jsonMutator, type FuzzTarget } from "./engine.ts";

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/;

/** The JSON value a Rego value that came from JSON text stands for (later duplicate keys win, as in JSON.parse). */
function toPlain(v: RegoValue): unknown {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (v instanceof RegoNumber) return Number(v.text);
  if (v instanceof RegoSet) return { set: v.items.map(toPlain) };
  if (v instanceof RegoObject) return Object.fromEntries(v.entries.map(([k, x]) => [typeof k === "string" ? k : serializeRegoValue(k), toPlain(x)]));
  return v.map(toPlain);
}

/** Where two JSON values first differ, for the violation's message. */
function firstDifference(a: unknown, b: unknown, path = "$"): string {
  if (isDeepStrictEqual(a, b)) return "no difference found";
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const x: unknown = (a as Record<string, unknown>)[key];
      const y: unknown = (b as Record<string, unknown>)[key];
      if (!isDeepStrictEqual(x, y)) return firstDifference(x, y, `${path}[${JSON.stringify(key)}]`);
    }
    return `${path}: ${Object.prototype.toString.call(a)} vs ${Object.prototype.toString.call(b)}, prototypes ${Object.getPrototypeOf(a) === Object.getPrototypeOf(b) ? "equal" : "differ"}`;
  }
  return `${path}: ${String(a)} (${typeof a}${Object.is(a, -0) ? ", -0" : ""}) vs ${String(b)} (${typeof b}${Object.is(b, -0) ? ", -0" : ""})`;
}

function numbersAreJson(v: RegoValue): boolean {
  if (v instanceof RegoNumber) return JSON_NUMBER.test(v.text);
  if (v instanceof RegoObject) return v.entries.every(([k, x]) => numbersAreJson(k) && numbersAreJson(x));
  if (v instanceof RegoSet) return v.items.every(numbersAreJson);
  if (Array.isArray(v)) return (v as readonly RegoValue[]).every(numbersAreJson);
  return true;
}

function shape(v: RegoValue): string {
  if (v instanceof RegoObject) return `object(${Math.min(v.entries.length, 3)})`;
  if (v instanceof RegoSet) return `set(${Math.min(v.items.length, 3)})`;
  if (Array.isArray(v)) return `array(${Math.min(v.length, 3)})`;
  return v instanceof RegoNumber ? "number" : typeof v;
}

export const DICTIONARY = ["set()", "{", "}", "[", "]", ",", ":", '"', '\\"', "\\u00e9", "\\ud83d\\ude00", "\\x", "\\", "null", "true", "false", "-0", "1.50", "1e400", "12345678901234567890", '"a":', "{1, 2}", '{"a": set()}', "[[", "]]", " ", "\n"];

export function create(): Promise<FuzzTarget> {
  return Promise.resolve({
    name: "rego-value",
    property:
      "parseRegoValue returns a value or throws RegoValueError; a value serialises to text that parses back to an equal value (same text again); formatTerm never throws; json.marshal of a value with JSON numbers is JSON; any JSON text parses and agrees with JSON.parse",
    maxLength: 4 * 1024,
    dictionary: DICTIONARY,
    mutate: jsonMutator(["a", "b", "", "set()", "x\u0000y"]),
    run(input: Buffer): string {
      const text = input.toString("utf8");
      let json: unknown;
      let isJson = true;
      try {
        json = JSON.parse(text);
      } catch {
        isJson = false;
      }
      let value: RegoValue;
      try {
        value = parseRegoValue(text);
      } catch (err) {
        if (!(err instanceof RegoValueError)) throw err;
        if (isJson && !err.message.includes(`nested deeper than ${MAX_VALUE_DEPTH} levels`)) throw new PropertyViolation(`valid JSON refused: ${err.message}`);
        return `refused ${err.message.replace(/^rego value at offset \d+: /, "").replace(/ in .*$/s, "")}`;
      }
      const text2 = serializeRegoValue(value);
      let again: RegoValue;
      try {
        again = parseRegoValue(text2);
      } catch (err) {
        throw new PropertyViolation(`the serialised value does not parse back: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (serializeRegoValue(again) !== text2) throw new PropertyViolation("serialise ∘ parse is not stable");
      if (compareValues(value, again) !== 0) throw new PropertyViolation("the value read back compares unequal to the value");
      formatTerm(value);
      if (numbersAreJson(value)) {
        const marshalled = goJson(value);
        try {
          JSON.parse(marshalled);
        } catch {
          throw new PropertyViolation(`json.marshal gave text that is not JSON: ${marshalled.slice(0, 80)}`);
        }
      }
      if (isJson) {
        const plain = toPlain(value);
        if (!isDeepStrictEqual(plain, json)) {
          const again = isDeepStrictEqual(toPlain(parseRegoValue(text)), JSON.parse(text));
          throw new PropertyViolation(`a JSON text read as a Rego value differs from JSON.parse's reading (${firstDifference(plain, json)}; compared again: ${again ? "equal" : "different"})`);
        }
      }
      return `${isJson ? "json" : "rego"} ${shape(value)}`;
    },
  });
}
