// Provenance as the controller records it: the run's statement, sealed in a
// DSSE envelope, signed when a key was given.
import { createPublicKey, type KeyObject } from "node:crypto";
import { envelopeDigest, loadPrivateKey, seal, verifyEnvelope, type Verification } from "../provenance/envelope.ts";
import { provenanceStatement, type KnownBundle } from "../provenance/slsa.ts";
import { readBundle } from "../policy/bundle.ts";
import { DEFAULT_BUNDLE_PATH } from "../policy/load.ts";
import type { Logger } from "../log.ts";
import type { ProvenanceFacts, ProvenanceRecord, ProvenanceRecorder } from "../provenance/facts.ts";
import type { Kube } from "./kube.ts";
import type { DsseEnvelope } from "../types/agent.ts";

export class ProvenanceSigner implements ProvenanceRecorder {
  private readonly key: KeyObject | undefined;
  private readonly bundles: readonly KnownBundle[];

  /** bundles: the policy bundles whose digests the controller can vouch for (see policyBundles) */
  constructor(key?: KeyObject, bundles: readonly KnownBundle[] = []) {
    this.key = key;
    this.bundles = bundles;
  }

  record(facts: ProvenanceFacts): Promise<ProvenanceRecord> {
    const envelope = seal(provenanceStatement(facts, this.bundles), this.key);
    return Promise.resolve({ envelope, digest: envelopeDigest(envelope), signed: this.key !== undefined });
  }

  /** Whether this controller's key signed the envelope (an earlier key's envelopes do not verify: there is one key). */
  verify(envelope: DsseEnvelope): Verification {
    if (!this.key) return { ok: false, reason: "this controller records provenance unsigned (no signing key configured, Helm provenance.keySecret), so none verifies" };
    return verifyEnvelope(envelope, createPublicKey(this.key));
  }
}

export async function loadSigningKeyFromSecret(kube: Kube, namespace: string, name: string): Promise<KeyObject> {
  const secret = await kube.core.readNamespacedSecret({ name, namespace });
  const data = secret.data?.["private-key.pem"];
  if (!data) throw new Error(`Secret ${namespace}/${name} has no key private-key.pem`);
  return loadPrivateKey(Buffer.from(data, "base64").toString("utf8"), `Secret ${namespace}/${name} private-key.pem`);
}

/**
 * The default bundle built into this image: the gateway stamps it as
 * default@<revision> when it runs without --bundle, and with the same
 * revision it is the same bundle, so its digest is known here. Bundles the
 * gateway loads from elsewhere are not (their digests are recorded as null).
 */
export async function embeddedBundles(log: Logger): Promise<KnownBundle[]> {
  try {
    const b = await readBundle(DEFAULT_BUNDLE_PATH, "default");
    return [{ name: b.name, revision: b.revision, digest: b.digest }];
  } catch (err) {
    log.warn("cannot read the embedded default bundle; provenance records no bundle digests", { error: err instanceof Error ? err.message : String(err) });
    return [];
  }
}
