// The policy config's schema: data.agentgate.config_schema, shipped in the
// bundle beside the data.agentgate.config it describes, so a team's own
// bundle can ship its own (or none: its config is then not checked). A
// config that does not match is refused where --policy-config is merged into
// the bundle's data (engine.ts: bundleData), so serve, audit, review and
// bundle check refuse the same configs with the same one-line message.
// Without this a misspelt key, a limit written as a string ("500000", as
// `helm --set-string` renders it) or a timeout without a unit would turn a
// rule off without a word. The schema is compiled once per bundle version;
// nothing here runs per request.
import { GoRegexp, parseExtendedDurationNs } from "@agentgate/opa-host";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { isRecord } from "../types/kube.ts";
import { BundleError, type Bundle } from "./bundle.ts";
import { mergeOverride } from "./merge.ts";
import { AgentgateError } from "../errors.ts";
import { closest, expected, isRemoved, kindOf, knownKeys, show, typeHint } from "./config-words.ts";

/** data.agentgate.<SCHEMA_KEY> is the JSON Schema (draft-07) of data.agentgate.config. */
export const SCHEMA_KEY = "config_schema";

/** Problems listed in one message; the rest are counted. */
const MAX_PROBLEMS = 8;

/** A policy config that does not match its bundle's schema, with every problem found. */
export class PolicyConfigError extends AgentgateError {
  readonly bundle: string;
  readonly problems: readonly string[];
  constructor(bundle: string, problems: readonly string[]) {
    const shown = problems.slice(0, MAX_PROBLEMS);
    const more = problems.length - shown.length;
    super("policy", `policy config${bundle === "default" ? "" : ` (bundle "${bundle}")`}: ${shown.join("; ")}${more > 0 ? `; and ${String(more)} more` : ""}`);
    this.name = "PolicyConfigError";
    this.bundle = bundle;
    this.problems = problems;
  }
}

type Schema = Record<string, unknown>;

export interface CompiledConfigSchema {
  readonly schema: Schema;
  readonly validate: ValidateFunction;
  /** every key the schema names, by name: where it belongs ("models.maxTokensPerCall"), for "did you mean" */
  readonly keyPaths: ReadonlyMap<string, readonly string[]>;
}

/** OPA's durations (Go's, with d, w and y) that are greater than 0, as the rules compare them; written without a sign. */
/** Whether Rego's regex.match (Go's regexp, RE2 syntax) can compile the pattern: a rule would otherwise fail on every input. */
export function isRe2(value: string): boolean {
  try {
    GoRegexp.compile(value);
    return true;
  } catch {
    return false;
  }
}

export function isPositiveDuration(value: string): boolean {
  if (value.startsWith("+") || value.startsWith("-")) return false;
  try {
    return parseExtendedDurationNs(value) > 0n;
  } catch {
    return false;
  }
}

/** Keyed by the schema object of a loaded bundle: a swap of another bundle does not compile it again. */
const compiled = new WeakMap<object, CompiledConfigSchema>();

/** Compiles a bundle's config schema (once per schema object); a schema that cannot be compiled refuses the bundle. */
export function compileConfigSchema(schema: unknown, bundle: string): CompiledConfigSchema {
  if (!isRecord(schema)) throw new BundleError(bundle, `data.agentgate.${SCHEMA_KEY} must be a JSON Schema object, got ${kindOf(schema)}`);
  const cached = compiled.get(schema);
  if (cached) return cached;
  // An Ajv of its own per schema: Ajv keeps every schema it compiled, and
  // bundle versions come and go for as long as the gateway runs.
  // ownProperties: a config is JSON or YAML data; a schema key named "constructor" or "toString" is not Object.prototype's method.
  const ajv = new Ajv({ allErrors: true, verbose: true, strictSchema: true, strictTypes: false, strictTuples: false, strictRequired: false, allowUnionTypes: true, ownProperties: true, logger: false });
  ajv.addFormat("go-duration", { type: "string", validate: isPositiveDuration });
  ajv.addFormat("re2", { type: "string", validate: isRe2 });
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    throw new BundleError(bundle, `data.agentgate.${SCHEMA_KEY} is not a JSON Schema (draft-07) this gateway can use: ${err instanceof Error ? err.message : String(err)}`);
  }
  const keyPaths = new Map<string, string[]>();
  indexKeys(schema, "", keyPaths);
  const result = { schema, validate, keyPaths };
  compiled.set(schema, result);
  return result;
}

function agentgateOf(data: Record<string, unknown>): Record<string, unknown> | undefined {
  return isRecord(data.agentgate) ? data.agentgate : undefined;
}

/** Whether a bundle's data ships data.agentgate.config_schema. */
export function hasConfigSchema(data: Record<string, unknown>): boolean {
  return agentgateOf(data)?.[SCHEMA_KEY] !== undefined;
}

/** Whether a bundle's data (with any override merged) holds a data.agentgate.config. */
export function hasConfig(data: Record<string, unknown>): boolean {
  return agentgateOf(data)?.config !== undefined;
}

/**
 * Checks data.agentgate.config (the bundle's data with the override merged)
 * against the bundle's data.agentgate.config_schema. Returns false when the
 * bundle ships no schema (nothing is checked); throws PolicyConfigError
 * naming every problem, or BundleError for a schema that cannot be compiled.
 */
export function checkPolicyConfig(bundle: Pick<Bundle, "name">, data: Record<string, unknown>): boolean {
  const agentgate = agentgateOf(data);
  const schema = agentgate?.[SCHEMA_KEY];
  if (schema === undefined) return false;
  const problems = configProblems(compileConfigSchema(schema, bundle.name), agentgate?.config ?? {});
  if (problems.length > 0) throw new PolicyConfigError(bundle.name, problems);
  return true;
}

type Segments = readonly string[];

interface Problem {
  /** the config path the problem is about, rendered */
  path: string;
  text: string;
  /** for a key not in the schema: the sibling it was taken for, whose "missing" is the same mistake */
  meant?: string;
  /** for a missing key: its parent's path and its name */
  missing?: string;
  wrongType?: boolean;
}

/**
 * Every problem of `config` against the schema, one line each. The base
 * config is validated as it is, and so is each profile merged over it (as
 * the rules see it for a namespace in that profile, Rego's object.union), so
 * a profile cannot set a wrong type either; a problem that only the merge
 * shows is reported at the profile's own path.
 */
export function configProblems(compiledSchema: CompiledConfigSchema, config: unknown): string[] {
  const { validate } = compiledSchema;
  const problems: Problem[] = [];
  const baseErrors = errorsOf(validate, config);
  for (const err of baseErrors) problems.push(describe(compiledSchema, err, (segs) => renderPath(config, segs)));
  const profiles = isRecord(config) ? config.profiles : undefined;
  if (isRecord(config) && isRecord(profiles)) {
    for (const [name, profile] of Object.entries(profiles)) {
      if (!isRecord(profile)) continue;
      const { enforcement: _enforcement, namespaces: _namespaces, ...partial } = profile;
      if (Object.keys(partial).length === 0) continue;
      const merged = mergeOverride(config, partial);
      for (const err of errorsOf(validate, merged)) {
        if (err.keyword === "if") continue;
        if (profileSets(partial, err)) {
          problems.push(describe(compiledSchema, err, (segs) => renderPath(config, ["profiles", name, ...segs])));
        } else if (baseErrors.length === 0) {
          // The base is valid and the profile does not hold the path: a rule of a team's own schema across keys.
          const p = describe(compiledSchema, err, (segs) => renderPath(merged, segs));
          problems.push({ ...p, path: `profiles.${name}:${p.path}`, text: `${renderPath(config, ["profiles", name])}, merged over the base config: ${p.text}` });
        }
      }
    }
  }
  // "budget is not a known key (did you mean budgets?)" already says that budgets is missing.
  const meant = new Set(problems.flatMap((p) => (p.meant !== undefined ? [p.meant] : [])));
  // One line per path, in the order found; of several, the wrong type (a
  // number is no group name, whatever its pattern says).
  const byPath = new Map<string, Problem>();
  for (const p of problems) {
    if (p.missing !== undefined && meant.has(p.missing)) continue;
    const kept = byPath.get(p.path);
    if (kept === undefined || (p.wrongType === true && kept.wrongType !== true)) byPath.set(p.path, p);
  }
  return [...byPath.values()].map((p) => p.text);
}

function errorsOf(validate: ValidateFunction, value: unknown): ErrorObject[] {
  // "must match then": a summary of the errors reported beside it.
  return validate(value) ? [] : (validate.errors ?? []).filter((e) => e.keyword !== "if");
}

function segmentsOf(instancePath: string): string[] {
  return instancePath === "" ? [] : instancePath.slice(1).split("/").map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** The path an error is about: the key itself for an unknown or missing key. */
function pathOf(err: ErrorObject): string[] {
  const segs = segmentsOf(err.instancePath);
  if (err.keyword === "additionalProperties") return [...segs, String(err.params.additionalProperty)];
  if (err.keyword === "required") return [...segs, String(err.params.missingProperty)];
  return segs;
}

/**
 * Whether an error of the merged config is the profile's doing: it sets the
 * value the error is about. Merged key by key, a profile can add keys but
 * never remove one, so a key missing from the merge is the base config's,
 * unless it is missing from an object inside a list the profile set (a list
 * replaces the base's whole).
 */
function profileSets(profile: Record<string, unknown>, err: ErrorObject): boolean {
  const segs = err.keyword === "required" ? segmentsOf(err.instancePath) : pathOf(err);
  if (segs.length === 0) return false;
  let node: unknown = profile;
  let inList = false;
  for (const seg of segs) {
    if (Array.isArray(node)) {
      inList = true;
      node = node[Number(seg)] as unknown;
    } else if (isRecord(node) && Object.hasOwn(node, seg)) {
      node = node[seg];
    } else {
      return false;
    }
    if (node === undefined) return false;
  }
  return err.keyword !== "required" || inList;
}

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

/** budgets.maxTokenBudget, tools.servers[0].tools, profiles["team a"].budgets */
function renderPath(root: unknown, segs: Segments): string {
  if (segs.length === 0) return "data.agentgate.config";
  let out = "";
  let node = root;
  for (const seg of segs) {
    if (Array.isArray(node)) {
      out += `[${seg}]`;
      node = node[Number(seg)] as unknown;
    } else {
      out += IDENTIFIER.test(seg) ? `${out === "" ? "" : "."}${seg}` : `[${JSON.stringify(seg)}]`;
      node = isRecord(node) ? node[seg] : undefined;
    }
  }
  return out;
}

function describe(c: CompiledConfigSchema, err: ErrorObject, render: (segs: Segments) => string): Problem {
  const segs = pathOf(err);
  const path = render(segs);
  const schema: Schema = isRecord(err.parentSchema) ? err.parentSchema : {};
  switch (err.keyword) {
    case "additionalProperties": {
      const key = String(err.params.additionalProperty);
      const known = knownKeys(schema);
      const sibling = closest(key, known);
      const suggestion = sibling ?? elsewhere(c, key);
      const parent = segs.slice(0, -1);
      const where = parent.length > 0 ? ` of ${render(parent)}` : "";
      return {
        path,
        text: `${path} is not a known key${suggestion !== undefined ? ` (did you mean ${suggestion}?)` : ""}; known keys${where}: ${known.join(", ")}`,
        ...(sibling !== undefined ? { meant: `${render(parent)}/${sibling}` } : {}),
      };
    }
    case "required": {
      const key = String(err.params.missingProperty);
      const properties = isRecord(schema.properties) ? schema.properties : {};
      return { path, text: `${path} is missing; expected ${expected(properties[key])}`, missing: `${render(segs.slice(0, -1))}/${key}` };
    }
    case "not":
      if (isRemoved(schema)) return { path, text: `${path} is no longer a key: ${typeof schema.description === "string" ? schema.description : "remove it"}` };
      break;
    case "type":
      return { path, wrongType: true, text: `${path} is ${show(err.data)}${err.data === null ? "" : ` (${kindOf(err.data)})`}; expected ${expected(schema)}${typeHint(schema, err.data)}` };
    case "enum": {
      const options = Array.isArray(schema.enum) ? schema.enum.filter((o): o is string => typeof o === "string") : [];
      const suggestion = typeof err.data === "string" ? closest(err.data, options, true) : undefined;
      return { path, text: `${path} is ${show(err.data)}; expected ${expected(schema)}${suggestion !== undefined ? ` (did you mean ${suggestion}?)` : ""}` };
    }
    default:
      break;
  }
  const empty = err.data === "" ? " (an empty string)" : Array.isArray(err.data) && err.data.length === 0 ? " (an empty list)" : "";
  return { path, text: `${path} is ${show(err.data)}${empty}; expected ${expected(schema)}` };
}

/** A key kept in the schema only to say what replaced it: {"not": {}, "description": "…"}. */
function indexKeys(schema: unknown, path: string, into: Map<string, string[]>): void {
  if (!isRecord(schema)) return;
  if (isRecord(schema.properties)) {
    for (const [key, sub] of Object.entries(schema.properties)) {
      if (isRemoved(sub)) continue;
      const at = path === "" ? key : `${path}.${key}`;
      into.set(key, [...(into.get(key) ?? []), at]);
      indexKeys(sub, at, into);
    }
  }
  if (isRecord(schema.additionalProperties)) indexKeys(schema.additionalProperties, `${path}.<name>`, into);
  if (isRecord(schema.items)) indexKeys(schema.items, `${path}[]`, into);
}

/** A key that belongs somewhere else ("budgets.maxTokensPerCall" → models.maxTokensPerCall). */
function elsewhere(c: CompiledConfigSchema, key: string): string | undefined {
  const name = closest(key, [...c.keyPaths.keys()]);
  return name === undefined ? undefined : c.keyPaths.get(name)?.[0];
}
