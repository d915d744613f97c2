// toAdmissionResponse: what the API server reads for each kind of decision.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Operation as PatchOperation } from "rfc6902";
import type { Decision } from "../gateway/admit.ts";
import type { Violation } from "../types/policy.ts";
import { toAdmissionResponse, toAdmissionReview } from "./respond.ts";

const v = (policy: string, action: Violation["action"], field = "spec.x", message = "found 9; allowed: at most 5"): Violation => ({ policy, field, message, action });
const patch: PatchOperation[] = [{ op: "add", path: "/spec/timeout", value: "15m" }];

function decision(violations: Violation[], over: Partial<Decision> = {}): Decision {
  return { origin: "validate", allowed: !violations.some((x) => x.action === "deny"), exempt: false, violations, patch: [], failures: [], revision: "default@r1", ...over };
}

test("a denial: 403 Forbidden, one line per deny finding; warnings still reach kubectl; dryrun findings nowhere", () => {
  const response = toAdmissionResponse("u1", decision([v("a-rule", "deny"), v("b-rule", "deny", "", "no field"), v("c-rule", "warn"), v("d-rule", "dryrun")]));
  assert.deepEqual(response, {
    uid: "u1",
    allowed: false,
    status: { code: 403, reason: "Forbidden", message: "[a-rule] spec.x: found 9; allowed: at most 5\n[b-rule] no field", status: "Failure" },
    warnings: ["[c-rule] spec.x: found 9; allowed: at most 5"],
  });
});

test("a denial made only of final findings is 400 BadRequest, which Tekton takes as final; one finding that may pass later keeps it 403", () => {
  const final: Violation = { ...v("run-creator", "deny"), final: true };
  const cases: { name: string; violations: Violation[]; code: number; reason: string }[] = [
    { name: "every deny final", violations: [final, { ...final, message: "another" }], code: 400, reason: "BadRequest" },
    { name: "one deny final, one not", violations: [final, v("a-rule", "deny")], code: 403, reason: "Forbidden" },
    { name: "final deny beside a warning", violations: [final, v("c-rule", "warn")], code: 400, reason: "BadRequest" },
    { name: "no deny finding at all", violations: [], code: 403, reason: "Forbidden" },
  ];
  for (const c of cases) {
    const response = toAdmissionResponse("u1", decision(c.violations, { allowed: false }));
    assert.equal(response.status?.code, c.code, c.name);
    assert.equal(response.status?.reason, c.reason, c.name);
  }
});

test("the webhook's denial ends with the decision_id its logs carry; an admission names none", () => {
  const denied = toAdmissionResponse("u1", decision([v("a-rule", "deny")]), "u1");
  assert.deepEqual(denied.status?.message?.split("\n"), ["[a-rule] spec.x: found 9; allowed: at most 5", "decision_id u1: the platform team finds this decision in agentgate's logs by it"]);
  assert.deepEqual(toAdmissionResponse("u2", decision([v("c-rule", "warn")]), "u2"), { uid: "u2", allowed: true, warnings: ["[c-rule] spec.x: found 9; allowed: at most 5"] });
});

test("a denial carries no patch, whatever the decision holds", () => {
  const response = toAdmissionResponse("u1", decision([v("a-rule", "deny")], { patch }));
  assert.equal(response.patch, undefined);
  assert.equal(response.patchType, undefined);
});

test("an admission with a patch: JSONPatch, base64 of the patch's JSON", () => {
  const response = toAdmissionResponse("u2", decision([], { origin: "mutate", patch }));
  assert.deepEqual(response, { uid: "u2", allowed: true, patchType: "JSONPatch", patch: Buffer.from(JSON.stringify(patch)).toString("base64") });
});

test("an admission with warnings and dryrun findings: only the warnings show", () => {
  assert.deepEqual(toAdmissionResponse("u3", decision([v("c-rule", "warn", ""), v("d-rule", "dryrun")])), { uid: "u3", allowed: true, warnings: ["[c-rule] found 9; allowed: at most 5"] });
  assert.deepEqual(toAdmissionResponse("u4", decision([])), { uid: "u4", allowed: true });
});

test("toAdmissionReview wraps the response in an admission.k8s.io/v1 AdmissionReview", () => {
  assert.deepEqual(toAdmissionReview("u5", decision([])), { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "u5", allowed: true } });
});
