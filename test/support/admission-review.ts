// An AdmissionReview for an AgentConfig CREATE in namespace qe, as
// kube-apiserver writes it (kind, apiVersion, then the request with its uid
// first: the order the gateway's early uid scan meets). The object's uid is
// not the review's, as on a real API server.
export function agentConfigReview(uid: string, spec: Record<string, unknown>): string {
  return JSON.stringify({
    kind: "AdmissionReview",
    apiVersion: "admission.k8s.io/v1",
    request: {
      uid,
      kind: { group: "agent.tekton.dev", version: "v1alpha1", kind: "AgentConfig" },
      resource: { group: "agent.tekton.dev", version: "v1alpha1", resource: "agentconfigs" },
      operation: "CREATE",
      namespace: "qe",
      userInfo: { username: "alice" },
      object: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "a", namespace: "qe", uid: "not-the-review-uid" }, spec },
    },
  });
}
