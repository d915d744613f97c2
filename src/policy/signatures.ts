// OPA bundle signatures (`.signatures.json`), compatible with `opa build
// --signing-key` and `opa run --verification-key` in both directions: one
// JWT whose `files` claim lists every file of the bundle with its hash.
// Structured files (data.json, data.yaml, .manifest) are hashed over OPA's
// canonical form (keys sorted, no whitespace, numbers as written) so that
// re-serialising them does not break a signature; everything else is hashed
// byte for byte.
import { X509Certificate, createHash, createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { decodeProtectedHeader } from "jose/decode/protected_header";
import { CompactSign } from "jose/jws/compact/sign";
import { compactVerify } from "jose/jws/compact/verify";
import { parse as parseYaml } from "yaml";
import { isRecord } from "../types/kube.ts";
import { BundleError } from "./bundle.ts";
import { KeyMaterialError } from "../signing/keys.ts";

export const SIGNATURES_FILE = ".signatures.json";

export const SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** OPA's hashing algorithm names → node's. */
const HASHES: Readonly<Record<string, string>> = {
  MD5: "md5",
  "SHA-1": "sha1",
  "SHA-224": "sha224",
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
  "SHA-512-224": "sha512-224",
  "SHA-512-256": "sha512-256",
};

/** A bundle whose signature is missing, malformed or does not match. */
export class SignatureError extends BundleError {
  constructor(bundle: string, message: string) {
    super(bundle, `signature: ${message}`);
    this.name = "SignatureError";
  }
}

export interface KeyOptions {
  algorithm?: string;
  /** OPA's default key id is "default" (its --verification-key-id) */
  keyId?: string;
  scope?: string;
}

export interface SignatureKey {
  key: KeyObject;
  algorithm: SigningAlgorithm;
  keyId: string;
  scope: string;
  /** where the key came from, for messages */
  source: string;
}

export interface SignedFile {
  name: string;
  hash: string;
  algorithm: string;
}

export interface VerifiedSignature {
  keyId: string;
  scope: string;
  algorithm: SigningAlgorithm;
  files: number;
}

const isHmac = (alg: SigningAlgorithm): boolean => alg.startsWith("HS");
const isPem = (material: Buffer): boolean => material.toString("latin1", 0, 200).includes("-----BEGIN ");

function asAlgorithm(value: string, source: string): SigningAlgorithm {
  const found = SIGNING_ALGORITHMS.find((a) => a === value);
  if (!found) throw new KeyMaterialError(`${source}: signing algorithm ${JSON.stringify(value)} is not supported; use one of ${SIGNING_ALGORITHMS.join(", ")}`);
  return found;
}

const CURVE_ALGORITHM: Readonly<Record<string, SigningAlgorithm>> = { prime256v1: "ES256", secp384r1: "ES384", secp521r1: "ES512" };

/** The algorithm a key implies, so the common case needs no --signing-alg. */
function inferAlgorithm(key: KeyObject, source: string): SigningAlgorithm {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return "RS256";
    case "rsa-pss":
      return "PS256";
    case "ed25519":
      return "EdDSA";
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? "";
      const alg = CURVE_ALGORITHM[curve];
      if (!alg) throw new KeyMaterialError(`${source}: EC curve ${curve} has no JWS algorithm; use P-256, P-384 or P-521`);
      return alg;
    }
    default:
      throw new KeyMaterialError(`${source}: key type ${key.asymmetricKeyType ?? "unknown"} cannot sign bundles; use an RSA, EC or Ed25519 key`);
  }
}

/** Refuses an algorithm the key cannot serve now, rather than at the first bundle. */
function checkKeyFits(key: KeyObject, alg: SigningAlgorithm, source: string): void {
  const type = key.asymmetricKeyType;
  const fits =
    alg.startsWith("RS") ? type === "rsa"
    : alg.startsWith("PS") ? type === "rsa" || type === "rsa-pss"
    : alg.startsWith("ES") ? type === "ec" && CURVE_ALGORITHM[key.asymmetricKeyDetails?.namedCurve ?? ""] === alg
    : alg === "EdDSA" ? type === "ed25519"
    : false;
  if (!fits) {
    const what = type === "ec" ? `an EC ${key.asymmetricKeyDetails?.namedCurve ?? ""} key` : `a ${type ?? "unknown"} key`;
    throw new KeyMaterialError(`${source}: ${what} cannot be used with ${alg}`);
  }
}

function keyFrom(material: Buffer, source: string, opts: KeyOptions, kind: "public" | "private"): SignatureKey {
  const keyId = opts.keyId ?? "default";
  const scope = opts.scope ?? "";
  const explicit = opts.algorithm === undefined ? undefined : asAlgorithm(opts.algorithm, source);
  if (explicit && isHmac(explicit)) {
    if (material.length === 0) throw new KeyMaterialError(`${source}: the HMAC secret is empty`);
    return { key: createSecretKey(material), algorithm: explicit, keyId, scope, source };
  }
  if (!isPem(material)) {
    throw new KeyMaterialError(`${source}: not a PEM key; for an HMAC secret pass the algorithm (HS256, HS384 or HS512)`);
  }
  let key: KeyObject;
  try {
    if (kind === "private") key = createPrivateKey(material);
    else if (material.includes("-----BEGIN CERTIFICATE-----")) key = new X509Certificate(material).publicKey;
    // A private key file also verifies, as with opa's --verification-key.
    else key = createPublicKey(material);
  } catch (err) {
    throw new KeyMaterialError(`${source}: not a readable PEM ${kind} key: ${err instanceof Error ? err.message : String(err)}`);
  }
  const algorithm = explicit ?? inferAlgorithm(key, source);
  checkKeyFits(key, algorithm, source);
  return { key, algorithm, keyId, scope, source };
}

export function verificationKeyFrom(material: Buffer, source: string, opts: KeyOptions = {}): SignatureKey {
  return keyFrom(material, source, opts, "public");
}

export function signingKeyFrom(material: Buffer, source: string, opts: KeyOptions = {}): SignatureKey {
  return keyFrom(material, source, opts, "private");
}

async function readKeyFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new KeyMaterialError(`${what} ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

export async function readVerificationKey(path: string, opts: KeyOptions = {}): Promise<SignatureKey> {
  return verificationKeyFrom(await readKeyFile(path, "verification key"), `verification key ${path}`, opts);
}

export async function readSigningKey(path: string, opts: KeyOptions = {}): Promise<SignatureKey> {
  return signingKeyFrom(await readKeyFile(path, "signing key"), `signing key ${path}`, opts);
}

// ---- hashing as OPA does (v1/bundle/hash.go) ----

/** A JSON number kept as written: OPA decodes with UseNumber and re-emits the literal. */
class JsonNumber {
  readonly literal: string;
  constructor(literal: string) {
    this.literal = literal;
  }
}

const basename = (path: string): string => path.slice(path.lastIndexOf("/") + 1);

/** Files OPA hashes over their parsed, canonical form. */
export function isStructuredFile(path: string): boolean {
  const base = basename(path);
  return base === "data.json" || base === "data.yaml" || base === "data.yml" || base === ".manifest";
}

/** Go's sort.Strings order: by UTF-8 bytes (JS's default compares UTF-16 units). */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** Go's encoding/json string form with HTML escaping off (U+2028/2029 are still escaped). */
function goString(s: string): string {
  return JSON.stringify(s.toWellFormed()).replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function walk(value: unknown, out: (s: string) => void): void {
  if (value instanceof JsonNumber) out(value.literal);
  else if (Array.isArray(value)) {
    out("[");
    value.forEach((e: unknown, i) => {
      if (i > 0) out(",");
      walk(e, out);
    });
    out("]");
  } else if (isRecord(value)) {
    out("{");
    Object.keys(value)
      .sort(compareUtf8)
      .forEach((key, i) => {
        if (i > 0) out(",");
        out(goString(key));
        out(":");
        walk(value[key], out);
      });
    out("}");
  } else if (typeof value === "string") out(goString(value));
  else if (typeof value === "number") out(JSON.stringify(value));
  else out(JSON.stringify(value ?? null));
}

function parseStructured(path: string, content: Buffer): unknown {
  let text = content.toString("utf8");
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  const base = basename(path);
  if (base === "data.yaml" || base === "data.yml") {
    // YAML numbers lose their spelling here; OPA's YAML→JSON step normalises them too.
    return parseYaml(text) as unknown;
  }
  return JSON.parse(text, (_key: string, value: unknown, context?: { source?: string }) =>
    typeof value === "number" ? new JsonNumber(context?.source ?? JSON.stringify(value)) : value,
  ) as unknown;
}

/** The hex digest OPA computes for a bundle file. */
export function hashBundleFile(path: string, content: Buffer, algorithm = "SHA-256"): string {
  const name = HASHES[algorithm];
  if (!name) throw new Error(`unsupported hashing algorithm ${JSON.stringify(algorithm)}`);
  const hash = createHash(name);
  if (isStructuredFile(path)) {
    let value: unknown;
    try {
      value = parseStructured(path, content);
    } catch (err) {
      throw new Error(`${path} is not valid ${path.endsWith(".json") || path.endsWith(".manifest") ? "JSON" : "YAML"}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    walk(value, (s) => hash.update(s, "utf8"));
  } else {
    hash.update(content);
  }
  return hash.digest("hex");
}

// ---- signing and verification ----

const decoder = new TextDecoder();

export async function signBundleFiles(files: ReadonlyMap<string, Buffer>, key: SignatureKey): Promise<Buffer> {
  const signed: SignedFile[] = [...files.keys()]
    .filter((path) => basename(path) !== SIGNATURES_FILE)
    .sort()
    .map((name) => ({ name, hash: hashBundleFile(name, files.get(name) as Buffer), algorithm: "SHA-256" }));
  const claims: Record<string, unknown> = { files: signed };
  // `keyid` is deprecated in favour of the header's kid; older OPAs read it.
  if (key.keyId !== "") claims.keyid = key.keyId;
  if (key.scope !== "") claims.scope = key.scope;
  const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: key.algorithm, typ: "JWT", ...(key.keyId !== "" ? { kid: key.keyId } : {}) })
    .sign(key.key);
  return Buffer.from(`${JSON.stringify({ signatures: [token] })}\n`);
}

function readSignaturesFile(label: string, raw: Buffer): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw new SignatureError(label, `${SIGNATURES_FILE} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isRecord(parsed)) throw new SignatureError(label, `${SIGNATURES_FILE} must be a JSON object with "signatures"`);
  if (typeof parsed.plugin === "string" && parsed.plugin !== "" && parsed.plugin !== "_default") {
    throw new SignatureError(label, `${SIGNATURES_FILE} names verification plugin "${parsed.plugin}", which agentgate does not have; sign with the default JWT signer`);
  }
  const list = parsed.signatures;
  if (!Array.isArray(list) || list.length === 0) throw new SignatureError(label, `${SIGNATURES_FILE} holds no JWT (expected exactly one)`);
  if (list.length > 1) throw new SignatureError(label, `${SIGNATURES_FILE} holds ${list.length} JWTs; OPA bundles carry exactly one`);
  const token: unknown = list[0];
  if (typeof token !== "string") throw new SignatureError(label, `${SIGNATURES_FILE}: the signature is not a string`);
  return token;
}

function signedFiles(label: string, claims: Record<string, unknown>): SignedFile[] {
  const files = claims.files;
  if (!Array.isArray(files)) throw new SignatureError(label, `the JWT has no "files" list`);
  return files.map((entry: unknown) => {
    if (!isRecord(entry) || typeof entry.name !== "string" || typeof entry.hash !== "string") {
      throw new SignatureError(label, `the JWT's files list holds ${JSON.stringify(entry)}, not {name, hash, algorithm}`);
    }
    const algorithm = typeof entry.algorithm === "string" ? entry.algorithm : "";
    if (algorithm === "") throw new SignatureError(label, `no hashing algorithm for file ${entry.name}`);
    if (!HASHES[algorithm]) throw new SignatureError(label, `file ${entry.name} is hashed with ${algorithm}, which is not supported`);
    return { name: entry.name.replace(/^\/+/, ""), hash: entry.hash.toLowerCase(), algorithm };
  });
}

/**
 * Verifies a bundle's files against its `.signatures.json`: the JWT's
 * signature with the configured key and algorithm (never the header's
 * choice), its key id and scope against the configuration, and that the
 * signed files list is exactly the bundle's files with matching hashes.
 */
export async function verifyBundleFiles(label: string, files: ReadonlyMap<string, Buffer>, key: SignatureKey): Promise<VerifiedSignature> {
  const raw = files.get(SIGNATURES_FILE);
  if (!raw) throw new SignatureError(label, `the bundle is unsigned (no ${SIGNATURES_FILE}) and signature verification is configured`);
  const token = readSignaturesFile(label, raw);

  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch (err) {
    throw new SignatureError(label, `the JWT is malformed: ${err instanceof Error ? err.message : String(err)}`);
  }
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(token, key.key, { algorithms: [key.algorithm] }));
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new SignatureError(label, `the JWT does not verify with ${key.source} (${key.algorithm}): ${why}`);
  }
  let claims: unknown;
  try {
    claims = JSON.parse(decoder.decode(payload));
  } catch {
    throw new SignatureError(label, "the JWT payload is not JSON");
  }
  if (!isRecord(claims)) throw new SignatureError(label, "the JWT payload is not a JSON object");

  // OPA picks the key by the configured id; a token naming another key was not meant for this one.
  const tokenKeyId = typeof header.kid === "string" && header.kid !== "" ? header.kid : typeof claims.keyid === "string" ? claims.keyid : "";
  if (tokenKeyId !== "" && key.keyId !== "" && tokenKeyId !== key.keyId) {
    throw new SignatureError(label, `signed with key id "${tokenKeyId}", but the verification key's id is "${key.keyId}"`);
  }
  const scope = typeof claims.scope === "string" ? claims.scope : "";
  if (scope !== key.scope) throw new SignatureError(label, `scope mismatch: signed for scope "${scope}", configured "${key.scope}"`);

  const signed = new Map(signedFiles(label, claims).map((f) => [f.name, f]));
  const present = [...files.keys()].filter((p) => basename(p) !== SIGNATURES_FILE).sort();
  for (const path of present) {
    const entry = signed.get(path);
    if (!entry) throw new SignatureError(label, `file ${path} is not covered by the signature (tampered or added after signing)`);
    let actual: string;
    try {
      actual = hashBundleFile(path, files.get(path) as Buffer, entry.algorithm);
    } catch (err) {
      throw new SignatureError(label, `file ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (actual !== entry.hash) {
      throw new SignatureError(label, `file ${path}: digest mismatch (signed ${entry.algorithm} ${entry.hash.slice(0, 16)}…, found ${actual.slice(0, 16)}…): modified after signing`);
    }
    signed.delete(path);
  }
  if (signed.size > 0) throw new SignatureError(label, `file(s) ${[...signed.keys()].sort().join(", ")} signed but missing from the bundle`);
  return { keyId: tokenKeyId || key.keyId, scope, algorithm: key.algorithm, files: present.length };
}
