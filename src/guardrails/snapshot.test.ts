import { test } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "../types/kube.ts";
import { specSha256, toolServerSha256 } from "./snapshot.ts";

const service = (annotations: Record<string, string>): KubeObject => ({ apiVersion: "v1", kind: "Service", metadata: { name: "tools", namespace: "qe", annotations }, spec: { ports: [{ port: 8084 }, { port: 9000 }] } });

test("a Service tool server's digest covers the annotations kagent reads its port and path from", () => {
  const before = toolServerSha256("Service", service({ "kagent.dev/mcp-service-port": "8084" }));
  assert.notEqual(toolServerSha256("Service", service({ "kagent.dev/mcp-service-port": "9000" })), before, "another port is another server");
  assert.notEqual(toolServerSha256("Service", service({ "kagent.dev/mcp-service-port": "8084", "kagent.dev/mcp-service-path": "/evil" })), before);
  assert.equal(toolServerSha256("Service", service({ "kagent.dev/mcp-service-port": "8084", "team": "x" })), before, "other annotations do not count");
});

test("without those annotations, and for other kinds, the digest is the spec's", () => {
  assert.equal(toolServerSha256("Service", service({})), specSha256(service({})));
  const remote: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { annotations: { "kagent.dev/mcp-service-port": "1" } }, spec: { url: "http://x" } };
  assert.equal(toolServerSha256("RemoteMCPServer", remote), specSha256(remote));
});
