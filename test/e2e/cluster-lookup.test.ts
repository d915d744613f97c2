// ClusterLookup against a real kube-apiserver: readiness means the caches
// really listed (not merely that the informer's start() returned), a missing
// CRD is "synced, empty" and fills in once installed, a cache miss is
// confirmed by a direct read, and Services are cached once referenced.
import { ephemeralKeyring } from "../../src/signing/keyring.ts";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import winston from "winston";
import { stringify } from "yaml";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { admit, type GatewayDeps } from "../../src/gateway/admit.ts";
import { makeIdentity } from "../../src/guardrails/identity.ts";
import { loadEngine } from "../../src/policy/load.ts";
import type { PolicyEngine } from "../../src/policy/engine.ts";
import type { KubeObject } from "../../src/types/kube.ts";
import { requestFromManifest } from "../../src/wire/from-manifest.ts";
import { ClusterLookup, WATCHED_KINDS } from "../../src/context/cluster-lookup.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import type { ObjectLookup } from "../../src/context/lookup.ts";
import { StaticLookup } from "../../src/context/static-lookup.ts";
import { until } from "../support/until.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const silent = winston.createLogger({ silent: true });
const FAST = { retryBaseMs: 100, retryMaxMs: 400, absentRecheckMs: 300 };

/** Polls until check() is true; fails (rather than hangs) after a generous bound. Not a timing assertion. */

/** A get the cache answered: no direct read was made for it. */
async function fromCache(lookup: ClusterLookup, kind: Parameters<ObjectLookup["get"]>[0], ns: string, name: string): Promise<KubeObject | null> {
  const reads = lookup.confirmations;
  const got = await lookup.get(kind, ns, name);
  return lookup.confirmations === reads ? got : null;
}

let cp: ControlPlane;
const lookups: ClusterLookup[] = [];
const track = (l: ClusterLookup) => (lookups.push(l), l);

before(async () => {
  // Only agentgate's CRDs: kagent is "not installed" until a test installs it.
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds")] });
  await cp.applyYaml(stringify({ apiVersion: "v1", kind: "List", items: ["qe", "kagent", "tools"].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })) }));
});

after(async () => {
  await Promise.all(lookups.map((l) => l.stop()));
  await cp?.stop();
});

describe("readiness", () => {
  let lookup: ClusterLookup;
  const synced = new Set<string>();

  test("a user who may not list: not ready, naming each kind and the API server's reason", async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(await cp.kubeconfigFor("gw-reader"));
    lookup = track(new ClusterLookup(kubeApiOf(kc), silent, (kind, ok) => (ok ? synced.add(kind) : synced.delete(kind)), FAST));
    await lookup.start();
    const why = lookup.notSynced() ?? "";
    assert.match(why, /^watch caches not synced: AgentConfig \(cannot list agentconfigs\.agent\.tekton\.dev: HTTP 403: agentconfigs\.agent\.tekton\.dev is forbidden: User "gw-reader" cannot list resource "agentconfigs" in API group "agent\.tekton\.dev" at the cluster scope\)/);
    for (const w of WATCHED_KINDS) assert.match(why, new RegExp(`(^|; |: )${w.kind} \\(cannot list ${w.plural}`), w.kind);
    assert.equal(synced.size, 0);
    // Retries go on, and fail as long as the rights are missing.
    await new Promise((r) => setTimeout(r, 1000));
    assert.match(lookup.notSynced() ?? "", /AgentConfig \(cannot list/);
  });

  test("granted list and watch: it becomes ready without a restart; kagent's absent kinds count as synced and empty", async () => {
    await cp.applyYaml(
      [
        stringify({
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRole",
          metadata: { name: "gw-reader" },
          rules: [
            { apiGroups: ["agent.tekton.dev"], resources: ["agentconfigs"], verbs: ["get", "list", "watch"] },
            { apiGroups: ["kagent.dev"], resources: ["modelconfigs", "remotemcpservers", "mcpservers"], verbs: ["get", "list", "watch"] },
            { apiGroups: [""], resources: ["namespaces", "services"], verbs: ["get", "list", "watch"] },
          ],
        }),
        stringify({
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name: "gw-reader" },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "gw-reader" },
          subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "gw-reader" }],
        }),
      ].join("---\n"),
    );
    await until("the lookup to sync once granted", () => lookup.notSynced() === undefined);
    assert.deepEqual([...synced].sort(), WATCHED_KINDS.map((w) => w.kind).sort());
    assert.equal(await lookup.get("ModelConfig", "qe", "claude"), null, "no ModelConfig API: a reference resolves to null");
    assert.ok(await fromCache(lookup, "Namespace", "", "qe"), "namespaces come from the cache");
  });

  test("kagent installed later: the absent kind's cache fills without a restart", async () => {
    await cp.installCRDs([join(ROOT, "test/support/crds")]);
    await cp.applyYaml(stringify({ apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: "qe" }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet" } }));
    await until("the ModelConfig cache to hold the new object", async () => (await fromCache(lookup, "ModelConfig", "qe", "claude")) !== null);
    assert.equal(lookup.notSynced(), undefined);
  });

  test("an API server that cannot be reached: not ready, saying so per kind", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "gone", server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "c", cluster: "gone", user: "u" }],
      currentContext: "c",
    });
    const down = track(new ClusterLookup(kubeApiOf(kc), silent, undefined, FAST));
    await down.start();
    assert.match(down.notSynced() ?? "", /^watch caches not synced: AgentConfig \(cannot list agentconfigs\.agent\.tekton\.dev: [^)]*ECONNREFUSED/);
    await down.stop();
  });
});

describe("a cache miss is confirmed by a direct read", () => {
  let engine: PolicyEngine;
  const deps = (lookup: ObjectLookup): GatewayDeps => ({ engine: () => engine, lookup, identity: makeIdentity([]), exemptNamespaces: new Set(["agentgate-system", "kube-system"]), keyring: ephemeralKeyring() });
  const config: KubeObject = {
    apiVersion: "agent.tekton.dev/v1alpha1",
    kind: "AgentConfig",
    metadata: { name: "writer", namespace: "qe" },
    spec: { modelConfigRef: { name: "fresh" }, toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }], tokenBudget: 1000, timeout: "10m", maxIterations: 3, networkPolicy: "strict" },
  };

  before(async () => {
    engine = await loadEngine([]);
  });

  test("a ModelConfig created a moment ago, which no cache has seen, resolves through the read", async () => {
    await cp.applyYaml(
      [
        stringify({ apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "fresh", namespace: "qe" }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet" } }),
        stringify({ apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", description: "kagent tools", allowedNamespaces: { from: "All" } } }),
      ].join("---\n"),
    );
    // Its caches are never started: every lookup is a miss, as for an object the watch has not delivered yet.
    const cold = track(new ClusterLookup(kubeApiOf(cp.kubeConfig), silent));
    const request = requestFromManifest(config, { operation: "CREATE", user: { username: "alice" } });
    const decision = await admit(request, deps(cold), "validate");
    assert.deepEqual(decision.violations, []);
    assert.equal(decision.allowed, true);
    assert.equal(cold.confirmations, 3, "one read each: the Namespace, the ModelConfig, the RemoteMCPServer");
    assert.equal((decision.input?.context.modelConfig?.spec as { model?: string } | undefined)?.model, "claude-3-5-sonnet");

    // Without the read the same request is refused: the object was only in the API server.
    const none = await admit(request, deps(new StaticLookup()), "validate");
    assert.equal(none.allowed, false);
    assert.match(none.violations.map((v) => v.message).join("\n"), /ModelConfig "qe\/fresh" does not exist; create it first/);
  });

  test("an object that does not exist is a confirmed null, not an error", async () => {
    const cold = track(new ClusterLookup(kubeApiOf(cp.kubeConfig), silent));
    assert.equal(await cold.get("ModelConfig", "qe", "never-created"), null);
    assert.equal(cold.confirmations, 1);
  });

  test("a name no object can have (\".\", \"..\", \"\") is null without a read: as a path segment it would read the collection, which was taken for the object", async () => {
    const cold = track(new ClusterLookup(kubeApiOf(cp.kubeConfig), silent));
    for (const name of [".", "..", ""]) assert.equal(await cold.get("ModelConfig", "qe", name), null, JSON.stringify(name));
    assert.equal(await cold.get("ModelConfig", "..", "fresh"), null);
    assert.equal(cold.confirmations, 0);
  });
});

describe("Services are cached once referenced", () => {
  let lookup: ClusterLookup;
  before(async () => {
    lookup = track(new ClusterLookup(kubeApiOf(cp.kubeConfig), silent, undefined, FAST));
    await lookup.start();
    await until("the admin lookup to sync", () => lookup.notSynced() === undefined);
    await cp.applyYaml(stringify({ apiVersion: "v1", kind: "Service", metadata: { name: "mcp", namespace: "tools" }, spec: { ports: [{ port: 8080 }] } }));
  });

  test("the first reference reads directly and starts a watch of that namespace's Services; later ones are cache hits", async () => {
    const reads = lookup.confirmations;
    const first = await lookup.get("Service", "tools", "mcp");
    assert.equal((first?.spec as { ports?: { port: number }[] } | undefined)?.ports?.[0]?.port, 8080);
    assert.equal(lookup.confirmations, reads + 1, "answered by a direct read while the cache starts");
    assert.equal(lookup.notSynced(), undefined, "a Service cache never holds up readiness");
    await until("the Service cache to answer", async () => (await fromCache(lookup, "Service", "tools", "mcp")) !== null);
  });

  test("the cache follows changes (a watch, not a one-off list)", async () => {
    await cp.kubectl(["patch", "service", "mcp", "-n", "tools", "--type", "json", "-p", '[{"op":"replace","path":"/spec/ports/0/port","value":9090}]']);
    await until("the cached Service to show the new port", async () => {
      const s = await fromCache(lookup, "Service", "tools", "mcp");
      return (s?.spec as { ports?: { port: number }[] } | undefined)?.ports?.[0]?.port === 9090;
    });
  });

  test("a Service that does not exist is still confirmed by a read", async () => {
    const reads = lookup.confirmations;
    assert.equal(await lookup.get("Service", "tools", "nope"), null);
    assert.equal(lookup.confirmations, reads + 1);
  });
});
