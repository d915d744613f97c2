// `agentgate review`: offline admission of manifests against the same
// bundles and the same evaluation path as the webhook.
import { StaticLookup } from "../context/static-lookup.ts";
import { admit, isAgentKind, type GatewayDeps } from "../gateway/admit.ts";
import { admitLikeApiServer, type ReviewResult } from "../gateway/review.ts";
import { makeIdentity } from "../guardrails/identity.ts";
import { loadEngine } from "../policy/load.ts";
import type { KubeObject } from "../types/kube.ts";
import { requestFromManifest, resourceOf, splitApiVersion } from "../wire/from-manifest.ts";
import { denialLines } from "../wire/messages.ts";
import { WireError, parseAdmissionReview } from "../wire/parse.ts";
import { serializeReview, toAdmissionReview } from "../wire/respond.ts";
import { InputError, readManifests, readText, type Manifest } from "./manifests.ts";

export interface ReviewOptions {
  file: string[];
  context: string[];
  bundle: string[];
  policyConfig?: string;
  user: string;
  group: string[];
  operation: "CREATE" | "UPDATE";
  old: string[];
  output: "text" | "json";
  admissionReview?: string;
  webhook: "validate" | "mutate";
}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

function key(object: KubeObject): string {
  return `${object.apiVersion ?? ""}/${object.kind ?? ""}/${object.metadata?.namespace ?? "default"}/${object.metadata?.name ?? ""}`;
}

function resourceName(m: Manifest): string {
  const { group } = splitApiVersion(m.object.apiVersion ?? "");
  const resource = resourceOf(group, m.object.kind ?? "").replace(/s$/, "");
  return `${resource}${group ? `.${group}` : ""}/${m.object.metadata?.name ?? ""}`;
}

function renderText(m: Manifest, r: ReviewResult, operation: string): string {
  const lines = r.warnings.map((w) => `Warning: ${w}`);
  if (r.allowed) {
    lines.push(`${resourceName(m)} ${operation === "CREATE" ? "created" : "configured"} (admitted)`);
  } else {
    const verb = operation === "CREATE" ? "creating" : "applying";
    lines.push(
      `Error from server (Forbidden): error when ${verb} "${m.file}": admission webhook "validate.agent.tekton.dev" denied the request: ${denialLines(r.violations).join("\n")}`,
    );
  }
  return lines.join("\n");
}

async function reviewAdmissionReview(opts: ReviewOptions, deps: GatewayDeps, io: Io): Promise<number> {
  const file = opts.admissionReview ?? "-";
  const body = await readText(file);
  let request;
  try {
    request = parseAdmissionReview(body);
  } catch (err) {
    if (err instanceof WireError) throw new InputError(`${file}: ${err.message}`);
    throw err;
  }
  const decision = await admit(request, deps, opts.webhook);
  io.out(serializeReview(toAdmissionReview(request.uid, decision)));
  return decision.allowed ? 0 : 1;
}

export async function runReview(opts: ReviewOptions, io: Io): Promise<number> {
  const engine = await loadEngine(opts.bundle, opts.policyConfig);
  const manifests = opts.admissionReview === undefined ? await readManifests(opts.file) : [];
  const contextObjects = (await readManifests(opts.context)).map((m) => m.object);
  const lookup = new StaticLookup([...contextObjects, ...manifests.map((m) => m.object)]);
  const deps: GatewayDeps = { engine: () => engine, lookup, identity: makeIdentity([]), exemptNamespaces: new Set() };
  if (opts.admissionReview !== undefined) return reviewAdmissionReview(opts, deps, io);

  const olds = new Map((await readManifests(opts.old)).map((m) => [key(m.object), m.object]));
  const user = { username: opts.user, groups: [...opts.group, "system:authenticated"] };
  const results: ReviewResult[] = [];
  const texts: string[] = [];
  for (const m of manifests) {
    const oldObject = olds.get(key(m.object)) ?? null;
    if (opts.operation === "UPDATE" && oldObject === null && opts.old.length > 0) {
      throw new InputError(`${m.file}: no object in --old matches ${m.object.kind ?? ""} ${m.object.metadata?.name ?? ""}`);
    }
    const request = requestFromManifest(m.object, { operation: opts.operation, user, oldObject: oldObject ?? m.object });
    const { result } = await admitLikeApiServer(request, deps);
    results.push(result);
    if (isAgentKind(request) || !result.allowed) texts.push(renderText(m, result, opts.operation));
  }
  io.out(opts.output === "json" ? JSON.stringify(results, null, 2) : texts.join("\n"));
  return results.every((r) => r.allowed) ? 0 : 1;
}
