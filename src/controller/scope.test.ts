import { test } from "node:test";
import assert from "node:assert/strict";
import type { AgentConfig, AgentRun, Guardrails } from "../types/agent.ts";
import { kagentAgent } from "./kagent-agent.ts";
import { classifyHost, NON_PUBLIC_RANGES } from "../guardrails/endpoints.ts";
import { egressNote, fqdnPolicy, kagentEndpoint, networkPolicy, peerEndpoint, scopeObjects, servicesToResolve, type ResolvedService, type ScopeEnvironment } from "./scope.ts";
import { resolvedService } from "./services.ts";

const run: AgentRun = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "r1", namespace: "qe", uid: "u-1" }, spec: {} };

function guardrails(over: Partial<Guardrails> = {}): Guardrails {
  return {
    tokenBudget: 1000,
    timeout: "15m",
    maxIterations: 5,
    networkPolicy: "strict",
    egress: [
      { purpose: "model", host: "api.anthropic.com", port: 443 },
      { purpose: "mcp:kagent/tools", host: "kagent-tools.kagent", port: 8084, service: { namespace: "kagent", name: "kagent-tools" } },
    ],
    rbac: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }],
    approval: { required: false, approverGroups: [] },
    tools: [],
    ...over,
  };
}

const apiServer = { ips: ["10.0.0.1"], port: 6443 };
const kagent = kagentEndpoint("http://kagent-controller.kagent.svc:8083");
const controllerService: ResolvedService = { selector: { "app.kubernetes.io/name": "kagent", "app.kubernetes.io/component": "controller" }, ports: [{ port: 8083, targetPort: 8083, protocol: "TCP" }] };
const toolsService: ResolvedService = { selector: { app: "kagent-tools" }, ports: [{ port: 8084, targetPort: 8090, protocol: "TCP" }, { port: 9090, targetPort: 9090, protocol: "TCP" }] };

type Egress = { to: Record<string, unknown>[]; ports?: { protocol: string; port: number | string }[] }[];
type Ingress = { from: Record<string, unknown>[]; ports: { protocol: string; port: number }[] }[];
type Spec = { policyTypes: string[]; podSelector: { matchLabels: Record<string, string> }; ingress: Ingress; egress: Egress };
const spec = (g: Guardrails, env: ScopeEnvironment): Spec => networkPolicy(run, g, env).spec as Spec;
const env = (services: [string, ResolvedService | null][] = []): ScopeEnvironment => ({ apiServer, kagent, services: new Map(services) });

test("scope: ServiceAccount, Role with exactly the stamped rules, RoleBinding, NetworkPolicy, all owned and labelled", () => {
  const objects = scopeObjects(run, guardrails(), env());
  assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata?.name ?? ""}`), ["ServiceAccount/agentgate-run-r1", "Role/r1-role", "RoleBinding/r1-binding", "NetworkPolicy/r1-netpol"]);
  for (const o of objects) {
    assert.equal(o.metadata?.labels?.["app.kubernetes.io/managed-by"], "agentgate");
    assert.deepEqual(o.metadata?.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [["AgentRun", "r1", "u-1", true]]);
  }
  assert.deepEqual((objects[1] as { rules: unknown }).rules, guardrails().rbac);
  assert.deepEqual((objects[2] as { subjects: unknown }).subjects, [{ kind: "ServiceAccount", name: "agentgate-run-r1", namespace: "qe" }]);
});

test("permissive runs get no NetworkPolicy", () => {
  assert.equal(scopeObjects(run, guardrails({ networkPolicy: "permissive" }), env()).length, 3);
});

test("the NetworkPolicy selects the labels kagent puts on the Agent's pods (its Deployment selector), not a label kagent may drop", () => {
  const config: AgentConfig = { metadata: { name: "writer", namespace: "qe" }, spec: { modelConfigRef: { name: "claude" } } };
  const agent = kagentAgent(run, config, guardrails());
  // kagent's translator: selector labels {app: kagent, kagent: <Agent name>} on the Deployment and its pod template
  assert.deepEqual(spec(guardrails(), env()).podSelector, { matchLabels: { app: "kagent", kagent: agent.metadata?.name ?? "" } });
  assert.deepEqual(agent.spec?.declarative?.deployment?.labels, { "agent.tekton.dev/run": "r1" }, "the run label is asked for too, to find the pods by run");
});

test("strict NetworkPolicy: DNS, the API server only with RBAC rules, kagent's controller, and each stamped endpoint", () => {
  const withRbac = spec(guardrails(), env()).egress;
  assert.deepEqual(withRbac.map((e) => e.ports?.map((p) => p.port).join(",") ?? "any"), ["53,53", "6443", "8083", "443", "8084"]);
  assert.deepEqual(withRbac[1]?.to, [{ ipBlock: { cidr: "10.0.0.1/32" } }]);
  const withoutRbac = spec(guardrails({ rbac: [] }), env()).egress;
  assert.ok(!withoutRbac.some((e) => e.ports?.some((p) => p.port === 6443)), "no API server egress without RBAC rules");
  assert.deepEqual(spec(guardrails(), env()).policyTypes, ["Ingress", "Egress"]);
});

test("kagent's controller may reach the agent pods on their A2A port, and they may reach it back", () => {
  const s = spec(guardrails(), env([["kagent/kagent-controller", controllerService]]));
  const controllerPeer = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kagent" } }, podSelector: { matchLabels: controllerService.selector } };
  assert.deepEqual(s.ingress, [{ from: [controllerPeer], ports: [{ protocol: "TCP", port: 8080 }] }]);
  assert.deepEqual(s.egress[2], { to: [controllerPeer], ports: [{ protocol: "TCP", port: 8083 }] });
  // Without the Service: its namespace (derived from --kagent-url), on the URL's port.
  const bare = spec(guardrails(), env([["kagent/kagent-controller", null]]));
  assert.deepEqual(bare.ingress, [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kagent" } } }], ports: [{ protocol: "TCP", port: 8080 }] }]);
  assert.deepEqual(bare.egress[2]?.ports, [{ protocol: "TCP", port: 8083 }]);
  // kagent reached by IP (the tests' fake kagent)
  const byIp = spec(guardrails(), { kagent: kagentEndpoint("http://127.0.0.1:40123") });
  assert.deepEqual(byIp.ingress, [{ from: [{ ipBlock: { cidr: "127.0.0.1/32" } }], ports: [{ protocol: "TCP", port: 8080 }] }]);
  // An external hostname cannot be selected: nothing is opened, and the policy says why.
  const external = networkPolicy(run, guardrails(), { kagent: kagentEndpoint("https://kagent.example.com") });
  assert.deepEqual((external.spec as Spec).ingress, []);
  assert.match(external.metadata?.annotations?.["agent.tekton.dev/kagent"] ?? "", /kagent\.example\.com.*cannot be selected/);
});

const mcpCases: { name: string; service: ResolvedService | null | undefined; to: Record<string, unknown>[]; ports: { protocol: string; port: number | string }[] }[] = [
  {
    name: "the Service's pods on the targetPort behind the stamped Service port",
    service: toolsService,
    to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kagent" } }, podSelector: { matchLabels: { app: "kagent-tools" } } }],
    ports: [{ protocol: "TCP", port: 8090 }],
  },
  {
    name: "a named targetPort stays named (NetworkPolicy resolves it against the pods' containerPorts)",
    service: { selector: { app: "kagent-tools" }, ports: [{ port: 8084, targetPort: "mcp", protocol: "TCP" }] },
    to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kagent" } }, podSelector: { matchLabels: { app: "kagent-tools" } } }],
    ports: [{ protocol: "TCP", port: "mcp" }],
  },
  { name: "an absent Service: its namespace on the stamped port", service: null, to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kagent" } } }], ports: [{ protocol: "TCP", port: 8084 }] },
  { name: "a Service that could not be read: its namespace", service: undefined, to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kagent" } } }], ports: [{ protocol: "TCP", port: 8084 }] },
  { name: "a selector-less Service (hand-made endpoints): its namespace", service: { selector: {}, ports: [{ port: 8084, targetPort: 8090, protocol: "TCP" }] }, to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kagent" } } }], ports: [{ protocol: "TCP", port: 8084 }] },
  { name: "a Service without the stamped port: its namespace", service: { selector: { app: "x" }, ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }] }, to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kagent" } } }], ports: [{ protocol: "TCP", port: 8084 }] },
];

for (const c of mcpCases) {
  test(`in-cluster MCP egress: ${c.name}`, () => {
    const services = new Map<string, ResolvedService | null>();
    if (c.service !== undefined) services.set("kagent/kagent-tools", c.service);
    const mcp = spec(guardrails(), { services }).egress.at(-1);
    assert.deepEqual(mcp, { to: c.to, ports: c.ports });
  });
}

test("a Service stamped without a port (kmcp MCPServer) allows each of its target ports", () => {
  const g = guardrails({ egress: [{ purpose: "mcp:kagent/tools", host: "kagent-tools.kagent.svc", port: 0, service: { namespace: "kagent", name: "kagent-tools" } }] });
  const mcp = spec(g, { services: new Map([["kagent/kagent-tools", toolsService]]) }).egress.at(-1);
  assert.deepEqual(mcp?.ports, [{ protocol: "TCP", port: 8090 }, { protocol: "TCP", port: 9090 }]);
});

for (const [url, want] of [
  ["http://kagent-controller.kagent.svc:8083", { kind: "service", namespace: "kagent", name: "kagent-controller", port: 8083 }],
  ["http://kagent-controller.kagent:8083", { kind: "service", namespace: "kagent", name: "kagent-controller", port: 8083 }],
  ["http://kagent-controller.ai.svc.cluster.local", { kind: "service", namespace: "ai", name: "kagent-controller", port: 80 }],
  ["https://10.1.2.3", { kind: "ip", ip: "10.1.2.3", port: 443 }],
  ["http://[fd00::1]:8083", { kind: "ip", ip: "fd00::1", port: 8083 }],
] as const) {
  test(`kagentEndpoint(${url})`, () => assert.deepEqual(kagentEndpoint(url), want));
}

test("servicesToResolve: the in-cluster egress Services and kagent's, only for strict runs", () => {
  assert.deepEqual(servicesToResolve(guardrails(), kagent), ["kagent/kagent-tools", "kagent/kagent-controller"]);
  assert.deepEqual(servicesToResolve(guardrails({ networkPolicy: "permissive" }), kagent), []);
});

test("resolvedService: targetPort defaults to port, digits read as a number, a name kept", () => {
  const r = resolvedService({ spec: { selector: { app: "a" }, ports: [{ port: 80 }, { port: 81, targetPort: "8081" }, { port: 82, targetPort: "http", protocol: "UDP" }] } });
  assert.deepEqual(r, { selector: { app: "a" }, ports: [{ port: 80, targetPort: 80, protocol: "TCP" }, { port: 81, targetPort: 8081, protocol: "TCP" }, { port: 82, targetPort: "http", protocol: "UDP" }] });
});

const V4_EXCEPT = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "198.18.0.0/15"];
const KUBE_DNS_PEER = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } };

test("strict NetworkPolicy, rule by rule: DNS to kube-dns in kube-system, a public host to anything but the non-public ranges, an IP to itself", () => {
  const g = guardrails({
    egress: [
      { purpose: "model", host: "api.anthropic.com", port: 443 },
      { purpose: "mcp:ip4", host: "10.9.8.7", port: 8443 },
      { purpose: "mcp:ip6", host: "fd00::7", port: 9443 },
    ],
  });
  const np = networkPolicy(run, g, env());
  const egress = (np.spec as Spec).egress;
  assert.deepEqual(egress[0], { to: [KUBE_DNS_PEER], ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] });
  assert.deepEqual(egress.slice(3), [
    { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: V4_EXCEPT } }], ports: [{ protocol: "TCP", port: 443 }] },
    { to: [{ ipBlock: { cidr: "10.9.8.7/32" } }], ports: [{ protocol: "TCP", port: 8443 }] },
    { to: [{ ipBlock: { cidr: "fd00::7/128" } }], ports: [{ protocol: "TCP", port: 9443 }] },
  ]);
  assert.deepEqual(np.metadata?.annotations, { "agent.tekton.dev/egress": JSON.stringify(["model=api.anthropic.com:443", "mcp:ip4=10.9.8.7:8443", "mcp:ip6=fd00::7:9443"]) });
  assert.deepEqual(spec(guardrails(), { apiServer: { ips: ["fd00::1"], port: 443 } }).egress[1]?.to, [{ ipBlock: { cidr: "fd00::1/128" } }]);
});

test("Service ports that lead to the same pod port are allowed once", () => {
  const twice: ResolvedService = { selector: { app: "t" }, ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }, { port: 81, targetPort: 8080, protocol: "TCP" }, { port: 82, targetPort: 8080, protocol: "UDP" }] };
  const g = guardrails({ egress: [{ purpose: "mcp:kagent/tools", host: "kagent-tools.kagent.svc", port: 0, service: { namespace: "kagent", name: "kagent-tools" } }] });
  assert.deepEqual(spec(g, { services: new Map([["kagent/kagent-tools", twice]]) }).egress.at(-1)?.ports, [{ protocol: "TCP", port: 8080 }, { protocol: "UDP", port: 8080 }]);
});

test("servicesToResolve names each Service once, kagent's included", () => {
  const g = guardrails({ egress: [...guardrails().egress, { purpose: "mcp:kagent/ctl", host: "kagent-controller.kagent", port: 8083, service: { namespace: "kagent", name: "kagent-controller" } }] });
  assert.deepEqual(servicesToResolve(g, kagent), ["kagent/kagent-tools", "kagent/kagent-controller"]);
});

test("the run's ServiceAccount mounts its token: the agent's pods call the API server with the stamped rules", () => {
  const [sa] = scopeObjects(run, guardrails(), env());
  assert.equal((sa as { automountServiceAccountToken?: unknown }).automountServiceAccountToken, true);
});

test("egressNote: a public host is said to be any public address on its port; Services and IPs need no note", () => {
  const g = (egress: Guardrails["egress"], networkPolicy: Guardrails["networkPolicy"] = "strict"): Guardrails => ({ tokenBudget: 1, timeout: "1m", maxIterations: 1, networkPolicy, egress, rbac: [], approval: { required: false, approverGroups: [] }, tools: [] });
  assert.equal(egressNote(g([{ purpose: "model", host: "api.anthropic.com", port: 443 }])), "egress to api.anthropic.com:443 is allowed as any public address on that port (a NetworkPolicy cannot name a host)");
  assert.equal(egressNote(g([{ purpose: "mcp:kagent/t", host: "t.kagent", port: 8084, service: { namespace: "kagent", name: "t" } }, { purpose: "model", host: "10.0.0.5", port: 8000 }])), undefined);
  assert.match(egressNote(g([], "permissive")) ?? "", /not restricted/);
});

test("the public-host rule excludes every IPv4 address the gateway classifies as private, link-local or loopback", () => {
  const except = (spec(guardrails(), env()).egress.find((e) => e.to.some((p) => "ipBlock" in p && (p.ipBlock as { cidr: string }).cidr === "0.0.0.0/0"))?.to[0] as { ipBlock: { except: string[] } }).ipBlock.except;
  for (const r of NON_PUBLIC_RANGES.filter((x) => !x.cidr.includes(":"))) assert.ok(except.includes(r.cidr), r.cidr);
  for (const ip of ["100.64.0.1", "127.0.0.1", "0.0.0.0", "169.254.169.254"]) {
    assert.notEqual(classifyHost(ip), "ip", ip);
    assert.ok(NON_PUBLIC_RANGES.some((r) => except.includes(r.cidr) && r.class === classifyHost(ip)), ip);
  }
});

type Cnp = { spec: { endpointSelector: unknown; egress: Record<string, unknown>[]; egressDeny: { toCIDRSet: { cidr: string; except?: string[] }[] }[] } };

test("<run>-fqdn: DNS to kube-dns in kube-system, as the NetworkPolicy's DNS rule; the names on their ports", () => {
  const cnp = fqdnPolicy(run, guardrails(), env()) as unknown as Cnp;
  assert.deepEqual(cnp.spec.egress[0]?.toEndpoints, [{ matchLabels: { "k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns" } }]);
  assert.deepEqual(cnp.spec.egress.slice(1), [{ toFQDNs: [{ matchName: "api.anthropic.com" }], toPorts: [{ ports: [{ port: "443", protocol: "TCP" }] }] }]);
  assert.equal(fqdnPolicy(run, guardrails({ egress: [{ purpose: "model", host: "10.1.1.1", port: 80 }] }), env()), undefined, "no public host, no policy");
});

test("<run>-fqdn denies the non-public ranges a public name could resolve to, but for the addresses the NetworkPolicy names", () => {
  const bare = fqdnPolicy(run, guardrails({ rbac: [] }), {}) as unknown as Cnp;
  assert.deepEqual(bare.spec.egressDeny, [{ toCIDRSet: [...V4_EXCEPT, "::/128", "::1/128", "fe80::/10", "fc00::/7"].map((cidr) => ({ cidr })) }]);
  const g = guardrails({ egress: [...guardrails().egress, { purpose: "mcp:ip4", host: "10.9.8.7", port: 8443 }, { purpose: "mcp:ip6", host: "fd00::7", port: 9443 }, { purpose: "mcp:pub", host: "8.8.8.8", port: 53 }] });
  const named = fqdnPolicy(run, g, { apiServer: { ips: ["10.0.0.1", "172.20.0.1"], port: 6443 }, kagent: kagentEndpoint("http://[::1]:8083") }) as unknown as Cnp;
  const set = named.spec.egressDeny[0]?.toCIDRSet ?? [];
  assert.deepEqual(set.find((r) => r.cidr === "10.0.0.0/8"), { cidr: "10.0.0.0/8", except: ["10.0.0.1/32", "10.9.8.7/32"] });
  assert.deepEqual(set.find((r) => r.cidr === "172.16.0.0/12"), { cidr: "172.16.0.0/12", except: ["172.20.0.1/32"] });
  assert.deepEqual(set.find((r) => r.cidr === "fc00::/7"), { cidr: "fc00::/7", except: ["fd00::7/128"] });
  assert.deepEqual(set.find((r) => r.cidr === "169.254.0.0/16"), { cidr: "169.254.0.0/16" }, "the metadata range stays denied");
  assert.equal(set.find((r) => r.cidr === "::1/128"), undefined, "kagent's own loopback address is not denied");
  const withoutRbac = fqdnPolicy(run, guardrails({ rbac: [] }), { apiServer: { ips: ["10.0.0.1"], port: 6443 } }) as unknown as Cnp;
  assert.deepEqual(withoutRbac.spec.egressDeny[0]?.toCIDRSet.find((r) => r.cidr === "10.0.0.0/8"), { cidr: "10.0.0.0/8" }, "the API server is excepted only when the NetworkPolicy allows it");
});

test("scopeObjects hands the environment to <run>-fqdn (what it excepts from its deny is what <run>-netpol names)", () => {
  const objects = scopeObjects(run, guardrails(), { ...env(), fqdn: true });
  const cnp = objects.find((o) => o.kind === "CiliumNetworkPolicy") as unknown as Cnp;
  assert.deepEqual(cnp.spec.egressDeny[0]?.toCIDRSet.find((r) => r.cidr === "10.0.0.0/8"), { cidr: "10.0.0.0/8", except: ["10.0.0.1/32"] });
});

const calls = peerEndpoint("--calls-url", "http://agentgate.agentgate-system.svc:8444");
const gatewayService: ResolvedService = { selector: { "app.kubernetes.io/name": "agentgate", "app.kubernetes.io/component": "gateway" }, ports: [{ port: 443, targetPort: "https", protocol: "TCP" }, { port: 8444, targetPort: "calls", protocol: "TCP" }] };

test("through the run-time gateway, a strict run's egress is DNS, the API server (with RBAC rules), kagent and the gateway's pods on their calls port: no model or tool endpoint", () => {
  const routed: ScopeEnvironment = { ...env([["kagent/kagent-controller", controllerService], ["agentgate-system/agentgate", gatewayService]]), calls };
  const egress = spec(guardrails(), routed).egress;
  assert.deepEqual(egress.map((e) => e.ports?.map((p) => p.port)), [[53, 53], [6443], [8083], ["calls"]]);
  assert.deepEqual(egress[3]?.to, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "agentgate-system" } }, podSelector: { matchLabels: gatewayService.selector } }]);
  assert.equal(JSON.stringify(egress).includes("0.0.0.0/0"), false);
  assert.equal(JSON.stringify(egress).includes("kagent-tools"), false);
  // without RBAC rules, not even the API server
  assert.deepEqual(spec(guardrails({ rbac: [] }), routed).egress.map((e) => e.ports?.map((p) => p.port)), [[53, 53], [8083], ["calls"]]);
  assert.match(networkPolicy(run, guardrails(), routed).metadata?.annotations?.["agent.tekton.dev/calls"] ?? "", /go through agentgate's run-time gateway/);
});

test("through the run-time gateway: no <run>-fqdn (no public host is reached directly), the gateway's Service is read instead of the tool servers', and the condition says so", () => {
  assert.equal(fqdnPolicy(run, guardrails(), { calls, fqdn: true }), undefined);
  assert.deepEqual(servicesToResolve(guardrails(), kagent, calls), ["kagent/kagent-controller", "agentgate-system/agentgate"]);
  assert.match(egressNote(guardrails(), { calls }) ?? "", /model and tool calls go through agentgate's run-time gateway, the only way out the NetworkPolicy leaves them besides DNS, the API server and kagent/);
  assert.match(egressNote(guardrails({ networkPolicy: "permissive" }), { calls }) ?? "", /go through agentgate's run-time gateway; networkPolicy: permissive/);
});

test("a --calls-url given as an IP is allowed as that address on its port", () => {
  const byIp: ScopeEnvironment = { ...env(), calls: peerEndpoint("--calls-url", "http://10.0.0.9:8444") };
  assert.deepEqual(spec(guardrails({ rbac: [] }), byIp).egress.at(-1), { to: [{ ipBlock: { cidr: "10.0.0.9/32" } }], ports: [{ protocol: "TCP", port: 8444 }] });
});
