// Decision logs in OPA's decision-log shape, one JSON line per admission
// decision through winston. Prompts and goals are redacted by default: they
// are the developer's words and may hold anything.
import { randomUUID } from "node:crypto";
import type { Decision } from "../gateway/admit.ts";
import type { Logger } from "../log.ts";
import type { PolicyInput } from "../types/policy.ts";

export const DEFAULT_REDACTIONS: readonly string[] = [
  "request.object.spec.goal",
  "request.oldObject.spec.goal",
  "request.object.spec.context.hints",
  "request.oldObject.spec.context.hints",
  "request.object.spec.systemPrompt",
  "request.oldObject.spec.systemPrompt",
  "request.object.spec.declarative.systemMessage",
  "request.oldObject.spec.declarative.systemMessage",
  "request.object.metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
  "request.oldObject.metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
  "context.agentConfig.spec.systemPrompt",
  "context.agentConfig.metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
];

const REDACTED = "[redacted]";

/**
 * Paths are dot-separated from the input root. Annotation keys contain dots,
 * so at each step the longest key that matches the rest of the path wins.
 */
export function redact(value: unknown, paths: readonly string[]): unknown {
  const copy: unknown = structuredClone(value);
  for (const path of paths) redactPath(copy, path.split("."));
  return copy;
}

function redactPath(node: unknown, segments: string[]): void {
  if (typeof node !== "object" || node === null || segments.length === 0) return;
  const record = node as Record<string, unknown>;
  for (let take = segments.length; take >= 1; take--) {
    const key = segments.slice(0, take).join(".");
    if (!(key in record)) continue;
    if (take === segments.length) record[key] = REDACTED;
    else redactPath(record[key], segments.slice(take));
    return;
  }
}

export interface DecisionLogger {
  log(webhook: string, input: PolicyInput | undefined, decision: Decision, elapsedNs: bigint, bundles: readonly { name: string; revision: string }[]): void;
}

export function createDecisionLogger(logger: Logger, redactions: readonly string[] = DEFAULT_REDACTIONS): DecisionLogger {
  return {
    log(webhook, input, decision, elapsedNs, bundles) {
      logger.info("decision", {
        decision_id: randomUUID(),
        path: webhook === "mutate" ? "agentgate/defaults" : "agentgate/violations",
        input: input ? redact(input, redactions) : null,
        result: { allowed: decision.allowed, violations: decision.violations, ...(decision.patch.length > 0 ? { patch: decision.patch } : {}) },
        bundles: Object.fromEntries(bundles.map((b) => [b.name, { revision: b.revision }])),
        requested_by: input?.request.userInfo.username ?? "",
        metrics: { timer_server_handler_ns: Number(elapsedNs) },
        labels: { app: "agentgate", webhook },
        type: "openpolicyagent.org/decision_logs",
      });
    },
  };
}
