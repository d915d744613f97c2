// When certificates are renewed: the timing rules of self-managed mode, as
// pure functions of a certificate's validity window, so they can be tested
// without waiting.
//
// - A serving certificate is renewed at 2/3 of its lifetime: a third of it is
//   left to retry if the API server is unreachable.
// - A CA is rotated in two steps so that no client ever meets a certificate
//   signed by a CA it does not trust yet: at 2/3 of its lifetime a next CA is
//   made and added to the caBundle (trusted, not signing); at 5/6, and never
//   sooner than a short overlap after the next CA appeared, the next CA starts
//   signing. The old CA stays in the caBundle until it expires.
import { X509Certificate } from "node:crypto";

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

export const SERVING_RENEW_FRACTION = 2 / 3;
export const CA_STAGE_FRACTION = 2 / 3;
export const CA_PROMOTE_FRACTION = 5 / 6;
/** The longest overlap asked of the next CA before it signs; a short-lived CA asks a twelfth of its life. */
export const MAX_CA_OVERLAP_MS = 5 * 60_000;

export function validityOf(pem: string): Validity {
  const x = new X509Certificate(pem);
  return { notBefore: x.validFromDate, notAfter: x.validToDate };
}

const lifetime = (v: Validity): number => v.notAfter.getTime() - v.notBefore.getTime();

export const pointIn = (v: Validity, fraction: number): Date => new Date(v.notBefore.getTime() + Math.floor(lifetime(v) * fraction));

/**
 * The moment a certificate was made: notBefore is backdated by a minute,
 * or a tenth of a shorter validity (see backdateMs in src/tls/self-signed.ts).
 */
export function issuedAt(v: Validity): Date {
  const total = lifetime(v);
  // total = validity + backdate, backdate = min(60 s, validity / 10).
  const backdate = total >= 11 * 60_000 ? 60_000 : Math.floor(total / 11);
  return new Date(v.notBefore.getTime() + backdate);
}

export const servingRenewAt = (serving: Validity): Date => pointIn(serving, SERVING_RENEW_FRACTION);

export const caStageAt = (signer: Validity): Date => pointIn(signer, CA_STAGE_FRACTION);

/** When a staged next CA may start signing. */
export function caPromoteAt(signer: Validity, next: Validity): Date {
  const overlap = Math.min(MAX_CA_OVERLAP_MS, Math.floor(lifetime(next) / 12));
  return new Date(Math.max(pointIn(signer, CA_PROMOTE_FRACTION).getTime(), issuedAt(next).getTime() + overlap));
}
