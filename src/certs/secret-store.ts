// The certificate Secret on the API server: read, create if absent, replace
// conditionally. A create that loses the race to another replica, or a
// replace made against an outdated resourceVersion, reports "conflict" so the
// caller re-reads and adopts the winner's certificates.
import type * as k8s from "@kubernetes/client-node";
import type { KubeApi } from "../kube/api.ts";
import { fromSecretData, MaterialError, SECRET_KEYS, toSecretData, type CertificateMaterial } from "./material.ts";
import { statusCode } from "../kube/errors.ts";
import { lacksOwner, withOwner, type Owner } from "../kube/owner.ts";
import { AgentgateError } from "../errors.ts";

export interface SecretRef {
  namespace: string;
  name: string;
}

export class SecretRefError extends AgentgateError {
  constructor(message: string) {
    super("usage", message);
    this.name = "SecretRefError";
  }
}

/** `NAMESPACE/NAME`. */
export function parseSecretRef(text: string): SecretRef {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(text);
  if (!m?.[1] || !m[3]) throw new SecretRefError(`${JSON.stringify(text)}: expected NAMESPACE/NAME, e.g. agentgate-system/agentgate-tls`);
  return { namespace: m[1], name: m[3] };
}

export interface StoredSecret {
  secret: k8s.V1Secret;
  /** undefined when the Secret's data is not usable (then `problem` says why) */
  material: CertificateMaterial | undefined;
  problem?: string;
}

export const TLS_SECRET_TYPE = "kubernetes.io/tls";
export const MANAGED_LABELS = { "app.kubernetes.io/name": "agentgate", "app.kubernetes.io/component": "webhook-certificate", "app.kubernetes.io/managed-by": "agentgate" };


export function decodeSecret(secret: k8s.V1Secret): StoredSecret {
  try {
    return { secret, material: fromSecretData(secret.data) };
  } catch (err) {
    if (!(err instanceof MaterialError)) throw err;
    return { secret, material: undefined, problem: err.message };
  }
}

const secretsPath = (namespace: string): string => `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;

export class CertificateSecretStore {
  readonly ref: SecretRef;
  private readonly api: KubeApi;
  /** the gateway's Deployment: helm uninstall then takes the Secret with it (src/kube/owner.ts) */
  private readonly owner: Owner | undefined;

  constructor(api: KubeApi, ref: SecretRef, owner?: Owner) {
    this.api = api;
    this.ref = ref;
    this.owner = owner;
  }

  private get path(): string {
    return `${secretsPath(this.ref.namespace)}/${encodeURIComponent(this.ref.name)}`;
  }

  /** Whether the Secret, as read, does not name this gateway's Deployment yet. */
  unowned(stored: StoredSecret): boolean {
    return lacksOwner(stored.secret.metadata?.ownerReferences, this.owner, this.ref.namespace);
  }

  /** undefined when the Secret does not exist */
  async read(): Promise<StoredSecret | undefined> {
    try {
      return decodeSecret(await this.api.get<k8s.V1Secret>(this.path));
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  async create(m: CertificateMaterial): Promise<StoredSecret | "conflict"> {
    const body: k8s.V1Secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: this.ref.name, namespace: this.ref.namespace, labels: MANAGED_LABELS, ownerReferences: withOwner(undefined, this.owner, this.ref.namespace) },
      type: TLS_SECRET_TYPE,
      data: toSecretData(m),
    };
    try {
      return decodeSecret(await this.api.create<k8s.V1Secret>(secretsPath(this.ref.namespace), body));
    } catch (err) {
      if (statusCode(err) === 409) return "conflict";
      throw err;
    }
  }

  /**
   * Replaces the certificate keys of the Secret as it was read, only if it is
   * still at that resourceVersion; its type, other keys, labels and
   * annotations (a chart's) are kept, and its owners, with this gateway's
   * Deployment added (a Secret an older version made is adopted).
   */
  async replace(m: CertificateMaterial, stored: StoredSecret): Promise<StoredSecret | "conflict"> {
    const ours = toSecretData(m);
    const others = Object.entries(stored.secret.data ?? {}).filter(([k]) => !(k in ours) && k !== SECRET_KEYS.nextCaKey);
    const meta = stored.secret.metadata;
    const body: k8s.V1Secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: this.ref.name,
        namespace: this.ref.namespace,
        resourceVersion: meta?.resourceVersion,
        labels: { ...meta?.labels, ...MANAGED_LABELS },
        annotations: meta?.annotations,
        ownerReferences: withOwner(meta?.ownerReferences, this.owner, this.ref.namespace),
        finalizers: meta?.finalizers,
      },
      type: stored.secret.type ?? TLS_SECRET_TYPE,
      data: { ...Object.fromEntries(others), ...ours },
    };
    try {
      return decodeSecret(await this.api.replace<k8s.V1Secret>(this.path, body));
    } catch (err) {
      // 404: deleted since it was read; the next read creates it.
      if (statusCode(err) === 409 || statusCode(err) === 404) return "conflict";
      throw err;
    }
  }
}
