// loadKubeConfig's --context: the context named, not the file's current-context.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadKubeConfig } from "./environment.ts";

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
