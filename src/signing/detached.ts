// Detached JWS (RFC 7515 appendix F): `<protected>..<signature>`. The
// payload is not stored in the token: the verifier rebuilds it from the
// object the token sits on, so the readable annotations are the very bytes
// that were signed and a copied token verifies nowhere else.
// jose's entry points for what is used, not its index: the index loads JWE,
// JWT, JWKS and key generation too, resident in every gateway for nothing.
import { CompactSign } from "jose/jws/compact/sign";
import { compactVerify } from "jose/jws/compact/verify";
import * as joseErrors from "jose/errors";
import type { KeyObject } from "node:crypto";
import { AgentgateError } from "../errors.ts";
import type { SigningKey } from "./keys.ts";

export const ALG = "Ed25519";

export interface SignedHeader {
  alg: string;
  kid: string;
  typ: string;
  /** seconds since the epoch, when the gateway signed */
  iat: number;
}

/** Why a token did not verify; the message is fit for a run's condition. */
export class SignatureError extends AgentgateError {
  readonly reason: "missing" | "malformed" | "unknown-key" | "invalid" | "wrong-type" | "stale";
  constructor(reason: SignatureError["reason"], message: string) {
    super("input", message);
    this.name = "SignatureError";
    this.reason = reason;
  }
}

/** Finds a verification key by kid; may look further (re-read the published keys) on a miss. */
export type KeyResolver = (kid: string) => Promise<KeyObject | undefined>;

export async function signDetached(payload: string, key: SigningKey, typ: string, now = Date.now()): Promise<string> {
  const header: SignedHeader = { alg: ALG, kid: key.kid, typ, iat: Math.floor(now / 1000) };
  const jws = await new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ ...header }).sign(key.privateKey);
  const [protectedHeader, , signature] = jws.split(".");
  return `${protectedHeader ?? ""}..${signature ?? ""}`;
}

function decodeHeader(part: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies `token` over `payload`: the token's type, a known key, the
 * signature. Throws SignatureError saying which failed.
 */
export async function verifyDetached(token: string | undefined, payload: string, typ: string, resolve: KeyResolver): Promise<SignedHeader> {
  if (token === undefined || token === "") throw new SignatureError("missing", "no signature");
  const parts = token.split(".");
  const [protectedHeader = "", middle, signature = ""] = parts;
  if (parts.length !== 3 || middle !== "" || protectedHeader === "" || signature === "") throw new SignatureError("malformed", "the signature is not a detached JWS (<header>..<signature>)");
  const header = decodeHeader(protectedHeader);
  if (!header) throw new SignatureError("malformed", "the signature's header is not JSON");
  if (header.typ !== typ) throw new SignatureError("wrong-type", `the signature is of type ${JSON.stringify(header.typ ?? null)}, not ${typ}: it was made for something else`);
  if (header.alg !== ALG) throw new SignatureError("malformed", `the signature uses ${JSON.stringify(header.alg ?? null)}; agentgate signs with ${ALG}`);
  const kid = header.kid;
  const iat = header.iat;
  if (typeof kid !== "string" || typeof iat !== "number" || !Number.isInteger(iat)) throw new SignatureError("malformed", "the signature's header lacks kid or iat");
  const key = await resolve(kid);
  if (!key) throw new SignatureError("unknown-key", `the signing key ${kid} is not one of agentgate's published keys (forged, or signed by a key retired since)`);
  const compact = `${protectedHeader}.${Buffer.from(payload, "utf8").toString("base64url")}.${signature}`;
  try {
    await compactVerify(compact, key, { algorithms: [ALG] });
  } catch (err) {
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new SignatureError("invalid", "the signature does not match what it signs: the object was changed after agentgate signed it, or the signature was copied from another object");
    throw new SignatureError("malformed", `the signature cannot be checked: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { alg: ALG, kid, typ, iat };
}
