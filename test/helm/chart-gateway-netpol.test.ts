// The chart's bounds on the gateway, rendered by the real helm: its
// NetworkPolicy (ingress on its one port, egress to DNS, the API server and
// the bundle services only), API-server client authentication
// (gateway.clientAuth → --client-ca-file on a mounted CA) and the review cost
// limits, whose defaults are the server's own.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_REVIEW_LIMITS } from "../../src/wire/parse.ts";
import { helmIn, type ChartObject } from "../support/helm.ts";

const CHART = fileURLToPath(new URL("../../charts/agentgate", import.meta.url));
const WORK = mkdtempSync(join(tmpdir(), "agentgate-chart-netpol-"));
const NS = "agentgate-system";

after(() => { rmSync(WORK, { recursive: true, force: true }); });

type Obj = ChartObject;

interface Port {
  port: number;
  protocol: string;
}
interface Rule {
  ports?: Port[];
  from?: unknown[];
  to?: { ipBlock?: { cidr: string } }[];
}
interface NetworkPolicy {
  spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: Rule[]; egress: Rule[] };
}
interface Container {
  args: string[];
  ports: { name: string; containerPort: number }[];
  readinessProbe: { httpGet: { port: string } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface Deployment {
  spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: Container[]; volumes?: { name: string; secret?: { secretName: string; items?: { key: string; path: string }[] }; configMap?: { name: string; items?: { key: string; path: string }[] } }[] } } };
}

const chart = helmIn(WORK);
/** helm template with these values, refused or not */
const helm = (values: Record<string, unknown>) => chart.run(["template", "agentgate", CHART, "--namespace", NS, "-f", chart.valuesFile(values)]);
const render = (values: Record<string, unknown> = {}): Promise<Obj[]> => chart.render(values, "agentgate", NS);

const policy = (objects: Obj[]): NetworkPolicy | undefined => objects.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "agentgate-gateway") as NetworkPolicy | undefined;
const deployment = (objects: Obj[], name: string): Deployment => {
  const d = objects.find((o) => o.kind === "Deployment" && o.metadata.name === name);
  assert.ok(d, `Deployment ${name}`);
  return d as unknown as Deployment;
};
const gatewayContainer = (objects: Obj[]): Container => {
  const c = deployment(objects, "agentgate-gateway").spec.template.spec.containers[0];
  assert.ok(c);
  return c;
};
const flagValues = (args: string[], flag: string): string[] => args.filter((a) => a.startsWith(`${flag}=`)).map((a) => a.slice(flag.length + 1));
const ports = (rule: Rule | undefined): string[] => (rule?.ports ?? []).map((p) => `${p.protocol}/${p.port}`);
const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe("gateway NetworkPolicy", () => {
  test("by default: the gateway's pods (not the controller's), ingress only on the ports the gateway listens on (the webhook's, probed, and --metrics-listen's), from anywhere", async () => {
    const objects = await render();
    const np = policy(objects);
    assert.ok(np, "rendered by default");
    assert.deepEqual([...np.spec.policyTypes].sort(), ["Egress", "Ingress"]);
    assert.ok(selects(np.spec.podSelector.matchLabels, deployment(objects, "agentgate-gateway").spec.template.metadata.labels));
    assert.ok(!selects(np.spec.podSelector.matchLabels, deployment(objects, "agentgate-controller").spec.template.metadata.labels));
    const gw = gatewayContainer(objects);
    const listen = Number(flagValues(gw.args, "--listen")[0]?.split(":").pop());
    const probed = gw.ports.find((p) => p.name === gw.readinessProbe.httpGet.port)?.containerPort;
    const metrics = Number(flagValues(gw.args, "--metrics-listen")[0]?.split(":").pop());
    assert.equal(np.spec.ingress.length, 2);
    assert.deepEqual(ports(np.spec.ingress[0]), [`TCP/${listen}`]);
    assert.deepEqual(ports(np.spec.ingress[1]), [`TCP/${metrics}`], "plain /metrics (metrics.*: test/helm/chart-monitoring.test.ts)");
    assert.equal(probed, listen);
    assert.equal(np.spec.ingress[0]?.from, undefined, "the API server's address cannot be known: open unless narrowed");
  });

  test("by default egress is DNS anywhere and the API server's ports, nothing else", async () => {
    const np = policy(await render());
    assert.ok(np);
    assert.deepEqual(np.spec.egress.map((r) => ports(r)), [["UDP/53", "TCP/53"], ["TCP/443", "TCP/6443"]]);
    assert.equal(np.spec.egress[0]?.to, undefined);
    assert.deepEqual(np.spec.egress[1]?.to?.map((t) => t.ipBlock?.cidr), ["0.0.0.0/0", "::/0"]);
  });

  test("each value narrows or widens what it says", async () => {
    const from = [{ ipBlock: { cidr: "10.0.0.0/24" } }, { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }];
    const dns = [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } } }];
    const extra = { to: [{ ipBlock: { cidr: "192.0.2.10/32" } }], ports: [{ port: 4317, protocol: "TCP" }] };
    const np = policy(await render({
      gateway: { networkPolicy: { ingressFrom: from, dns: { to: dns }, apiServer: { cidrs: ["172.20.0.10/32"], ports: [6443] }, extraEgress: [extra] } },
    }));
    assert.ok(np);
    assert.deepEqual(np.spec.ingress[0]?.from, from);
    assert.deepEqual(np.spec.egress[0]?.to, dns);
    assert.deepEqual(np.spec.egress[1], { to: [{ ipBlock: { cidr: "172.20.0.10/32" } }], ports: [{ port: 6443, protocol: "TCP" }] });
    assert.deepEqual(np.spec.egress.at(-1), extra);
  });

  test("bundle service URLs open their ports (443 or 80 when unnamed), once each; files open none", async () => {
    const np = policy(await render({
      // Plain http needs signed bundles (a verification key), or the chart refuses it.
      policy: { bundles: ["https://bundles.example.com/team.tar.gz", "http://opa-bundles.tools.svc:8181/b.tar.gz", "http://[fd00::1]/c.tar.gz", "https://other.example.com/d.tar.gz", "/etc/agentgate/bundles/local"], verification: { publicKey: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----" } },
      gateway: { networkPolicy: { bundleServices: { to: [{ ipBlock: { cidr: "203.0.113.0/24" } }], ports: [9443] } } },
    }));
    assert.ok(np);
    const bundle = np.spec.egress[2];
    assert.deepEqual(ports(bundle), ["TCP/443", "TCP/8181", "TCP/80", "TCP/9443"]);
    assert.deepEqual(bundle?.to, [{ ipBlock: { cidr: "203.0.113.0/24" } }]);
    const none = policy(await render({ policy: { bundles: ["/etc/agentgate/bundles/local"] } }));
    assert.equal(none?.spec.egress.length, 2, "no bundle rule without a URL");
  });

  test("enabled: false renders none", async () => {
    assert.equal(policy(await render({ gateway: { networkPolicy: { enabled: false } } })), undefined);
  });

  test("a misspelt key is refused by the schema", async () => {
    const r = await helm({ gateway: { networkPolicy: { ingressfrom: [] } } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /additional properties 'ingressfrom' not allowed/);
  });
});

describe("gateway client authentication and review limits", () => {
  for (const source of ["caSecret", "caConfigMap"] as const) {
    test(`clientAuth.${source}: the CA is mounted as a directory and --client-ca-file names the key in it; --client-cn per allowed name`, async () => {
      const objects = await render({ gateway: { clientAuth: { [source]: "apiserver-clients", caKey: "client-ca.pem", allowedNames: ["kube-apiserver", "kube-apiserver-2"] } } });
      const gw = gatewayContainer(objects);
      const [file] = flagValues(gw.args, "--client-ca-file");
      assert.ok(file, "--client-ca-file passed");
      assert.deepEqual(flagValues(gw.args, "--client-cn"), ["kube-apiserver", "kube-apiserver-2"]);
      const mount = gw.volumeMounts?.find((m) => m.name === "client-ca");
      assert.equal(file, `${mount?.mountPath ?? "(no mount)"}/client-ca.pem`);
      const volume = deployment(objects, "agentgate-gateway").spec.template.spec.volumes?.find((v) => v.name === "client-ca");
      const from = source === "caSecret" ? { name: volume?.secret?.secretName, items: volume?.secret?.items } : { name: volume?.configMap?.name, items: volume?.configMap?.items };
      assert.deepEqual(from, { name: "apiserver-clients", items: [{ key: "client-ca.pem", path: "client-ca.pem" }] });
    });
  }

  test("off by default: no flag, no mount", async () => {
    const gw = gatewayContainer(await render());
    assert.deepEqual(flagValues(gw.args, "--client-ca-file"), []);
    assert.equal(gw.volumeMounts?.find((m) => m.name === "client-ca"), undefined);
  });

  const refusals: { name: string; values: Record<string, unknown>; error: RegExp }[] = [
    { name: "a Secret and a ConfigMap both", values: { caSecret: "a", caConfigMap: "b" }, error: /gateway\.clientAuth: set caSecret or caConfigMap, not both/ },
    { name: "allowed names without a CA", values: { allowedNames: ["kube-apiserver"] }, error: /gateway\.clientAuth\.allowedNames needs gateway\.clientAuth\.caSecret or caConfigMap/ },
  ];
  for (const c of refusals) {
    test(`clientAuth with ${c.name} is refused in one line`, async () => {
      const r = await helm({ gateway: { clientAuth: c.values } });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, c.error);
    });
  }

  test("the review limits passed by default are the server's own defaults; values change them", async () => {
    const defaults = gatewayContainer(await render()).args;
    assert.deepEqual([flagValues(defaults, "--max-review-values"), flagValues(defaults, "--max-review-depth")], [[String(DEFAULT_REVIEW_LIMITS.maxValues)], [String(DEFAULT_REVIEW_LIMITS.maxDepth)]]);
    const set = gatewayContainer(await render({ gateway: { reviewLimits: { maxValues: 250000, maxDepth: 64 } } })).args;
    assert.deepEqual([flagValues(set, "--max-review-values"), flagValues(set, "--max-review-depth")], [["250000"], ["64"]]);
  });
});
