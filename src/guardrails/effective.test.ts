import { test } from "node:test";
import assert from "node:assert/strict";
import { egressFor } from "./effective.ts";

const cases: [string, string, { host: string; port: number; service?: { namespace: string; name: string } } | undefined][] = [
  ["in-cluster name.namespace", "http://kagent-tools.kagent:8084/mcp", { host: "kagent-tools.kagent", port: 8084, service: { namespace: "kagent", name: "kagent-tools" } }],
  ["in-cluster .svc", "http://mcp.tools.svc/mcp", { host: "mcp.tools.svc", port: 80, service: { namespace: "tools", name: "mcp" } }],
  ["in-cluster fully qualified", "https://mcp.tools.svc.cluster.local:9443", { host: "mcp.tools.svc.cluster.local", port: 9443, service: { namespace: "tools", name: "mcp" } }],
  ["public host", "https://api.openai.com/v1", { host: "api.openai.com", port: 443 }],
  ["two-label public host", "https://openai.com", { host: "openai.com", port: 443 }],
  ["no scheme", "llm.example.com:8443", { host: "llm.example.com", port: 8443 }],
  ["garbage", "http://", undefined],
];

for (const [name, endpoint, want] of cases) {
  test(`egress for ${name}`, () => {
    const got = egressFor("p", endpoint);
    assert.deepEqual(got, want && { purpose: "p", ...want });
  });
}
