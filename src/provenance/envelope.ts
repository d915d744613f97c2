// DSSE v1 envelopes (the format Tekton Chains and in-toto use), signed with
// ECDSA P-256 / SHA-256. Signatures are DER-encoded, as cosign writes them;
// the keyid is the hex SHA-256 of the public key's DER SubjectPublicKeyInfo,
// so a verifier can tell which key to try without a registry.
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import type { DsseEnvelope } from "../types/agent.ts";
import { KeyMaterialError } from "../signing/keys.ts";

export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";

/** Pre-authentication encoding: what is actually signed. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, "utf8");
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

export function keyId(publicKey: KeyObject): string {
  return createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex");
}

/** A PKCS#8 PEM ECDSA P-256 private key, refused with why if it is anything else. */
export function loadPrivateKey(pem: string, where: string): KeyObject {
  if (!pem.includes("-----BEGIN PRIVATE KEY-----")) throw new KeyMaterialError(`${where}: not a PKCS#8 PEM private key (expected "-----BEGIN PRIVATE KEY-----")`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    throw new KeyMaterialError(`${where}: cannot read the private key: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new KeyMaterialError(`${where}: the key must be ECDSA P-256, got ${key.asymmetricKeyType ?? "unknown"} ${key.asymmetricKeyDetails?.namedCurve ?? ""}`.trim());
  }
  return key;
}

/** The ECDSA P-256 public key provenance is verified with (a certificate or a private key carry one too). */
export function loadPublicKey(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch {
    throw new KeyMaterialError(`${where}: not a PEM public key (expected "-----BEGIN PUBLIC KEY-----")`);
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== "ec" || curve !== "prime256v1") {
    const found = key.asymmetricKeyType === "ec" ? `an ECDSA ${curve ?? "unknown-curve"} key` : `an ${(key.asymmetricKeyType ?? "unknown").toUpperCase()} key`;
    throw new KeyMaterialError(`${where}: ${found}; provenance is signed with ECDSA P-256 (prime256v1): give the public half of the controller's signing key`);
  }
  return key;
}

export function seal(statement: unknown, privateKey?: KeyObject): DsseEnvelope {
  const payload = Buffer.from(JSON.stringify(statement), "utf8");
  const signatures = privateKey
    ? [{ keyid: keyId(createPublicKey(privateKey)), sig: sign("sha256", pae(IN_TOTO_PAYLOAD_TYPE, payload), privateKey).toString("base64") }]
    : [];
  return { payloadType: IN_TOTO_PAYLOAD_TYPE, payload: payload.toString("base64"), signatures };
}

export function envelopeDigest(envelope: DsseEnvelope): string {
  return `sha256:${createHash("sha256").update(Buffer.from(envelope.payload, "base64")).digest("hex")}`;
}

export type Verification = { ok: true; keyid: string; statement: { subject?: { name: string }[]; predicateType?: string } } | { ok: false; reason: string };

export function verifyEnvelope(envelope: DsseEnvelope, publicKey: KeyObject): Verification {
  if (envelope.signatures.length === 0) return { ok: false, reason: "the envelope carries no signatures (recorded unsigned)" };
  const payload = Buffer.from(envelope.payload, "base64");
  const signed = pae(envelope.payloadType, payload);
  const id = keyId(publicKey);
  for (const s of envelope.signatures) {
    let good: boolean;
    try {
      good = verify("sha256", signed, publicKey, Buffer.from(s.sig, "base64"));
    } catch {
      good = false;
    }
    if (!good) continue;
    if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) return { ok: false, reason: `payloadType is ${JSON.stringify(envelope.payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}` };
    let statement: unknown;
    try {
      statement = JSON.parse(payload.toString("utf8"));
    } catch {
      return { ok: false, reason: "the signed payload is not JSON" };
    }
    if (typeof statement !== "object" || statement === null || (statement as { _type?: unknown })._type !== "https://in-toto.io/Statement/v1") {
      return { ok: false, reason: "the signed payload is not an in-toto Statement v1" };
    }
    return { ok: true, keyid: s.keyid || id, statement: statement };
  }
  return { ok: false, reason: `no signature verifies with the given key (keyid ${id})` };
}
