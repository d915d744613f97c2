// Decision logs in OPA's decision-log shape (openpolicyagent.org/docs
// "Decision Logs": decision_id, labels with the instance's id and version,
// bundles with revisions, path, input, result, requested_by, timestamp,
// metrics, erased), one JSON line per admission decision through winston.
// Prompts and goals are erased by default, as OPA's mask policy erases:
// the field is removed and its JSON Pointer listed in `erased`. They are the
// developer's words and may hold anything.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Decision } from "../gateway/admit.ts";
import type { Logger } from "../log.ts";
import type { AdmissionRequest } from "../types/admission.ts";
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

export interface Redacted {
  value: unknown;
  /** JSON Pointers from the event root (`/input/...`) of the fields removed, as OPA's `erased` */
  erased: string[];
}

/**
 * Removes each path from a copy of the input. Paths are dot-separated from
 * the input root; annotation keys contain dots, so at each step the longest
 * key that matches the rest of the path wins. Paths that are absent are
 * left out of `erased` (OPA ignores undefined pointers too).
 */
export function redact(value: unknown, paths: readonly string[]): Redacted {
  const copy: unknown = structuredClone(value);
  const erased: string[] = [];
  for (const path of paths) {
    const keys = erasePath(copy, path.split("."));
    // OPA escapes each pointer segment as a URL query component ("/" → %2F).
    if (keys) erased.push(`/input/${keys.map((k) => encodeURIComponent(k)).join("/")}`);
  }
  return { value: copy, erased };
}

/** The keys of the field removed, or undefined when the path is absent. */
function erasePath(node: unknown, segments: string[]): string[] | undefined {
  if (typeof node !== "object" || node === null || Array.isArray(node) || segments.length === 0) return undefined;
  const record = node as Record<string, unknown>;
  for (let take = segments.length; take >= 1; take--) {
    const key = segments.slice(0, take).join(".");
    if (!Object.hasOwn(record, key)) continue;
    if (take === segments.length) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- the key is the configured path's
      delete record[key];
      return [key];
    }
    const rest = erasePath(record[key], segments.slice(take));
    return rest ? [key, ...rest] : undefined;
  }
  return undefined;
}

/** What the server knows of one answered review. */
export interface DecisionRecord {
  webhook: string;
  /** the policy input; only the request when the gateway failed before resolving context */
  input: PolicyInput | { request: AdmissionRequest } | undefined;
  /** the decision, or the error the request was refused with (fail closed) */
  outcome: { decision: Decision } | { error: string };
  elapsedNs: bigint;
  bundles: readonly { name: string; revision: string }[];
  /** the client's address, as OPA records it (the API server) */
  remoteAddress: string;
  /**
   * The id a denial names (the AdmissionReview's request uid, unique per
   * webhook call), so a developer's message leads to this record; a random
   * one when the request had none to give.
   */
  decisionId?: string;
}

export interface DecisionLogger {
  log(record: DecisionRecord): void;
}

export interface DecisionLoggerOptions {
  /** labels.id: one per process, as OPA's instance id */
  instanceId?: string;
  /** labels.version */
  version?: string;
}

/** agentgate's version from its package.json (beside src/ and dist/, and in the image). */
function packageVersion(): string {
  try {
    const parsed: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    return typeof parsed === "object" && parsed !== null && "version" in parsed && typeof parsed.version === "string" ? parsed.version : "unknown";
  } catch {
    // A decision log without a version beats a gateway that will not start.
    return "unknown";
  }
}

export function createDecisionLogger(logger: Logger, redactions: readonly string[] = DEFAULT_REDACTIONS, opts: DecisionLoggerOptions = {}): DecisionLogger {
  const labels = { app: "agentgate", id: opts.instanceId ?? randomUUID(), version: opts.version ?? packageVersion() };
  return {
    log(record) {
      const { value: input, erased } = record.input ? redact(record.input, redactions) : { value: null, erased: [] };
      const result = "decision" in record.outcome
        ? { allowed: record.outcome.decision.allowed, violations: record.outcome.decision.violations, ...(record.outcome.decision.patch.length > 0 ? { patch: record.outcome.decision.patch } : {}) }
        : { allowed: false, violations: [] };
      logger.info("decision", {
        type: "openpolicyagent.org/decision_logs",
        decision_id: record.decisionId ?? randomUUID(),
        labels,
        bundles: Object.fromEntries(record.bundles.map((b) => [b.name, { revision: b.revision }])),
        path: record.webhook === "mutate" ? "agentgate/defaults" : "agentgate/violations",
        input,
        result,
        ...("error" in record.outcome ? { error: { code: "internal_error", message: record.outcome.error } } : {}),
        requested_by: record.remoteAddress,
        // RFC 3339, as OPA's (set here, winston's timestamp format keeps it).
        timestamp: new Date().toISOString(),
        metrics: { timer_server_handler_ns: Number(record.elapsedNs) },
        ...(erased.length > 0 ? { erased } : {}),
      });
    },
  };
}
