// loadKubeConfig: the client-node KubeConfig built from the same reading of the kubeconfig as the lean client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadKubeConfig } from "./client-node-config.ts";

const file = join(mkdtempSync(join(tmpdir(), "agentgate-env-")), "kubeconfig");
writeFileSync(file, `apiVersion: v1
kind: Config
clusters: [{name: dev, cluster: {server: 'https://dev.example:6443'}}, {name: prod, cluster: {server: 'https://prod.example:6443'}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: dev, context: {cluster: dev, user: u, namespace: qe}}, {name: prod, context: {cluster: prod, user: u}}]
current-context: dev
`);

test("without --context: the kubeconfig's current-context", () => {
  assert.equal(loadKubeConfig({ kubeconfig: file }).getCurrentCluster()?.server, "https://dev.example:6443");
});

test("--context: that context's cluster, user and namespace", () => {
  const kc = loadKubeConfig({ kubeconfig: file, context: "prod" });
  assert.equal(kc.getCurrentContext(), "prod");
  assert.equal(kc.getCurrentCluster()?.server, "https://prod.example:6443");
});

test("--context the file does not have: refused, naming those it has", () => {
  assert.throws(() => loadKubeConfig({ kubeconfig: file, context: "staging" }), { message: `--context staging: --kubeconfig ${file} has no such context (it has dev, prod)` });
});

test("a user's tokenFile reaches client-node as its tokenFile auth provider, so the token is read from the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "agentgate-env-"));
  writeFileSync(join(dir, "token"), "from-the-file\n");
  const path = join(dir, "kubeconfig");
  writeFileSync(path, `clusters: [{name: c, cluster: {server: 'https://c.example:6443'}}]
users: [{name: u, user: {tokenFile: token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
  const user = loadKubeConfig({ kubeconfig: path }).getCurrentUser();
  assert.deepEqual(user?.authProvider, { name: "tokenFile", config: { tokenFile: join(dir, "token") } });
});
