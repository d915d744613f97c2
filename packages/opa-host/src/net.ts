// The net.cidr_* builtins the wasm target leaves to the host, as OPA's
// topdown/cidr.go answers them over Go's net package (go-net.ts):
// net.cidr_is_valid, net.cidr_contains_matches (net.cidr_contains, which the
// wasm compiles, over every pair), net.cidr_expand and net.cidr_merge (OPA's
// internal/cidr/merge, ported step for step: its results depend on how it
// mixes 4- and 16-byte addresses).
import { BuiltinError, EvaluationHalt, stringOperand, type RegoBuiltin } from "./operands.ts";
import {
  bigIntBytes, cidrMask, compareBytes, concatBytes, defaultMask, equalIP, maskIP, maskSize, netContains, netString, parseCIDR, parseIP, to4, toBigInt, ipString,
  type IP, type IPNet,
} from "./go-net.ts";
import { RegoObject, RegoSet, numberValue, sortEntries, sortValues, type RegoValue } from "./rego-value.ts";

function operandNet(builtin: string, v: RegoValue | undefined): IPNet {
  const s = stringOperand(builtin, v, 1);
  const parsed = parseCIDR(s);
  if (!parsed) throw new BuiltinError(builtin, `invalid CIDR address: ${s}`);
  return parsed.net;
}

const isPlainIPv6Net = (n: IPNet): boolean => n.ip.length === 16 && n.mask.length === 16 && to4(n.ip) === undefined;

function lastIP(n: IPNet): IP {
  const [prefix, bits] = maskSize(n.mask);
  if (prefix === 0 && bits === 0) throw new BuiltinError("net.cidr_contains", "CIDR mask is in non-standard format");
  if (prefix === bits) return n.ip;
  const last = toBigInt(n.ip) | ((1n << BigInt(bits - prefix)) - 1n);
  const bytes = bigIntBytes(last);
  const out = new Uint8Array(bits / 8);
  for (let i = 1; i <= bytes.length; i++) out[out.length - i] = bytes[bytes.length - i] ?? 0;
  return out;
}

/** net.cidr_contains(a, b): b an address or a CIDR (topdown's builtinNetCIDRContains). */
function cidrContains(a: RegoValue | undefined, b: RegoValue | undefined): boolean {
  const name = "net.cidr_contains";
  const netA = operandNet(name, a);
  const bs = stringOperand(name, b, 1);
  const ip = parseIP(bs);
  if (ip) return netContains(netA, ip);
  const netB = parseCIDR(bs)?.net;
  if (!netB) throw new BuiltinError(name, `not a valid textual representation of an IP address or CIDR: ${bs}`);
  if (isPlainIPv6Net(netA) && isPlainIPv6Net(netB)) {
    return maskSize(netA.mask)[0] <= maskSize(netB.mask)[0] && equalIP(netA.ip, maskIP(netB.ip, netA.mask));
  }
  return netContains(netA, netB.ip) && netContains(netA, lastIP(netB));
}

/** A net.cidr_contains_matches operand as (cidr, index) pairs, in OPA's order. */
function matchOperand(operand: number, v: RegoValue | undefined): [RegoValue, RegoValue][] {
  const element = (x: RegoValue | undefined): RegoValue => {
    if (typeof x === "string") return x;
    if (Array.isArray(x) && x.length > 0) return (x as readonly RegoValue[])[0] as RegoValue;
    throw new BuiltinError("net.cidr_contains_matches", `operand ${String(operand)}: element must be string or non-empty array`);
  };
  if (typeof v === "string") return [[v, v]];
  if (Array.isArray(v)) return (v as readonly RegoValue[]).map((x, i) => [element(x), numberValue(i)]);
  if (v instanceof RegoSet) return sortValues(v.items).map((x) => [element(x), x]);
  if (v instanceof RegoObject) return sortEntries(v.entries).map(([k, x]) => [element(x), k]);
  return [];
}

/** The most addresses net.cidr_expand lists: OPA would run until its evaluation is cancelled. */
const MAX_EXPAND = 65_536;

function expand(s: string): RegoValue {
  const name = "net.cidr_expand";
  const parsed = parseCIDR(s);
  if (!parsed) throw new BuiltinError(name, `invalid CIDR address: ${s}`);
  const [ones, bits] = maskSize(parsed.net.mask);
  if (bits - ones > 16) throw new EvaluationHalt(name, `${s} holds more than ${String(MAX_EXPAND)} addresses`);
  const out: string[] = [];
  const ip = maskIP(parsed.ip, parsed.net.mask) ?? new Uint8Array(0);
  for (; netContains(parsed.net, ip) && out.length <= MAX_EXPAND; incIP(ip)) out.push(ipString(ip));
  return new RegoSet(out);
}

function incIP(ip: IP): void {
  for (let j = ip.length - 1; j >= 0; j--) {
    ip[j] = ((ip[j] ?? 0) + 1) & 0xff;
    if (ip[j] !== 0) break;
  }
}

// OPA's internal/cidr/merge.
const V4_MAPPED = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
const DEFAULT_V4 = concatBytes(V4_MAPPED, Uint8Array.from([0, 0, 0, 0]));
const DEFAULT_V6 = new Uint8Array(16);
const UPPER_V4 = concatBytes(V4_MAPPED, Uint8Array.from([255, 255, 255, 255]));
const UPPER_V6 = new Uint8Array(16).fill(0xff);
const V4_LEADING_ZEROS = new Uint8Array(10);

function addressRange(n: IPNet): [IP, IP] {
  let first = maskIP(Uint8Array.from(n.ip), n.mask) ?? new Uint8Array(0);
  let last = maskIP(Uint8Array.from(n.ip), n.mask) ?? new Uint8Array(0);
  if (to4(first)) {
    first = concatBytes(V4_MAPPED, first);
    last = concatBytes(V4_MAPPED, last);
  }
  for (let i = 0; i < n.mask.length; i++) {
    const at = 16 - i - 1;
    last[at] = (last[at] ?? 0) | (~(n.mask[n.mask.length - i - 1] ?? 0) & 0xff);
  }
  return [first, last];
}

function previousIP(ip: IP): IP {
  if (equalIP(ip, DEFAULT_V4) || equalIP(ip, DEFAULT_V6)) return ip;
  const prev = Uint8Array.from(ip);
  let overflow = false;
  const lower = to4(ip) ? 12 : 0;
  for (let i = ip.length - 1; i >= lower; i--) {
    if (overflow || i === ip.length - 1) prev[i] = ((prev[i] ?? 0) - 1) & 0xff;
    overflow = ip[i] === 0 && prev[i] === 255;
  }
  return prev;
}

function nextIP(ip: IP): IP {
  if (equalIP(ip, UPPER_V4) || equalIP(ip, UPPER_V6)) return ip;
  if (ip.length === 4) return bigIntBytesFixed((toBigInt(ip) + 1n) & 0xffffffffn, 4);
  if (ip.length !== 16) return ip;
  const low = (toBigInt(ip.subarray(8)) + 1n) & 0xffffffffffffffffn;
  const high = low === 0n ? (toBigInt(ip.subarray(0, 8)) + 1n) & 0xffffffffffffffffn : toBigInt(ip.subarray(0, 8));
  return concatBytes(bigIntBytesFixed(high, 8), bigIntBytesFixed(low, 8));
}

function bigIntBytesFixed(n: bigint, length: number): Uint8Array {
  const b = bigIntBytes(n);
  const out = new Uint8Array(length);
  out.set(b.subarray(Math.max(b.length - length, 0)), Math.max(length - b.length, 0));
  return out;
}

function spanningCIDR(first: IP, last: IP): IPNet {
  const isV4 = to4(first) !== undefined;
  const bitLen = isV4 ? 32 : 128;
  let size = bitLen;
  const lowest = toBigInt(first);
  let highest = toBigInt(last);
  while (size > 0 && lowest < highest) {
    size--;
    highest &= -(1n << BigInt(bitLen - size));
  }
  let ip = isV4 ? concatBytes(V4_LEADING_ZEROS, bigIntBytes(highest)) : bigIntBytes(highest);
  if (ip.length === 0) ip = new Uint8Array(isV4 ? 4 : 16);
  return { ip, mask: cidrMask(size, bitLen) };
}

/** Pads big.Int.Bytes to 16 bytes as partitionCIDR does (IPv4: ten zeros first, whatever the length). */
function partitionBytes(n: bigint, isV4: boolean): Uint8Array {
  const b = bigIntBytes(n);
  if (isV4) return concatBytes(V4_LEADING_ZEROS, b);
  return b.length === 16 ? b : concatBytes(new Uint8Array(16 - b.length), b);
}

function partitionCIDR(target: IPNet, exclude: IPNet): [IPNet[] | undefined, IPNet[] | undefined] {
  const isV4 = to4(target.ip) !== undefined;
  const [targetFirst, targetLast] = addressRange(target);
  const [excludeFirst, excludeLast] = addressRange(exclude);
  const targetSize = maskSize(target.mask)[0];
  const excludeSize = maskSize(exclude.mask)[0];
  if (compareBytes(excludeLast, targetFirst) < 0) return [undefined, [target]];
  if (compareBytes(targetLast, excludeFirst) < 0) return [[target], undefined];
  if (targetSize >= excludeSize) return [undefined, undefined];
  const left: IPNet[] = [];
  const right: IPNet[] = [];
  let prefix = targetSize + 1;
  const bitLen = isV4 ? 32 : 128;
  let lower = toBigInt(targetFirst);
  // big.Int.SetBytes(targetFirstIP.To16()): To16 is nil (0) for a slice neither 4 nor 16 bytes long.
  const to16 = targetFirst.length === 4 ? concatBytes(V4_MAPPED, targetFirst) : targetFirst.length === 16 ? targetFirst : new Uint8Array(0);
  let upper = toBigInt(to16) + (1n << BigInt(bitLen - prefix));
  while (excludeSize >= prefix) {
    const upperBytes = partitionBytes(upper, isV4);
    const lowerBytes = partitionBytes(lower, isV4);
    let matched: bigint;
    if (compareBytes(excludeFirst, upperBytes) >= 0) {
      left.push({ ip: lowerBytes, mask: cidrMask(prefix, bitLen) });
      matched = upper;
    } else {
      right.push({ ip: upperBytes, mask: cidrMask(prefix, bitLen) });
      matched = lower;
    }
    prefix++;
    if (prefix > bitLen) break;
    lower = matched;
    upper = matched + (1n << BigInt(bitLen - prefix));
  }
  return [left, right];
}

function rangeToCIDRs(first: IP, last: IP): IPNet[] {
  let spanning = spanningCIDR(first, last);
  const [spanFirst, spanLast] = addressRange(spanning);
  let list: IPNet[] = [];
  if (compareBytes(spanFirst, first) < 0) {
    const prev = previousIP(first);
    const bitLen = to4(prev) ? 32 : 128;
    const right = partitionCIDR(spanning, { ip: prev, mask: cidrMask(bitLen, bitLen) })[1] ?? [];
    list.push(...right);
    if (right[0] === undefined) throw new BuiltinError("net.cidr_merge", "internal: empty partition");
    spanning = right[0];
    list = list.slice(1);
  }
  if (compareBytes(spanLast, last) > 0) {
    const next = nextIP(last);
    const bitLen = to4(next) ? 32 : 128;
    list.push(...(partitionCIDR(spanning, { ip: next, mask: cidrMask(bitLen, bitLen) })[0] ?? []));
  } else {
    list.push(spanning);
  }
  return list;
}

interface BlockRange {
  first: IP;
  last: IP;
  network: IPNet | undefined;
}

function mergeNetworks(networks: IPNet[]): IPNet[] {
  if (networks.length === 0) return [];
  let ranges: BlockRange[] = networks.map((network) => {
    const [first, last] = addressRange(network);
    return { first, last, network };
  });
  ranges.sort((a, b) => compareBytes(a.last, b.last) || compareBytes(a.first, b.first));
  for (let i = ranges.length - 1; i > 0; i--) {
    const cur = ranges[i] as BlockRange;
    const prev = ranges[i - 1] as BlockRange;
    if (compareBytes(previousIP(cur.first), prev.last) <= 0) {
      const first = compareBytes(prev.first, cur.first) < 0 ? prev.first : cur.first;
      ranges[i - 1] = { first: Uint8Array.from(first), last: Uint8Array.from(cur.last), network: undefined };
      ranges = [...ranges.slice(0, i), ...ranges.slice(i + 1)];
    }
  }
  return ranges.flatMap((r) => (r.network ? [r.network] : rangeToCIDRs(r.first, r.last)));
}

function generateIPNet(term: RegoValue): IPNet {
  const name = "net.cidr_merge";
  if (typeof term !== "string") throw new BuiltinError(name, "element must be string");
  const ip = parseIP(term);
  if (!ip) {
    const parsed = parseCIDR(term);
    if (!parsed) throw new BuiltinError(name, `invalid CIDR address: ${term}`);
    return parsed.net;
  }
  const mask = defaultMask(ip);
  if (!mask) throw new BuiltinError(name, "IPv6 invalid: needs prefix length");
  return { ip, mask };
}

function merge(v: RegoValue | undefined): RegoValue {
  let items: readonly RegoValue[];
  if (Array.isArray(v)) items = v as readonly RegoValue[];
  else if (v instanceof RegoSet) items = sortValues(v.items);
  else throw new BuiltinError("net.cidr_merge", "operand must be an array");
  const merged = mergeNetworks(items.map(generateIPNet)).map(netString);
  return new RegoSet([...new Set(merged)]);
}

export const NET_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "net.cidr_is_valid": (x) => typeof x === "string" && parseCIDR(x) !== undefined,
  "net.cidr_contains_matches": (a, b) => {
    // Each (index1, index2) pair is distinct: indices are positions, keys, members or the string itself.
    const out: RegoValue[] = [];
    for (const [cidr1, index1] of matchOperand(1, a)) {
      for (const [cidr2, index2] of matchOperand(2, b)) if (cidrContains(cidr1, cidr2)) out.push([index1, index2]);
    }
    return new RegoSet(out);
  },
  "net.cidr_expand": (s) => expand(stringOperand("net.cidr_expand", s, 1)),
  "net.cidr_merge": (v) => merge(v),
};
