// PipelineRuns and CustomRuns of an AgentRun at admission: the creator the
// gateway stamps and signs when one is created (docs/trust-chain.md, "Who
// created a run made through Tekton"), and what the validating pass checks
// of those stamps afterwards (run-creator). admit.ts routes them here.
import { createPatch, type Operation as PatchOperation } from "rfc6902";
import { checkCreatorCreate, checkCreatorUpdate, controllingOwner, creatorStamps, verifyCreator, type Creator, type CreatorKind } from "../guardrails/creator.ts";
import { whyNoSigningKey } from "../signing/keyring.ts";
import type { AdmissionRequest } from "../types/admission.ts";
import { STAMP } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import type { Violation } from "../types/policy.ts";
import type { GatewayDeps } from "./admit.ts";
import { withGeneratedName } from "./generated-name.ts";

const refusal = (message: string, final?: true): Violation => ({ policy: "run-creator", field: "metadata.ownerReferences", message, action: "deny", ...(final ? { final } : {}) });

type Refused = { refused: string; final?: true };

/**
 * Who the gateway says created a PipelineRun or CustomRun: the caller, or,
 * for a CustomRun Tekton makes for a PipelineRun, the PipelineRun's signed
 * creator, inherited from that PipelineRun's uid (signed too: the creator
 * string alone does not tell Tekton's CustomRun from one an editor makes as
 * the ServiceAccount that created the PipelineRun). One whose PipelineRun
 * has none is refused, since the run it would become could not say who
 * asked for it.
 */
async function expectedCreator(request: AdmissionRequest, object: KubeObject, deps: GatewayDeps): Promise<Creator | Refused> {
  const user = request.userInfo.username ?? "";
  if (request.kind.kind !== "CustomRun" || !deps.identity.tekton.has(user)) return { createdBy: user };
  const owner = controllingOwner(object, "PipelineRun");
  if (!owner) return { refused: `Tekton's controller created this CustomRun without a PipelineRun owning it, so agentgate cannot tell who asked for the agent run`, final: true };
  const pipelineRun = await deps.lookup.get("PipelineRun", request.namespace ?? "", owner.name);
  if (!pipelineRun || pipelineRun.metadata?.uid !== owner.uid) return { refused: `PipelineRun ${JSON.stringify(owner.name)} that owns this CustomRun does not exist` };
  const check = await verifyCreator(pipelineRun, "PipelineRun", deps.keyring.resolve);
  if (check.ok) return { createdBy: check.createdBy, inheritedFrom: owner.uid };
  return { refused: `${check.why}; agentgate cannot tell who asked for this agent run: re-run the pipeline`, ...(check.final ? { final: check.final } : {}) };
}

function withoutCreatorStamps(object: KubeObject): KubeObject {
  const all = object.metadata?.annotations ?? {};
  const kept = Object.fromEntries(Object.entries(all).filter(([k]) => k !== STAMP.createdBy && k !== STAMP.creator));
  return Object.keys(kept).length === Object.keys(all).length ? object : { ...object, metadata: { ...(object.metadata ?? {}), annotations: kept } };
}

/** The mutating pass: the creator stamp of one being created, under the exact name it will have. */
export async function creatorPatch(request: AdmissionRequest, object: KubeObject, deps: GatewayDeps): Promise<{ patch: PatchOperation[] } | { refused: Violation }> {
  const kind = request.kind.kind as CreatorKind;
  const creator = await expectedCreator(request, object, deps);
  if ("refused" in creator) return { refused: refusal(creator.refused, creator.final) };
  const key = deps.keyring.signingKey();
  if (!key && kind === "PipelineRun") {
    // Pipelines go on while agentgate cannot sign (as when its webhook is
    // down: failurePolicy Ignore), unstamped, with any creator annotation
    // the manifest carried taken off; an AgentRun task in them is refused
    // later, since its run could not say who asked for it.
    return { patch: createPatch(object, withoutCreatorStamps(object)) };
  }
  if (!key) return { refused: refusal(`agentgate cannot sign now (${whyNoSigningKey(deps.keyring)}); retry once it can`) };
  const named = withGeneratedName(object);
  const stamps = await creatorStamps(named, kind, creator.createdBy, key, (deps.now ?? Date.now)(), creator.inheritedFrom);
  const stamped = { ...named, metadata: { ...(named.metadata ?? {}), annotations: { ...(named.metadata?.annotations ?? {}), ...stamps } } };
  return { patch: createPatch(object, stamped) };
}

/** The validating pass: creator stamps are the gateway's, for this object and caller, and stay as written. */
export async function creatorFindings(request: AdmissionRequest, deps: GatewayDeps): Promise<Violation[]> {
  const object = request.object;
  const violations = checkCreatorUpdate(request, deps.identity);
  if (request.operation === "CREATE" && object && !deps.identity.trusted.has(request.userInfo.username ?? "")) {
    const creator = await expectedCreator(request, object, deps);
    if ("refused" in creator) violations.push(refusal(creator.refused, creator.final));
    else violations.push(...(await checkCreatorCreate(object, request.kind.kind as CreatorKind, creator, deps.keyring.resolve, (deps.now ?? Date.now)())));
  }
  return violations;
}
