// Who created a run, when agentgate's controller created it for a Tekton
// CustomRun (docs/trust-chain.md, "Creator"). The API server tells the
// webhook who sends each request, but a run made from a CustomRun is sent
// by agentgate's controller, and a CustomRun made for a PipelineRun by
// Tekton's. So the gateway stamps, and signs, the creator of every
// PipelineRun and of every CustomRun of an AgentRun when they are created;
// a CustomRun that Tekton makes inherits its PipelineRun's signed creator,
// and a run made from a CustomRun inherits the CustomRun's. The approver
// check then sees the human at the start of the chain.
import { canonicalJson } from "../signing/canonical.ts";
import { signDetached, verifyDetached, type KeyResolver } from "../signing/detached.ts";
import type { SigningKey } from "../signing/keys.ts";
import { STAMP } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import { MAX_SIGNING_SKEW_MS } from "./decision.ts";

export const CREATOR_TYP = "agentgate-creator+jws";

export type CreatorKind = "PipelineRun" | "CustomRun";

function payload(object: KubeObject, kind: CreatorKind, binding: "name" | "generateName", createdBy: string): string {
  const meta = object.metadata ?? {};
  return canonicalJson({ v: 1, kind, namespace: meta.namespace ?? "", [binding]: (binding === "name" ? meta.name : meta.generateName) ?? "", createdBy });
}

/** The annotations to add to a PipelineRun or CustomRun being created. */
export async function creatorStamps(object: KubeObject, kind: CreatorKind, createdBy: string, key: SigningKey, now = Date.now()): Promise<Record<string, string>> {
  const binding = object.metadata?.name ? "name" : "generateName";
  return { [STAMP.createdBy]: createdBy, [STAMP.creator]: await signDetached(payload(object, kind, binding, createdBy), key, CREATOR_TYP, now) };
}

export type CreatorCheck = { ok: true; createdBy: string } | { ok: false; why: string };

/** The signed creator of a stored PipelineRun or CustomRun. */
export async function verifyCreator(object: KubeObject, kind: CreatorKind, resolve: KeyResolver): Promise<CreatorCheck> {
  const meta = object.metadata ?? {};
  const a = meta.annotations ?? {};
  const createdBy = a[STAMP.createdBy];
  const token = a[STAMP.creator];
  const what = `${kind} ${meta.namespace ?? ""}/${meta.name ?? ""}`;
  if (createdBy === undefined || token === undefined) return { ok: false, why: `${what} carries no agentgate creator stamp (it was created while agentgate's webhook did not see ${kind}s)` };
  // Signed before the API server named it (generateName), or under its name.
  const bindings: ("name" | "generateName")[] = !meta.name ? ["generateName"] : meta.generateName && meta.name.startsWith(meta.generateName) ? ["name", "generateName"] : ["name"];
  let failure = "";
  for (const binding of bindings) {
    try {
      const header = await verifyDetached(token, payload(object, kind, binding, createdBy), CREATOR_TYP, resolve);
      const created = meta.creationTimestamp ? Date.parse(meta.creationTimestamp) : Number.NaN;
      if (!Number.isNaN(created) && Math.abs(created - header.iat * 1000) > MAX_SIGNING_SKEW_MS) return { ok: false, why: `${what}'s creator stamp was made for an earlier object (copied)` };
      return { ok: true, createdBy };
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
  }
  return { ok: false, why: `${what}'s creator stamp does not verify: ${failure}` };
}

/** The controlling owner of the given kind, if the object has one. */
export function controllingOwner(object: KubeObject, kind: string): { name: string; uid: string } | undefined {
  const owner = object.metadata?.ownerReferences?.find((o) => o.kind === kind && o.controller === true);
  return owner ? { name: owner.name, uid: owner.uid } : undefined;
}
