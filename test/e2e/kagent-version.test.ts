// readKagentSupport against a real API server's discovery: nothing of kagent,
// then a release's CRDs (the test copies: agents/modelconfigs/remotemcpservers
// kagent.dev/v1alpha2, kmcp's mcpservers v1alpha1), then the main branch's
// AgentTemplate and Harness in kagent.dev/v1alpha3.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { readKagentSupport } from "../../src/controller/kagent-version.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { until } from "../support/until.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");

let cp: ControlPlane;
let dir: string;

before(async () => {
  cp = await startControlPlane();
  dir = await mkdtemp(join(tmpdir(), "kagent-version-"));
});

after(async () => {
  await cp.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A served, schemaless CRD in kagent.dev/v1alpha3, as kagent main ships AgentTemplate and Harness. */
function v1alpha3Crd(kind: string, plural: string): string {
  return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${plural}.kagent.dev
spec:
  group: kagent.dev
  scope: Namespaced
  names: { kind: ${kind}, listKind: ${kind}List, plural: ${plural}, singular: ${kind.toLowerCase()} }
  versions:
    - name: v1alpha3
      served: true
      storage: true
      subresources: { status: {} }
      schema:
        openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true }
`;
}

test("discovery tells no kagent, then a supported release, then kagent main", async () => {
  const none = await readKagentSupport(cp.kubeConfig);
  assert.equal(none.state, "not-installed", none.message);

  await cp.installCRDs([join(ROOT, "test/support/crds")]);
  const release = await until("discovery to serve kagent.dev/v1alpha2 Agents", async () => {
    const s = await readKagentSupport(cp.kubeConfig);
    return s.state === "supported" ? s : undefined;
  });
  assert.deepEqual([...release.versions].sort(), ["v1alpha1", "v1alpha2"]);

  const path = join(dir, "main.yaml");
  await writeFile(path, `${v1alpha3Crd("AgentTemplate", "agenttemplates")}---\n${v1alpha3Crd("Harness", "harnesses")}`);
  await cp.installCRDs([path]);
  const main = await until("discovery to serve kagent.dev/v1alpha3", async () => {
    const s = await readKagentSupport(cp.kubeConfig);
    return s.state === "main" && s.message.includes("Harness") ? s : undefined;
  });
  assert.equal(main.message, "kagent on this cluster serves kagent.dev/v1alpha3 (AgentTemplate, Harness): its main branch, which no longer runs v1alpha2 Agents; agentgate supports kagent v0.9.x and v0.10 release candidates");
});
