// Certificates made with node-forge: a CA, serving certificates it signs,
// and the throwaway pair `agentgate serve` uses without --tls-cert-file or
// --cert-secret. The API server needs the CA in caBundle and an IP or DNS
// subjectAltName on the serving certificate, never only a CN.
import { createRequire } from "node:module";
import type Forge from "node-forge";

// node-forge (~2 MB of resident code) is loaded when a certificate is first
// made, not at start: a gateway given its certificate never makes one.
let loaded: typeof Forge | undefined;
const forgeLib = (): typeof Forge => (loaded ??= createRequire(import.meta.url)("node-forge") as typeof Forge);

export interface CertificateSet {
  caCert: string;
  cert: string;
  key: string;
  notAfter: Date;
}

/** A certificate (PEM) with its private key (PKCS#1 PEM) and validity. */
export interface IssuedCertificate {
  cert: string;
  key: string;
  notBefore: Date;
  notAfter: Date;
}

export interface ValidityOptions {
  validityMs: number;
  now?: Date;
}

const MAX_BACKDATE_MS = 60_000;

/**
 * How far notBefore is set before the moment of issue, so that a peer whose
 * clock is a little behind still accepts the certificate: a minute, but never
 * more than a tenth of a short validity (a test's 20 s certificate would
 * otherwise be mostly in the past).
 */
export function backdateMs(validityMs: number): number {
  return Math.min(MAX_BACKDATE_MS, Math.floor(validityMs / 10));
}

// node-forge writes CRLF line ends; Kubernetes Secrets and PEM bundles use LF.
const lf = (pem: string): string => pem.replace(/\r\n/g, "\n");

function serial(): string {
  const forge = forgeLib();
  // Positive (Go rejects negative serials) and unique.
  return forge.util.bytesToHex(forge.random.getBytesSync(16)).replace(/^[89a-f]/, "1");
}

function window(opts: ValidityOptions): { notBefore: Date; notAfter: Date } {
  if (!Number.isFinite(opts.validityMs) || opts.validityMs <= 0) throw new Error(`certificate validity must be positive, got ${String(opts.validityMs)} ms`);
  const now = (opts.now ?? new Date()).getTime();
  // Whole seconds: X.509 times carry no fractions, and the schedule is
  // computed from what the certificate says.
  const notBefore = new Date(Math.floor((now - backdateMs(opts.validityMs)) / 1000) * 1000);
  const notAfter = new Date(Math.floor((now + opts.validityMs) / 1000) * 1000);
  return { notBefore, notAfter };
}

/** A self-signed CA; its common name carries the issue time so that CA generations are told apart in logs and by TLS stacks. */
export function createCertificateAuthority(commonName: string, opts: ValidityOptions): IssuedCertificate {
  const forge = forgeLib();
  const { notBefore, notAfter } = window(opts);
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const ca = forge.pki.createCertificate();
  ca.publicKey = keys.publicKey;
  ca.serialNumber = serial();
  ca.validity.notBefore = notBefore;
  ca.validity.notAfter = notAfter;
  const name = [{ name: "commonName", value: `${commonName}-${String(Math.floor((opts.now ?? new Date()).getTime() / 1000))}` }];
  ca.setSubject(name);
  ca.setIssuer(name);
  ca.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  ca.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: lf(forge.pki.certificateToPem(ca)), key: lf(forge.pki.privateKeyToPem(keys.privateKey)), notBefore, notAfter };
}

const isIp = (host: string): boolean => /^[\d.]+$/.test(host) || host.includes(":");

/**
 * A serving certificate for `hosts` (DNS names or IPs; the first is the CN)
 * signed by `ca`. It never outlives its CA: notAfter is clamped to the CA's.
 */
export function issueServingCertificate(ca: { cert: string; key: string }, hosts: readonly string[], opts: ValidityOptions): IssuedCertificate {
  const forge = forgeLib();
  if (hosts.length === 0) throw new Error("a serving certificate needs at least one DNS name or IP");
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const { notBefore, notAfter: wanted } = window(opts);
  const notAfter = wanted.getTime() > caCert.validity.notAfter.getTime() ? caCert.validity.notAfter : wanted;
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: "commonName", value: hosts[0] ?? "agentgate" }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    // Names the issuing CA's key, so a verifier holding old and new CA during a rotation picks the right one.
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    { name: "subjectAltName", altNames: hosts.map((h) => (isIp(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: lf(forge.pki.certificateToPem(cert)), key: lf(forge.pki.privateKeyToPem(keys.privateKey)), notBefore, notAfter };
}

/** The throwaway CA and serving certificate of a local `agentgate serve`. */
export function generateServingCertificate(hosts: readonly string[], validDays = 365): CertificateSet {
  const validityMs = validDays * 86_400_000;
  const ca = createCertificateAuthority("agentgate-ca", { validityMs });
  const serving = issueServingCertificate(ca, hosts, { validityMs });
  return { caCert: ca.cert, cert: serving.cert, key: serving.key, notAfter: serving.notAfter };
}
