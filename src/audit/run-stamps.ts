// Audit of a stored run's stamps (docs/trust-chain.md, "Audit"): an update
// of a run to itself changes no stamp, so the webhook's own answer would
// pass a run stored with forged stamps while the webhook was off. Audit
// therefore verifies the signed decision (and approval), and recomputes the
// guardrails today's policy gives the run from its config, reporting any
// run whose stamp is missing, unverifiable or different.
import { isDeepStrictEqual } from "node:util";
import { resolveContext } from "../context/resolve.ts";
import type { ObjectLookup } from "../context/lookup.ts";
import { verifyApproval } from "../guardrails/approval-stamp.ts";
import { verifyDecision } from "../guardrails/decision.ts";
import { computeGuardrails } from "../guardrails/effective.ts";
import { brief } from "../guardrails/integrity.ts";
import { effectiveConfig } from "../guardrails/profile.ts";
import type { PolicyEngine } from "../policy/engine.ts";
import type { KeyResolver } from "../signing/detached.ts";
import type { AdmissionRequest } from "../types/admission.ts";
import { STAMP, type AgentConfig, type AgentRun } from "../types/agent.ts";
import type { Violation } from "../types/policy.ts";

const field = (key: string) => `metadata.annotations["${key}"]`;
const fail = (policy: string, key: string, message: string): Violation => ({ policy, field: field(key), message, action: "deny" });

export async function checkStoredRun(request: AdmissionRequest, run: AgentRun, engine: PolicyEngine, lookup: ObjectLookup, resolve: KeyResolver): Promise<Violation[]> {
  const check = await verifyDecision(run, resolve);
  if (!check.ok) return [fail("stamp-integrity", STAMP.decision, `${check.why}: agentgate did not admit this run as it is stored; the controller will not act on it`)];
  const out: Violation[] = [];
  if (run.metadata?.annotations?.[STAMP.approvedBy] !== undefined) {
    const approval = await verifyApproval(run, resolve);
    if (!approval.approved) out.push(fail("stamp-integrity", STAMP.approval, `${approval.why}: the approval was not admitted by agentgate`));
  }
  // What today's policy would stamp on this run, from its config as stored now.
  const context = await resolveContext(request, lookup);
  const config = context.agentConfig as AgentConfig | null;
  if (config) {
    const today = computeGuardrails(run, config, context, effectiveConfig(engine.policyConfig, context.namespace));
    const stamped = check.decision.guardrails;
    const keys = (Object.keys(today) as (keyof typeof today)[]).filter((k) => !isDeepStrictEqual(today[k], stamped[k])).sort();
    if (keys.length > 0) {
      out.push(fail("stamp-current", STAMP.guardrails, `differs from what today's policy gives this run in ${keys.map((k) => `${k} (stamped ${brief(stamped[k], 60)}, today ${brief(today[k], 60)})`).join(", ")}; it runs with what it was admitted with: cancel it and create it again to run under today's policy`));
    }
  }
  return out;
}
