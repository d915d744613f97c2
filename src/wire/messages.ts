// How findings read in kubectl: one line each, "[<policy-id>] <field>: <message>".
import type { Violation } from "../types/policy.ts";

export function renderViolation(v: Violation): string {
  return v.field === "" ? `[${v.policy}] ${v.message}` : `[${v.policy}] ${v.field}: ${v.message}`;
}

export function denialLines(violations: readonly Violation[]): string[] {
  return violations.filter((v) => v.action === "deny").map(renderViolation);
}

export function warningLines(violations: readonly Violation[]): string[] {
  return violations.filter((v) => v.action === "warn").map(renderViolation);
}
