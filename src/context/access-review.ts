// Whether one identity can act as another, asked of the API server's own
// authorizer with SubjectAccessReviews: impersonate them, request a token
// for them, read a Secret that could hold their token, or start a workload
// that runs as them. Used by run-approval, so nobody approves a run created
// by an identity they control.
import * as k8s from "@kubernetes/client-node";
import type { UserInfo } from "../types/admission.ts";
import { parseServiceAccountUser } from "../guardrails/identity.ts";

export interface AccessReviewer {
  /** How `user` can act as `creator` ("can create pods in namespace qe"), or undefined when they cannot. */
  actsAs(user: UserInfo, creator: string): Promise<string | undefined>;
}

interface Probe {
  attributes: k8s.V1ResourceAttributes;
  how: string;
}

/** What acting as `creator` takes, each a SubjectAccessReview. */
export function probes(creator: string): Probe[] {
  const sa = parseServiceAccountUser(creator);
  if (!sa) return [{ attributes: { verb: "impersonate", group: "", resource: "users", name: creator }, how: `can impersonate user ${JSON.stringify(creator)}` }];
  const { namespace, name } = sa;
  const out: Probe[] = [
    { attributes: { verb: "impersonate", group: "", resource: "serviceaccounts", namespace, name }, how: `can impersonate ServiceAccount ${namespace}/${name}` },
    { attributes: { verb: "create", group: "", resource: "serviceaccounts", subresource: "token", namespace, name }, how: `can request tokens for ServiceAccount ${namespace}/${name}` },
    { attributes: { verb: "get", group: "", resource: "secrets", namespace }, how: `can read Secrets (a ServiceAccount token among them) in namespace ${namespace}` },
  ];
  // Any workload that can name a ServiceAccount runs as it.
  for (const [group, resource] of [["", "pods"], ["", "replicationcontrollers"], ["apps", "deployments"], ["apps", "replicasets"], ["apps", "statefulsets"], ["apps", "daemonsets"], ["batch", "jobs"], ["batch", "cronjobs"]] as const) {
    out.push({ attributes: { verb: "create", group, resource, namespace }, how: `can create ${resource} (which run as any ServiceAccount of the namespace) in namespace ${namespace}` });
  }
  return out;
}

export class ClusterAccessReviewer implements AccessReviewer {
  private readonly api: k8s.AuthorizationV1Api;

  constructor(kc: k8s.KubeConfig) {
    this.api = kc.makeApiClient(k8s.AuthorizationV1Api);
  }

  async actsAs(user: UserInfo, creator: string): Promise<string | undefined> {
    const subject = {
      user: user.username ?? "",
      ...(user.uid ? { uid: user.uid } : {}),
      ...(user.groups ? { groups: user.groups } : {}),
      ...(user.extra ? { extra: user.extra } : {}),
    };
    const answers = await Promise.all(
      probes(creator).map(async (p) => {
        const review = await this.api.createSubjectAccessReview({ body: { apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", spec: { ...subject, resourceAttributes: p.attributes } } });
        return review.status?.allowed === true ? p.how : undefined;
      }),
    );
    return answers.find((a) => a !== undefined);
  }
}
