// The one evaluation path. The webhook (validate, mutate), `agentgate
// review`, audit and the benchmark all call admit(); only the wire around it
// differs. wire in → context → policy → guardrails → decision.
import { createPatch } from "rfc6902";
import type { AccessReviewer } from "../context/access-review.ts";
import { resolveContext } from "../context/resolve.ts";
import type { ObjectLookup } from "../context/lookup.ts";
import type { Identity } from "../guardrails/identity.ts";
import { checkApproval } from "../guardrails/approval.ts";
import { checkRunOwners, checkStatusWriter } from "../guardrails/integrity.ts";
import { checkManagedObject, onlyDropsFinalizers, touchesManaged } from "../guardrails/managed-object.ts";
import { checkAgentIsolation } from "../guardrails/network-isolation.ts";
import { checkRunIdentity, runServiceAccounts } from "../guardrails/run-identity.ts";
import { encodeInput, type BundleFailure, type PolicyEngine } from "../policy/engine.ts";
import { fillDefaults } from "../policy/merge.ts";
import type { Keyring } from "../signing/keyring.ts";
import type { AdmissionRequest } from "../types/admission.ts";
import { RUN_LABEL, RUN_SERVICE_ACCOUNT_PREFIX, STAMP, type AgentRun } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import type { Decision, Origin } from "../types/decision.ts";
import { customRunOfAgentRun } from "../types/tekton.ts";
import type { PolicyContext, PolicyInput, Violation } from "../types/policy.ts";
import { creatorFindings, creatorPatch } from "./creator-admission.ts";
import { withGeneratedName } from "./generated-name.ts";
import { judgeReferenced } from "./referenced.ts";
import { findResource, type HandledResource } from "../kube/resources.ts";

export type { Decision, Origin };
import { approvalStamp, goalInput, runStamps, validateRunCreate, validateRunUpdate, type RunDeps } from "./run-admission.ts";
import { AgentgateError } from "../errors.ts";


export interface GatewayDeps {
  /** read on every request, so a bundle swap takes effect between requests */
  engine(): PolicyEngine;
  lookup: ObjectLookup;
  identity: Identity;
  exemptNamespaces: ReadonlySet<string>;
  /** signs decisions (the gateway) and verifies them */
  keyring: Keyring;
  /** asks the API server who can act as whom; absent offline, where approvals are not checked for it */
  access?: AccessReviewer;
  now?: () => number;
}


export class UnknownResourceError extends AgentgateError {
  constructor(request: AdmissionRequest) {
    const { group, version, resource } = request.resource;
    const sub = request.subResource ? `/${request.subResource}` : "";
    super("input", `agentgate does not handle resource ${group === "" ? "" : `${group}/`}${version}/${resource}${sub}`);
    this.name = "UnknownResourceError";
  }
}

/**
 * By UTF-16 code unit, as OPA's sort compares strings, not by localeCompare:
 * a collation depends on the process's ICU locale, so two replicas could
 * word the same denial in two orders, and it pulls ICU's collation data
 * into every replica's memory for a sort of ASCII ids.
 */
export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function sortViolations(violations: Violation[]): Violation[] {
  return violations.sort((a, b) => byCodeUnit(a.policy, b.policy) || byCodeUnit(a.field, b.field) || byCodeUnit(a.message, b.message) || byCodeUnit(a.action, b.action));
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

function runDeps(deps: GatewayDeps): RunDeps {
  return { lookup: deps.lookup, identity: deps.identity, keyring: deps.keyring, access: deps.access, now: deps.now ?? Date.now };
}

function withAnnotations(object: KubeObject, annotations: Record<string, string>, labels?: Record<string, string>): KubeObject {
  const metadata = { ...(object.metadata ?? {}), annotations: { ...(object.metadata?.annotations ?? {}), ...annotations } };
  if (labels) metadata.labels = { ...(object.metadata?.labels ?? {}), ...labels };
  return { ...object, metadata };
}

async function mutate(request: AdmissionRequest, resource: HandledResource, deps: GatewayDeps, engine: PolicyEngine): Promise<Decision> {
  const revision = engine.revision;
  const object = request.object;
  if (!object || (request.operation !== "CREATE" && request.operation !== "UPDATE")) return decide("mutate", [], { revision });
  if (resource.role === "creator") {
    if (request.operation !== "CREATE" || (request.kind.kind === "CustomRun" && !customRunOfAgentRun(object))) return decide("mutate", [], { revision });
    const stamped = await creatorPatch(request, object, deps);
    return "refused" in stamped ? decide("mutate", [stamped.refused], { revision }) : decide("mutate", [], { revision, patch: stamped.patch });
  }
  if (resource.role !== "agent" || resource.group !== "agent.tekton.dev" || request.subResource) return decide("mutate", [], { revision });
  // agentgate's own objects are what the decision said; nothing to fill in.
  if (touchesManaged(request) && deps.identity.trusted.has(request.userInfo.username ?? "")) return decide("mutate", [], { revision });
  const context = await resolveContext(request, deps.lookup);
  const input: PolicyInput = { request, context };
  const { defaults, failures } = engine.defaults(encodeInput(input));
  if (failures.length > 0) return decide("mutate", failureViolations(failures), { revision, failures, input });

  let mutated: KubeObject = object;
  for (const d of defaults) mutated = fillDefaults(mutated, d) as KubeObject;
  if (isAgentRun(request) && request.operation === "CREATE") {
    mutated = withGeneratedName(mutated);
    // The gateway signs only what it has judged: the run as it will be
    // stored, under every rule the validating pass applies. A denied run gets
    // no decision, so nobody who can reach /mutate obtains a signature for
    // something policy refuses (docs/trust-chain.md).
    const judged = { ...request, object: mutated };
    const found = await judgeRunCreate(judged, mutated as AgentRun, context, deps, engine);
    if (found.violations.some((v) => v.action === "deny")) return decide("mutate", found.violations, { revision, failures: found.failures, input });
    const stamps = await runStamps(request, mutated as AgentRun, context, engine, runDeps(deps));
    if (stamps && "refused" in stamps) return decide("mutate", [stamps.refused], { revision, input });
    if (stamps) mutated = withAnnotations(mutated, stamps.annotations, stamps.labels);
  } else if (isAgentRun(request)) {
    const old = (request.oldObject ?? null) as AgentRun | null;
    const approval = old ? await approvalStamp(request, mutated as AgentRun, old, engine, context, runDeps(deps)) : undefined;
    if (approval && "refused" in approval) return decide("mutate", approval.refused, { revision, input });
    if (approval) mutated = withAnnotations(mutated, { [STAMP.approval]: approval.signature });
  }
  return decide("mutate", [], { revision, input, patch: createPatch(object, mutated) });
}

/**
 * Everything policy says about a run being created: the bundles' rules, the
 * goal policy, and the objects it references judged by today's bundles. The
 * mutating pass signs only when this has no deny; the validating pass
 * reports it. Bundle failures are deny findings (fail closed).
 */
async function judgeRunCreate(request: AdmissionRequest, run: AgentRun, context: PolicyContext, deps: GatewayDeps, engine: PolicyEngine): Promise<{ violations: Violation[]; failures: BundleFailure[] }> {
  const { violations, failures } = engine.violations(encodeInput({ request, context }));
  const goals = engine.goals(goalInput(run, context, request.namespace ?? ""));
  violations.push(...goals.violations);
  failures.push(...goals.failures);
  const referenced = await judgeReferenced(request, context, deps.lookup, engine);
  violations.push(...referenced.violations);
  failures.push(...referenced.failures);
  violations.push(...checkApproval(run, null, request.userInfo, { policyGroups: [] }));
  violations.push(...checkRunOwners(request, deps.identity));
  violations.push(...failureViolations(failures));
  return { violations, failures };
}

/** Pods, workloads and token requests: only a run's own chain uses its ServiceAccount. */
async function validateWorkload(request: AdmissionRequest, deps: GatewayDeps, origin: Origin, revision: string): Promise<Decision> {
  const violations: Violation[] = [];
  for (const name of runServiceAccounts(request)) {
    const namespace = request.namespace ?? "";
    const account = await deps.lookup.get("ServiceAccount", namespace, name);
    const run = account?.metadata?.labels?.[RUN_LABEL] ?? name.slice(RUN_SERVICE_ACCOUNT_PREFIX.length);
    const runAgent = request.kind.kind === "Deployment" ? await deps.lookup.get("Agent", namespace, `${run}-agent`) : null;
    violations.push(...checkRunIdentity(request, name, account, deps.identity, runAgent));
  }
  return decide(origin, violations, { revision });
}

async function validate(request: AdmissionRequest, resource: HandledResource, deps: GatewayDeps, engine: PolicyEngine, origin: Origin): Promise<Decision> {
  const revision = engine.revision;
  const user = request.userInfo.username ?? "";
  if (resource.role === "workload" || request.subResource === "token") return validateWorkload(request, deps, origin, revision);
  const managed = checkManagedObject(request, deps.identity);
  // PipelineRuns and CustomRuns are stamped by the mutating webhook; agentgate's own hook PipelineRuns are guarded like its other objects.
  // Tekton copies a PipelineRun's labels and annotations onto the CustomRuns it makes: only a hook
  // PipelineRun is agentgate's object, and only an AgentRun's CustomRun carries a creator it stamped.
  if (resource.role === "creator") {
    // One that stops naming an AgentRun is judged too: it may be turned away from a colleague's run.
    if (request.kind.kind === "CustomRun" && !customRunOfAgentRun(request.object) && !customRunOfAgentRun(request.oldObject)) return decide(origin, [], { revision });
    return decide(origin, [...(request.kind.kind === "PipelineRun" ? managed : []), ...(await creatorFindings(request, deps))], { revision });
  }
  if (resource.role === "managed") return decide(origin, managed, { revision });
  if (resource.role === "netpol") {
    const isolation = request.operation !== "DELETE" && !deps.identity.trusted.has(user) ? checkAgentIsolation(request.object) : [];
    return decide(origin, [...managed, ...isolation], { revision });
  }
  if (isAgentRun(request) && request.subResource === "status") return decide(origin, checkStatusWriter(request, deps.identity), { revision });
  // An agent kind agentgate made (a run's kagent Agent): only agentgate
  // writes it, and what it writes is what a verified decision said.
  if (managed.length > 0) return decide(origin, managed, { revision });
  if (touchesManaged(request) && deps.identity.trusted.has(user)) return decide(origin, [], { revision });
  // Garbage collection completing a foreground deletion of one (a shared Agent): its finalizer goes, nothing else changes (managed-object).
  if (touchesManaged(request) && request.operation === "UPDATE" && deps.identity.deleters.has(user) && onlyDropsFinalizers(request.oldObject, request.object)) return decide(origin, [], { revision });

  const object = request.object;
  if (!object || (request.operation !== "CREATE" && request.operation !== "UPDATE")) return decide(origin, [], { revision });
  const context = await resolveContext(request, deps.lookup);
  const input: PolicyInput = { request, context };
  if (isAgentRun(request) && request.operation === "CREATE") {
    // The gateway's own checks do not depend on what policy said: a warn
    // or dryrun profile, or a bundle set without config-exists, admits a run
    // whose config is missing, and its stamps are still checked. They hold
    // for agentgate's identities too: nothing it does needs to change a
    // stamp, and a leaked controller token cannot approve or rewrite runs.
    const run = object as AgentRun;
    const { violations, failures } = await judgeRunCreate(request, run, context, deps, engine);
    // A run policy refuses was refused by the mutating pass too, unstamped: its findings say all.
    if (!violations.some((v) => v.action === "deny")) violations.push(...(await validateRunCreate(request, run, context, engine, runDeps(deps))));
    return decide(origin, violations, { revision, failures, input });
  }
  const { violations, failures } = engine.violations(encodeInput(input));
  const old = (request.oldObject ?? null) as AgentRun | null;
  if (isAgentRun(request) && old) violations.push(...(await validateRunUpdate(request, object as AgentRun, old, engine, context, runDeps(deps))));
  violations.push(...failureViolations(failures));
  return decide(origin, violations, { revision, failures, input });
}

/**
 * Admits one request. Throws UnknownResourceError for a resource agentgate
 * does not handle (the server answers 400); everything else is a Decision.
 */
export async function admit(request: AdmissionRequest, deps: GatewayDeps, origin: Origin): Promise<Decision> {
  const resource = findResource(request.resource);
  const sub = request.subResource ?? "";
  const subOk = sub === "" || (sub === "status" && resource?.resource === "agentruns") || (sub === "token" && resource?.resource === "serviceaccounts") || (sub === "ephemeralcontainers" && resource?.resource === "pods");
  if (!resource || !subOk) throw new UnknownResourceError(request);
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
