// The per-run scope (SPEC §5 step 2): ServiceAccount, Role with exactly the
// stamped rules, RoleBinding, and for strict runs a NetworkPolicy that
// denies all egress but DNS, the API server (only when the run has RBAC
// rules) and the stamped endpoints.
import type { AgentRun, Guardrails } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import { names, ownedMeta, RUN_LABEL } from "./owned.ts";

export interface ApiServerEndpoint {
  /** IPs the kubernetes Service's endpoints resolve to */
  ips: string[];
  port: number;
}

export function serviceAccount(run: AgentRun): KubeObject {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: ownedMeta(run, names.serviceAccount(run.metadata?.name ?? "")), automountServiceAccountToken: true };
}

export function role(run: AgentRun, guardrails: Guardrails): KubeObject {
  return { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: ownedMeta(run, names.role(run.metadata?.name ?? "")), rules: guardrails.rbac };
}

export function roleBinding(run: AgentRun): KubeObject {
  const name = run.metadata?.name ?? "";
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: ownedMeta(run, names.roleBinding(name)),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: names.role(name) },
    subjects: [{ kind: "ServiceAccount", name: names.serviceAccount(name), namespace: run.metadata?.namespace ?? "" }],
  };
}

/** Labels kagent puts on an Agent's pods, and ours, to select them. */
export function agentPodSelector(run: AgentRun): Record<string, string> {
  return { [RUN_LABEL]: run.metadata?.name ?? "" };
}

function isIp(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

export function networkPolicy(run: AgentRun, guardrails: Guardrails, apiServer: ApiServerEndpoint | undefined): KubeObject {
  const egress: Record<string, unknown>[] = [
    // DNS, so the agent can resolve the endpoints it is allowed to reach.
    {
      to: [{ namespaceSelector: {}, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
      ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }],
    },
  ];
  if (guardrails.rbac.length > 0 && apiServer && apiServer.ips.length > 0) {
    egress.push({ to: apiServer.ips.map((ip) => ({ ipBlock: { cidr: ip.includes(":") ? `${ip}/128` : `${ip}/32` } })), ports: [{ protocol: "TCP", port: apiServer.port }] });
  }
  for (const rule of guardrails.egress) {
    const ports = rule.port > 0 ? [{ protocol: "TCP", port: rule.port }] : undefined;
    if (rule.service) {
      // In-cluster: the Service's namespace; the pods behind it are not known
      // by label here, so the namespace is the narrowest stable selector.
      egress.push({ to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": rule.service.namespace } } }], ...(ports ? { ports } : {}) });
    } else if (isIp(rule.host)) {
      egress.push({ to: [{ ipBlock: { cidr: rule.host.includes(":") ? `${rule.host}/128` : `${rule.host}/32` } }], ...(ports ? { ports } : {}) });
    } else {
      // A public hostname has no stable IPs a NetworkPolicy can name; allow
      // the port to addresses outside the cluster's private ranges.
      egress.push({
        to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"] } }],
        ...(ports ? { ports } : {}),
      });
    }
  }
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      ...ownedMeta(run, names.networkPolicy(run.metadata?.name ?? "")),
      annotations: { "agent.tekton.dev/egress": JSON.stringify(guardrails.egress.map((e) => `${e.purpose}=${e.host}:${e.port}`)) },
    },
    spec: { podSelector: { matchLabels: agentPodSelector(run) }, policyTypes: ["Ingress", "Egress"], ingress: [], egress },
  };
}

export function scopeObjects(run: AgentRun, guardrails: Guardrails, apiServer: ApiServerEndpoint | undefined): KubeObject[] {
  const objects = [serviceAccount(run), role(run, guardrails), roleBinding(run)];
  if (guardrails.networkPolicy === "strict") objects.push(networkPolicy(run, guardrails, apiServer));
  return objects;
}
