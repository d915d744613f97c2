// The provenance of one run: an in-toto Statement v1 with a SLSA v1
// provenance predicate (README, "Provenance"). Pure: the controller gathers the
// facts, this states them.
import type { ProvenanceFacts } from "./facts.ts";
import { STAMP } from "../types/agent.ts";
import { RESOURCES, type KubeResource } from "../kube/resources.ts";

export const BUILD_TYPE = "https://tekton.dev/agent-provenance/v1";
export const BUILDER_ID = "https://github.com/agentgate/agentgate/controller@v1";

export { canonicalJson } from "../signing/canonical.ts";
import { canonicalJson, sha256 } from "../signing/canonical.ts";

function modelName(spec: unknown): string {
  const s = (typeof spec === "object" && spec !== null ? spec : {}) as { provider?: unknown; model?: unknown };
  return `${typeof s.provider === "string" ? s.provider : ""}/${typeof s.model === "string" ? s.model : ""}`;
}

export { sha256 };

/** A policy bundle the controller holds itself: its digest is known for that name and revision. */
export interface KnownBundle {
  name: string;
  revision: string;
  /** "sha256:<hex>" of the bundle's files, as `agentgate bundle inspect` prints it */
  digest: string;
}

/**
 * The bundles named by the policy-revision stamp ("a@rev,b@rev"). The stamp
 * carries names and revisions only; a digest is recorded where the
 * controller holds a bundle of the same name and revision (the default
 * bundle built into the same image), and is null otherwise, rather than
 * guessed.
 */
export function policyBundles(stamp: string, known: readonly KnownBundle[], stamped: Readonly<Record<string, string>> = {}): { bundle: string; revision: string; digest: { sha256: string } | null }[] {
  return stamp
    .split(",")
    .filter(Boolean)
    .map((b) => {
      const at = b.lastIndexOf("@");
      const bundle = at === -1 ? b : b.slice(0, at);
      const revision = at === -1 ? "" : b.slice(at + 1);
      // The digest the gateway signed with the decision, else one of a bundle the controller holds itself.
      const digest = stamped[bundle] ?? known.find((k) => k.name === bundle && k.revision === revision)?.digest;
      return { bundle, revision, digest: digest ? { sha256: digest.replace(/^sha256:/, "") } : null };
    });
}

/** A kind's API as a resource URI names it: the core group is "core" there, since an empty path segment would be lost. */
const apiOf = (r: KubeResource): { group: string; version: string } => ({ group: r.group === "" ? "core" : r.group, version: r.versions[0] });

/** Where each kind of tool server lives in the API. */
const TOOL_SERVER_API: Record<string, { group: string; version: string }> = {
  RemoteMCPServer: apiOf(RESOURCES.remoteMcpServers),
  MCPServer: apiOf(RESOURCES.mcpServers),
  Service: apiOf(RESOURCES.services),
};

export function provenanceStatement(f: ProvenanceFacts, knownBundles: readonly KnownBundle[] = []): Record<string, unknown> {
  const ns = f.run.metadata?.namespace ?? "";
  const name = f.run.metadata?.name ?? "";
  const annotations = f.run.metadata?.annotations ?? {};
  const ref = (kind: string, api: { group: string; version: string }, n: string, space: string, spec: unknown) => ({
    uri: `k8s://${space}/${api.group}/${kind}/${n}`,
    name: `${kind}/${space}/${n}`,
    digest: { sha256: sha256(canonicalJson(spec)) },
    annotations: { apiVersion: api.group === "core" ? api.version : `${api.group}/${api.version}` },
  });
  // What the webhook decided for this run, as it stamped it at admission.
  // Admission warnings are not among them: the webhook returns them to the
  // client that created the run and stamps nothing of them.
  const decisions = {
    policyRevision: f.policyRevision,
    createdBy: annotations[STAMP.createdBy] ?? "",
    guardrails: f.guardrails,
    approval: { required: f.guardrails.approval.required, approverGroups: f.guardrails.approval.approverGroups, approvedBy: annotations[STAMP.approvedBy] ?? null },
  };
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
          // A shared run's model saw the earlier steps' conversation as well as its goal: those
          // steps' inputs are inputs of this run too (SLSA v1: external parameters are complete).
          ...(f.context ? { context: f.context } : {}),
        },
        internalParameters: {
          model: f.modelConfig ? modelName(f.modelConfig.spec) : null,
          agentRuntime: f.agentRuntime ?? null,
          // The Agent the run's status names, when its spec is not among the resolved dependencies and why.
          ...(f.agentUnproven ? { agent: { name: `${f.agentUnproven.namespace}/${f.agentUnproven.name}`, unproven: f.agentUnproven.why } } : {}),
          systemPrompt: { sha256: sha256(f.config.spec?.systemPrompt ?? "") },
          budgets: { tokenBudget: f.guardrails.tokenBudget, timeout: f.guardrails.timeout, maxIterations: f.guardrails.maxIterations },
          policy: policyBundles(f.policyRevision, knownBundles, f.policyDigests),
          guardrails: { sha256: sha256(canonicalJson(f.guardrails)) },
        },
        resolvedDependencies: [
          ...(f.agent ? [ref("Agent", apiOf(RESOURCES.agents), f.agent.name, f.agent.namespace, f.agent.spec)] : []),
          ...(f.modelConfig ? [ref("ModelConfig", apiOf(RESOURCES.modelConfigs), f.modelConfig.name, f.modelConfig.namespace, f.modelConfig.spec)] : []),
          ...f.toolServers.map((t) => ref(t.kind, TOOL_SERVER_API[t.kind] ?? apiOf(RESOURCES.remoteMcpServers), t.name, t.namespace, t.spec)),
        ],
      },
      runDetails: {
        builder: { id: BUILDER_ID },
        // reproducible: the TEP's field (SLSA v0.2's metadata.reproducible): an agent's run is never
        // reproducible from its inputs, whatever the model's settings.
        metadata: { invocationId: f.run.metadata?.uid ?? "", startedOn: f.startedOn, finishedOn: f.finishedOn, reproducible: false },
        byproducts: [
          { name: "usage", content: Buffer.from(canonicalJson(f.usage)).toString("base64"), mediaType: "application/json" },
          { name: "outcome", content: Buffer.from(f.outcome).toString("base64"), mediaType: "text/plain" },
          { name: "policy-decisions", content: Buffer.from(canonicalJson(decisions)).toString("base64"), mediaType: "application/json" },
          // Every call the run-time gateway judged, in order (docs/run-time-gateway.md, "The trace").
          ...(f.calls ? [{ name: "calls", digest: { sha256: sha256(canonicalJson(f.calls)) }, content: Buffer.from(canonicalJson(f.calls)).toString("base64"), mediaType: "application/json" }] : []),
        ],
      },
    },
  };
}

/** What a run's statement says of it as a step of a shared context: who (uid, subject), which context and share, its task and end. */
export interface StatedStep {
  /** runDetails.metadata.invocationId: the run's uid */
  uid: string;
  /** the first subject's name: <namespace>/<name> */
  subject: string;
  /** externalParameters.context.id and .share; undefined when it records no context */
  contextId?: string;
  share?: string;
  /** externalParameters.context.taskId; null when it names none (or predates it) */
  taskId: string | null;
  /** runDetails.metadata.finishedOn */
  finishedOn: string;
}

const field = (o: unknown, k: string): unknown => (typeof o === "object" && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>)[k] : undefined);
const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** Reads a statement provenanceStatement made back (verify its envelope first); undefined when it is not one (another buildType, fields missing). */
export function statedStep(statement: unknown): StatedStep | undefined {
  const predicate = field(statement, "predicate");
  const build = field(predicate, "buildDefinition");
  const meta = field(field(predicate, "runDetails"), "metadata");
  const subjects = field(statement, "subject");
  const uid = text(field(meta, "invocationId"));
  const finishedOn = text(field(meta, "finishedOn"));
  const subject = Array.isArray(subjects) ? text(field(subjects[0], "name")) : undefined;
  if (field(build, "buildType") !== BUILD_TYPE || uid === undefined || uid === "" || finishedOn === undefined || subject === undefined) return undefined;
  const context = field(field(build, "externalParameters"), "context");
  const contextId = text(field(context, "id"));
  const share = text(field(context, "share"));
  return { uid, subject, finishedOn, taskId: text(field(context, "taskId")) ?? null, ...(contextId !== undefined ? { contextId } : {}), ...(share !== undefined ? { share } : {}) };
}
