// What the certificate Secret holds, and how it is read back: a
// kubernetes.io/tls Secret (tls.crt, tls.key) plus ca.crt (every CA clients
// must trust: the caBundle), ca.key (the signing CA's key, so any replica can
// renew) and, during a CA rotation, ca-next.key (the key of a CA already
// trusted but not yet signing). Which cert of ca.crt is the signer or the next
// CA follows from the keys, so the Secret cannot contradict itself.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { AgentgateError } from "../errors.ts";

export interface KeyPairPem {
  cert: string;
  key: string;
}

export interface CertificateMaterial {
  /** the CA that signs serving certificates */
  signer: KeyPairPem;
  /** a CA made ahead of a rotation: trusted, not yet signing */
  next?: KeyPairPem;
  /** every CA clients must trust (signer, next, and retiring CAs until they expire), oldest first */
  trusted: string[];
  serving: KeyPairPem;
}

export const SECRET_KEYS = {
  cert: "tls.crt",
  key: "tls.key",
  caBundle: "ca.crt",
  caKey: "ca.key",
  nextCaKey: "ca-next.key",
} as const;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, each normalised to end in a newline. */
export function splitPemBundle(bundle: string): string[] {
  return (bundle.match(PEM_CERT) ?? []).map((pem) => `${pem}\n`);
}

export const joinPemBundle = (certs: readonly string[]): string => certs.map((c) => (c.endsWith("\n") ? c : `${c}\n`)).join("");

export const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

const oldestFirst = (a: string, b: string): number => new X509Certificate(a).validFromDate.getTime() - new X509Certificate(b).validFromDate.getTime();

export function sortCertificates(certs: readonly string[]): string[] {
  const seen = new Set<string>();
  const unique = certs.filter((c) => {
    const fp = fingerprint(c);
    if (seen.has(fp)) return false;
    seen.add(fp);
    return true;
  });
  return unique.sort(oldestFirst);
}

export function toSecretData(m: CertificateMaterial): Record<string, string> {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const data: Record<string, string> = {
    [SECRET_KEYS.cert]: b64(m.serving.cert),
    [SECRET_KEYS.key]: b64(m.serving.key),
    [SECRET_KEYS.caBundle]: b64(joinPemBundle(m.trusted)),
    [SECRET_KEYS.caKey]: b64(m.signer.key),
  };
  if (m.next) data[SECRET_KEYS.nextCaKey] = b64(m.next.key);
  return data;
}

export class MaterialError extends AgentgateError {
  constructor(message: string) {
    super("input", message);
    this.name = "MaterialError";
  }
}

function matching(trusted: readonly string[], keyPem: string, what: string): string {
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new MaterialError(`${what} is not a private key: ${err instanceof Error ? err.message : String(err)}`);
  }
  const cert = trusted.find((c) => new X509Certificate(c).checkPrivateKey(key));
  if (!cert) throw new MaterialError(`no certificate in ${SECRET_KEYS.caBundle} belongs to ${what}`);
  return cert;
}

/** Reads a Secret's data (base64 values) back; throws MaterialError naming what is missing or inconsistent. */
export function fromSecretData(data: Record<string, string> | undefined): CertificateMaterial {
  const text = (k: string): string | undefined => {
    const v = data?.[k];
    return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
  };
  const need = (k: string): string => {
    const v = text(k);
    if (v === undefined || v.trim() === "") throw new MaterialError(`key ${k} is missing`);
    return v;
  };
  const cert = need(SECRET_KEYS.cert);
  const key = need(SECRET_KEYS.key);
  let trusted: string[];
  try {
    trusted = sortCertificates(splitPemBundle(need(SECRET_KEYS.caBundle)));
    if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) throw new MaterialError(`${SECRET_KEYS.cert} and ${SECRET_KEYS.key} do not belong together`);
  } catch (err) {
    if (err instanceof MaterialError) throw err;
    throw new MaterialError(`unreadable certificate or key: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (trusted.length === 0) throw new MaterialError(`${SECRET_KEYS.caBundle} holds no certificate`);
  const caKey = need(SECRET_KEYS.caKey);
  const signer = { cert: matching(trusted, caKey, SECRET_KEYS.caKey), key: caKey };
  const nextKey = text(SECRET_KEYS.nextCaKey);
  const next = nextKey ? { cert: matching(trusted, nextKey, SECRET_KEYS.nextCaKey), key: nextKey } : undefined;
  return { signer, ...(next ? { next } : {}), trusted, serving: { cert, key } };
}
