// What admission decided, apart from how it is sent: the webhook's wire
// (src/wire/respond.ts), audit's reports and `agentgate review` all read it,
// so it lives below each of them rather than in the gateway that makes it.
import type { Operation as PatchOperation } from "rfc6902";
import type { BundleFailure, PolicyInput, Violation } from "./policy.ts";

export type Origin = "validate" | "mutate" | "audit";

export interface Decision {
  origin: Origin;
  allowed: boolean;
  /** true when an exempt namespace skipped every check */
  exempt: boolean;
  /** every finding, all actions, sorted by policy id then field */
  violations: Violation[];
  patch: PatchOperation[];
  failures: BundleFailure[];
  /** policy revision the decision was made under */
  revision: string;
  input?: PolicyInput;
}
