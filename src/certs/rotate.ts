// What the certificate Secret should hold next: given what it holds now (or
// nothing) and the clock, the new material and why, or undefined when nothing
// is due. Pure apart from key generation, so every replica that looks at the
// same Secret at the same time reaches the same decision, and the one whose
// write lands first wins.
import { X509Certificate } from "node:crypto";
import { createCertificateAuthority, issueServingCertificate } from "../tls/self-signed.ts";
import { sortCertificates, type CertificateMaterial, type KeyPairPem } from "./material.ts";
import { caPromoteAt, caStageAt, servingRenewAt, validityOf } from "./schedule.ts";

export interface RotationPolicy {
  /** DNS names and IPs the serving certificate must carry */
  hosts: readonly string[];
  servingValidityMs: number;
  caValidityMs: number;
  /** CA common name prefix */
  caName?: string;
}

export interface PlanOptions {
  /** false while the caBundle of the webhook configurations does not hold the next CA yet */
  mayPromote: boolean;
}

export interface Plan {
  material: CertificateMaterial;
  reasons: string[];
}

/** The service DNS names a webhook Service is reached by: `<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`. */
export const serviceHosts = (service: string, namespace: string): string[] => [service, `${service}.${namespace}`, `${service}.${namespace}.svc`];

/** DNS names (lower-cased) and IPs in a certificate's subjectAltName. */
export function certificateHosts(pem: string): string[] {
  const san = new X509Certificate(pem).subjectAltName ?? "";
  return san
    .split(", ")
    .map((entry) => /^(?:DNS|IP Address):(.+)$/.exec(entry)?.[1])
    .filter((h): h is string => h !== undefined)
    .map((h) => h.toLowerCase());
}

const normalHost = (h: string): string => h.toLowerCase();

export function missingHosts(servingPem: string, hosts: readonly string[]): string[] {
  const have = new Set(certificateHosts(servingPem));
  return hosts.map(normalHost).filter((h) => !have.has(h));
}

export function signedBy(certPem: string, caPem: string): boolean {
  const cert = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

const expired = (pem: string, now: Date): boolean => validityOf(pem).notAfter.getTime() <= now.getTime();
const reached = (at: Date, now: Date): boolean => now.getTime() >= at.getTime();

function newCa(policy: RotationPolicy, now: Date): KeyPairPem {
  const ca = createCertificateAuthority(policy.caName ?? "agentgate-ca", { validityMs: policy.caValidityMs, now });
  return { cert: ca.cert, key: ca.key };
}

function newServing(signer: KeyPairPem, hosts: readonly string[], policy: RotationPolicy, now: Date): KeyPairPem {
  const s = issueServingCertificate(signer, hosts, { validityMs: policy.servingValidityMs, now });
  return { cert: s.cert, key: s.key };
}

export function fresh(policy: RotationPolicy, now: Date): CertificateMaterial {
  const signer = newCa(policy, now);
  return { signer, trusted: [signer.cert], serving: newServing(signer, policy.hosts, policy, now) };
}

export function plan(current: CertificateMaterial | undefined, policy: RotationPolicy, now: Date, opts: PlanOptions): Plan | undefined {
  if (!current) return { material: fresh(policy, now), reasons: ["no certificate yet: new CA and serving certificate"] };
  const reasons: string[] = [];
  let { signer, next } = current;
  let trusted = current.trusted;
  let reissue: string | undefined;

  if (expired(signer.cert, now)) {
    if (!next) return { material: fresh(policy, now), reasons: ["the CA has expired: new CA and serving certificate"] };
    // Too late for an overlap: signing with an expired CA helps nobody.
    signer = next;
    next = undefined;
    reasons.push("the CA expired before the next CA was promoted: promoted now");
    reissue = "the signing CA changed";
  } else if (next && opts.mayPromote && reached(caPromoteAt(validityOf(signer.cert), validityOf(next.cert)), now)) {
    signer = next;
    next = undefined;
    reasons.push("CA rotation: the next CA signs from now on; the old one stays trusted until it expires");
    reissue = "the signing CA changed";
  }
  if (!next && reached(caStageAt(validityOf(signer.cert)), now)) {
    next = newCa(policy, now);
    trusted = [...trusted, next.cert];
    reasons.push("CA rotation ahead: a next CA is trusted from now on, and signs later");
  }
  const live = trusted.filter((c) => !expired(c, now));
  if (live.length !== trusted.length) reasons.push(`${String(trusted.length - live.length)} expired CA(s) dropped from the caBundle`);
  trusted = sortCertificates(live);

  let hosts: readonly string[] = policy.hosts;
  const serving = current.serving.cert;
  if (reissue === undefined) {
    const missing = missingHosts(serving, policy.hosts);
    if (!signedBy(serving, signer.cert)) reissue = "the serving certificate is not signed by the CA";
    else if (expired(serving, now)) reissue = "the serving certificate has expired";
    else if (missing.length > 0) {
      reissue = `the serving certificate lacks ${missing.join(", ")}`;
      // Keep the names another replica asked for: two replicas with
      // different flags (a rolling upgrade) converge instead of taking turns.
      hosts = [...new Set([...policy.hosts.map(normalHost), ...certificateHosts(serving)])];
    } else if (reached(servingRenewAt(validityOf(serving)), now)) reissue = "the serving certificate reached 2/3 of its lifetime";
  }
  const servingPair = reissue === undefined ? current.serving : newServing(signer, hosts, policy, now);
  if (reissue !== undefined) reasons.push(`serving certificate renewed: ${reissue}`);

  if (reasons.length === 0) return undefined;
  return { material: { signer, ...(next ? { next } : {}), trusted, serving: servingPair }, reasons };
}

/** The next moment plan() may have something to do for this material. */
export function nextCheckAt(m: CertificateMaterial): Date {
  const signer = validityOf(m.signer.cert);
  const times = [servingRenewAt(validityOf(m.serving.cert)).getTime(), m.next ? caPromoteAt(signer, validityOf(m.next.cert)).getTime() : caStageAt(signer).getTime()];
  for (const c of m.trusted) times.push(validityOf(c).notAfter.getTime());
  return new Date(Math.min(...times));
}
