// Where signing and verification keys come from: a fixed key (a file, or
// one made for this process), or the cluster (cluster-keyring.ts). The
// gateway signs with signingKey(); the gateway, the controller and audit
// verify with resolve().
import type { KeyObject } from "node:crypto";
import type { KeyResolver } from "./detached.ts";
import { generateSigningKey, type PublicKeyEntry, type SigningKey } from "./keys.ts";

export interface Keyring {
  /** the key new signatures use; undefined where this process only verifies, or before keys are loaded */
  signingKey(): SigningKey | undefined;
  resolve: KeyResolver;
  /** why keys are not usable yet, or undefined when they are */
  notReady(): string | undefined;
  /** why signing is withheld though keys are loaded (guardedKeyring), or undefined */
  signingBlocked?(): string | undefined;
  stop(): void;
}

/** Why signingKey() gave nothing, for a message. */
export function whyNoSigningKey(keyring: Keyring): string {
  return keyring.signingBlocked?.() ?? keyring.notReady() ?? "no signing key";
}

/**
 * A keyring that signs only while `blocked()` says nothing; verification is
 * unchanged, and so is readiness (a gateway that withholds signatures still
 * answers, and denies, so the API server does not fail open around it).
 */
export function guardedKeyring(inner: Keyring, blocked: () => string | undefined): Keyring {
  return {
    signingKey: () => (blocked() === undefined ? inner.signingKey() : undefined),
    resolve: inner.resolve,
    notReady: () => inner.notReady(),
    signingBlocked: blocked,
    stop: () => inner.stop(),
  };
}

/** Keys fixed for the life of the process: a file's, or one made at start. */
export function staticKeyring(signing: SigningKey | undefined, verifying: readonly PublicKeyEntry[] = []): Keyring {
  const byKid = new Map<string, KeyObject>(verifying.map((k) => [k.kid, k.publicKey]));
  if (signing) byKid.set(signing.kid, signing.publicKey);
  return {
    signingKey: () => signing,
    resolve: (kid) => Promise.resolve(byKid.get(kid)),
    notReady: () => (byKid.size === 0 ? "no signing or verification key" : undefined),
    stop: () => undefined,
  };
}

/** A key made for this process only: what it signs verifies only while it runs (offline, review, tests). */
export function ephemeralKeyring(): Keyring {
  return staticKeyring(generateSigningKey());
}
