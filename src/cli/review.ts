// `agentgate review`: offline admission of manifests against the same
// bundles and the same evaluation path as the webhook. Its flags are
// registered in review-command.ts.
import { StaticLookup } from "../context/static-lookup.ts";
import { admit, isAgentKind, UnknownResourceError, type GatewayDeps } from "../gateway/admit.ts";
import { byRole, findResource } from "../kube/resources.ts";
import { exemptNamespaces } from "../gateway/exemptions.ts";
import { admitLikeApiServer, type ReviewResult } from "../gateway/review.ts";
import { makeIdentity } from "../guardrails/identity.ts";
import { fixedSigningKeyring } from "./signing-flags.ts";
import { loadEngine } from "../policy/load.ts";
import { FLAG_NAMES, stackedBundles } from "./bundle-flags.ts";
import type { KubeObject } from "../types/kube.ts";
import { requestFromManifest, resourceOf, splitApiVersion } from "../wire/from-manifest.ts";
import { denialLines } from "../wire/messages.ts";
import { WireError, parseAdmissionReview } from "../wire/parse.ts";
import { serializeReview, toAdmissionReview } from "../wire/respond.ts";
import { readManifests, readText, type Manifest } from "./manifests.ts";
import { InputError } from "../errors.ts";

export interface ReviewOptions {
  file: string[];
  /** --cluster-objects: what the cluster already holds */
  clusterObjects: string[];
  /** --context FILE, the old name of --cluster-objects (deprecated: it will name a kubeconfig context) */
  context: string[];
  bundle: string[];
  /** false: --no-default-bundle */
  defaultBundle: boolean;
  policyConfig?: string;
  user: string;
  group: string[];
  operation: "CREATE" | "UPDATE";
  old: string[];
  output: "text" | "json";
  admissionReview?: string;
  webhook: "validate" | "mutate";
  /** -n: the namespace of manifests that name none; one that names another is refused (kubectl's --namespace) */
  namespace?: string;
  /** agentgate's own namespace, exempt as `serve --namespace` makes it */
  agentgateNamespace: string;
  serviceAccount: string;
  trustedUser: string[];
  /** sign as a gateway holding this key would (default: a key made for this review) */
  signingKeyFile?: string;
}

export interface Io {
  /** a line of output (a newline follows) */
  out: (text: string) => void;
  err: (text: string) => void;
  /** exact bytes on stdout, nothing added; where absent, out() is used */
  write?: (text: string) => void;
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

const AGENT_KINDS = byRole("agent").map((r) => r.kind).join(", ");

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
  let decision;
  try {
    decision = await admit(request, deps, opts.webhook);
  } catch (err) {
    // The webhook answers 400 to a resource it does not handle; so does this, as bad input.
    if (err instanceof UnknownResourceError) throw new InputError(`${file}: ${err.message}`);
    throw err;
  }
  // The webhook's body, byte for byte: no newline after it.
  (io.write ?? io.out)(serializeReview(toAdmissionReview(request.uid, decision, request.uid)));
  return decision.allowed ? 0 : 1;
}

/** kubectl apply -n: an object naming another namespace is refused rather than moved. */
function checkNamespace(m: Manifest, namespace: string | undefined): void {
  const own = m.object.metadata?.namespace;
  if (namespace !== undefined && own !== undefined && own !== namespace) {
    throw new InputError(`${m.file}: ${m.object.kind ?? "object"} ${m.object.metadata?.name ?? ""} is in namespace ${own}, not ${namespace} (--namespace): pass --namespace ${own}, or leave it out`);
  }
}

export async function runReview(opts: ReviewOptions, io: Io): Promise<number> {
  const stdin = [...opts.file, ...opts.clusterObjects, ...opts.old, ...(opts.admissionReview !== undefined ? [opts.admissionReview] : [])].filter((f) => f === "-");
  if (stdin.length > 1) throw new InputError("- (stdin) can be given once: it is read to the end the first time");
  const engine = await loadEngine(stackedBundles(opts.bundle, opts.defaultBundle), opts.policyConfig, FLAG_NAMES.defaultOff);
  const manifests = opts.admissionReview === undefined ? await readManifests(opts.file) : [];
  // As kubectl apply says "no objects passed to apply": an empty input is a mistake, not a pass.
  if (opts.admissionReview === undefined && manifests.length === 0) throw new InputError(`${opts.file.join(", ")}: no objects to admit (only empty documents)`);
  const contextObjects = (await readManifests(opts.clusterObjects)).map((m) => m.object);
  const oldObjects = (await readManifests(opts.old)).map((m) => m.object);
  // What the cluster holds: the context files and the old objects; each
  // admitted document is added as it would be stored, in order, so a
  // ModelConfig before the AgentConfig that uses it resolves, and one after
  // it (or one that is denied) does not, as with kubectl apply.
  const lookup = new StaticLookup([...contextObjects, ...oldObjects]);
  const deps: GatewayDeps = {
    engine: () => engine,
    lookup,
    identity: makeIdentity([opts.serviceAccount, ...opts.trustedUser]),
    exemptNamespaces: exemptNamespaces(opts.agentgateNamespace),
    keyring: await fixedSigningKeyring(opts.signingKeyFile),
  };
  if (opts.admissionReview !== undefined) return reviewAdmissionReview(opts, deps, io);

  const olds = new Map(oldObjects.map((o) => [key(o), o]));
  const user = { username: opts.user, groups: [...opts.group, "system:authenticated"] };
  const results: ReviewResult[] = [];
  const texts: { text: string; denied: boolean }[] = [];
  for (const m of manifests) {
    checkNamespace(m, opts.namespace);
    const oldObject = olds.get(key(m.object)) ?? null;
    if (opts.operation === "UPDATE" && oldObject === null && opts.old.length > 0) {
      throw new InputError(`${m.file}: no object in --old matches ${m.object.kind ?? ""} ${m.object.metadata?.name ?? ""}`);
    }
    const request = requestFromManifest(m.object, { operation: opts.operation, user, oldObject: oldObject ?? m.object, ...(opts.namespace !== undefined ? { defaultNamespace: opts.namespace } : {}) });
    const { result, object } = await admitLikeApiServer(request, deps);
    results.push(result);
    if (result.allowed && object) lookup.add(object);
    if (!findResource(request.resource)) texts.push({ text: `${resourceName(m)}: not an object agentgate admits (it judges ${AGENT_KINDS}, and guards what a run is made of); nothing to review`, denied: false });
    else if (isAgentKind(request) || !result.allowed) texts.push({ text: renderText(m, result, opts.operation), denied: !result.allowed });
  }
  // As kubectl: what was admitted on stdout, each denial on stderr, in order.
  if (opts.output === "json") io.out(JSON.stringify(results, null, 2));
  else for (const t of texts) (t.denied ? io.err : io.out)(t.text);
  return results.every((r) => r.allowed) ? 0 : 1;
}
