// The webhook configurations, derived from HANDLED_RESOURCES: the chart and
// the tests register exactly what the server handles.
import { HANDLED_RESOURCES, type HandledResource } from "./resources.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../types/agent.ts";

export const WEBHOOK_NAMES = {
  validate: "validate.agent.tekton.dev",
  mutate: "mutate.agent.tekton.dev",
  managed: "managed.agent.tekton.dev",
} as const;

export interface WebhookTarget {
  /** url for a gateway outside the cluster, or a Service */
  url?: string;
  service?: { namespace: string; name: string; port: number };
  caBundle: string;
}

export interface WebhookOptions {
  name: string;
  target: WebhookTarget;
  /** namespaces never sent to the webhook: agentgate's own and kube-system */
  exemptNamespaces: string[];
  timeoutSeconds?: number;
  failurePolicy?: "Fail" | "Ignore";
}

function clientConfig(target: WebhookTarget, path: string): Record<string, unknown> {
  const caBundle = Buffer.from(target.caBundle).toString("base64");
  if (target.url) return { url: `${target.url.replace(/\/$/, "")}${path}`, caBundle };
  if (!target.service) throw new Error("a webhook target needs a url or a service");
  return { service: { ...target.service, path }, caBundle };
}

function rules(resources: readonly HandledResource[], operations: (r: HandledResource) => string[]): Record<string, unknown>[] {
  return resources.map((r) => ({
    apiGroups: [r.group],
    apiVersions: r.versions,
    resources: [r.resource],
    operations: operations(r),
    scope: "Namespaced",
  }));
}

export function webhookConfigurations(opts: WebhookOptions): { validating: Record<string, unknown>; mutating: Record<string, unknown> } {
  const namespaceSelector = {
    matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: opts.exemptNamespaces }],
  };
  const common = {
    admissionReviewVersions: ["v1"],
    sideEffects: "NoneOnDryRun",
    timeoutSeconds: opts.timeoutSeconds ?? 5,
    failurePolicy: opts.failurePolicy ?? "Fail",
    matchPolicy: "Equivalent",
    namespaceSelector,
  };
  const agent = HANDLED_RESOURCES.filter((r) => r.role === "agent");
  const managed = HANDLED_RESOURCES.filter((r) => r.role === "managed");
  const labels = { "app.kubernetes.io/name": "agentgate", "app.kubernetes.io/managed-by": "agentgate" };
  return {
    validating: {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: opts.name, labels },
      webhooks: [
        { name: WEBHOOK_NAMES.validate, clientConfig: clientConfig(opts.target, "/validate"), rules: rules(agent, (r) => r.operations), ...common },
        {
          name: WEBHOOK_NAMES.managed,
          clientConfig: clientConfig(opts.target, "/validate"),
          rules: rules(managed, (r) => r.operations),
          // Only agentgate's own objects are sent: every other ServiceAccount,
          // Role, RoleBinding and NetworkPolicy in the cluster costs no call.
          objectSelector: { matchLabels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
          ...common,
        },
      ],
    },
    mutating: {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingWebhookConfiguration",
      metadata: { name: opts.name, labels },
      webhooks: [
        {
          name: WEBHOOK_NAMES.mutate,
          clientConfig: clientConfig(opts.target, "/mutate"),
          rules: rules(agent.filter((r) => r.mutate), () => ["CREATE", "UPDATE"]),
          // Defaults are filled again if a later mutating webhook changed the object.
          reinvocationPolicy: "IfNeeded",
          ...common,
        },
      ],
    },
  };
}
