// The webhook configurations, derived from HANDLED_RESOURCES (src/kube/resources.ts): the chart
// (files/handled-resources.json is WEBHOOKS, rendered by templates/webhooks.yaml)
// and the tests register exactly what the server handles.
import { AGENT_GROUP, byRole, type HandledResource } from "../kube/resources.ts";
import { TOKEN_SECRET_ACCOUNT } from "../guardrails/run-identity.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_SERVICE_ACCOUNT_PREFIX, STAMP } from "../types/agent.ts";

export const WEBHOOK_NAMES = {
  validate: "validate.agent.tekton.dev",
  managed: "managed.agent.tekton.dev",
  networkPolicies: "networkpolicies.agent.tekton.dev",
  workloads: "workloads.agent.tekton.dev",
  creators: "creators.agent.tekton.dev",
  mutate: "mutate.agent.tekton.dev",
  customRuns: "customruns.agent.tekton.dev",
  pipelineRuns: "pipelineruns.agent.tekton.dev",
} as const;

type Operation = "CREATE" | "UPDATE" | "DELETE";

export interface WebhookRule {
  apiGroups: string[];
  apiVersions: string[];
  resources: string[];
  operations: Operation[];
  scope: "Namespaced";
}

export interface MatchCondition {
  name: string;
  expression: string;
}

/** One webhook of either configuration, without what an install decides (target, namespaces, timeout). */
export interface WebhookDef {
  name: string;
  type: "validating" | "mutating";
  path: "/validate" | "/mutate";
  rules: WebhookRule[];
  objectSelector?: { matchLabels: Record<string, string> };
  /** always sent, whatever the install's matchConditions setting */
  matchConditions?: MatchCondition[];
  /** agentgate's own identities (and garbage collection deleting) skip it: the gateway would admit them without looking */
  skipTrusted: boolean;
  /**
   * "configured": the install's webhook.failurePolicy (Fail by default).
   * "Ignore": a webhook whose absence is caught later, where failing would
   * stop work agentgate does not guard (every PipelineRun in the cluster).
   */
  failurePolicy: "configured" | "Ignore";
  reinvocationPolicy?: "IfNeeded";
}

const rule = (r: HandledResource, operations: Operation[], resources: string[] = [r.resource]): WebhookRule => ({ apiGroups: [r.group], apiVersions: r.versions, resources, operations, scope: "Namespaced" });

const find = (role: HandledResource["role"], resource: string): HandledResource => {
  const r = byRole(role).find((x) => x.resource === resource);
  if (!r) throw new Error(`no handled resource ${resource} (${role})`);
  return r;
};

/**
 * Sends a workload only when its pod template names a run's ServiceAccount,
 * before or after the change (an UPDATE that moves a run's Deployment off
 * its account is sent too), a token Secret only when it names one, and a
 * token request only for one and not from a kubelet (which asks for the
 * agent pods' own tokens): every other pod in the cluster costs no call, and
 * an outage blocks nothing else. The gateway checks again itself
 * (run-identity.ts runServiceAccounts reads the same fields).
 */
const SA = `'${RUN_SERVICE_ACCOUNT_PREFIX}'`;
export const WORKLOAD_ACCOUNT_FIELDS: readonly string[] = [
  "spec.serviceAccountName",
  "spec.serviceAccount",
  "spec.template.spec.serviceAccountName",
  "spec.template.spec.serviceAccount",
  "spec.jobTemplate.spec.template.spec.serviceAccountName",
  "spec.jobTemplate.spec.template.spec.serviceAccount",
];
const accountsOf = (root: "object" | "oldObject") =>
  `[${[...WORKLOAD_ACCOUNT_FIELDS.map((f) => `${root}.?${f.split(".").join(".?")}`), `${root}.?metadata.?annotations[?'${TOKEN_SECRET_ACCOUNT}']`].join(", ")}]` +
  `.exists(sa, sa.orValue('').startsWith(${SA}))`;
export const WORKLOAD_CONDITION =
  // request.subResource is absent (not "") on a request for the object itself: has() first, or the expression errors and, failing closed, refuses every pod.
  `(has(request.subResource) && request.subResource == 'token') ? (request.name.startsWith(${SA}) && !(has(request.userInfo.groups) && 'system:nodes' in request.userInfo.groups)) : ` +
  // oldObject is null on CREATE.
  `((object != null && ${accountsOf("object")}) || (oldObject != null && ${accountsOf("oldObject")}))`;

/**
 * Sends a PipelineRun, or a CustomRun of an AgentRun, created with creator
 * stamps (the mutating webhook for PipelineRuns may have been skipped, and a
 * stamp copied into a manifest must not reach Tekton), and an update of a
 * stamped one that changes its stamps, or that changes its spec beyond
 * spec.status and spec.statusMessage and does not come from its creator: a
 * cancel or a start, and the creator's own edits, never wait on the gateway.
 */
const stampOf = (root: "object" | "oldObject", key: string) => `${root}.metadata.?annotations[?'${key}'].orValue('')`;
const SPEC_STATUS = `k != 'status' && k != 'statusMessage'`;
const specOf = (root: "object" | "oldObject") => `${root}.?spec.orValue({})`;
const SPEC_CHANGED =
  `${specOf("object")}.filter(k, ${SPEC_STATUS}).exists(k, !(k in ${specOf("oldObject")}) || ${specOf("object")}[k] != ${specOf("oldObject")}[k]) || ` +
  `${specOf("oldObject")}.filter(k, ${SPEC_STATUS}).exists(k, !(k in ${specOf("object")}))`;
export const CREATOR_CONDITION =
  `request.operation == 'CREATE' ? (${stampOf("object", STAMP.createdBy)} != '' || ${stampOf("object", STAMP.creator)} != '') : ` +
  `(${stampOf("object", STAMP.createdBy)} != ${stampOf("oldObject", STAMP.createdBy)} || ${stampOf("object", STAMP.creator)} != ${stampOf("oldObject", STAMP.creator)} || ` +
  `(${stampOf("oldObject", STAMP.createdBy)} != '' && ${stampOf("oldObject", STAMP.createdBy)} != request.userInfo.username && (${SPEC_CHANGED})))`;

/** A CustomRun of an AgentRun; other custom tasks are Tekton's business (Tekton copies a PipelineRun's annotations onto them). */
const runsAnAgent = (root: "object" | "oldObject") => `${root}.?spec.?customRef.?kind.orValue('') == 'AgentRun' && ${root}.?spec.?customRef.?apiVersion.orValue('').startsWith('${AGENT_GROUP}/')`;
const RUNS_AN_AGENT = runsAnAgent("object");
// An update that turns a CustomRun away from an AgentRun is sent too (oldObject is null on CREATE).
export const AGENT_CUSTOM_RUNS_ONLY = `request.resource.resource != 'customruns' || (${RUNS_AN_AGENT}) || (oldObject != null && ${runsAnAgent("oldObject")})`;

function agentRules(): WebhookRule[] {
  return byRole("agent").map((r) => (r.resource === "agentruns" ? rule(r, ["CREATE", "UPDATE"], ["agentruns", "agentruns/status"]) : rule(r, ["CREATE", "UPDATE"])));
}

export const WEBHOOKS: readonly WebhookDef[] = [
  // Every agent object, and every write of a run's status: only the controller writes it.
  { name: WEBHOOK_NAMES.validate, type: "validating", path: "/validate", rules: agentRules(), skipTrusted: false, failurePolicy: "configured" },
  {
    name: WEBHOOK_NAMES.managed,
    type: "validating",
    path: "/validate",
    rules: [...byRole("managed").map((r) => rule(r, ["CREATE", "UPDATE", "DELETE"])), ...byRole("netpol").map((r) => rule(r, ["DELETE"])), rule(find("agent", "agents"), ["DELETE"]), rule(find("agent", "modelconfigs"), ["DELETE"]), rule(find("agent", "remotemcpservers"), ["DELETE"]), rule(find("creator", "pipelineruns"), ["CREATE", "UPDATE", "DELETE"])],
    // Only agentgate's own objects are sent (and ones claiming to be).
    objectSelector: { matchLabels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
    skipTrusted: true,
    failurePolicy: "configured",
  },
  { name: WEBHOOK_NAMES.networkPolicies, type: "validating", path: "/validate", rules: byRole("netpol").map((r) => rule(r, ["CREATE", "UPDATE"])), skipTrusted: true, failurePolicy: "configured" },
  {
    name: WEBHOOK_NAMES.workloads,
    type: "validating",
    path: "/validate",
    rules: [
      ...byRole("workload").map((r) => rule(r, ["CREATE", "UPDATE"])),
      // A container added to a run's pod runs as its account.
      rule(find("workload", "pods"), ["UPDATE"], ["pods/ephemeralcontainers"]),
      rule(find("managed", "serviceaccounts"), ["CREATE"], ["serviceaccounts/token"]),
    ],
    matchConditions: [{ name: "uses-a-run-service-account", expression: WORKLOAD_CONDITION }],
    skipTrusted: true,
    failurePolicy: "configured",
  },
  {
    name: WEBHOOK_NAMES.creators,
    type: "validating",
    path: "/validate",
    rules: byRole("creator").map((r) => rule(r, ["CREATE", "UPDATE"])),
    matchConditions: [
      { name: "agent-custom-runs-only", expression: AGENT_CUSTOM_RUNS_ONLY },
      { name: "stamped-or-changing-stamps", expression: CREATOR_CONDITION },
    ],
    skipTrusted: true,
    failurePolicy: "configured",
  },
  {
    name: WEBHOOK_NAMES.mutate,
    type: "mutating",
    path: "/mutate",
    rules: byRole("agent").filter((r) => r.group === AGENT_GROUP).map((r) => rule(r, ["CREATE", "UPDATE"])),
    // Stamps are made again if a later mutating webhook changed the object.
    reinvocationPolicy: "IfNeeded",
    skipTrusted: false,
    failurePolicy: "configured",
  },
  {
    name: WEBHOOK_NAMES.customRuns,
    type: "mutating",
    path: "/mutate",
    rules: [rule(find("creator", "customruns"), ["CREATE"])],
    matchConditions: [{ name: "runs-an-agent", expression: RUNS_AN_AGENT }],
    skipTrusted: false,
    failurePolicy: "configured",
  },
  // Ignore: an outage must not stop every pipeline in the cluster; a run
  // made from a PipelineRun that missed its stamp is refused later instead.
  { name: WEBHOOK_NAMES.pipelineRuns, type: "mutating", path: "/mutate", rules: [rule(find("creator", "pipelineruns"), ["CREATE"])], skipTrusted: false, failurePolicy: "Ignore" },
];

export interface WebhookTarget {
  /** url for a gateway outside the cluster, or a Service */
  url?: string;
  service?: { namespace: string; name: string; port: number };
  caBundle: string;
  /** the gateway's --webhook-path-token-file token: the paths become /validate/<token> and /mutate/<token> */
  pathToken?: string;
}

export interface WebhookOptions {
  name: string;
  target: WebhookTarget;
  /** namespaces never sent to the webhook: agentgate's own and kube-system */
  exemptNamespaces: string[];
  timeoutSeconds?: number;
  failurePolicy?: "Fail" | "Ignore";
  /** identities that skip the webhooks marked skipTrusted (agentgate's own); none: no such condition */
  trustedUsers?: string[];
  /** identities that skip those webhooks when they delete (garbage collection) */
  deleters?: string[];
}

function clientConfig(target: WebhookTarget, endpoint: string): Record<string, unknown> {
  const path = target.pathToken ? `${endpoint}/${target.pathToken}` : endpoint;
  const caBundle = Buffer.from(target.caBundle).toString("base64");
  if (target.url) return { url: `${target.url.replace(/\/$/, "")}${path}`, caBundle };
  if (!target.service) throw new Error("a webhook target needs a url or a service");
  return { service: { ...target.service, path }, caBundle };
}

// As the chart writes it (toJson with ' for "): the same text, so the two compare equal.
const list = (users: readonly string[]): string => `[${users.map((u) => `'${u}'`).join(",")}]`;

export function trustedConditions(trusted: readonly string[], deleters: readonly string[]): MatchCondition[] {
  return [
    { name: "not-agentgate", expression: `!(request.userInfo.username in ${list(trusted)})` },
    { name: "not-garbage-collection", expression: `!(request.operation == 'DELETE' && request.userInfo.username in ${list(deleters)})` },
  ];
}

export function webhookConfigurations(opts: WebhookOptions): { validating: Record<string, unknown>; mutating: Record<string, unknown> } {
  const namespaceSelector = {
    matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: opts.exemptNamespaces }],
  };
  const render = (w: WebhookDef): Record<string, unknown> => {
    const conditions = [...(w.matchConditions ?? []), ...(w.skipTrusted && opts.trustedUsers ? trustedConditions(opts.trustedUsers, opts.deleters ?? []) : [])];
    return {
      name: w.name,
      clientConfig: clientConfig(opts.target, w.path),
      rules: w.rules,
      ...(w.objectSelector ? { objectSelector: w.objectSelector } : {}),
      ...(conditions.length > 0 ? { matchConditions: conditions } : {}),
      ...(w.reinvocationPolicy ? { reinvocationPolicy: w.reinvocationPolicy } : {}),
      admissionReviewVersions: ["v1"],
      sideEffects: "NoneOnDryRun",
      timeoutSeconds: opts.timeoutSeconds ?? 5,
      failurePolicy: w.failurePolicy === "Ignore" ? "Ignore" : (opts.failurePolicy ?? "Fail"),
      matchPolicy: "Equivalent",
      namespaceSelector,
    };
  };
  const labels = { "app.kubernetes.io/name": "agentgate", "app.kubernetes.io/managed-by": "agentgate" };
  return {
    validating: { apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingWebhookConfiguration", metadata: { name: opts.name, labels }, webhooks: WEBHOOKS.filter((w) => w.type === "validating").map(render) },
    mutating: { apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingWebhookConfiguration", metadata: { name: opts.name, labels }, webhooks: WEBHOOKS.filter((w) => w.type === "mutating").map(render) },
  };
}
