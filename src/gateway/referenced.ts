// A run is judged by today's policy (docs/trust-chain.md): at its creation,
// the AgentConfig it runs, that config's ModelConfig and its tool servers
// are evaluated as they are stored, under the bundles in force now, as an
// update of each to itself (what audit does). An object stored under a warn
// profile, during an outage, or before a rule tightened thus cannot carry a
// run past today's rules. Findings on objects in the run's namespace are
// shown in full; one in another namespace only by name, since its content
// is not the requester's to read.
import { resolveContext } from "../context/resolve.ts";
import type { ObjectLookup } from "../context/lookup.ts";
import type { BundleFailure, PolicyEngine } from "../policy/engine.ts";
import type { AdmissionRequest } from "../types/admission.ts";
import type { KubeObject } from "../types/kube.ts";
import type { PolicyContext, Violation } from "../types/policy.ts";
import { selfUpdateRequest } from "../wire/from-manifest.ts";

export interface Judged {
  violations: Violation[];
  failures: BundleFailure[];
}

async function judge(object: KubeObject, request: AdmissionRequest, lookup: ObjectLookup, engine: PolicyEngine): Promise<Judged> {
  // The object's own uid (none for a manifest read offline), not a fresh
  // one: the same object judged for the same identity is then the same
  // input, whose outcome the engine keeps.
  const self = selfUpdateRequest(object, request.userInfo, object.metadata?.uid ?? "");
  const context = await resolveContext(self, lookup);
  return engine.storedViolations({ request: self, context });
}

const rank = { deny: 2, warn: 1, dryrun: 0 } as const;

export async function judgeReferenced(request: AdmissionRequest, context: PolicyContext, lookup: ObjectLookup, engine: PolicyEngine): Promise<Judged> {
  const config = context.agentConfig;
  if (!config) return { violations: [], failures: [] };
  const namespace = request.namespace ?? "";
  const out: Judged = { violations: [], failures: [] };
  const referenced: KubeObject[] = [config];
  if (context.modelConfig) referenced.push(context.modelConfig);
  for (const server of Object.values(context.toolServers)) if (server) referenced.push(server);
  for (const object of referenced) {
    const { violations, failures } = await judge(object, request, lookup, engine);
    out.failures.push(...failures);
    const kind = object.kind ?? "object";
    const ns = object.metadata?.namespace ?? namespace;
    const name = object.metadata?.name ?? "";
    if (ns === namespace) {
      for (const v of violations) {
        out.violations.push({ ...v, field: `${kind} "${name}" ${v.field}`, message: `${v.message} (the run's ${kind} no longer passes today's policy: fix it, then create the run again)` });
      }
      continue;
    }
    const worst = violations.reduce<Violation["action"] | undefined>((w, v) => (w === undefined || rank[v.action] > rank[w] ? v.action : w), undefined);
    if (worst !== undefined) {
      out.violations.push({ policy: "referenced-objects", field: `${kind} "${ns}/${name}"`, message: `the run uses ${kind} "${ns}/${name}", which does not pass today's policy in its own namespace; ask its owners or the platform team to fix it, or use another`, action: worst });
    }
  }
  return out;
}
