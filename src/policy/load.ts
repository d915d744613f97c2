// Loading what `--bundle` and `--policy-config` name into a PolicyEngine.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { isRecord } from "../types/kube.ts";
import { readBundle, type Bundle } from "./bundle.ts";
import { PolicyEngine } from "./engine.ts";
import { PolicyConfigError } from "./config-schema.ts";
import { AgentgateError } from "../errors.ts";

/** The compiled default bundle shipped with agentgate (built from policies/). */
export const DEFAULT_BUNDLE_PATH = fileURLToPath(new URL("../../policies/bundle.tar.gz", import.meta.url));

export class ConfigError extends AgentgateError {
  constructor(message: string) {
    super("input", message);
    this.name = "ConfigError";
  }
}

/** Reads a --policy-config YAML file: the overrides for data.agentgate.config. */
export async function readPolicyConfig(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(`policy config ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    // The first line of the parser's message, without the colon that led into its excerpt.
    throw new ConfigError(`policy config ${path}: not valid YAML: ${((err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "").replace(/:$/, "")}`);
  }
  if (value === null || value === undefined) return {};
  if (!isRecord(value)) throw new ConfigError(`policy config ${path}: must be a YAML mapping (the keys of data.agentgate.config), got ${Array.isArray(value) ? "a list" : `a ${typeof value}`}`);
  return value;
}

/**
 * A bundle stacked on the default that brings its own data.agentgate.config
 * is a fork of the default: the gateway's own checks (approver groups,
 * budgets, profiles) read the first bundle's config, so the fork's would be
 * silently ignored. Refused, saying how to replace the default instead.
 */
export function checkStackedOnDefault(bundle: Bundle, defaultOff = "policy.defaultBundle: false"): void {
  const agentgate = bundle.data.agentgate;
  if (isRecord(agentgate) && agentgate.config !== undefined) {
    throw new PolicyConfigError(bundle.name, [
      `the bundle carries its own data.agentgate.config while stacked on the default bundle, whose config agentgate's own checks read (approver groups, budgets, profiles); to replace the default with it, give ${defaultOff}; a team's rules stacked on the default keep their data under another path`,
    ]);
  }
}

export async function readBundles(sources: readonly string[], defaultOff?: string): Promise<Bundle[]> {
  const list = sources.length > 0 ? sources : [DEFAULT_BUNDLE_PATH];
  const bundles: Bundle[] = [];
  const names = new Set<string>();
  for (const source of list) {
    const bundle = await readBundle(source, source === DEFAULT_BUNDLE_PATH ? "default" : undefined);
    let name = bundle.name;
    for (let i = 2; names.has(name); i++) name = `${bundle.name}-${i}`;
    names.add(name);
    if (list[0] === DEFAULT_BUNDLE_PATH && source !== DEFAULT_BUNDLE_PATH) checkStackedOnDefault({ ...bundle, name }, defaultOff);
    bundles.push({ ...bundle, name });
  }
  return bundles;
}

export async function loadEngine(sources: readonly string[], policyConfigPath?: string, defaultOff?: string): Promise<PolicyEngine> {
  const override = policyConfigPath ? await readPolicyConfig(policyConfigPath) : undefined;
  return PolicyEngine.load(await readBundles(sources, defaultOff), override);
}
