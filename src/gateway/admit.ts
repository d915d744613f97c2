// The one evaluation path. The webhook (validate, mutate), `agentgate
// review`, audit and the benchmark all call admit(); only the wire around it
// differs. wire in → context → policy → guardrails → decision.
import { createPatch, type Operation as PatchOperation } from "rfc6902";
import type { AccessReviewer } from "../context/access-review.ts";
import { resolveContext } from "../context/resolve.ts";
import type { ObjectLookup } from "../context/lookup.ts";
import { controllingOwner, creatorStamps, verifyCreator, type CreatorKind } from "../guardrails/creator.ts";
import type { Identity } from "../guardrails/identity.ts";
import { checkStatusWriter } from "../guardrails/integrity.ts";
import { checkManagedObject, touchesManaged } from "../guardrails/managed-object.ts";
import { checkAgentIsolation } from "../guardrails/network-isolation.ts";
import { checkRunIdentity, runServiceAccounts } from "../guardrails/run-identity.ts";
import { encodeInput, type BundleFailure, type PolicyEngine } from "../policy/engine.ts";
import { fillDefaults } from "../policy/merge.ts";
import type { Keyring } from "../signing/keyring.ts";
import type { AdmissionRequest } from "../types/admission.ts";
import { STAMP, type AgentRun } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import type { PolicyInput, Violation } from "../types/policy.ts";
import { judgeReferenced } from "./referenced.ts";
import { findResource, type HandledResource } from "./resources.ts";
import { approvalStamp, goalInput, runStamps, validateRunCreate, validateRunUpdate, type RunDeps } from "./run-admission.ts";

export type Origin = "validate" | "mutate" | "audit";

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
    const sub = request.subResource ? `/${request.subResource}` : "";
    super(`agentgate does not handle resource ${group === "" ? "" : `${group}/`}${version}/${resource}${sub}`);
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

function runDeps(deps: GatewayDeps): RunDeps {
  return { lookup: deps.lookup, identity: deps.identity, keyring: deps.keyring, access: deps.access, now: deps.now ?? Date.now };
}

function withAnnotations(object: KubeObject, annotations: Record<string, string>, labels?: Record<string, string>): KubeObject {
  const metadata = { ...(object.metadata ?? {}), annotations: { ...(object.metadata?.annotations ?? {}), ...annotations } };
  if (labels) metadata.labels = { ...(object.metadata?.labels ?? {}), ...labels };
  return { ...object, metadata };
}

/**
 * The creator stamp of a PipelineRun or CustomRun being created. A
 * CustomRun Tekton makes for a PipelineRun takes the PipelineRun's signed
 * creator; one whose PipelineRun has none is refused, since the run it
 * would become could not say who asked for it.
 */
async function mutateCreator(request: AdmissionRequest, object: KubeObject, deps: GatewayDeps, revision: string): Promise<Decision> {
  const kind = request.kind.kind as CreatorKind;
  const user = request.userInfo.username ?? "";
  const refuse = (message: string) => decide("mutate", [{ policy: "run-creator", field: "metadata.ownerReferences", message, action: "deny" }], { revision });
  let createdBy = user;
  if (kind === "CustomRun" && deps.identity.tekton.has(user)) {
    const owner = controllingOwner(object, "PipelineRun");
    if (!owner) return refuse(`Tekton's controller created this CustomRun without a PipelineRun owning it, so agentgate cannot tell who asked for the agent run`);
    const pipelineRun = await deps.lookup.get("PipelineRun", request.namespace ?? "", owner.name);
    if (!pipelineRun || pipelineRun.metadata?.uid !== owner.uid) return refuse(`PipelineRun ${JSON.stringify(owner.name)} that owns this CustomRun does not exist`);
    const check = await verifyCreator(pipelineRun, "PipelineRun", deps.keyring.resolve);
    if (!check.ok) return refuse(`${check.why}; agentgate cannot tell who asked for this agent run: re-run the pipeline`);
    createdBy = check.createdBy;
  }
  const key = deps.keyring.signingKey();
  if (!key) return refuse(`agentgate cannot sign yet (${deps.keyring.notReady() ?? "no signing key"}); retry shortly`);
  const stamped = withAnnotations(object, await creatorStamps(object, kind, createdBy, key, (deps.now ?? Date.now)()));
  return decide("mutate", [], { revision, patch: createPatch(object, stamped) });
}

async function mutate(request: AdmissionRequest, resource: HandledResource, deps: GatewayDeps, engine: PolicyEngine): Promise<Decision> {
  const revision = engine.revision;
  const object = request.object;
  if (!object || (request.operation !== "CREATE" && request.operation !== "UPDATE")) return decide("mutate", [], { revision });
  if (resource.role === "creator") return request.operation === "CREATE" ? mutateCreator(request, object, deps, revision) : decide("mutate", [], { revision });
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
    const stamps = await runStamps(request, mutated as AgentRun, context, engine, runDeps(deps));
    if (stamps && "refused" in stamps) return decide("mutate", [stamps.refused], { revision, input });
    if (stamps) mutated = withAnnotations(mutated, stamps.annotations, stamps.labels);
  } else if (isAgentRun(request)) {
    const approval = await approvalStamp(mutated as AgentRun, (request.oldObject ?? null) as AgentRun | null, runDeps(deps));
    if (approval) mutated = withAnnotations(mutated, { [STAMP.approval]: approval });
  }
  return decide("mutate", [], { revision, input, patch: createPatch(object, mutated) });
}

/** Pods, workloads and token requests: only a run's own chain uses its ServiceAccount. */
async function validateWorkload(request: AdmissionRequest, deps: GatewayDeps, origin: Origin, revision: string): Promise<Decision> {
  const violations: Violation[] = [];
  for (const name of runServiceAccounts(request)) {
    const account = await deps.lookup.get("ServiceAccount", request.namespace ?? "", name);
    violations.push(...checkRunIdentity(request, name, account, deps.identity));
  }
  return decide(origin, violations, { revision });
}

async function validate(request: AdmissionRequest, resource: HandledResource, deps: GatewayDeps, engine: PolicyEngine, origin: Origin): Promise<Decision> {
  const revision = engine.revision;
  const user = request.userInfo.username ?? "";
  if (resource.role === "workload" || request.subResource === "token") return validateWorkload(request, deps, origin, revision);
  const managed = checkManagedObject(request, deps.identity);
  // PipelineRuns and CustomRuns are stamped by the mutating webhook; agentgate's own hook PipelineRuns are guarded like its other objects.
  if (resource.role === "creator") return decide(origin, managed, { revision });
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

  const object = request.object;
  if (!object || (request.operation !== "CREATE" && request.operation !== "UPDATE")) return decide(origin, [], { revision });
  const context = await resolveContext(request, deps.lookup);
  const input: PolicyInput = { request, context };
  const { violations, failures } = engine.violations(encodeInput(input));

  if (isAgentRun(request)) {
    const run = object as AgentRun;
    const old = (request.oldObject ?? null) as AgentRun | null;
    // The gateway's own checks do not depend on what policy said: a warn
    // or dryrun profile, or a bundle set without config-exists, admits a run
    // whose config is missing, and its stamps are still checked. They hold
    // for agentgate's identities too: nothing it does needs to change a
    // stamp, and a leaked controller token cannot approve or rewrite runs.
    if (request.operation === "CREATE") {
      const goals = engine.goals(goalInput(run, context, request.namespace ?? ""));
      violations.push(...goals.violations);
      failures.push(...goals.failures);
      const referenced = await judgeReferenced(request, context, deps.lookup, engine);
      violations.push(...referenced.violations);
      failures.push(...referenced.failures);
      violations.push(...(await validateRunCreate(request, run, context, runDeps(deps))));
    } else if (old) {
      violations.push(...(await validateRunUpdate(request, run, old, engine, context, runDeps(deps))));
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
  const sub = request.subResource ?? "";
  const subOk = sub === "" || (sub === "status" && resource?.resource === "agentruns") || (sub === "token" && resource?.resource === "serviceaccounts");
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
