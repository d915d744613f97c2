// The per-run scope (docs/trust-chain.md): ServiceAccount, Role with exactly the
// stamped rules, RoleBinding, and for strict runs a NetworkPolicy that lets
// the agent's pods talk to nothing but DNS, the API server (only when the run
// has RBAC rules), kagent's controller and the stamped endpoints (or, when
// calls go through agentgate's run-time gateway, the gateway instead of the
// model and tool endpoints), and be reached by nothing but kagent's
// controller. Pure: the reconciler reads the Services and endpoints first
// and hands them in.
import type { AgentRun, EgressRule, Guardrails } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import { egressFor } from "../guardrails/effective.ts";
import { nonPublicCidrs, nonPublicRange } from "../guardrails/endpoints.ts";
import { names, ownedMeta, RUN_LABEL } from "./owned.ts";

export interface ApiServerEndpoint {
  /** IPs the kubernetes Service's endpoints resolve to */
  ips: string[];
  port: number;
}

/** One port of a Service as the NetworkPolicy needs it. */
export interface ServicePort {
  port: number;
  /** the pods' port: a number, or the name of a containerPort */
  targetPort: number | string;
  protocol: string;
}

/** A Service read at materialisation time; null when it does not exist. */
export interface ResolvedService {
  /** spec.selector; empty for a Service whose endpoints are managed by hand */
  selector: Record<string, string>;
  ports: ServicePort[];
}

/** Where a peer of the agent is (kagent's controller, agentgate's run-time gateway), as its URL flag names it. */
export type PeerEndpoint =
  | { kind: "service"; namespace: string; name: string; port: number }
  | { kind: "ip"; ip: string; port: number }
  | { kind: "unknown"; host: string; why: string };

/** Where kagent's controller is, as --kagent-url names it. */
export type KagentEndpoint = PeerEndpoint;

/** What the NetworkPolicy is computed from besides the run and its stamp. */
export interface ScopeEnvironment {
  apiServer?: ApiServerEndpoint | undefined;
  kagent?: KagentEndpoint | undefined;
  /** "<namespace>/<name>" → the Service, null when absent; a key missing means it was not read */
  services?: ReadonlyMap<string, ResolvedService | null>;
  /**
   * The cluster serves Cilium's CiliumNetworkPolicy: public hosts are then
   * allowed by name (toFQDNs) in a policy of their own instead of as every
   * public address on their port.
   */
  fqdn?: boolean;
  /**
   * The run's model and tool calls go through agentgate's run-time gateway
   * (--calls-url): the NetworkPolicy allows the gateway instead of the
   * model and tool endpoints.
   */
  calls?: PeerEndpoint | undefined;
}

/** Stamped routes the run-time gateway takes over: the model (and its auth endpoint) and every tool server. */
export const isRoutedPurpose = (purpose: string): boolean => purpose === "model" || purpose === "model-auth" || purpose.startsWith("mcp:");

/** The stamped routes the agent's pods take themselves. */
export function directEgress(guardrails: Guardrails, env: Pick<ScopeEnvironment, "calls">): EgressRule[] {
  return env.calls ? guardrails.egress.filter((e) => !isRoutedPurpose(e.purpose)) : guardrails.egress;
}

/**
 * The port kagent's declarative agent pods serve A2A on. kagent's translator
 * fixes it (go/core/internal/controller/translator/agent/deployments.go:
 * `port := int32(8080)`, the container port "http" behind the agent's
 * Service); the v1alpha2 Agent has no field to change it.
 */
export const KAGENT_AGENT_PORT = 8080;

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

/**
 * The labels the run's agent pods carry, to select them. These are kagent's
 * own selector labels for an Agent's Deployment (`app: kagent`,
 * `kagent: <agent name>`; newManifestContext in kagent's
 * translator/agent/manifest_builder.go), so every pod kagent starts for the
 * Agent has them whatever kagent does with `deployment.labels`. Selecting on
 * our run label instead would leave the pods unrestricted on a kagent that
 * ignored it: a NetworkPolicy that selects nothing fails open.
 */
export function agentPodSelector(run: AgentRun): Record<string, string> {
  return { app: "kagent", kagent: names.agent(run.metadata?.name ?? "") };
}

/** Extra labels asked of kagent for the agent pods (`deployment.labels`), so people can find them by run. */
export function agentPodLabels(run: AgentRun): Record<string, string> {
  return { [RUN_LABEL]: run.metadata?.name ?? "" };
}

function isIp(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

const cidr = (ip: string): string => (ip.includes(":") ? `${ip}/128` : `${ip}/32`);

/**
 * Reads --kagent-url: `http://<service>.<namespace>[.svc[.cluster.local]]:<port>`
 * (the form kagent itself gives its agents as KAGENT_URL) or an IP address,
 * parsed as the gateway parses any stamped endpoint.
 */
export function kagentEndpoint(url: string): KagentEndpoint {
  return peerEndpoint("kagentUrl", url);
}

/** Reads a peer's URL flag (--kagent-url, --calls-url) the same way. */
export function peerEndpoint(flag: string, url: string): PeerEndpoint {
  const rule = egressFor("peer", url);
  if (!rule) return { kind: "unknown", host: url, why: `${flag} ${JSON.stringify(url)} is not a URL` };
  const host = rule.host.replace(/^\[|\]$/g, "");
  if (rule.service) return { kind: "service", namespace: rule.service.namespace, name: rule.service.name, port: rule.port };
  if (isIp(host)) return { kind: "ip", ip: host, port: rule.port };
  return { kind: "unknown", host, why: `${flag} host ${JSON.stringify(host)} names neither an in-cluster Service (<service>.<namespace>[.svc…]) nor an IP, so its pods cannot be selected` };
}

type Peer = Record<string, unknown>;
type PortRule = { protocol: string; port: number | string };
interface Rule {
  peers: Peer[];
  ports?: PortRule[];
}

const namespacePeer = (namespace: string): Peer => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } });

/**
 * Who sits behind a Service and on which pod ports. NetworkPolicies see
 * traffic after the Service's address was translated, so the rule must name
 * the pods and their targetPort, not the Service port. A named targetPort is
 * kept as a name: NetworkPolicy ports accept the name of a pod's
 * containerPort, which is exactly what the Service's named targetPort means,
 * so the rule stays as narrow as with a number. Without the Service (absent
 * when the run started, or selector-less with hand-made endpoints) the pods
 * are unknown and the namespace with the port the URL names is the narrowest
 * rule left.
 */
function serviceRule(namespace: string, service: ResolvedService | null | undefined, port: number): Rule {
  const fallback: Rule = { peers: [namespacePeer(namespace)], ...(port > 0 ? { ports: [{ protocol: "TCP", port }] } : {}) };
  if (!service || Object.keys(service.selector).length === 0) return fallback;
  const matching = port > 0 ? service.ports.filter((p) => p.port === port) : service.ports;
  if (matching.length === 0) return fallback;
  const ports = matching.map((p) => ({ protocol: p.protocol, port: p.targetPort }));
  return { peers: [{ ...namespacePeer(namespace), podSelector: { matchLabels: { ...service.selector } } }], ports: dedupe(ports) };
}

function dedupe(ports: PortRule[]): PortRule[] {
  const seen = new Set<string>();
  return ports.filter((p) => {
    const k = `${p.protocol}/${String(p.port)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function egressRule(rule: EgressRule, services: ReadonlyMap<string, ResolvedService | null> | undefined): Rule {
  const ports = rule.port > 0 ? [{ protocol: "TCP", port: rule.port }] : undefined;
  if (rule.service) {
    const key = `${rule.service.namespace}/${rule.service.name}`;
    return serviceRule(rule.service.namespace, services?.get(key), rule.port);
  }
  if (isIp(rule.host)) return { peers: [{ ipBlock: { cidr: cidr(rule.host) } }], ...(ports ? { ports } : {}) };
  // A public hostname has no stable IPs a NetworkPolicy can name; allow
  // the port to every address but the ranges no public host has (the table
  // the gateway classifies hosts by). IPv4 only: there is no IPv6 rule.
  return { peers: [{ ipBlock: { cidr: "0.0.0.0/0", except: nonPublicCidrs(4) } }], ...(ports ? { ports } : {}) };
}

/** kagent's controller (it calls the agent over A2A, and the agent calls it back: sessions, tasks), or the run-time gateway. */
function peerRule(endpoint: PeerEndpoint | undefined, services: ReadonlyMap<string, ResolvedService | null> | undefined): Rule | undefined {
  if (!endpoint || endpoint.kind === "unknown") return undefined;
  if (endpoint.kind === "ip") return { peers: [{ ipBlock: { cidr: cidr(endpoint.ip) } }], ports: [{ protocol: "TCP", port: endpoint.port }] };
  return serviceRule(endpoint.namespace, services?.get(`${endpoint.namespace}/${endpoint.name}`), endpoint.port);
}

const toEgress = (r: Rule): Record<string, unknown> => ({ to: r.peers, ...(r.ports ? { ports: r.ports } : {}) });

/** The API server's addresses when the run needs it: only with RBAC rules. */
const apiServerIps = (guardrails: Guardrails, env: ScopeEnvironment): string[] => (guardrails.rbac.length > 0 && env.apiServer ? env.apiServer.ips : []);

/** Every address the NetworkPolicy allows by IP: the API server, kagent's controller, the stamped IP endpoints. */
function namedIps(guardrails: Guardrails, env: ScopeEnvironment): string[] {
  const peers = [env.kagent, env.calls].flatMap((p) => (p?.kind === "ip" ? [p.ip] : []));
  const stamped = directEgress(guardrails, env).filter((e) => !e.service).map((e) => e.host.replace(/^\[|\]$/g, "")).filter(isIp);
  return [...new Set([...apiServerIps(guardrails, env), ...peers, ...stamped])];
}

/**
 * The cluster DNS, in kube-system only (in <run>-netpol and <run>-fqdn
 * alike): a pod labelled k8s-app: kube-dns elsewhere is any namespace
 * editor's to make, and would be sent every name the agent looks up.
 */
const KUBE_DNS = { namespace: "kube-system", app: "kube-dns" } as const;

export function networkPolicy(run: AgentRun, guardrails: Guardrails, env: ScopeEnvironment = {}): KubeObject {
  const egress: Record<string, unknown>[] = [
    // DNS, so the agent can resolve the endpoints it is allowed to reach.
    {
      to: [{ ...namespacePeer(KUBE_DNS.namespace), podSelector: { matchLabels: { "k8s-app": KUBE_DNS.app } } }],
      ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }],
    },
  ];
  const apiIps = apiServerIps(guardrails, env);
  if (env.apiServer && apiIps.length > 0) egress.push({ to: apiIps.map((ip) => ({ ipBlock: { cidr: cidr(ip) } })), ports: [{ protocol: "TCP", port: env.apiServer.port }] });
  const kagent = peerRule(env.kagent, env.services);
  if (kagent) egress.push(toEgress(kagent));
  const calls = peerRule(env.calls, env.services);
  if (calls) egress.push(toEgress(calls));
  for (const rule of directEgress(guardrails, env)) {
    // With Cilium a public host is allowed by name in <run>-fqdn, not here as any public address.
    if (env.fqdn === true && isPublicHost(rule)) continue;
    egress.push(toEgress(egressRule(rule, env.services)));
  }
  // Only kagent's controller opens connections to the agent (it proxies
  // every A2A call, ours included), on the agent's A2A port.
  const ingress = kagent ? [{ from: kagent.peers, ports: [{ protocol: "TCP", port: KAGENT_AGENT_PORT }] }] : [];
  const annotations: Record<string, string> = { "agent.tekton.dev/egress": JSON.stringify(guardrails.egress.map((e) => `${e.purpose}=${e.host}:${e.port}`)) };
  if (env.kagent?.kind === "unknown") annotations["agent.tekton.dev/kagent"] = `not allowed: ${env.kagent.why}`;
  if (env.calls) annotations["agent.tekton.dev/calls"] = env.calls.kind === "unknown" ? `not allowed: ${env.calls.why}` : "model and tool calls go through agentgate's run-time gateway; their endpoints are not allowed here";
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { ...ownedMeta(run, names.networkPolicy(run.metadata?.name ?? "")), annotations },
    spec: { podSelector: { matchLabels: agentPodSelector(run) }, policyTypes: ["Ingress", "Egress"], ingress, egress },
  };
}

/** The Services a strict NetworkPolicy for these guardrails is computed from: "<namespace>/<name>". */
export function servicesToResolve(guardrails: Guardrails, kagent: PeerEndpoint | undefined, calls?: PeerEndpoint): string[] {
  if (guardrails.networkPolicy !== "strict") return [];
  const keys = directEgress(guardrails, { calls }).flatMap((e) => (e.service ? [`${e.service.namespace}/${e.service.name}`] : []));
  for (const peer of [kagent, calls]) if (peer?.kind === "service") keys.push(`${peer.namespace}/${peer.name}`);
  return [...new Set(keys)];
}

/** A stamped endpoint that is a public host name (not a Service, not an IP): what a NetworkPolicy cannot name. */
function isPublicHost(rule: EgressRule): boolean {
  return !rule.service && !isIp(rule.host.replace(/^\[|\]$/g, ""));
}

/**
 * Where Cilium enforces policy: the run's public hosts by name. Cilium
 * allows egress matching any policy that selects the pod, so this adds
 * exactly these names on their ports to what <run>-netpol allows; toFQDNs
 * needs Cilium's DNS proxy to see the agent's lookups, hence the DNS rule.
 * toFQDNs allows whatever the name resolves to, and whoever answers for a
 * public name can point it at 169.254.169.254 or a private address, so
 * those ranges are denied (a deny wins over any policy's allow), all but
 * the addresses <run>-netpol names itself. Undefined when the run has no
 * public host.
 */
export function fqdnPolicy(run: AgentRun, guardrails: Guardrails, env: ScopeEnvironment = {}): KubeObject | undefined {
  const hosts = directEgress(guardrails, env).filter(isPublicHost);
  if (guardrails.networkPolicy !== "strict" || hosts.length === 0) return undefined;
  const byPort = new Map<number, string[]>();
  for (const h of hosts) byPort.set(h.port, [...(byPort.get(h.port) ?? []), h.host]);
  const named = namedIps(guardrails, env);
  const denied = [...nonPublicCidrs(4), ...nonPublicCidrs(6)].flatMap((range) => {
    const except = [...new Set(named.filter((ip) => nonPublicRange(ip)?.cidr === range).map(cidr))].sort();
    // a one-address range (::1/128) the NetworkPolicy names is not denied at all
    if (except.includes(range)) return [];
    return [{ cidr: range, ...(except.length > 0 ? { except } : {}) }];
  });
  return {
    apiVersion: "cilium.io/v2",
    kind: "CiliumNetworkPolicy",
    metadata: ownedMeta(run, names.fqdnPolicy(run.metadata?.name ?? "")),
    spec: {
      endpointSelector: { matchLabels: agentPodSelector(run) },
      egress: [
        {
          toEndpoints: [{ matchLabels: { "k8s:io.kubernetes.pod.namespace": KUBE_DNS.namespace, "k8s:k8s-app": KUBE_DNS.app } }],
          toPorts: [{ ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchPattern: "*" }] } }],
        },
        ...[...byPort].map(([port, names]) => ({
          toFQDNs: [...new Set(names)].sort().map((matchName) => ({ matchName })),
          toPorts: [{ ports: [{ port: String(port), protocol: "TCP" }] }],
        })),
      ],
      egressDeny: [{ toCIDRSet: denied }],
    },
  };
}

export function scopeObjects(run: AgentRun, guardrails: Guardrails, env: ScopeEnvironment = {}): KubeObject[] {
  const objects = [serviceAccount(run), role(run, guardrails), roleBinding(run)];
  if (guardrails.networkPolicy === "strict") objects.push(networkPolicy(run, guardrails, env));
  const fqdn = env.fqdn === true ? fqdnPolicy(run, guardrails, env) : undefined;
  if (fqdn) objects.push(fqdn);
  return objects;
}

/**
 * What a strict NetworkPolicy cannot say: a host name. Egress to a public
 * host is "any public address on its port"; the run's condition says so in
 * these words, so nobody reads more into the policy than it holds.
 */
export function egressNote(guardrails: Guardrails, env: Pick<ScopeEnvironment, "fqdn" | "calls"> = {}): string | undefined {
  const routed = env.calls ? "model and tool calls go through agentgate's run-time gateway" : undefined;
  if (guardrails.networkPolicy !== "strict") return `${routed ? `${routed}; ` : ""}networkPolicy: permissive: egress is not restricted`;
  const hosts = directEgress(guardrails, env).filter(isPublicHost);
  if (hosts.length === 0) return routed ? `${routed}, the only way out the NetworkPolicy leaves them besides DNS${guardrails.rbac.length > 0 ? ", the API server" : ""} and kagent` : undefined;
  if (env.fqdn === true) return `egress to ${hosts.map((e) => `${e.host}:${String(e.port)}`).join(", ")} is allowed by name (CiliumNetworkPolicy toFQDNs)`;
  return `egress to ${hosts.map((e) => `${e.host}:${String(e.port)}`).join(", ")} is allowed as any public address on ${hosts.length === 1 ? "that port" : "those ports"} (a NetworkPolicy cannot name a host)`;
}

/**
 * Why the run's scope (or its route through the run-time gateway) cannot be
 * made: an object of its name is not the run's (ScopeConflict), or the API
 * server refused one (ScopeRefused: retrying cannot help).
 */
export interface ScopeProblem {
  reason: "ScopeConflict" | "ScopeRefused";
  message: string;
}
