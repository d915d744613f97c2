// The gateway as the webhook and `agentgate review` run it, for the fuzz
// targets that reach admit(): the real default bundle, an offline lookup
// holding a small cluster, and a fault switch that makes policy evaluation
// fail for some inputs, so that "never an allow when evaluation failed" is
// checked on every path an input can take, not only where the default
// bundle happens to fail.
import { applyPatch } from "rfc6902";
import { StaticLookup } from "../src/context/static-lookup.ts";
import type { Decision, GatewayDeps } from "../src/gateway/admit.ts";
import { exemptNamespaces } from "../src/gateway/exemptions.ts";
import { makeIdentity } from "../src/guardrails/identity.ts";
import { PolicyEngine, type BundleFailure } from "../src/policy/engine.ts";
import { readBundles } from "../src/policy/load.ts";
import { ephemeralKeyring } from "../src/signing/keyring.ts";
import type { AdmissionReview } from "../src/types/admission.ts";
import { isRecord } from "../src/types/kube.ts";
import { serializeReview, toAdmissionReview } from "../src/wire/respond.ts";
import { AGENTGATE_NAMESPACE, CLUSTER_OBJECTS, GATEWAY_USER } from "./admission-seeds.ts";
import { PropertyViolation } from "./engine.ts";

/** FNV-1a of the input: which fault an input meets is a function of its bytes, so a reproducer alone reproduces it. */
export function faultOf(input: Buffer): number {
  let h = 0x811c9dc5;
  for (const b of input) h = Math.imul(h ^ b, 0x01000193);
  return (h >>> 0) % 8;
}

const INJECTED: BundleFailure = { bundle: "fuzz-fault", revision: "1", error: "injected evaluation failure" };

export interface Harness {
  /** deps for one input: a fresh lookup, and the engine with the input's fault; fired() counts the evaluations it failed */
  depsFor(input: Buffer): { deps: GatewayDeps; fired: () => number };
}

/** Fault 0–3: none; 4: violations; 5: defaults; 6: goals; 7: every entrypoint. The bundle's own answer is kept beside the failure, as when one of two bundles fails. */
function faulty(real: PolicyEngine, fault: number, fired: { count: number }): PolicyEngine {
  if (fault < 4) return real;
  const engine = Object.create(real) as PolicyEngine;
  const add = <T extends { failures: BundleFailure[] }>(outcome: T): T => {
    fired.count++;
    return { ...outcome, failures: [...outcome.failures, INJECTED] };
  };
  if (fault === 4 || fault === 7) engine.violations = (input) => add(real.violations(input));
  if (fault === 5 || fault === 7) engine.defaults = (input) => add(real.defaults(input));
  if (fault === 6 || fault === 7) engine.goals = (goal) => add(real.goals(goal));
  return engine;
}

export async function createHarness(): Promise<Harness> {
  // The default bundle with profiles in warn and dryrun mode, where a deny
  // becomes a warning: a failure must still refuse there.
  const engine = await PolicyEngine.load(await readBundles([]), {
    profiles: {
      rollout: { enforcement: "warn", namespaces: ["rollout"] },
      shadow: { enforcement: "dryrun", namespaces: ["shadow"] },
      leads: { namespaces: ["leads"], approval: { approverGroups: ["team-leads"] } },
    },
  });
  const keyring = ephemeralKeyring();
  const identity = makeIdentity([GATEWAY_USER]);
  const exempt = exemptNamespaces(AGENTGATE_NAMESPACE);
  // A fixed clock: the same input gets the same decision on every run.
  const now = (): number => Date.UTC(2026, 0, 15, 12, 0, 0);
  return {
    depsFor(input) {
      const fired = { count: 0 };
      const e = faulty(engine, faultOf(input), fired);
      const deps: GatewayDeps = { engine: () => e, lookup: new StaticLookup(structuredClone(CLUSTER_OBJECTS)), identity, exemptNamespaces: exempt, keyring, now };
      return { deps, fired: () => fired.count };
    },
  };
}

const ACTIONS = new Set(["deny", "warn", "dryrun"]);

/**
 * A decision as the webhook answers it, checked: a well-formed
 * AdmissionReview for the request's uid, a denial with its reasons and
 * decision id, a patch that applies to the object, and never an allow
 * when policy evaluation failed.
 */
export function checkDecision(uid: string, decision: Decision, evaluationFailed: boolean, object: unknown): AdmissionReview {
  for (const v of decision.violations) {
    if (typeof v.policy !== "string" || typeof v.field !== "string" || typeof v.message !== "string" || !ACTIONS.has(v.action)) {
      throw new PropertyViolation(`malformed violation ${JSON.stringify(v)}`);
    }
  }
  if (evaluationFailed && decision.allowed) throw new PropertyViolation(`policy evaluation failed, and the ${decision.origin} decision allowed the request`);
  if (decision.failures.length > 0 && decision.allowed) throw new PropertyViolation(`the decision reports ${decision.failures.length} bundle failure(s) and allows the request`);
  const text = serializeReview(toAdmissionReview(uid, decision, uid));
  const review = JSON.parse(text) as unknown;
  if (!isRecord(review) || review.apiVersion !== "admission.k8s.io/v1" || review.kind !== "AdmissionReview" || !isRecord(review.response)) {
    throw new PropertyViolation(`not an AdmissionReview: ${text.slice(0, 200)}`);
  }
  const response = review.response;
  if (response.uid !== uid) throw new PropertyViolation(`answered for uid ${JSON.stringify(response.uid)}, asked for ${JSON.stringify(uid)}`);
  if (response.allowed !== decision.allowed) throw new PropertyViolation("the answer's allowed differs from the decision");
  if (!decision.allowed) {
    const status = response.status;
    if (!isRecord(status) || status.code !== 403 || typeof status.message !== "string" || status.message === "" || !status.message.includes(`decision_id ${uid}`)) {
      throw new PropertyViolation(`a denial without a 403 status naming its reasons and decision id: ${JSON.stringify(status)}`);
    }
  }
  if (response.patch !== undefined) {
    if (response.patchType !== "JSONPatch" || typeof response.patch !== "string") throw new PropertyViolation("a patch without patchType JSONPatch");
    const ops = JSON.parse(Buffer.from(response.patch, "base64").toString("utf8")) as unknown;
    if (!Array.isArray(ops) || ops.length === 0) throw new PropertyViolation("a patch that is not a non-empty JSON Patch list");
    if (!isRecord(object)) throw new PropertyViolation("a patch for a request without an object");
    const errors = applyPatch(structuredClone(object), decision.patch).filter((e) => e !== null);
    if (errors.length > 0) throw new PropertyViolation(`the patch does not apply to the object: ${errors.map((e) => e.message).join("; ")}`);
  }
  return review as unknown as AdmissionReview;
}

/** The outcome label of a decision: its origin, verdict and the policies that spoke. */
export function decisionLabel(decision: Decision): string {
  const policies = [...new Set(decision.violations.map((v) => `${v.policy}/${v.action}`))].sort().join(",");
  return `${decision.origin}:${decision.exempt ? "exempt" : decision.allowed ? "allow" : "deny"}${decision.patch.length > 0 ? "+patch" : ""}[${policies}]`;
}

/**
 * An error admit() threw that the webhook answers as a fail-closed denial
 * (server.ts: a 500 in an AdmissionReview, allowed false): a refusal the
 * code meant ("the run has no name yet"). A TypeError, RangeError or the
 * like is a defect even though the server fails closed on it too.
 */
export function deliberateRefusal(err: unknown): string | undefined {
  if (!(err instanceof Error) || err.constructor !== Error) return undefined;
  return (err.message.split(/[^A-Za-z ]/)[0] ?? "").slice(0, 40);
}
