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
import { SignatureError, signDetached, verifyDetached, type KeyResolver, type SignedHeader } from "../signing/detached.ts";
import type { SigningKey } from "../signing/keys.ts";
import { isDeepStrictEqual } from "node:util";
import type { AdmissionRequest } from "../types/admission.ts";
import { STAMP } from "../types/agent.ts";
import { isRecord, type KubeObject } from "../types/kube.ts";
import type { Violation } from "../types/policy.ts";
import type { Identity } from "./identity.ts";
import { MAX_SIGNING_SKEW_MS } from "./decision.ts";

export const CREATOR_TYP = "agentgate-creator+jws";

/**
 * How long after its creator stamp was signed an object may have been
 * created. The gateway signs only in the mutating webhook of the object's
 * own CREATE, and the API server sets creationTimestamp after the mutating
 * webhooks have run (registry BeforeCreate), so creationTimestamp − iat is
 * the rest of that admission chain: the mutating webhooks after agentgate's
 * (and a reinvocation round, after which agentgate's signs again),
 * normally milliseconds. 30 s is the longest one webhook may take
 * (Kubernetes caps timeoutSeconds at 30): only a create that waited out a
 * hung later webhook is refused, and Tekton (or the caller) makes it again.
 * A stamp copied onto an object of the same name made later (the first
 * deleted while the webhooks were off) is refused unless the copy was
 * made within these seconds of the original being signed; the payload
 * cannot bind the object more tightly, since its uid is not known at
 * admission.
 */
export const CREATED_AFTER_SIGNING_MS = 30_000;
/**
 * How far creationTimestamp may read before iat: it cannot be, but for the
 * clocks of the gateway replica that signed and the API server that created
 * and both being whole seconds. As wide as the other side: a replay is
 * always created after the stamp it copies, so this side bounds no replay,
 * and a gateway whose clock runs a few seconds ahead must not refuse every
 * pipeline. Together: the gateway's and the API server's clocks must agree
 * within about 30 s (README, "what we rely on").
 */
export const CREATED_BEFORE_SIGNING_MS = 30_000;

export type CreatorKind = "PipelineRun" | "CustomRun";

/**
 * Who the gateway says created an object. inheritedFrom: the uid of the
 * PipelineRun whose signed creator a CustomRun took because Tekton's
 * controller made it for that PipelineRun. Only that proves the CustomRun
 * is one of the PipelineRun's steps: a CustomRun made by anyone else names
 * its caller, and when a ServiceAccount of the namespace (a Triggers
 * EventListener, a CronJob) created the PipelineRun, an editor who
 * impersonates it gets the very same creator string.
 */
export interface Creator {
  createdBy: string;
  inheritedFrom?: string;
}

// Bound to the exact name: the mutating pass names objects created with
// generateName itself (gateway/generated-name.ts), so no stamp is made for
// a prefix that another object could share. v1 is every PipelineRun's, and
// a CustomRun's made by its caller (and every CustomRun's stamped before
// inheritance was signed); v2, a CustomRun's that inherited its creator,
// adds that PipelineRun's uid. The verifier rebuilds the uid from the
// CustomRun's controlling owner as stored, so a CustomRun moved under
// another PipelineRun (owner references are not seen by the creators
// webhook) no longer verifies; and since v is signed, a v1 stamp never
// passes for an inherited one.
function payload(object: KubeObject, kind: CreatorKind, createdBy: string, inheritedFrom?: string): string {
  const meta = object.metadata ?? {};
  const base = { kind, namespace: meta.namespace ?? "", name: meta.name ?? "", createdBy };
  return canonicalJson(inheritedFrom === undefined ? { v: 1, ...base } : { v: 2, ...base, inheritedFrom });
}

/**
 * The annotations to add to a PipelineRun or CustomRun being created; it
 * must have its name by now. inheritedFrom: for a CustomRun Tekton made,
 * the uid of its controlling PipelineRun whose creator it takes.
 */
export async function creatorStamps(object: KubeObject, kind: CreatorKind, createdBy: string, key: SigningKey, now = Date.now(), inheritedFrom?: string): Promise<Record<string, string>> {
  if (!object.metadata?.name) throw new Error(`${kind} has no name yet: the gateway names it before stamping`);
  if (inheritedFrom !== undefined && (kind !== "CustomRun" || controllingOwner(object, "PipelineRun")?.uid !== inheritedFrom)) throw new Error(`only a CustomRun inherits its creator, from the PipelineRun that controls it`);
  return { [STAMP.createdBy]: createdBy, [STAMP.creator]: await signDetached(payload(object, kind, createdBy, inheritedFrom), key, CREATOR_TYP, now) };
}

/** final: no later look at the same object can pass (it has no stamp, and stamps are written only at its creation). */
export type CreatorCheck = ({ ok: true; signedAt: number } & Creator) | { ok: false; why: string; final?: true };

/**
 * The signature over the stamp as the object stands: a CustomRun's first as
 * inherited from the PipelineRun that controls it now, then as its caller's.
 */
async function verifyStamp(object: KubeObject, kind: CreatorKind, createdBy: string, token: string, resolve: KeyResolver): Promise<{ header: SignedHeader; inheritedFrom?: string }> {
  const owner = kind === "CustomRun" ? controllingOwner(object, "PipelineRun") : undefined;
  if (owner) {
    try {
      return { header: await verifyDetached(token, payload(object, kind, createdBy, owner.uid), CREATOR_TYP, resolve), inheritedFrom: owner.uid };
    } catch (err) {
      // Only a signature over other bytes may be the other version's; a bad key or token fails the same either way.
      if (!(err instanceof SignatureError && err.reason === "invalid")) throw err;
    }
  }
  try {
    return { header: await verifyDetached(token, payload(object, kind, createdBy), CREATOR_TYP, resolve) };
  } catch (err) {
    if (owner && err instanceof SignatureError && err.reason === "invalid") throw new SignatureError("invalid", `${err.message}; a creator a CustomRun inherited verifies only under the PipelineRun it was made for, so it may have been moved under ${owner.name}`);
    throw err;
  }
}

/** The signed creator of a stored PipelineRun or CustomRun (and, for a CustomRun, whether it was inherited, and from which PipelineRun). */
export async function verifyCreator(object: KubeObject, kind: CreatorKind, resolve: KeyResolver): Promise<CreatorCheck> {
  const meta = object.metadata ?? {};
  const a = meta.annotations ?? {};
  const createdBy = a[STAMP.createdBy];
  const token = a[STAMP.creator];
  const what = `${kind} ${meta.namespace ?? ""}/${meta.name ?? ""}`;
  if (createdBy === undefined || token === undefined) return { ok: false, why: `${what} carries no agentgate creator stamp (it was created while agentgate's webhook did not see ${kind}s)`, final: true };
  try {
    const { header, inheritedFrom } = await verifyStamp(object, kind, createdBy, token, resolve);
    // Every creator stamp, v1 as v2, was signed during its object's CREATE: the object was created within the admission chain's seconds after.
    const created = meta.creationTimestamp ? Date.parse(meta.creationTimestamp) : Number.NaN;
    const late = created - header.iat * 1000;
    if (!Number.isNaN(created) && (late > CREATED_AFTER_SIGNING_MS || late < -CREATED_BEFORE_SIGNING_MS)) {
      return { ok: false, why: `${what}'s creator stamp was signed at ${new Date(header.iat * 1000).toISOString()}, not while it was created (${meta.creationTimestamp ?? ""}): it was made for an earlier object (copied)` };
    }
    return { ok: true, createdBy, signedAt: header.iat * 1000, ...(inheritedFrom !== undefined ? { inheritedFrom } : {}) };
  } catch (err) {
    return { ok: false, why: `${what}'s creator stamp does not verify: ${err instanceof Error ? err.message : String(err)}` };
  }
}

const deny = (field: string, message: string): Violation => ({ policy: "run-creator", field, message, action: "deny" });
const CREATOR_ANNOTATIONS = [STAMP.createdBy, STAMP.creator] as const;

/** Everything in a spec but the fields Tekton lets anyone set to cancel or start it. */
function specOf(object: KubeObject | null | undefined): Record<string, unknown> {
  const spec = isRecord(object?.spec) ? { ...object.spec } : {};
  delete spec.status;
  delete spec.statusMessage;
  return spec;
}

/**
 * A stamped PipelineRun or CustomRun being changed: its creator stamps stay
 * as the gateway wrote them (a stamp copied from another object is never
 * admitted), and what it will run is changed only by its creator (or
 * Tekton): otherwise an editor rewrites a colleague's pending PipelineRun
 * and the agent runs it as theirs.
 */
export function checkCreatorUpdate(request: AdmissionRequest, identity: Identity): Violation[] {
  const user = request.userInfo.username ?? "";
  if (identity.trusted.has(user) || request.operation !== "UPDATE") return [];
  const a = request.object?.metadata?.annotations ?? {};
  const b = request.oldObject?.metadata?.annotations ?? {};
  const kind = request.kind.kind;
  const out: Violation[] = [];
  for (const key of CREATOR_ANNOTATIONS) {
    if (a[key] !== b[key]) out.push(deny(`metadata.annotations["${key}"]`, `was ${JSON.stringify(b[key] ?? "(unset)")} and cannot be changed; agentgate stamps who created a ${kind} when it is created. Create your own ${kind} instead`));
  }
  const creator = b[STAMP.createdBy];
  if (creator !== undefined && creator !== user && !identity.tekton.has(user) && !isDeepStrictEqual(specOf(request.object), specOf(request.oldObject))) {
    out.push(deny("spec", `${JSON.stringify(creator)} created this ${kind}, and only they change what it runs (${JSON.stringify(user)} may still cancel it with spec.status); create your own ${kind} instead`));
  }
  return out;
}

/**
 * A PipelineRun or CustomRun created with creator stamps: they are the
 * gateway's, for this object, made for this request, and name who the
 * gateway says created it, inherited (from that PipelineRun) exactly when
 * the gateway says so. The mutating webhook for PipelineRuns may be
 * skipped (failurePolicy Ignore), so a stamp copied into a manifest reaches
 * this check rather than Tekton; so may Tekton's inherited stamp, copied
 * within minutes onto a CustomRun of the same name an editor makes again
 * under the same PipelineRun as the ServiceAccount that created it.
 */
export async function checkCreatorCreate(object: KubeObject, kind: CreatorKind, expected: Creator, resolve: KeyResolver, now: number): Promise<Violation[]> {
  const a = object.metadata?.annotations ?? {};
  if (a[STAMP.createdBy] === undefined && a[STAMP.creator] === undefined) return [];
  const check = await verifyCreator(object, kind, resolve);
  const fix = `agentgate stamps who created a ${kind}: remove ${STAMP.createdBy} and ${STAMP.creator} from your manifest`;
  if (!check.ok) return [deny(`metadata.annotations["${STAMP.creator}"]`, `${check.why}; ${fix}`)];
  const out: Violation[] = [];
  if (Math.abs(now - check.signedAt) > MAX_SIGNING_SKEW_MS) out.push(deny(`metadata.annotations["${STAMP.creator}"]`, `was signed at ${new Date(check.signedAt).toISOString()}, not for this request (copied); ${fix}`));
  if (check.createdBy !== expected.createdBy) out.push(deny(`metadata.annotations["${STAMP.createdBy}"]`, `is ${JSON.stringify(check.createdBy)} but this ${kind} is created by ${JSON.stringify(expected.createdBy)}; ${fix}`));
  if (check.inheritedFrom !== expected.inheritedFrom) {
    const said = (uid: string | undefined) => (uid === undefined ? "its caller's own" : `inherited from PipelineRun uid ${uid}`);
    out.push(deny(`metadata.annotations["${STAMP.creator}"]`, `says the creator is ${said(check.inheritedFrom)}, but for this request it is ${said(expected.inheritedFrom)}; ${fix}`));
  }
  return out;
}

/** The controlling owner of the given kind, if the object has one. */
export function controllingOwner(object: KubeObject, kind: string): { name: string; uid: string } | undefined {
  const owner = object.metadata?.ownerReferences?.find((o) => o.kind === kind && o.controller === true);
  return owner ? { name: owner.name, uid: owner.uid } : undefined;
}
