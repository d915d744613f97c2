// The webhook body: bytes as the API server (or anyone who reaches the
// gateway) POSTs them to /validate and /mutate, through
// parseAdmissionReview with the serving limits and admit() with the real
// default bundle, as server.ts runs them.
import { UnknownResourceError, admit, type Origin } from "../src/gateway/admit.ts";
import { findResource } from "../src/kube/resources.ts";
import { isRecord } from "../src/types/kube.ts";
import { DEFAULT_REVIEW_LIMITS, ReviewTooCostlyError, WireError, parseAdmissionReview } from "../src/wire/parse.ts";
import { REVIEW_DICTIONARY } from "./admission-seeds.ts";
import { PropertyViolation, gist, jsonMutator, type FuzzTarget } from "./engine.ts";
import { checkDecision, createHarness, decisionLabel, deliberateRefusal } from "./gateway-harness.ts";

const ORIGINS: readonly Origin[] = ["validate", "mutate"];

export async function create(): Promise<FuzzTarget> {
  const harness = await createHarness();
  return {
    name: "admission-review",
    property:
      "a body is refused with a WireError (400/413), a ReviewTooCostlyError naming its uid, an UnknownResourceError for a resource agentgate does not handle, or a deliberate error the server answers as a fail-closed denial (never a TypeError or the like); otherwise both webhooks answer a well-formed AdmissionReview for the body's uid (a denial says why and gives the decision id, a patch applies to the object), and never allow when policy evaluation failed",
    maxLength: 16 * 1024,
    dictionary: REVIEW_DICTIONARY,
    structureRate: 0.85,
    mutate: jsonMutator(REVIEW_DICTIONARY),
    async run(input: Buffer): Promise<string> {
      const labels: string[] = [];
      for (const origin of ORIGINS) {
        // Parsed anew for each webhook: the request is completed in place.
        let request;
        try {
          request = parseAdmissionReview(input, DEFAULT_REVIEW_LIMITS);
        } catch (err) {
          if (err instanceof ReviewTooCostlyError) {
            if (typeof err.request.uid !== "string" || err.request.uid === "" || err.reasons.length === 0) throw new PropertyViolation("a too-costly review without a uid or a reason");
            return `too costly${findResource(err.request.resource) ? "" : " (unknown resource)"}`;
          }
          // What JSON.parse says after the colon quotes the input: the label keeps what the gateway says.
          if (err instanceof WireError) return `refused ${err.status} ${gist(err.message.split(": ")[0] ?? "")}`;
          throw err;
        }
        const body = JSON.parse(input.toString("utf8")) as unknown;
        const sent = isRecord(body) && isRecord(body.request) ? body.request : {};
        const sentUid = sent.uid;
        if (request.uid !== sentUid) throw new PropertyViolation(`parsed uid ${JSON.stringify(request.uid)} is not the body's ${JSON.stringify(sentUid)}`);
        const { deps, fired } = harness.depsFor(input);
        // The object as sent, untouched by admit(): what the API server applies a patch to.
        const object = sent.object;
        let decision;
        try {
          decision = await admit(request, deps, origin);
        } catch (err) {
          if (err instanceof UnknownResourceError) {
            if (findResource(request.resource) && (request.subResource ?? "") === "") throw new PropertyViolation(`a handled resource refused as unknown: ${err.message}`);
            labels.push(`${origin}:unknown`);
            continue;
          }
          const refusal = deliberateRefusal(err);
          if (refusal === undefined) throw err;
          labels.push(`${origin}:fail-closed ${refusal}`);
          continue;
        }
        checkDecision(request.uid, decision, fired() > 0, object);
        labels.push(decisionLabel(decision));
      }
      return labels.join(" ");
    },
  };
}
