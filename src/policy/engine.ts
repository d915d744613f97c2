// The policy boundary: bundles in, decisions out. Nothing outside policy/
// knows that the policies are WebAssembly.
import { VOLATILE_BUILTINS } from "@agentgate/opa-host";
import type { Action, BundleFailure, GoalInput, Violation } from "../types/policy.ts";
import { isRecord } from "../types/kube.ts";
import { BundleError, type Bundle } from "./bundle.ts";
import { checkPolicyConfig } from "./config-schema.ts";
import { mergeOverride } from "./merge.ts";
import { TextMemo } from "./text-memo.ts";
import { WasmPolicy, describe, type EncodedInput } from "./wasm-policy.ts";

export const ENTRYPOINT = {
  violations: "agentgate/violations",
  defaults: "agentgate/defaults",
  goalsAllow: "agent/goals/allow",
  goalsDeny: "agent/goals/deny",
  /** run time: reasons to refuse one tool call (docs/run-time-gateway.md) */
  toolsDeny: "agent/tools/deny",
} as const;

const ACTIONS: ReadonlySet<string> = new Set<Action>(["deny", "warn", "dryrun"]);

/**
 * Stored objects' outcomes kept per engine: a cluster's AgentConfigs,
 * ModelConfigs and tool servers in use, for each identity that runs them
 * (an input is ~3 KB). A longer one than 16,383 characters is judged every
 * time, so whoever writes large objects cannot make the memo hold more than
 * 256 × 16 Ki characters (4–8 MB) of a replica's memory; and V8 hashes a
 * longer string by its length alone, which would put such keys in one bucket.
 */
const STORED_MEMO_ENTRIES = 256;
const STORED_MEMO_MAX_TEXT = 16 * 1024 - 1;

export interface LoadedBundle {
  readonly bundle: Bundle;
  readonly policy: WasmPolicy;
}

export type { BundleFailure };

export interface ViolationsOutcome {
  violations: Violation[];
  failures: BundleFailure[];
}

export interface DefaultsOutcome {
  /** per bundle, in load order */
  defaults: Record<string, unknown>[];
  failures: BundleFailure[];
}

export class PolicyEngine {
  readonly bundles: readonly LoadedBundle[];
  /** data.agentgate.config as the gateway's own checks read it */
  readonly policyConfig: Record<string, unknown>;

  /** absent when a bundle calls a volatile builtin: its outcomes are not a function of the input */
  private readonly storedMemo: TextMemo<readonly Violation[]> | undefined;

  private constructor(bundles: LoadedBundle[], policyConfig: Record<string, unknown>) {
    this.bundles = bundles;
    this.policyConfig = policyConfig;
    const pure = bundles.every(({ policy }) => !policy.requiredBuiltins.some((name) => VOLATILE_BUILTINS.has(name)));
    this.storedMemo = pure ? new TextMemo(STORED_MEMO_ENTRIES, STORED_MEMO_MAX_TEXT) : undefined;
  }

  /**
   * Loads every bundle (all or nothing). `configOverride` is merged into each
   * bundle's data.agentgate.config: how a platform team tunes the default
   * bundle without Rego. A config that does not match the bundle's
   * data.agentgate.config_schema is refused (PolicyConfigError).
   */
  static async load(bundles: Bundle[], configOverride?: Record<string, unknown>): Promise<PolicyEngine> {
    const loaded: LoadedBundle[] = [];
    let policyConfig: Record<string, unknown> | undefined;
    for (const bundle of bundles) {
      const data = bundleData(bundle, configOverride);
      const policy = await WasmPolicy.load(bundle, data);
      checkEntrypoints(bundle, policy);
      const agentgate = data.agentgate;
      if (policyConfig === undefined && isRecord(agentgate) && isRecord(agentgate.config)) policyConfig = agentgate.config;
      loaded.push({ bundle, policy });
    }
    return new PolicyEngine(loaded, policyConfig ?? {});
  }

  /** bundle name → "sha256:<hex>" of each bundle in force: the policy-digests stamp. */
  get digests(): Record<string, string> {
    return Object.fromEntries(this.bundles.map((b) => [b.bundle.name, b.bundle.digest]));
  }

  /** "default@<rev>,team-a@<rev>": the policy-revision stamp. */
  get revision(): string {
    return this.bundles.map((b) => `${b.bundle.name}@${b.bundle.revision}`).join(",");
  }

  violations(input: EncodedInput): ViolationsOutcome {
    const violations: Violation[] = [];
    const failures: BundleFailure[] = [];
    for (const { bundle, policy } of this.bundles) {
      if (!policy.entrypoints.has(ENTRYPOINT.violations)) continue;
      try {
        violations.push(...asViolations(policy.evaluate(ENTRYPOINT.violations, input)));
      } catch (err) {
        failures.push({ bundle: bundle.name, revision: bundle.revision, error: describe(err) });
      }
    }
    return { violations, failures };
  }

  /**
   * The violations of an object as it is stored (a run's AgentConfig,
   * ModelConfig and tool servers, judged at each run's creation): the same
   * input recurs for every run of one config by one identity, so an outcome
   * is kept by the input's exact JSON text. Only while every bundle is a
   * function of its input alone (no volatile builtin), only outcomes without
   * failures or builtin errors (a builtin that failed once, say a module that
   * did not load, may answer next time), and only in this engine: new
   * bundles are a new engine.
   */
  storedViolations(input: unknown): ViolationsOutcome {
    const text = JSON.stringify(input);
    const kept = this.storedMemo?.get(text);
    if (kept) return { violations: [...kept], failures: [] };
    const outcome = this.violations(encoder.encode(text));
    if (outcome.failures.length === 0 && !this.bundles.some(({ policy }) => policy.hadBuiltinErrors)) this.storedMemo?.set(text, outcome.violations.map((v) => Object.freeze({ ...v })));
    return outcome;
  }

  /** how often storedViolations was answered from its memo (undefined: no memo, a volatile builtin is called) */
  get storedMemoStats(): { hits: number; misses: number; size: number } | undefined {
    const memo = this.storedMemo;
    return memo ? { ...memo.stats, size: memo.size } : undefined;
  }

  defaults(input: EncodedInput): DefaultsOutcome {
    const defaults: Record<string, unknown>[] = [];
    const failures: BundleFailure[] = [];
    for (const { bundle, policy } of this.bundles) {
      if (!policy.entrypoints.has(ENTRYPOINT.defaults)) continue;
      try {
        const value = policy.evaluate(ENTRYPOINT.defaults, input);
        if (value === undefined) continue;
        if (!isRecord(value)) throw new Error(`${ENTRYPOINT.defaults} must be an object, got ${typeName(value)}`);
        defaults.push(value);
      } catch (err) {
        failures.push({ bundle: bundle.name, revision: bundle.revision, error: describe(err) });
      }
    }
    return { defaults, failures };
  }

  /**
   * A tool call at run time: every bundle's agent/tools/deny reasons. A
   * bundle that fails to answer is a failure, and the gateway refuses the
   * call on it.
   */
  toolCall(input: unknown): ViolationsOutcome {
    const violations: Violation[] = [];
    const failures: BundleFailure[] = [];
    let buffer: EncodedInput | undefined;
    for (const { bundle, policy } of this.bundles) {
      if (!policy.entrypoints.has(ENTRYPOINT.toolsDeny)) continue;
      buffer ??= encodeInput(input);
      try {
        const deny = policy.evaluate(ENTRYPOINT.toolsDeny, buffer);
        if (deny === undefined) continue;
        if (!Array.isArray(deny)) throw new Error(`${ENTRYPOINT.toolsDeny} must be a set, got ${typeName(deny)}`);
        for (const d of deny) {
          const message = typeof d === "string" ? d : isRecord(d) && typeof d.message === "string" ? d.message : JSON.stringify(d);
          violations.push({ policy: isRecord(d) && typeof d.policy === "string" ? d.policy : "tool-call", field: "tools/call", message, action: "deny" });
        }
      } catch (err) {
        failures.push({ bundle: bundle.name, revision: bundle.revision, error: describe(err) });
      }
    }
    // by code unit, as OPA sorts: the same order on every replica, whatever its locale
    violations.sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
    return { violations, failures };
  }

  /**
   * TEP-0164's Gate 1: denied unless allow is true and deny is empty. With
   * no bundle in force that answers it, every goal is refused (the TEP's
   * R18: goal submission fails closed when no goal policy is configured);
   * the default bundle brings an explicit one (policies/agent/goals).
   */
  goals(goal: GoalInput): ViolationsOutcome {
    const violations: Violation[] = [];
    const failures: BundleFailure[] = [];
    let buffer: EncodedInput | undefined;
    if (!this.bundles.some(({ policy }) => policy.entrypoints.has(ENTRYPOINT.goalsAllow) || policy.entrypoints.has(ENTRYPOINT.goalsDeny))) {
      violations.push({
        policy: "goal-policy",
        field: "spec.goal",
        message: `no goal policy is in force (none of the bundles ${this.bundles.map((b) => `"${b.bundle.name}"`).join(", ")} answers ${ENTRYPOINT.goalsAllow} or ${ENTRYPOINT.goalsDeny}), and without one no goal is admitted; ask the platform team to load one (the default bundle has one)`,
        action: "deny",
      });
      return { violations, failures };
    }
    for (const { bundle, policy } of this.bundles) {
      if (!policy.entrypoints.has(ENTRYPOINT.goalsAllow) && !policy.entrypoints.has(ENTRYPOINT.goalsDeny)) continue;
      buffer ??= encodeInput(goal);
      try {
        const deny = policy.entrypoints.has(ENTRYPOINT.goalsDeny) ? policy.evaluate(ENTRYPOINT.goalsDeny, buffer) : [];
        const reasons = Array.isArray(deny) ? deny.map((d) => (typeof d === "string" ? d : JSON.stringify(d))).sort() : [];
        for (const reason of reasons) {
          violations.push({ policy: "goal-policy", field: "spec.goal", message: reason, action: "deny" });
        }
        if (policy.entrypoints.has(ENTRYPOINT.goalsAllow)) {
          const allow = policy.evaluate(ENTRYPOINT.goalsAllow, buffer);
          if (allow !== true && reasons.length === 0) {
            violations.push({
              policy: "goal-policy",
              field: "spec.goal",
              message: `the goal is not allowed by bundle "${bundle.name}" (agent.goals.allow is not true); rephrase the goal or ask the platform team which goals this namespace may run`,
              action: "deny",
            });
          }
        }
      } catch (err) {
        failures.push({ bundle: bundle.name, revision: bundle.revision, error: describe(err) });
      }
    }
    return { violations, failures };
  }
}

const encoder = new TextEncoder();

/** The input document's JSON text, encoded once per request (no copy: the wasm's memory is the one it is copied into). */
export function encodeInput(input: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(input));
}

/** A bundle that answers neither entrypoint the gateway asks a bundle for. */
export class EntrypointError extends BundleError {
  constructor(bundle: Bundle) {
    const problem = `has none of the entrypoints ${ENTRYPOINT.violations}, ${ENTRYPOINT.goalsAllow}, ${ENTRYPOINT.toolsDeny}; build it with -e ${ENTRYPOINT.violations}`;
    super(bundle.name, problem);
    this.name = "EntrypointError";
    // With the revision next to the name: which build of the bundle lacks them.
    this.message = `bundle "${bundle.name}" (revision ${bundle.revision}): ${problem}`;
  }
}

/** The gateway's entrypoint check at load (also `agentgate bundle check`'s). */
export function checkEntrypoints(bundle: Bundle, policy: WasmPolicy): void {
  if (!policy.entrypoints.has(ENTRYPOINT.violations) && !policy.entrypoints.has(ENTRYPOINT.goalsAllow) && !policy.entrypoints.has(ENTRYPOINT.toolsDeny)) throw new EntrypointError(bundle);
}

/**
 * A bundle's data as the gateway evaluates it: `override` merged into
 * data.agentgate.config, and the result checked against the bundle's
 * data.agentgate.config_schema when it ships one (every profile merged over
 * it too). Throws PolicyConfigError naming every problem.
 */
export function bundleData(bundle: Bundle, override: Record<string, unknown> | undefined): Record<string, unknown> {
  const data = withConfig(bundle.data, override);
  checkPolicyConfig(bundle, data);
  return data;
}

/** A bundle's data with `override` merged into data.agentgate.config (unchecked: see bundleData). */
export function withConfig(data: Record<string, unknown>, override: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!override) return data;
  const agentgate = isRecord(data.agentgate) ? data.agentgate : {};
  return { ...data, agentgate: { ...agentgate, config: mergeOverride(agentgate.config ?? {}, override) } };
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** A bundle's violations set, checked field by field: a malformed entry is an error, not a pass. */
function asViolations(value: unknown): Violation[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`${ENTRYPOINT.violations} must be a set, got ${typeName(value)}`);
  return value.map((entry: unknown) => {
    if (!isRecord(entry)) throw new Error(`${ENTRYPOINT.violations} holds a ${typeName(entry)}, not an object`);
    const { policy, field, message } = entry;
    const action = entry.action ?? "deny";
    if (typeof policy !== "string" || typeof message !== "string") {
      throw new Error(`${ENTRYPOINT.violations} entry ${JSON.stringify(entry)} lacks a string "policy" or "message"`);
    }
    if (typeof action !== "string" || !ACTIONS.has(action)) {
      throw new Error(`${ENTRYPOINT.violations} entry for policy "${policy}" has action ${JSON.stringify(action)}; allowed: deny, warn, dryrun`);
    }
    return { policy, field: typeof field === "string" ? field : "", message, action: action as Action };
  });
}
