// Digests and HMACs (crypto.md5/sha1/sha256, crypto.hmac.*) over a string's
// UTF-8 bytes, hex-encoded as OPA answers them.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { stringOperand, type RegoBuiltin } from "./operands.ts";

const digest = (name: string, algorithm: string): RegoBuiltin => (x) => createHash(algorithm).update(stringOperand(name, x, 1), "utf8").digest("hex");
const hmac = (name: string, algorithm: string): RegoBuiltin => (x, key) =>
  createHmac(algorithm, Buffer.from(stringOperand(name, key, 2), "utf8")).update(stringOperand(name, x, 1), "utf8").digest("hex");

export const CRYPTO_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "crypto.md5": digest("crypto.md5", "md5"),
  "crypto.sha1": digest("crypto.sha1", "sha1"),
  "crypto.sha256": digest("crypto.sha256", "sha256"),
  "crypto.hmac.md5": hmac("crypto.hmac.md5", "md5"),
  "crypto.hmac.sha1": hmac("crypto.hmac.sha1", "sha1"),
  "crypto.hmac.sha256": hmac("crypto.hmac.sha256", "sha256"),
  "crypto.hmac.sha512": hmac("crypto.hmac.sha512", "sha512"),
  "crypto.hmac.equal": (a, b) => {
    // Go's hmac.Equal: constant time over the bytes; different lengths are unequal.
    const x = Buffer.from(stringOperand("crypto.hmac.equal", a, 1), "utf8");
    const y = Buffer.from(stringOperand("crypto.hmac.equal", b, 2), "utf8");
    return x.length === y.length && timingSafeEqual(x, y);
  },
};
