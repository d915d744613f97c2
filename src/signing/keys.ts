// The keys the gateway signs its decisions with (docs/trust-chain.md):
// Ed25519, named by the SHA-256 of their public key, kept as JWKs so a
// Secret (private) and a ConfigMap (public) can carry them as JSON.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { AgentgateError } from "../errors.ts";
import { isRecord } from "../types/kube.ts";

export interface SigningKey {
  /** base64url SHA-256 of the DER public key: the JWS `kid` */
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** when the key was made (ms since the epoch); rotation counts from here */
  createdAt: number;
}

export interface PublicKeyEntry {
  kid: string;
  publicKey: KeyObject;
  createdAt: number;
}

export class KeyMaterialError extends AgentgateError {
  constructor(message: string) {
    super("input", message);
    this.name = "KeyMaterialError";
  }
}

export function keyId(publicKey: KeyObject): string {
  return createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("base64url");
}

export function generateSigningKey(now = Date.now()): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { kid: keyId(publicKey), privateKey, publicKey, createdAt: now };
}

/** A PEM Ed25519 private key (e.g. `openssl genpkey -algorithm ed25519`). */
export function signingKeyFromPem(pem: string | Buffer, what: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new KeyMaterialError(`${what}: not a PEM private key (${err instanceof Error ? err.message : String(err)})`);
  }
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new KeyMaterialError(`${what}: a ${privateKey.asymmetricKeyType ?? "unknown"} key; decisions are signed with Ed25519 (openssl genpkey -algorithm ed25519)`);
  }
  const publicKey = createPublicKey(privateKey);
  return { kid: keyId(publicKey), privateKey, publicKey, createdAt: 0 };
}

/** PEM Ed25519 public keys (one or more concatenated), or the public half of private keys. */
export function publicKeysFromPem(pem: string, what: string): PublicKeyEntry[] {
  const blocks = pem.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [];
  if (blocks.length === 0) throw new KeyMaterialError(`${what}: no PEM key in it`);
  return blocks.map((block, i) => {
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey(block);
    } catch (err) {
      throw new KeyMaterialError(`${what}: PEM block ${String(i + 1)} is not a key (${err instanceof Error ? err.message : String(err)})`);
    }
    if (publicKey.asymmetricKeyType !== "ed25519") throw new KeyMaterialError(`${what}: PEM block ${String(i + 1)} is a ${publicKey.asymmetricKeyType ?? "unknown"} key; decisions are signed with Ed25519`);
    return { kid: keyId(publicKey), publicKey, createdAt: 0 };
  });
}

interface JwkRecord {
  kid: string;
  created: string;
  jwk: Record<string, unknown>;
}

/** The Secret's `keys.json`: every key with its private half. */
export function encodePrivateKeys(keys: readonly SigningKey[]): string {
  const records: JwkRecord[] = keys.map((k) => ({ kid: k.kid, created: new Date(k.createdAt).toISOString(), jwk: k.privateKey.export({ format: "jwk" }) }));
  return `${JSON.stringify({ keys: records }, null, 2)}\n`;
}

/** The ConfigMap's `jwks.json`: the public halves, as a JWK Set with agentgate's `created`. */
export function encodePublicKeys(keys: readonly (SigningKey | PublicKeyEntry)[]): string {
  const records: JwkRecord[] = keys.map((k) => ({ kid: k.kid, created: new Date(k.createdAt).toISOString(), jwk: k.publicKey.export({ format: "jwk" }) }));
  return `${JSON.stringify({ keys: records.map((r) => ({ ...r.jwk, kid: r.kid, use: "sig", alg: "Ed25519", created: r.created })) }, null, 2)}\n`;
}

function records(text: string, what: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new KeyMaterialError(`${what}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isRecord(parsed) || !Array.isArray(parsed.keys)) throw new KeyMaterialError(`${what}: expected {"keys": [...]}`);
  return parsed.keys as unknown[];
}

function created(value: unknown, what: string): number {
  const at = typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) throw new KeyMaterialError(`${what}: "created" is not a time`);
  return at;
}

export function decodePrivateKeys(text: string, what: string): SigningKey[] {
  return records(text, what).map((r, i) => {
    const at = `${what}: key ${String(i + 1)}`;
    if (!isRecord(r) || !isRecord(r.jwk)) throw new KeyMaterialError(`${at}: expected {kid, created, jwk}`);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: r.jwk, format: "jwk" });
    } catch (err) {
      throw new KeyMaterialError(`${at}: not a private JWK (${err instanceof Error ? err.message : String(err)})`);
    }
    if (privateKey.asymmetricKeyType !== "ed25519") throw new KeyMaterialError(`${at}: not an Ed25519 key`);
    const publicKey = createPublicKey(privateKey);
    const kid = keyId(publicKey);
    if (r.kid !== kid) throw new KeyMaterialError(`${at}: its kid ${JSON.stringify(r.kid)} is not its key's (${kid})`);
    return { kid, privateKey, publicKey, createdAt: created(r.created, at) };
  });
}

export function decodePublicKeys(text: string, what: string): PublicKeyEntry[] {
  return records(text, what).map((r, i) => {
    const at = `${what}: key ${String(i + 1)}`;
    if (!isRecord(r)) throw new KeyMaterialError(`${at}: not a JWK`);
    const { kid: _kid, use: _use, alg: _alg, created: when, ...jwk } = r;
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: jwk, format: "jwk" });
    } catch (err) {
      throw new KeyMaterialError(`${at}: not a public JWK (${err instanceof Error ? err.message : String(err)})`);
    }
    if (publicKey.asymmetricKeyType !== "ed25519") throw new KeyMaterialError(`${at}: not an Ed25519 key`);
    const kid = keyId(publicKey);
    if (r.kid !== kid) throw new KeyMaterialError(`${at}: its kid ${JSON.stringify(r.kid)} is not its key's (${kid})`);
    return { kid, publicKey, createdAt: created(when, at) };
  });
}
