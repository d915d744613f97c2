// The stamps the gateway puts on every AgentRun at creation (docs/trust-chain.md).
import { STAMP, type Guardrails } from "../types/agent.ts";

export interface Stamps {
  annotations: Record<string, string>;
  labels: Record<string, string>;
}

/** Label values are limited to 63 characters of [A-Za-z0-9._-]. */
export function labelValue(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 63);
  return cleaned.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
}

export function serializeGuardrails(guardrails: Guardrails): string {
  return JSON.stringify(guardrails);
}

/** The readable stamps; the decision signature over them is added once they are on the run (decision.ts). */
export function computeStamps(user: string, revision: string, configName: string, guardrails: Guardrails, snapshot: string, digests?: Record<string, string>): Stamps {
  return {
    annotations: {
      [STAMP.createdBy]: user,
      [STAMP.policyRevision]: revision,
      ...(digests ? { [STAMP.policyDigests]: JSON.stringify(digests) } : {}),
      [STAMP.guardrails]: serializeGuardrails(guardrails),
      [STAMP.snapshot]: snapshot,
    },
    labels: { [STAMP.configLabel]: labelValue(configName) },
  };
}

export function parseGuardrails(value: string | undefined): Guardrails | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return isGuardrails(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

// The stamp is only ever written by the gateway, but a trusted identity can
// write anything; a stamp of the wrong shape counts as no stamp rather than
// failing later where a field is read.
function isGuardrails(v: unknown): v is Guardrails {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const g = v as Record<string, unknown>;
  const approval = g.approval as Record<string, unknown> | null | undefined;
  return (
    typeof g.tokenBudget === "number" &&
    typeof g.timeout === "string" &&
    typeof g.maxIterations === "number" &&
    (g.networkPolicy === "strict" || g.networkPolicy === "permissive") &&
    Array.isArray(g.egress) &&
    Array.isArray(g.rbac) &&
    Array.isArray(g.tools) &&
    typeof approval === "object" &&
    approval !== null &&
    typeof approval.required === "boolean" &&
    Array.isArray(approval.approverGroups)
  );
}
