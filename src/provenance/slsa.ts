// The provenance of one run: an in-toto Statement v1 with a SLSA v1
// provenance predicate (SPEC §5 step 6). Pure: the controller gathers the
// facts, this states them.
import { createHash } from "node:crypto";
import type { ProvenanceFacts } from "../controller/driver.ts";

export const BUILD_TYPE = "https://tekton.dev/agent-provenance/v1";
export const BUILDER_ID = "https://github.com/agentgate/agentgate/controller@v1";

/** JSON with object keys sorted at every level: equal objects hash equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  // JSON.stringify answers undefined for undefined, functions and symbols.
  if (value === undefined || typeof value === "function" || typeof value === "symbol") return "null";
  return JSON.stringify(value);
}

function modelName(spec: unknown): string {
  const s = (typeof spec === "object" && spec !== null ? spec : {}) as { provider?: unknown; model?: unknown };
  return `${typeof s.provider === "string" ? s.provider : ""}/${typeof s.model === "string" ? s.model : ""}`;
}

export const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

export function provenanceStatement(f: ProvenanceFacts): Record<string, unknown> {
  const ns = f.run.metadata?.namespace ?? "";
  const name = f.run.metadata?.name ?? "";
  const ref = (kind: string, group: string, n: string, space: string, spec: unknown) => ({ uri: `k8s://${space}/${group}/${kind}/${n}`, name: `${kind}/${space}/${n}`, digest: { sha256: sha256(canonicalJson(spec)) } });
  return {
    _type: "https://in-toto.io/Statement/v1",
    subject: [
      { name: `${ns}/${name}`, digest: { sha256: sha256(canonicalJson(f.run.spec ?? {})) } },
      ...f.results.filter((r) => r.name !== "provenance-digest").map((r) => ({ name: `result:${r.name}`, digest: { sha256: sha256(r.value) } })),
    ],
    predicateType: "https://slsa.dev/provenance/v1",
    predicate: {
      buildDefinition: {
        buildType: BUILD_TYPE,
        externalParameters: {
          goal: { sha256: sha256(f.run.spec?.goal ?? "") },
          hints: f.run.spec?.context?.hints ?? [],
          config: { ref: `${f.config.metadata?.namespace ?? ns}/${f.config.metadata?.name ?? ""}`, sha256: sha256(canonicalJson(f.config.spec ?? {})) },
        },
        internalParameters: {
          model: f.modelConfig ? modelName(f.modelConfig.spec) : null,
          systemPrompt: { sha256: sha256(f.config.spec?.systemPrompt ?? "") },
          budgets: { tokenBudget: f.guardrails.tokenBudget, timeout: f.guardrails.timeout, maxIterations: f.guardrails.maxIterations },
          policy: f.policyRevision.split(",").filter(Boolean).map((b) => {
            const [bundle = "", revision = ""] = b.split("@");
            return { bundle, revision };
          }),
          guardrails: { sha256: sha256(canonicalJson(f.guardrails)) },
        },
        resolvedDependencies: [
          ...(f.agent ? [ref("Agent", "kagent.dev", f.agent.name, f.agent.namespace, f.agent.spec)] : []),
          ...(f.modelConfig ? [ref("ModelConfig", "kagent.dev", f.modelConfig.name, f.modelConfig.namespace, f.modelConfig.spec)] : []),
          ...f.toolServers.map((t) => ref(t.kind, "kagent.dev", t.name, t.namespace, t.spec)),
        ],
      },
      runDetails: {
        builder: { id: BUILDER_ID },
        metadata: { invocationId: f.run.metadata?.uid ?? "", startedOn: f.startedOn, finishedOn: f.finishedOn },
        byproducts: [
          { name: "usage", content: Buffer.from(canonicalJson(f.usage)).toString("base64"), mediaType: "application/json" },
          { name: "outcome", content: Buffer.from(f.outcome).toString("base64"), mediaType: "text/plain" },
          { name: "policy-decisions", content: Buffer.from(canonicalJson({ revision: f.policyRevision, admittedBy: f.run.metadata?.annotations?.["agent.tekton.dev/created-by"] ?? "", approvedBy: f.run.metadata?.annotations?.["agent.tekton.dev/approved-by"] ?? null })).toString("base64"), mediaType: "application/json" },
        ],
      },
    },
  };
}
