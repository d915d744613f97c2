import assert from "node:assert/strict";
import test from "node:test";
import { OwnerError } from "../kube/owner.ts";
import { parseOwnerFlag } from "./owner-flag.ts";

test("--owner takes deployment/NAME or cronjob/NAME, nothing else", () => {
  assert.deepEqual(parseOwnerFlag("deployment/agentgate-gateway"), { kind: "deployment", name: "agentgate-gateway" });
  assert.deepEqual(parseOwnerFlag("cronjob/agentgate-audit"), { kind: "cronjob", name: "agentgate-audit" });
  for (const bad of ["agentgate-gateway", "pod/agentgate-gateway-abc", "replicaset/agentgate-gateway-5d8", "Deployment/agentgate-gateway", "deployment/", "deployment/Agentgate", "deployment/a/b"]) {
    assert.throws(() => parseOwnerFlag(bad), (err: unknown) => err instanceof OwnerError && err.kind === "usage" && err.message.startsWith(`--owner ${JSON.stringify(bad)}: expected deployment/NAME or cronjob/NAME`), bad);
  }
});
