// Whether one identity can act as another, asked of the API server's own
// authorizer with SubjectAccessReviews: impersonate them, get a token or a
// client certificate for them, or start, change or enter a pod that runs as
// them. Used by run-approval, so nobody approves a run created by an
// identity they control.
import type * as k8s from "@kubernetes/client-node";
import type { KubeApi } from "../kube/api.ts";
import { RESOURCES, TEKTON_GROUP, byRole } from "../kube/resources.ts";
import type { UserInfo } from "../types/admission.ts";
import { parseServiceAccountUser } from "../guardrails/identity.ts";

export interface AccessReviewer {
  /** How `user` can act as `creator` ("can create pods in namespace qe, …"), or undefined when they cannot. */
  actsAs(user: UserInfo, creator: string): Promise<string | undefined>;
}

/** One SubjectAccessReview: whether the API server would allow it. */
export type Review = (spec: k8s.V1SubjectAccessReviewSpec) => Promise<boolean>;

/** The ServiceAccount a creator's username names. */
export interface ServiceAccountRef {
  namespace: string;
  name: string;
  /** its username, system:serviceaccount:<namespace>:<name> */
  user: string;
}

/**
 * A way to become, or get into a pod running as, a ServiceAccount: holding
 * any of `verbs` on the resource is enough. Data, so the same list can be
 * registered elsewhere (a webhook watching these writes).
 */
export interface PodEntryProbe {
  /** "" for the core group */
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly verbs: readonly string[];
  /**
   * What the review names: the ServiceAccount itself, any object in its
   * namespace, or (cluster-scoped resources) the whole cluster.
   */
  readonly scope: "serviceaccount" | "namespace" | "cluster";
  /** One line: what holding `verb` means, after the approver's name ("can patch pods in namespace ci, so …"). */
  readonly says: (verb: string, sa: ServiceAccountRef) => string;
}

// The workload kinds of the registry (role "workload") other than pods, whose
// subresources get entries of their own, and Secrets, a token request of
// their own below.
const WORKLOADS = byRole("workload").filter((r) => r.resource !== "pods" && r.resource !== "secrets").map((r) => [r.group, r.resource] as const);

// Built-in groups read better bare; anything else is named as kubectl names it.
const resourceName = (group: string, resource: string, subresource?: string): string =>
  `${resource}${group === "" || group === "apps" || group === "batch" ? "" : `.${group}`}${subresource ? `/${subresource}` : ""}`;

/** "can <verb> <resource> in namespace <ns>, <so>" */
const inNamespace =
  (group: string, resource: string, subresource: string | undefined, so: (sa: string) => string) =>
  (verb: string, sa: ServiceAccountRef): string =>
    `can ${verb} ${resourceName(group, resource, subresource)} in namespace ${sa.namespace}, ${so(sa.user)}`;

function entry(group: string, resource: string, subresource: string | undefined, verbs: readonly string[], so: (sa: string) => string): PodEntryProbe {
  return { group, resource, ...(subresource ? { subresource } : {}), verbs, scope: "namespace", says: inNamespace(group, resource, subresource, so) };
}

/**
 * Every way we know to act as a ServiceAccount, short of being given more
 * permissions first (bind, escalate, RoleBinding writes). The first that
 * holds is the one reported, so the most direct come first.
 */
export const POD_ENTRY_PROBES: readonly PodEntryProbe[] = [
  { group: "", resource: "serviceaccounts", verbs: ["impersonate"], scope: "serviceaccount", says: (_verb, sa) => `can impersonate ServiceAccount ${sa.namespace}/${sa.name}` },
  { group: "", resource: "serviceaccounts", subresource: "token", verbs: ["create"], scope: "serviceaccount", says: (_verb, sa) => `can request tokens for ServiceAccount ${sa.namespace}/${sa.name}` },
  // Legacy token Secrets; a watch or list hands over their contents as a get does.
  entry("", "secrets", undefined, ["get", "list", "watch"], (sa) => `so can read a token Secret of ${sa}`),
  // The token controller fills any service-account-token Secret naming the
  // ServiceAccount. Reading it back takes more than create, but anything that
  // mounts or copies a Secret by name will do, so create alone counts: a
  // wrong answer here refuses an approval, the other way allows a self-approval.
  entry("", "secrets", undefined, ["create"], (sa) => `so can have the token controller write a token of ${sa} into a Secret they name`),
  // Update and patch too: a pod's image can be replaced in place, and a
  // workload's template can be pointed at another ServiceAccount.
  entry("", "pods", undefined, ["create", "update", "patch"], (sa) => `so can run code in a pod as ${sa}`),
  ...WORKLOADS.map(([group, resource]) => entry(group, resource, undefined, ["create", "update", "patch"], (sa) => `so can run pods as ${sa}`)),
  // Before Kubernetes 1.31 (AuthorizePodWebsocketUpgradeCreatePermission) an
  // exec or attach over a WebSocket needed only get.
  entry("", "pods", "exec", ["create", "get"], (sa) => `so can run commands in pods running as ${sa}`),
  entry("", "pods", "attach", ["create", "get"], (sa) => `so can attach to pods running as ${sa}`),
  // An ephemeral container may mount the pod's token volume.
  entry("", "pods", "ephemeralcontainers", ["update", "patch"], (sa) => `so can add a container to pods running as ${sa}`),
  // Tekton runs TaskRun pods as the run's serviceAccountName (taskRunTemplate for a PipelineRun).
  entry(RESOURCES.pipelineRuns.group, RESOURCES.pipelineRuns.plural, undefined, ["create"], (sa) => `so can run TaskRun pods as ${sa}`),
  entry(TEKTON_GROUP, "taskruns", undefined, ["create"], (sa) => `so can run TaskRun pods as ${sa}`),
  // kagent makes a Deployment for an Agent (declarative or BYO) and kmcp one
  // for an MCPServer, each with the ServiceAccount the object names.
  entry(RESOURCES.agents.group, RESOURCES.agents.plural, undefined, ["create", "update", "patch"], (sa) => `so can run an Agent's pods as ${sa}`),
  entry(RESOURCES.mcpServers.group, RESOURCES.mcpServers.plural, undefined, ["create", "update", "patch"], (sa) => `so can run an MCP server's pods as ${sa}`),
  // The kubelet's API execs into any pod on its node; get is enough over a WebSocket.
  {
    group: "",
    resource: "nodes",
    subresource: "proxy",
    verbs: ["get", "create"],
    scope: "cluster",
    says: (verb, sa) => `can ${verb} nodes/proxy, so can run commands through a kubelet in any pod on its node, those running as ${sa.user} among them`,
  },
];

/** What `probe` and `verb` ask of the API server for `sa`. */
function attributesOf(probe: PodEntryProbe, verb: string, sa: ServiceAccountRef): k8s.V1ResourceAttributes {
  return {
    verb,
    group: probe.group,
    resource: probe.resource,
    ...(probe.subresource ? { subresource: probe.subresource } : {}),
    ...(probe.scope === "cluster" ? {} : { namespace: sa.namespace }),
    ...(probe.scope === "serviceaccount" ? { name: sa.name } : {}),
  };
}

/** One way to act as the creator: every review in `requires` must be allowed. */
export interface Probe {
  requires: readonly k8s.V1ResourceAttributes[];
  how: string;
}

/**
 * The API server also accepts approval for the signer's domain wildcard,
 * so both names are asked.
 */
const CLIENT_SIGNERS = ["kubernetes.io/kube-apiserver-client", "kubernetes.io/*"] as const;

/**
 * A client certificate is whoever its subject says, a ServiceAccount's
 * username included. Approving one's own request takes the approval
 * subresource and the signer's approve; the approval's response carries the
 * certificate once signed, so no read of the request is needed.
 */
function certificateProbes(who: string): Probe[] {
  const csr = { group: "certificates.k8s.io", resource: "certificatesigningrequests" };
  return CLIENT_SIGNERS.map((signer) => ({
    requires: [
      { verb: "create", ...csr },
      { verb: "update", ...csr, subresource: "approval" },
      { verb: "approve", group: "certificates.k8s.io", resource: "signers", name: signer },
    ],
    how: `can create certificatesigningrequests and approve them for signer ${signer}, so can get a client certificate for any user, ${who} among them`,
  }));
}

/** What acting as `creator` takes, each way a set of SubjectAccessReviews that must all be allowed. */
export function probes(creator: string): Probe[] {
  const parsed = parseServiceAccountUser(creator);
  if (!parsed) {
    const who = JSON.stringify(creator);
    return [{ requires: [{ verb: "impersonate", group: "", resource: "users", name: creator }], how: `can impersonate user ${who}` }, ...certificateProbes(who)];
  }
  const sa: ServiceAccountRef = { ...parsed, user: creator };
  const out: Probe[] = POD_ENTRY_PROBES.flatMap((p) => p.verbs.map((verb) => ({ requires: [attributesOf(p, verb, sa)], how: p.says(verb, sa) })));
  return [...out, ...certificateProbes(creator)];
}

/** An AccessReviewer asking `review`: every review at once, each distinct one once. */
export function reviewerOf(review: Review): AccessReviewer {
  return {
    async actsAs(user: UserInfo, creator: string): Promise<string | undefined> {
      const subject = {
        user: user.username ?? "",
        ...(user.uid ? { uid: user.uid } : {}),
        ...(user.groups ? { groups: user.groups } : {}),
        ...(user.extra ? { extra: user.extra } : {}),
      };
      // The certificate ways share their request reviews.
      const asked = new Map<string, Promise<boolean>>();
      const allowed = (attributes: k8s.V1ResourceAttributes): Promise<boolean> => {
        const key = JSON.stringify(attributes);
        let answer = asked.get(key);
        if (!answer) {
          answer = review({ ...subject, resourceAttributes: attributes });
          asked.set(key, answer);
        }
        return answer;
      };
      const ways = probes(creator);
      const answers = await Promise.all(ways.map(async (p) => (await Promise.all(p.requires.map(allowed))).every(Boolean)));
      return ways.find((_, i) => answers[i])?.how;
    },
  };
}

/** A Review that is a SubjectAccessReview sent to the cluster. */
export function subjectAccessReview(api: KubeApi): Review {
  return async (spec) => {
    const review = await api.create<k8s.V1SubjectAccessReview>("/apis/authorization.k8s.io/v1/subjectaccessreviews", { apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", spec });
    return review.status?.allowed === true;
  };
}

/**
 * The same question asked again within `ttlMs` (an approval's mutating and
 * validating passes, a retried annotate) is answered from the first answer:
 * each costs dozens of SubjectAccessReviews. Keyed by everything the answer
 * depends on: the approver's name, groups and extra, and the creator.
 */
export class CachedAccessReviewer implements AccessReviewer {
  private readonly answers = new Map<string, { at: number; answer: Promise<string | undefined> }>();
  private readonly inner: AccessReviewer;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(inner: AccessReviewer, ttlMs = 30_000, now: () => number = Date.now) {
    this.inner = inner;
    this.ttlMs = ttlMs;
    this.now = now;
  }

  actsAs(user: UserInfo, creator: string): Promise<string | undefined> {
    const key = JSON.stringify([user.username ?? "", user.uid ?? "", [...(user.groups ?? [])].sort(), user.extra ?? {}, creator]);
    const now = this.now();
    for (const [k, v] of this.answers) if (now - v.at > this.ttlMs) this.answers.delete(k);
    const cached = this.answers.get(key);
    if (cached) return cached.answer;
    const answer = this.inner.actsAs(user, creator);
    this.answers.set(key, { at: now, answer });
    // A failed review is asked again next time, not remembered.
    answer.catch(() => this.answers.delete(key));
    return answer;
  }
}

export class ClusterAccessReviewer implements AccessReviewer {
  private readonly reviewer: AccessReviewer;

  constructor(api: KubeApi) {
    this.reviewer = new CachedAccessReviewer(reviewerOf(subjectAccessReview(api)));
  }

  actsAs(user: UserInfo, creator: string): Promise<string | undefined> {
    return this.reviewer.actsAs(user, creator);
  }
}
