// The signed decision on an AgentRun (docs/trust-chain.md): the gateway's
// stamps (creator, policy revision, guardrails, snapshot) signed together
// with the run's namespace, name and spec, so that a stamp written by
// anyone else, a stamp copied from another run, or a spec changed after
// admission fails verification. The signature is detached: the payload is
// rebuilt from the run, so the readable annotations are what was signed.
import { canonicalJson, sha256 } from "../signing/canonical.ts";
import { signDetached, verifyDetached, type KeyResolver } from "../signing/detached.ts";
import type { SigningKey } from "../signing/keys.ts";
import { STAMP, type AgentRun, type Guardrails, type Snapshot } from "../types/agent.ts";
import { isRecord } from "../types/kube.ts";
import { parseGuardrails } from "./stamps.ts";

export const DECISION_TYP = "agentgate-decision+jws";

/**
 * How far the signing time may be from the run's creationTimestamp: the
 * API server sets that moments after the mutating webhook signed. A
 * decision replayed onto a run created later is refused.
 */
export const MAX_SIGNING_SKEW_MS = 5 * 60_000;

/** The spec the decision covers: everything but spec.status, the one field a human may still set (Cancelled). */
export function specDigest(spec: unknown): string {
  const copy = isRecord(spec) ? { ...spec } : {};
  delete copy.status;
  return sha256(canonicalJson(copy));
}

/**
 * The signed bytes, rebuilt from the run. A run created with generateName
 * is named by the mutating pass before it is signed
 * (gateway/generated-name.ts), so the decision binds the exact name.
 */
export function decisionPayload(run: AgentRun): string {
  const meta = run.metadata ?? {};
  const a = meta.annotations ?? {};
  return canonicalJson({
    v: 1,
    kind: "AgentRun",
    namespace: meta.namespace ?? "",
    name: meta.name ?? "",
    spec: specDigest(run.spec),
    createdBy: a[STAMP.createdBy] ?? null,
    policyRevision: a[STAMP.policyRevision] ?? null,
    // Only when stamped: decisions signed before bundles' digests were stamped still verify.
    ...(a[STAMP.policyDigests] !== undefined ? { policyDigests: a[STAMP.policyDigests] } : {}),
    guardrails: sha256(a[STAMP.guardrails] ?? ""),
    snapshot: sha256(a[STAMP.snapshot] ?? ""),
  });
}

export async function signDecision(run: AgentRun, key: SigningKey, now = Date.now()): Promise<string> {
  if (!run.metadata?.name) throw new Error("the run has no name yet: the gateway names it before signing");
  return signDetached(decisionPayload(run), key, DECISION_TYP, now);
}

export interface VerifiedDecision {
  guardrails: Guardrails;
  snapshot: Snapshot;
  createdBy: string;
  policyRevision: string;
  /** bundle name → "sha256:<hex>", as signed; empty for a decision signed before they were stamped */
  policyDigests: Record<string, string>;
  /** when the gateway signed (ms since the epoch) */
  signedAt: number;
  kid: string;
}

export type DecisionCheck = { ok: true; decision: VerifiedDecision } | { ok: false; why: string };

export function parseSnapshot(text: string | undefined): Snapshot | undefined {
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (!isRecord(v) || !isRecord(v.config) || typeof v.config.name !== "string" || !isRecord(v.config.spec) || !isRecord(v.toolServers)) return undefined;
    if (v.modelConfig !== null && !isRecord(v.modelConfig)) return undefined;
    return v as unknown as Snapshot;
  } catch {
    return undefined;
  }
}

/**
 * Verifies a stored run's decision: signed by one of agentgate's keys over
 * this run's namespace, name, spec and stamps, within the skew of its
 * creation when that is known. `why` is one line fit for a condition.
 */
export async function verifyDecision(run: AgentRun, resolve: KeyResolver): Promise<DecisionCheck> {
  const a = run.metadata?.annotations ?? {};
  const token = a[STAMP.decision];
  if (token === undefined) {
    return { ok: false, why: a[STAMP.guardrails] !== undefined ? `the run carries guardrails but no ${STAMP.decision} signature, so agentgate did not write them` : `the run carries no ${STAMP.decision} stamp: agentgate's webhook did not admit it (created while the webhook was off, or in a namespace it does not see)` };
  }
  const meta = run.metadata ?? {};
  let header;
  try {
    header = await verifyDetached(token, decisionPayload(run), DECISION_TYP, resolve);
  } catch (err) {
    return { ok: false, why: `its ${STAMP.decision} stamp does not verify: ${err instanceof Error ? err.message : String(err)}` };
  }
  const signedAt = header.iat * 1000;
  const created = meta.creationTimestamp ? Date.parse(meta.creationTimestamp) : Number.NaN;
  if (!Number.isNaN(created) && Math.abs(created - signedAt) > MAX_SIGNING_SKEW_MS) {
    return { ok: false, why: `its ${STAMP.decision} stamp was signed at ${new Date(signedAt).toISOString()}, not when the run was created (${meta.creationTimestamp ?? ""}): it was copied from an earlier run` };
  }
  const guardrails = parseGuardrails(a[STAMP.guardrails]);
  const snapshot = parseSnapshot(a[STAMP.snapshot]);
  // Signed but unreadable cannot come from agentgate; say so rather than guess.
  if (!guardrails || !snapshot) return { ok: false, why: `its signed ${!guardrails ? STAMP.guardrails : STAMP.snapshot} stamp cannot be read` };
  return { ok: true, decision: { guardrails, snapshot, createdBy: a[STAMP.createdBy] ?? "", policyRevision: a[STAMP.policyRevision] ?? "", policyDigests: parsePolicyDigests(a[STAMP.policyDigests]), signedAt, kid: header.kid } };
}

/** The policy-digests stamp: bundle name → "sha256:<hex>"; what is not that shape is left out. */
export function parsePolicyDigests(text: string | undefined): Record<string, string> {
  if (text === undefined) return {};
  try {
    const v: unknown = JSON.parse(text);
    if (!isRecord(v)) return {};
    return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string" && /^sha256:[0-9a-f]{64}$/.test(e[1])));
  } catch {
    return {};
  }
}
