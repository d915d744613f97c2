// `agentgate bundle check BUNDLE [-f INPUT…]`: what a platform team runs in
// CI next to `opa test`. It makes the gateway's load-time checks (builtins,
// entrypoints, data) and, given inputs and an opa binary, evaluates every
// input both ways — the bundle's wasm under the gateway's evaluator, the Rego
// it was built from under `opa eval`, both with the bundle's data and
// --policy-config merged into data.agentgate.config as the gateway merges it —
// and prints every difference. The Rego comes from --source: the .rego files that
// `opa build -t wasm` puts in a bundle lack the entrypoint rules it compiled.
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { parse as parseYaml } from "yaml";
import { readBundle, type Bundle } from "../policy/bundle.ts";
import { hasConfig, hasConfigSchema } from "../policy/config-schema.ts";
import { ENTRYPOINT, bundleData, checkEntrypoints, encodeInput } from "../policy/engine.ts";
import { readPolicyConfig } from "../policy/load.ts";
import { WasmPolicy } from "../policy/wasm-policy.ts";
import { isRecord } from "../types/kube.ts";
import { kindOfValue } from "./manifests.ts";
import { InputError } from "../errors.ts";
import { findOpa, runOpa } from "./opa.ts";
import type { Io } from "./review.ts";

export interface NamedInput {
  name: string;
  value: unknown;
}

export interface Difference {
  input: string;
  entrypoint: string;
  gateway: unknown;
  opa: unknown;
}

export interface Checked {
  policy: WasmPolicy;
  /** the bundle's data with --policy-config merged in, as the gateway evaluates it */
  data: Record<string, unknown>;
}

/** The gateway's load-time checks (the same functions, the policy config's schema too); returns the loaded policy or throws a one-line error. */
export async function loadChecked(bundle: Bundle, configOverride?: Record<string, unknown>): Promise<Checked> {
  const data = bundleData(bundle, configOverride);
  const policy = await WasmPolicy.load(bundle, data);
  checkEntrypoints(bundle, policy);
  return { policy, data };
}

/** Entrypoints whose value is a set in OPA's semantics: their order carries no meaning. */
const SET_VALUED: ReadonlySet<string> = new Set([ENTRYPOINT.violations, ENTRYPOINT.goalsDeny, ENTRYPOINT.toolsDeny]);

/** JSON with object keys sorted (JSON objects have no order) and arrays as they are. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return v === undefined ? "undefined" : JSON.stringify(v);
}

/**
 * Whether the gateway's and opa's answers at an entrypoint are the same: a
 * set-valued entrypoint's members in any order, everything else exactly
 * (an array's order is part of its value, as in a defaults patch).
 */
export function sameDecision(entrypoint: string, a: unknown, b: unknown): boolean {
  if (SET_VALUED.has(entrypoint) && Array.isArray(a) && Array.isArray(b)) {
    return stableJson(a.map(stableJson).sort()) === stableJson(b.map(stableJson).sort());
  }
  return stableJson(a) === stableJson(b);
}

const dataRef = (entrypoint: string): string => `data${entrypoint.split("/").map((s) => `[${JSON.stringify(s)}]`).join("")}`;

/** The policy .rego files of a source directory (tests left out), by path. */
export async function regoSources(dir: string): Promise<Map<string, Buffer>> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (err) {
    throw new InputError(`--source ${dir}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const files = new Map<string, Buffer>();
  for (const e of entries) {
    if (!e.isFile() || !e.name.endsWith(".rego") || e.name.endsWith("_test.rego")) continue;
    const full = join(e.parentPath, e.name);
    files.set(relative(dir, full), await readFile(full));
  }
  if (files.size === 0) throw new InputError(`--source ${dir}: holds no .rego files`);
  return files;
}

/**
 * Evaluates every input at every entrypoint with `opa eval` on the Rego
 * sources and the bundle's data, in one opa process (a wrapper module maps
 * the entrypoints over the inputs). An undefined entrypoint is absent from
 * its input's result.
 */
export async function evaluateWithOpa(sources: ReadonlyMap<string, Buffer>, data: Record<string, unknown>, entrypoints: readonly string[], inputs: readonly unknown[]): Promise<Record<string, unknown>[]> {
  const dir = await mkdtemp(join(tmpdir(), "agentgate-check-"));
  try {
    for (const [file, content] of sources) {
      await mkdir(dirname(join(dir, "src", file)), { recursive: true });
      await writeFile(join(dir, "src", file), content);
    }
    await writeFile(join(dir, "data.json"), JSON.stringify(data));
    const fields = entrypoints.map((e) => `${JSON.stringify(e)}: [x | x := ${dataRef(e)} with input as inp]`).join(", ");
    await writeFile(join(dir, "wrapper.rego"), `package agentgate_bundle_check\n\nresults := [{${fields}} | some inp in input]\n`);
    await writeFile(join(dir, "input.json"), JSON.stringify(inputs));
    const { stdout } = await runOpa(["eval", "-f", "json", "-d", join(dir, "src"), "-d", join(dir, "data.json"), "-d", join(dir, "wrapper.rego"), "-i", join(dir, "input.json"), "data.agentgate_bundle_check.results"]).catch((err: unknown) => {
      // opa names the copies in this temporary directory; the user knows the files by their --source paths.
      if (err instanceof InputError) throw new InputError(err.message.replaceAll(`${join(dir, "src")}/`, "--source "));
      throw err;
    });
    const parsed = JSON.parse(stdout) as { result?: { expressions: { value: Record<string, unknown[]>[] }[] }[] };
    const rows = parsed.result?.[0]?.expressions[0]?.value;
    if (rows?.length !== inputs.length) throw new InputError(`opa eval answered ${String(rows?.length ?? 0)} results for ${String(inputs.length)} inputs`);
    return rows.map((row) => Object.fromEntries(entrypoints.filter((e) => (row[e] ?? []).length > 0).map((e) => [e, row[e]?.[0]])));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every input at every entrypoint, gateway against opa; the differences. */
export async function compareWithOpa(checked: Checked, sources: ReadonlyMap<string, Buffer>, inputs: readonly NamedInput[]): Promise<Difference[]> {
  const { policy, data } = checked;
  const entrypoints = [...policy.entrypoints].sort();
  const fromOpa = await evaluateWithOpa(sources, data, entrypoints, inputs.map((i) => i.value));
  const differences: Difference[] = [];
  inputs.forEach((input, k) => {
    const buffer = encodeInput(input.value);
    for (const entrypoint of entrypoints) {
      let gateway: unknown;
      try {
        gateway = policy.evaluate(entrypoint, buffer);
      } catch (err) {
        gateway = { error: err instanceof Error ? err.message : String(err) };
      }
      const opa = fromOpa[k]?.[entrypoint];
      if (!sameDecision(entrypoint, gateway, opa)) differences.push({ input: input.name, entrypoint, gateway, opa });
    }
  });
  return differences;
}

async function readInput(path: string): Promise<NamedInput> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new InputError(`input ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (bytes.includes(0)) throw new InputError(`input ${path}: binary data, not JSON or YAML`);
  let value: unknown;
  try {
    value = parseYaml(bytes.toString("utf8"));
  } catch (err) {
    throw new InputError(`input ${path}: not valid JSON or YAML: ${((err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "").replace(/:$/, "")}`);
  }
  // The gateway only ever evaluates an object; a scalar or a list compared both ways would prove nothing.
  if (value === null || value === undefined) throw new InputError(`input ${path}: is empty; expected a policy input document {request, context}`);
  if (!isRecord(value)) throw new InputError(`input ${path}: is ${kindOfValue(value)}, not a policy input document (a mapping: {request, context})`);
  return { name: path, value };
}

const show = (v: unknown): string => stableJson(v);

/** Whether the policy config was checked: a bundle without a schema (a team's own) is loaded with its config unchecked. */
function configNote(data: Record<string, unknown>): string {
  if (hasConfigSchema(data)) return "; policy config matches data.agentgate.config_schema";
  return hasConfig(data) ? "; policy config not validated (the bundle ships no data.agentgate.config_schema)" : "";
}

export interface CheckFlags {
  input: string[];
  source?: string;
  policyConfig?: string;
}

/** `bundle check BUNDLE [-f INPUT… --source DIR]`: 0 loads (and answers as opa eval), 1 a difference. */
export async function runBundleCheck(path: string, opts: CheckFlags, io: Io): Promise<number> {
  const b = await readBundle(path);
  const override = opts.policyConfig === undefined ? undefined : await readPolicyConfig(opts.policyConfig);
  const checked = await loadChecked(b, override);
  const { policy } = checked;
  io.out(
    `bundle ${b.name} (revision ${b.revision}): loads; entrypoints ${[...policy.entrypoints].sort().join(", ")}; host builtins ${policy.requiredBuiltins.join(", ") || "none"}; compiled builtins answered by agentgate ${policy.redirectedBuiltins.join(", ") || "none"}; data ${Object.keys(checked.data).sort().join(", ") || "none"}${override ? ` (with --policy-config ${opts.policyConfig ?? ""})` : ""}${configNote(checked.data)}`,
  );
  if (opts.input.length === 0) return 0;
  if (opts.source === undefined) {
    throw new InputError("bundle check -f needs --source DIR, the Rego the bundle was built from: the .rego files opa build -t wasm puts in a bundle lack the entrypoint rules");
  }
  const sources = await regoSources(opts.source);
  const inputs = await Promise.all(opts.input.map(readInput));
  try {
    findOpa();
  } catch {
    io.out(`opa is not on PATH: ${String(inputs.length)} input(s) not compared`);
    return 0;
  }
  const differences = await compareWithOpa(checked, sources, inputs);
  for (const d of differences) {
    io.out(`DIFFERS ${d.input} ${d.entrypoint}:\n  gateway: ${show(d.gateway)}\n  opa:     ${show(d.opa)}`);
  }
  io.out(`${String(inputs.length)} input(s) × ${String(policy.entrypoints.size)} entrypoint(s): ${differences.length === 0 ? "the gateway answers as opa eval" : `${String(differences.length)} difference(s)`}`);
  return differences.length === 0 ? 0 : 1;
}
