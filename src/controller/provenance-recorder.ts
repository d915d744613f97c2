// Provenance as the controller records it: the run's statement, sealed in a
// DSSE envelope, signed when a key was given.
import type { KeyObject } from "node:crypto";
import { envelopeDigest, loadPrivateKey, seal } from "../provenance/envelope.ts";
import { provenanceStatement } from "../provenance/slsa.ts";
import type { ProvenanceFacts, ProvenanceRecord, ProvenanceRecorder } from "./driver.ts";
import type { Kube } from "./kube.ts";

export class ProvenanceSigner implements ProvenanceRecorder {
  private readonly key: KeyObject | undefined;

  constructor(key?: KeyObject) {
    this.key = key;
  }

  record(facts: ProvenanceFacts): Promise<ProvenanceRecord> {
    const envelope = seal(provenanceStatement(facts), this.key);
    return Promise.resolve({ envelope, digest: envelopeDigest(envelope), signed: this.key !== undefined });
  }
}

export async function loadSigningKeyFromSecret(kube: Kube, namespace: string, name: string): Promise<KeyObject> {
  const secret = await kube.core.readNamespacedSecret({ name, namespace });
  const data = secret.data?.["private-key.pem"];
  if (!data) throw new Error(`Secret ${namespace}/${name} has no key private-key.pem`);
  return loadPrivateKey(Buffer.from(data, "base64").toString("utf8"), `Secret ${namespace}/${name} private-key.pem`);
}
