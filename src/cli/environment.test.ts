// selectCluster: kubectl's order and merge, the credentials of the context
// chosen, and one line naming the file for each way a kubeconfig is wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { selectCluster } from "./environment.ts";

const dir = mkdtempSync(join(tmpdir(), "agentgate-kubeconfig-"));
const write = (name: string, text: string | Buffer): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const b64 = (s: string): string => Buffer.from(s).toString("base64");

const two = write("two", `apiVersion: v1
kind: Config
clusters:
- {name: dev, cluster: {server: 'https://dev.example:6443/', certificate-authority-data: ${b64("DEV CA")}}}
- {name: prod, cluster: {server: 'https://prod.example:6443', certificate-authority: ca.pem, insecure-skip-tls-verify: false, tls-server-name: api.prod}}
users:
- {name: certs, user: {client-certificate-data: ${b64("CERT")}, client-key-data: ${b64("KEY")}}}
- {name: files, user: {tokenFile: token, as: someone}}
contexts:
- {name: dev, context: {cluster: dev, user: certs, namespace: qe}}
- {name: prod, context: {cluster: prod, user: files}}
current-context: dev
`);
write("ca.pem", "PROD CA");

/** Runs fn with the environment changed, then puts it back. */
function withEnv<T>(env: Record<string, string | undefined>, fn: () => T): T {
  const saved = { ...process.env };
  const set = (from: Record<string, string | undefined>): void => {
    for (const k of Object.keys(from)) Reflect.deleteProperty(process.env, k);
    for (const [k, v] of Object.entries(from)) if (v !== undefined) process.env[k] = v;
  };
  set(env);
  try {
    return fn();
  } finally {
    set(Object.fromEntries(Object.keys(env).map((k) => [k, saved[k]])));
  }
}

test("the current-context's server, CA and client certificate; a trailing slash of the server dropped", () => {
  const { credentials, label, inCluster } = selectCluster({ kubeconfig: two });
  assert.equal(label, `--kubeconfig ${two}`);
  assert.equal(inCluster, false);
  assert.equal(credentials.server, "https://dev.example:6443");
  assert.equal(credentials.ca?.toString(), "DEV CA");
  assert.equal(credentials.cert?.toString(), "CERT");
  assert.equal(credentials.key?.toString(), "KEY");
  assert.equal(credentials.delegated, false);
});

test("--context: that context's cluster and user; files relative to the kubeconfig; `as` impersonates", () => {
  const { credentials } = selectCluster({ kubeconfig: two, context: "prod" });
  assert.equal(credentials.server, "https://prod.example:6443");
  assert.equal(credentials.ca?.toString(), "PROD CA");
  assert.equal(credentials.tokenFile, join(dir, "token"));
  assert.equal(credentials.tlsServerName, "api.prod");
  assert.equal(credentials.impersonate, "someone");
});

test("$KUBECONFIG files merge as kubectl merges them: the first to name a context or set current-context wins; a missing one is skipped", () => {
  const other = write("other", `clusters: [{name: dev, cluster: {server: 'https://shadowed.example'}}, {name: extra, cluster: {server: 'https://extra.example'}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: extra, context: {cluster: extra, user: u}}]
current-context: extra
`);
  const list = [two, join(dir, "missing"), other].join(delimiter);
  withEnv({ KUBECONFIG: list, KUBERNETES_SERVICE_HOST: undefined }, () => {
    assert.equal(selectCluster({}).credentials.server, "https://dev.example:6443");
    const extra = selectCluster({ context: "extra" });
    assert.equal(extra.credentials.server, "https://extra.example");
    assert.equal(extra.credentials.token, "t");
    assert.equal(extra.label, `$KUBECONFIG ${list}`);
  });
});

test("in a pod without --context: the ServiceAccount's token file and the service's address", () => {
  withEnv({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }, () => {
    const { credentials, inCluster, label } = selectCluster({});
    assert.equal(inCluster, true);
    assert.equal(label, "in-cluster");
    assert.equal(credentials.server, "https://[fd00::1]:443");
    assert.equal(credentials.tokenFile, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  });
});

test("an exec plugin or an auth provider is delegated to client-node", () => {
  const exec = write("exec", `clusters: [{name: c, cluster: {server: 'https://c.example'}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: gke-gcloud-auth-plugin}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
  assert.equal(selectCluster({ kubeconfig: exec }).credentials.delegated, true);
});

const refusals: { name: string; text: string | Buffer; message: RegExp; context?: string }[] = [
  { name: "YAML that does not parse: the reason, line and column, not the parser's excerpt", text: "clusters:\n  - name: a\n bad: [", message: /^--kubeconfig \S+: not valid YAML: .* at line \d+, column \d+$/ },
  { name: "binary data", text: Buffer.from([0x89, 0x50, 0x00, 0x01]), message: /^--kubeconfig \S+: binary data, not a kubeconfig \(YAML\)$/ },
  { name: "an empty file", text: "  \n", message: /^--kubeconfig \S+: is empty, not a kubeconfig$/ },
  { name: "a list of numbers", text: "[1, 2, 3]\n", message: /^--kubeconfig \S+: defines no contexts; is it a kubeconfig/ },
  { name: "no current-context", text: "contexts: [{name: a, context: {cluster: c}}]\n", message: /^--kubeconfig \S+: sets no current-context; set it to one of a$/ },
  { name: "a current-context it does not define", text: "contexts: [{name: a, context: {cluster: c}}]\ncurrent-context: b\n", message: /^--kubeconfig \S+: current-context "b" is not one of its contexts \(a\)$/ },
  { name: "a context naming a cluster it does not define", text: "contexts: [{name: a, context: {cluster: c}}]\ncurrent-context: a\n", message: /^--kubeconfig \S+: context "a" names cluster "c", which it does not define$/ },
  { name: "a cluster without a server", text: "clusters: [{name: c, cluster: {}}]\ncontexts: [{name: a, context: {cluster: c}}]\ncurrent-context: a\n", message: /^--kubeconfig \S+: cluster "c" has no server URL/ },
  { name: "clusters that are not a list", text: "clusters: {a: 1}\n", message: /^--kubeconfig \S+: not a usable kubeconfig: clusters is not a list$/ },
  { name: "a CA file that cannot be read", text: "clusters: [{name: c, cluster: {server: 'https://c', certificate-authority: nowhere.pem}}]\ncontexts: [{name: a, context: {cluster: c}}]\ncurrent-context: a\n", message: /^--kubeconfig \S+: certificate-authority \S+nowhere\.pem: cannot read: / },
  { name: "--context it does not have: the ones it has", text: "clusters: [{name: c, cluster: {server: 'https://c'}}]\ncontexts: [{name: a, context: {cluster: c}}, {name: b, context: {cluster: c}}]\ncurrent-context: a\n", context: "z", message: /^--context z: --kubeconfig \S+ has no such context \(it has a, b\)$/ },
];

for (const { name, text, message, context } of refusals) {
  test(`refused in one line: ${name}`, () => {
    const path = write(`bad-${name.replace(/\W+/g, "-").slice(0, 40)}`, text);
    assert.throws(() => selectCluster({ kubeconfig: path, ...(context ? { context } : {}) }), (err: Error) => {
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  });
}

test("a --kubeconfig that does not exist: cannot read, naming it", () => {
  assert.throws(() => selectCluster({ kubeconfig: join(dir, "absent") }), { message: /^--kubeconfig \S+absent: cannot read: / });
});

test("nothing to use: what to pass, and the command's own alternative", () => {
  withEnv({ KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: undefined, HOME: dir }, () => {
    assert.throws(() => selectCluster({}, ", or --offline"), { message: "no cluster to watch: pass --kubeconfig FILE (or set KUBECONFIG, or write ~/.kube/config), or --offline" });
  });
});
