// Signing keys kept in the cluster (docs/trust-chain.md, "Keys"): the
// gateway holds the private keys in a Secret and publishes their public
// halves in a ConfigMap of the same name; the controller and audit read
// only the ConfigMap. Every replica re-reads on a timer and on an unknown
// kid, and every write is conditional on the resourceVersion read, so
// replicas starting or rotating at once converge on one key set.
import type * as k8s from "@kubernetes/client-node";
import type { KeyObject } from "node:crypto";
import { AgentgateError, errorMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { KeyResolver } from "./detached.ts";
import { KeyMaterialError, decodePrivateKeys, decodePublicKeys, encodePrivateKeys, encodePublicKeys, type PublicKeyEntry, type SigningKey } from "./keys.ts";
import type { Keyring } from "./keyring.ts";
import { newestKey, planKeys, type RotationPolicy } from "./rotation.ts";
import type { KubeApi } from "../kube/api.ts";
import { statusCode } from "../kube/errors.ts";
import { listPath, RESOURCES } from "../kube/resources.ts";

export const PRIVATE_KEYS_FILE = "keys.json";
export const PUBLIC_KEYS_FILE = "jwks.json";
const LABELS = { "app.kubernetes.io/name": "agentgate", "app.kubernetes.io/component": "decision-signing", "app.kubernetes.io/managed-by": "agentgate" };
/** at most one re-read per this long on unknown kids: a flood of forged kids costs one GET a second */
const MISS_READ_MS = 1000;

export interface ObjectRef {
  namespace: string;
  name: string;
}

export class ObjectRefError extends AgentgateError {
  constructor(message: string) {
    super("usage", message);
    this.name = "ObjectRefError";
  }
}

/** `NAMESPACE/NAME` of a flag. */
export function parseObjectRef(flag: string, text: string): ObjectRef {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(text);
  if (!m?.[1] || !m[3]) throw new ObjectRefError(`${flag} ${JSON.stringify(text)}: expected NAMESPACE/NAME, e.g. agentgate-system/agentgate-signing`);
  return { namespace: m[1], name: m[3] };
}


interface Options {
  syncMs?: number;
  now?: () => number;
}

/** The URL paths of the Secret and the ConfigMap named by ref. */
function pathsOf(ref: ObjectRef): { secrets: string; secret: string; configMaps: string; configMap: string } {
  const secrets = listPath(RESOURCES.secrets, ref.namespace);
  const configMaps = listPath(RESOURCES.configMaps, ref.namespace);
  const name = encodeURIComponent(ref.name);
  return { secrets, secret: `${secrets}/${name}`, configMaps, configMap: `${configMaps}/${name}` };
}

/** Re-reads at most once per MISS_READ_MS when asked for a kid it does not know. */
function resolver(known: () => ReadonlyMap<string, KeyObject>, reread: () => Promise<void>): KeyResolver {
  let lastRead = 0;
  return async (kid) => {
    const hit = known().get(kid);
    if (hit) return hit;
    if (Date.now() - lastRead < MISS_READ_MS) return undefined;
    lastRead = Date.now();
    await reread().catch(() => undefined);
    return known().get(kid);
  };
}

/** The gateway's keys: made, rotated and published by whichever replica gets there first. */
export class SecretKeyring implements Keyring {
  private keys: SigningKey[] = [];
  private problem: string | undefined = "signing keys not loaded yet";
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly api: KubeApi;
  private readonly paths: ReturnType<typeof pathsOf>;
  readonly resolve: KeyResolver;
  private readonly syncMs: number;
  private readonly now: () => number;
  private readonly ref: ObjectRef;
  private readonly policy: RotationPolicy;
  private readonly log: Logger;

  constructor(api: KubeApi, ref: ObjectRef, policy: RotationPolicy, log: Logger, opts: Options = {}) {
    this.api = api;
    this.paths = pathsOf(ref);
    this.ref = ref;
    this.policy = policy;
    this.log = log;
    this.syncMs = opts.syncMs ?? 30_000;
    this.now = opts.now ?? Date.now;
    this.resolve = resolver(() => new Map(this.keys.map((k) => [k.kid, k.publicKey])), () => this.sync());
  }

  signingKey(): SigningKey | undefined {
    return newestKey(this.keys);
  }

  notReady(): string | undefined {
    return this.problem;
  }

  /** Loads (or makes) the keys once, then keeps them in step on a timer. */
  async start(): Promise<void> {
    await this.sync().catch(() => undefined);
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    // Until keys are loaded the gateway cannot admit a run: try again soon.
    const delay = this.keys.length === 0 ? Math.min(this.syncMs, 2000) : this.syncMs;
    this.timer = setTimeout(() => { void this.sync().catch(() => undefined).finally(() => { this.schedule(); }); }, delay);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private what(): string {
    return `Secret ${this.ref.namespace}/${this.ref.name}`;
  }

  /** One round: read, make or rotate if due, write back conditionally, publish. */
  async sync(): Promise<void> {
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const outcome = await this.round();
        if (outcome === "done") break;
      }
      await this.publish();
    } catch (err) {
      const message = err instanceof KeyMaterialError ? `${err.message}; delete the Secret to have new keys made (runs signed with the old ones then fail verification)` : `${this.what()}: ${errorMessage(err)}`;
      // Keys already loaded keep signing; only a gateway that never had any is not ready.
      if (this.keys.length === 0) this.problem = message;
      this.log.error("signing keys: sync failed", { secret: `${this.ref.namespace}/${this.ref.name}`, error: message });
      throw err;
    }
  }

  private async round(): Promise<"done" | "conflict"> {
    let secret: k8s.V1Secret | undefined;
    try {
      secret = await this.api.get<k8s.V1Secret>(this.paths.secret);
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    const stored = secret ? this.decode(secret) : [];
    const plan = planKeys(stored, this.now(), this.policy);
    if (plan.changed) {
      const data = { [PRIVATE_KEYS_FILE]: Buffer.from(encodePrivateKeys(plan.keys)).toString("base64") };
      try {
        if (secret) {
          await this.api.replace(this.paths.secret, { apiVersion: "v1", kind: "Secret", metadata: secret.metadata ?? this.ref, type: secret.type ?? "Opaque", data } satisfies k8s.V1Secret);
        } else {
          await this.api.create(this.paths.secrets, { apiVersion: "v1", kind: "Secret", metadata: { ...this.ref, labels: LABELS }, type: "Opaque", data } satisfies k8s.V1Secret);
        }
        this.log.info(secret ? "signing keys: rotated" : "signing keys: made", { secret: `${this.ref.namespace}/${this.ref.name}`, signing: newestKey(plan.keys)?.kid ?? "", keys: plan.keys.length });
      } catch (err) {
        // another replica wrote first: read its keys and go on with them
        if (statusCode(err) === 409) return "conflict";
        throw err;
      }
    }
    this.keys = plan.keys;
    this.problem = undefined;
    return "done";
  }

  private decode(secret: k8s.V1Secret): SigningKey[] {
    const b64 = secret.data?.[PRIVATE_KEYS_FILE];
    if (b64 === undefined) throw new KeyMaterialError(`${this.what()} has no ${PRIVATE_KEYS_FILE}`);
    return decodePrivateKeys(Buffer.from(b64, "base64").toString("utf8"), `${this.what()} ${PRIVATE_KEYS_FILE}`);
  }

  /** The ConfigMap the controller and audit verify with, written when it differs. */
  private async publish(): Promise<void> {
    const text = encodePublicKeys(this.keys);
    let current: k8s.V1ConfigMap | undefined;
    try {
      current = await this.api.get<k8s.V1ConfigMap>(this.paths.configMap);
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    if (current?.data?.[PUBLIC_KEYS_FILE] === text) return;
    try {
      if (current) await this.api.replace(this.paths.configMap, { apiVersion: "v1", kind: "ConfigMap", metadata: current.metadata ?? this.ref, data: { ...(current.data ?? {}), [PUBLIC_KEYS_FILE]: text } } satisfies k8s.V1ConfigMap);
      else await this.api.create(this.paths.configMaps, { apiVersion: "v1", kind: "ConfigMap", metadata: { ...this.ref, labels: LABELS }, data: { [PUBLIC_KEYS_FILE]: text } } satisfies k8s.V1ConfigMap);
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
  }
}

/** What the controller and audit verify with: the published public keys. */
export class PublishedKeys implements Keyring {
  private keys: PublicKeyEntry[] = [];
  private problem: string | undefined = "published signing keys not read yet";
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly api: KubeApi;
  private readonly path: string;
  readonly resolve: KeyResolver;
  private readonly ref: ObjectRef;
  private readonly log: Logger;
  private readonly syncMs: number;

  constructor(api: KubeApi, ref: ObjectRef, log: Logger, syncMs = 30_000) {
    this.api = api;
    this.path = pathsOf(ref).configMap;
    this.ref = ref;
    this.log = log;
    this.syncMs = syncMs;
    this.resolve = resolver(() => new Map(this.keys.map((k) => [k.kid, k.publicKey])), () => this.read());
  }

  signingKey(): undefined {
    return undefined;
  }

  notReady(): string | undefined {
    return this.problem;
  }

  async start(): Promise<void> {
    await this.read().catch(() => undefined);
    const tick = () => {
      if (this.stopped) return;
      const delay = this.keys.length === 0 ? Math.min(this.syncMs, 2000) : this.syncMs;
      this.timer = setTimeout(() => { void this.read().catch(() => undefined).finally(tick); }, delay);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  async read(): Promise<void> {
    const what = `ConfigMap ${this.ref.namespace}/${this.ref.name}`;
    try {
      const cm = await this.api.get<k8s.V1ConfigMap>(this.path);
      const text = cm.data?.[PUBLIC_KEYS_FILE];
      if (text === undefined) throw new KeyMaterialError(`${what} has no ${PUBLIC_KEYS_FILE}`);
      this.keys = decodePublicKeys(text, `${what} ${PUBLIC_KEYS_FILE}`);
      this.problem = this.keys.length === 0 ? `${what} lists no keys` : undefined;
    } catch (err) {
      const message = statusCode(err) === 404 ? `${what} does not exist yet (the gateway publishes it when it starts)` : errorMessage(err);
      if (this.keys.length === 0) this.problem = message;
      this.log.warn("published signing keys: read failed", { configMap: `${this.ref.namespace}/${this.ref.name}`, error: message });
      throw err;
    }
  }
}
