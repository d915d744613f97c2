// net.cidr_is_valid as Go's net.ParseCIDR decides: an IPv4 or IPv6 address
// (no zone, no leading zeros in IPv4 parts) and a decimal prefix length that
// fits it. Anything else, non-strings included, is false, not an error.
import { isIPv4, isIPv6 } from "node:net";
import type { RegoBuiltin } from "./operands.ts";

export function isCidr(s: string): boolean {
  const slash = s.indexOf("/");
  if (slash < 0) return false;
  const ip = s.slice(0, slash);
  const mask = s.slice(slash + 1);
  if (!/^\d+$/.test(mask) || mask.length > 7) return false;
  const bits = Number(mask);
  if (isIPv4(ip)) return !/(^|\.)0\d/.test(ip) && bits <= 32;
  if (isIPv6(ip) && !ip.includes("%")) {
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(ip)?.[1];
    if (v4 !== undefined && /(^|\.)0\d/.test(v4)) return false;
    return bits <= 128;
  }
  return false;
}

export const NET_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "net.cidr_is_valid": (x) => typeof x === "string" && isCidr(x),
};
