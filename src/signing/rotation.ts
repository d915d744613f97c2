// When a signing key is made and when an old one is let go: pure, so the
// schedule is tested without a cluster. The newest key signs; a key
// replaced by a newer one still verifies for `retainMs` after it was
// replaced, so runs admitted under it (waiting for an approver, say) can
// still be checked.
import { generateSigningKey, type SigningKey } from "./keys.ts";

export interface RotationPolicy {
  /** a new key is made once the newest is this old */
  rotateAfterMs: number;
  /** a replaced key is kept for verification this long after its successor was made */
  retainMs: number;
}

export const DEFAULT_ROTATION: RotationPolicy = { rotateAfterMs: 30 * 86_400_000, retainMs: 90 * 86_400_000 };

export function newestKey(keys: readonly SigningKey[]): SigningKey | undefined {
  return [...keys].sort((a, b) => b.createdAt - a.createdAt)[0];
}

/** The keys to keep, a new one added when due; `changed` when they differ from `keys`. */
export function planKeys(keys: readonly SigningKey[], now: number, policy: RotationPolicy, make: (now: number) => SigningKey = generateSigningKey): { keys: SigningKey[]; changed: boolean } {
  const sorted = [...keys].sort((a, b) => b.createdAt - a.createdAt);
  let changed = false;
  const newest = sorted[0];
  if (!newest || now - newest.createdAt >= policy.rotateAfterMs) {
    sorted.unshift(make(now));
    changed = true;
  }
  // sorted[i - 1] replaced sorted[i] when it was made.
  const kept = sorted.filter((key, i) => {
    if (i === 0) return true;
    const replacedAt = sorted[i - 1]?.createdAt ?? now;
    return now - replacedAt < policy.retainMs;
  });
  if (kept.length !== sorted.length) changed = true;
  return { keys: kept, changed };
}
