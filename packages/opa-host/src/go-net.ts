// Go's net.IP model, as OPA's topdown/cidr.go sees addresses: an IP is 4 or
// 16 bytes (net.ParseIP always gives 16, an IPv4 one as ::ffff:a.b.c.d), a
// CIDR's network is 4 bytes for IPv4 and 16 for IPv6 (net.ParseCIDR), and
// the functions below keep Go's rules for mixing the two lengths (To4,
// Mask, Equal, Contains, String), because OPA's answers depend on them.
// Parsing follows net/netip.ParseAddr: no leading zeros in IPv4 fields, at
// most one ::, an embedded IPv4 only in the last 32 bits, no zone.

export type IP = Uint8Array;

export interface IPNet {
  ip: IP;
  mask: Uint8Array;
}

const V4_IN_V6 = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** bytes.Compare */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The four fields of a dotted IPv4 address, or undefined (netip's parseIPv4Fields). */
function ipv4Fields(s: string): number[] | undefined {
  const fields: number[] = [];
  let val = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && val === 0) return undefined;
      val = val * 10 + (c - 0x30);
      digits++;
      if (val > 255) return undefined;
    } else if (c === 0x2e) {
      if (i === 0 || i === s.length - 1 || s.charCodeAt(i - 1) === 0x2e || fields.length === 3) return undefined;
      fields.push(val);
      val = 0;
      digits = 0;
    } else {
      return undefined;
    }
  }
  if (fields.length < 3) return undefined;
  fields.push(val);
  return fields;
}

/** netip.ParseAddr without a zone: the 16 bytes and whether it was written as IPv4. */
export function parseAddr(s: string): { bytes: IP; is4: boolean } | undefined {
  for (const ch of s) {
    if (ch === ".") {
      const f = ipv4Fields(s);
      return f ? { bytes: concatBytes(V4_IN_V6, Uint8Array.from(f)), is4: true } : undefined;
    }
    if (ch === ":") {
      const b = parseIPv6(s);
      return b ? { bytes: b, is4: false } : undefined;
    }
    if (ch === "%") return undefined;
  }
  return undefined;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

function parseIPv6(input: string): IP | undefined {
  // A zone (%eth0) makes the address one net.ParseIP and net.ParseCIDR refuse.
  if (input.includes("%")) return undefined;
  let s = input;
  const ip = new Uint8Array(16);
  let ellipsis = -1;
  if (s.startsWith("::")) {
    ellipsis = 0;
    s = s.slice(2);
    if (s === "") return ip;
  }
  let i = 0;
  while (i < 16) {
    let off = 0;
    let acc = 0;
    for (; off < s.length; off++) {
      const v = hexValue(s.charCodeAt(off));
      if (v < 0) break;
      acc = acc * 16 + v;
      if (off > 3 || acc > 0xffff) return undefined;
    }
    if (off === 0) return undefined;
    if (off < s.length && s[off] === ".") {
      if ((ellipsis < 0 && i !== 12) || i + 4 > 16) return undefined;
      const f = ipv4Fields(s);
      if (!f) return undefined;
      ip.set(f, i);
      s = "";
      i += 4;
      break;
    }
    ip[i] = acc >> 8;
    ip[i + 1] = acc & 0xff;
    i += 2;
    s = s.slice(off);
    if (s === "") break;
    if (s[0] !== ":" || s.length === 1) return undefined;
    s = s.slice(1);
    if (s[0] === ":") {
      if (ellipsis >= 0) return undefined;
      ellipsis = i;
      s = s.slice(1);
      if (s === "") break;
    }
  }
  if (s !== "") return undefined;
  if (i < 16) {
    if (ellipsis < 0) return undefined;
    const n = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j] ?? 0;
    ip.fill(0, ellipsis, ellipsis + n);
  } else if (ellipsis >= 0) {
    return undefined;
  }
  return ip;
}

/** net.ParseIP: always 16 bytes. */
export function parseIP(s: string): IP | undefined {
  return parseAddr(s)?.bytes;
}

/** net.CIDRMask */
export function cidrMask(ones: number, bits: number): Uint8Array {
  const m = new Uint8Array(bits / 8);
  for (let i = 0; i < m.length; i++) {
    const n = Math.min(Math.max(ones - i * 8, 0), 8);
    m[i] = (0xff << (8 - n)) & 0xff;
  }
  return m;
}

/** net.ParseCIDR: the address (16 bytes) and its network (4 bytes for IPv4), or undefined. */
export function parseCIDR(s: string): { ip: IP; net: IPNet } | undefined {
  const slash = s.indexOf("/");
  if (slash < 0) return undefined;
  const addr = parseAddr(s.slice(0, slash));
  const maskText = s.slice(slash + 1);
  if (!addr || !/^\d+$/.test(maskText) || maskText.length > 8) return undefined;
  const bits = addr.is4 ? 32 : 128;
  const n = Number(maskText);
  if (n > bits) return undefined;
  const mask = cidrMask(n, bits);
  return { ip: addr.bytes, net: { ip: maskIP(addr.bytes, mask) ?? new Uint8Array(0), mask } };
}

/** IP.To4: the 4 bytes of an IPv4 address, or undefined. */
export function to4(ip: IP): IP | undefined {
  if (ip.length === 4) return ip;
  if (ip.length === 16 && equalBytes(ip.subarray(0, 12), V4_IN_V6)) return ip.subarray(12);
  return undefined;
}

/** IP.Mask; undefined where Go returns nil. */
export function maskIP(ip: IP, mask: Uint8Array): IP | undefined {
  let m = mask;
  let x = ip;
  if (m.length === 16 && x.length === 4 && m.subarray(0, 12).every((b) => b === 0xff)) m = m.subarray(12);
  if (m.length === 4 && x.length === 16 && equalBytes(x.subarray(0, 12), V4_IN_V6)) x = x.subarray(12);
  if (x.length !== m.length) return undefined;
  return x.map((b, i) => b & (m[i] ?? 0));
}

/** IP.Equal */
export function equalIP(a: IP | undefined, b: IP | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.length === b.length) return equalBytes(a, b);
  if (a.length === 4 && b.length === 16) return equalBytes(b.subarray(0, 12), V4_IN_V6) && equalBytes(a, b.subarray(12));
  if (a.length === 16 && b.length === 4) return equalBytes(a.subarray(0, 12), V4_IN_V6) && equalBytes(a.subarray(12), b);
  return false;
}

function networkNumberAndMask(n: IPNet): { ip: IP; mask: Uint8Array } | undefined {
  let ip = to4(n.ip);
  if (!ip) {
    ip = n.ip;
    if (ip.length !== 16) return undefined;
  }
  let m = n.mask;
  if (m.length === 4) {
    if (ip.length !== 4) return undefined;
  } else if (m.length === 16) {
    if (ip.length === 4) m = m.subarray(12);
  } else {
    return undefined;
  }
  return { ip, mask: m };
}

/** IPNet.Contains */
export function netContains(n: IPNet, ip: IP): boolean {
  const nm = networkNumberAndMask(n);
  if (!nm) return false;
  const x = to4(ip) ?? ip;
  if (x.length !== nm.ip.length) return false;
  return x.every((b, i) => ((nm.ip[i] ?? 0) & (nm.mask[i] ?? 0)) === (b & (nm.mask[i] ?? 0)));
}

/** IPMask.Size: the leading ones and the length in bits, [0, 0] for a mask that is not canonical. */
export function maskSize(m: Uint8Array): [number, number] {
  const ones = simpleMaskLength(m);
  return ones < 0 ? [0, 0] : [ones, m.length * 8];
}

function simpleMaskLength(m: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < m.length; i++) {
    let v = m[i] ?? 0;
    if (v === 0xff) {
      n += 8;
      continue;
    }
    while ((v & 0x80) !== 0) {
      n++;
      v = (v << 1) & 0xff;
    }
    if (v !== 0) return -1;
    for (i++; i < m.length; i++) if (m[i] !== 0) return -1;
    break;
  }
  return n;
}

/** IP.String: dotted IPv4 (also for ::ffff:a.b.c.d), RFC 5952 IPv6. */
export function ipString(ip: IP): string {
  if (ip.length === 0) return "<nil>";
  if (ip.length !== 4 && ip.length !== 16) return `?${Buffer.from(ip).toString("hex")}`;
  const v4 = to4(ip);
  if (v4) return [...v4].join(".");
  const groups = Array.from({ length: 8 }, (_, k) => ((ip[2 * k] ?? 0) << 8) | (ip[2 * k + 1] ?? 0));
  // The first longest run of two or more zero groups becomes ::.
  let best = -1;
  let bestLen = 0;
  for (let k = 0; k < 8; ) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && groups[e] === 0) e++;
    if (e - k > bestLen && e - k >= 2) {
      best = k;
      bestLen = e - k;
    }
    k = e;
  }
  const hex = (xs: number[]): string => xs.map((g) => g.toString(16)).join(":");
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/** IPNet.String */
export function netString(n: IPNet): string {
  const nm = networkNumberAndMask(n);
  if (!nm) return "<nil>";
  const l = simpleMaskLength(nm.mask);
  return l < 0 ? `${ipString(nm.ip)}/${Buffer.from(nm.mask).toString("hex")}` : `${ipString(nm.ip)}/${String(l)}`;
}

/** IP.DefaultMask: the classful mask of an IPv4 address (4 bytes), undefined for IPv6. */
export function defaultMask(ip: IP): Uint8Array | undefined {
  const v4 = to4(ip);
  if (!v4) return undefined;
  const first = v4[0] ?? 0;
  return cidrMask(first < 0x80 ? 8 : first < 0xc0 ? 16 : 24, 32);
}

export function toBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

/** big.Int.Bytes: big-endian without leading zeros (empty for 0). */
export function bigIntBytes(n: bigint): Uint8Array {
  const out: number[] = [];
  for (let v = n; v > 0n; v >>= 8n) out.unshift(Number(v & 0xffn));
  return Uint8Array.from(out);
}
