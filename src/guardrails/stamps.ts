// The stamps the gateway puts on every AgentRun at creation (SPEC §2).
import { STAMP, type Guardrails } from "../types/agent.ts";

export interface Stamps {
  annotations: Record<string, string>;
  labels: Record<string, string>;
}

/** Label values are limited to 63 characters of [A-Za-z0-9._-]. */
function labelValue(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 63);
  return cleaned.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
}

export function serializeGuardrails(guardrails: Guardrails): string {
  return JSON.stringify(guardrails);
}

export function computeStamps(user: string, revision: string, configName: string, guardrails: Guardrails): Stamps {
  return {
    annotations: {
      [STAMP.createdBy]: user,
      [STAMP.policyRevision]: revision,
      [STAMP.guardrails]: serializeGuardrails(guardrails),
    },
    labels: { [STAMP.configLabel]: labelValue(configName) },
  };
}

export function parseGuardrails(value: string | undefined): Guardrails | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === "object" && parsed !== null ? (parsed as Guardrails) : undefined;
  } catch {
    return undefined;
  }
}
