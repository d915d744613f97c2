// The one evaluation path. The webhook (validate, mutate), `agentgate
// review`, audit and the benchmark all call admit(); only the wire around it
// differs. wire in → context → policy → guardrails → decision.
import { createPatch, type Operation as PatchOperation } from "rfc6902";
import { resolveContext } from "../context/resolve.ts";
import type { ObjectLookup } from "../context/lookup.ts";
import { computeGuardrails } from "../guardrails/effective.ts";
import type { Identity } from "../guardrails/identity.ts";
import { checkApproval } from "../guardrails/approval.ts";
import { checkRunImmutable, checkStampsOnCreate, checkStampsOnUpdate } from "../guardrails/integrity.ts";
import { checkManagedObject } from "../guardrails/managed-object.ts";
import { effectiveConfig } from "../guardrails/profile.ts";
import { computeStamps, type Stamps } from "../guardrails/stamps.ts";
import { encodeInput, type BundleFailure, type PolicyEngine } from "../policy/engine.ts";
import { fillDefaults } from "../policy/merge.ts";
import type { AdmissionRequest } from "../types/admission.ts";
import type { AgentConfig, AgentRun } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import type { GoalInput, PolicyContext, PolicyInput, Violation } from "../types/policy.ts";
import { findResource, type HandledResource } from "./resources.ts";

export type Origin = "validate" | "mutate" | "audit";

export interface GatewayDeps {
  /** read on every request, so a bundle swap takes effect between requests */
  engine(): PolicyEngine;
  lookup: ObjectLookup;
  identity: Identity;
  exemptNamespaces: ReadonlySet<string>;
}

export interface Decision {
  origin: Origin;
  allowed: boolean;
  /** true when an exempt namespace skipped every check */
  exempt: boolean;
  /** every finding, all actions, sorted by policy id then field */
  violations: Violation[];
  patch: PatchOperation[];
  failures: BundleFailure[];
  /** policy revision the decision was made under */
  revision: string;
  input?: PolicyInput;
}

export class UnknownResourceError extends Error {
  constructor(request: AdmissionRequest) {
    const { group, version, resource } = request.resource;
    super(`agentgate does not handle resource ${group === "" ? "" : `${group}/`}${version}/${resource}`);
    this.name = "UnknownResourceError";
  }
}

export function sortViolations(violations: Violation[]): Violation[] {
  return violations.sort(
    (a, b) =>
      a.policy.localeCompare(b.policy) || a.field.localeCompare(b.field) || a.message.localeCompare(b.message) || a.action.localeCompare(b.action),
  );
}

function failureViolations(failures: BundleFailure[]): Violation[] {
  return failures.map((f) => ({
    policy: "policy-evaluation",
    field: `bundle "${f.bundle}"`,
    message: `evaluation failed under revision ${f.revision}: ${f.error}; the request is refused until the bundle is fixed (fail closed)`,
    action: "deny",
  }));
}

function decide(origin: Origin, violations: Violation[], extra: Partial<Decision> & { revision: string }): Decision {
  sortViolations(violations);
  return {
    origin,
    allowed: !violations.some((v) => v.action === "deny"),
    exempt: false,
    violations,
    patch: [],
    failures: [],
    ...extra,
  };
}

function isAgentRun(request: AdmissionRequest): boolean {
  return request.kind.group === "agent.tekton.dev" && request.kind.kind === "AgentRun";
}

/** The stamps of a run, or undefined when its AgentConfig does not exist (nothing to stamp from). */
function runStamps(request: AdmissionRequest, run: AgentRun, context: PolicyContext, engine: PolicyEngine): Stamps | undefined {
  const config = context.agentConfig as AgentConfig | null;
  if (!config) return undefined;
  // The namespace's profile applies to the stamped fallbacks as it does to the Rego rules.
  const guardrails = computeGuardrails(run, config, context, effectiveConfig(engine.policyConfig, context.namespace));
  return computeStamps(request.userInfo.username ?? "", engine.revision, run.spec?.configRef?.name ?? "", guardrails);
}

function goalInput(run: AgentRun, context: PolicyContext, namespace: string): GoalInput {
  const config = context.agentConfig as AgentConfig | null;
  const spec = config?.spec;
  const tools = new Set<string>();
  for (const server of Array.isArray(spec?.toolServers) ? spec.toolServers : []) {
    for (const tool of Array.isArray(server.allowedTools) ? server.allowedTools : []) tools.add(tool);
  }
  return {
    goal: typeof run.spec?.goal === "string" ? run.spec.goal : "",
    namespace,
    requested_tools: [...tools].sort(),
    require_approval: spec?.approval?.required === true,
    config: spec ?? null,
  };
}

async function mutate(request: AdmissionRequest, resource: HandledResource, deps: GatewayDeps, engine: PolicyEngine): Promise<Decision> {
  const revision = engine.revision;
  const object = request.object;
  if (!resource.mutate || !object || (request.operation !== "CREATE" && request.operation !== "UPDATE")) {
    return decide("mutate", [], { revision });
  }
  const context = await resolveContext(request, deps.lookup);
  const input: PolicyInput = { request, context };
  const { defaults, failures } = engine.defaults(encodeInput(input));
  if (failures.length > 0) return decide("mutate", failureViolations(failures), { revision, failures, input });

  let mutated: KubeObject = object;
  for (const d of defaults) mutated = fillDefaults(mutated, d) as KubeObject;
  if (isAgentRun(request) && request.operation === "CREATE") {
    const stamps = runStamps(request, mutated as AgentRun, context, engine);
    const metadata = { ...(mutated.metadata ?? {}) };
    const annotations = { ...(metadata.annotations ?? {}) };
    const labels = { ...(metadata.labels ?? {}) };
    if (stamps) {
      Object.assign(annotations, stamps.annotations);
      Object.assign(labels, stamps.labels);
      metadata.annotations = annotations;
      metadata.labels = labels;
      mutated = { ...mutated, metadata };
    }
  }
  return decide("mutate", [], { revision, input, patch: createPatch(object, mutated) });
}

async function validate(request: AdmissionRequest, resource: HandledResource, deps: GatewayDeps, engine: PolicyEngine, origin: Origin): Promise<Decision> {
  const revision = engine.revision;
  const user = request.userInfo.username ?? "";
  if (resource.role === "managed") return decide(origin, checkManagedObject(request, deps.identity), { revision });
  const object = request.object;
  if (!object || (request.operation !== "CREATE" && request.operation !== "UPDATE")) return decide(origin, [], { revision });

  const context = await resolveContext(request, deps.lookup);
  const input: PolicyInput = { request, context };
  const { violations, failures } = engine.violations(encodeInput(input));

  if (isAgentRun(request)) {
    const run = object as AgentRun;
    const old = (request.oldObject ?? null) as AgentRun | null;
    const trusted = deps.identity.trusted.has(user);
    // stamp-integrity and run-immutable do not depend on what policy said:
    // a warn or dryrun profile, or a bundle set without config-exists,
    // admits a run whose config is missing, and its stamps are still checked.
    // run-approval holds for trusted identities too: neither the gateway nor
    // the controller ever approves a run (the controller mirrors a
    // CustomRun's outcome, not approvals), so nothing they do needs the
    // exemption, and a leaked controller token cannot approve runs.
    if (request.operation === "CREATE") {
      const goals = engine.goals(goalInput(run, context, request.namespace ?? ""));
      violations.push(...goals.violations);
      failures.push(...goals.failures);
      if (!trusted) violations.push(...checkStampsOnCreate(run, runStamps(request, run, context, engine), user));
      violations.push(...checkApproval(run, null, request.userInfo));
    } else if (old) {
      if (!trusted) violations.push(...checkStampsOnUpdate(run, old), ...checkRunImmutable(run, old));
      violations.push(...checkApproval(run, old, request.userInfo));
    }
  }
  violations.push(...failureViolations(failures));
  return decide(origin, violations, { revision, failures, input });
}

/**
 * Admits one request. Throws UnknownResourceError for a resource agentgate
 * does not handle (the server answers 400); everything else is a Decision.
 */
export async function admit(request: AdmissionRequest, deps: GatewayDeps, origin: Origin): Promise<Decision> {
  const resource = findResource(request.resource);
  if (!resource) throw new UnknownResourceError(request);
  const engine = deps.engine();
  const namespace = request.namespace ?? "";
  if (namespace !== "" && deps.exemptNamespaces.has(namespace)) {
    return { ...decide(origin, [], { revision: engine.revision }), exempt: true };
  }
  return origin === "mutate" ? mutate(request, resource, deps, engine) : validate(request, resource, deps, engine, origin);
}

export function isAgentKind(request: AdmissionRequest): boolean {
  return findResource(request.resource)?.role === "agent";
}
