// Where a run's model and tool-server traffic goes, as kagent decides it:
// the TypeScript twin of policies/agentgate/endpoints.rego, for the run's
// NetworkPolicy. The policy judges the host modelEndpoint() returns, and
// test/opa/model-endpoint-differential.test.ts keeps the two in agreement.
// Pure: no I/O.
import { isRecord } from "../types/kube.ts";

export type HostClass = "public" | "ip" | "private-ip" | "link-local" | "loopback" | "in-cluster";

/** The endpoint a ModelConfig reaches, and the field that decides it; or why there is none. */
export type ModelEndpoint = { host: string; port: number; source: string } | { none: string };

/** A tool server's address as kagent dials it; or why there is none. */
export type ToolServerEndpoint = { host: string; port: number; path: string } | { none: string };

/**
 * The block kagent reads for each provider (only that one: kagent
 * v0.9.0..v0.10.0-rc3, translator/agent/adk_api_translator.go translateModel).
 */
export const PROVIDER_BLOCKS: Readonly<Record<string, string>> = {
  OpenAI: "openAI",
  Anthropic: "anthropic",
  AzureOpenAI: "azureOpenAI",
  Ollama: "ollama",
  Gemini: "gemini",
  GeminiVertexAI: "geminiVertexAI",
  AnthropicVertexAI: "anthropicVertexAI",
  Bedrock: "bedrock",
  SAPAICore: "sapAICore",
  Foundry: "foundry",
};

/** Blocks with a URL field naming the endpoint. */
const ENDPOINT_FIELDS: Readonly<Record<string, string>> = {
  openAI: "baseUrl",
  anthropic: "baseUrl",
  azureOpenAI: "azureEndpoint",
  ollama: "host",
  sapAICore: "baseUrl",
  foundry: "endpoint",
};

/** The SDKs' public hosts when the base URL is left empty. */
const DEFAULT_HOSTS: Readonly<Record<string, string>> = {
  OpenAI: "api.openai.com",
  Anthropic: "api.anthropic.com",
  Gemini: "generativelanguage.googleapis.com",
};

const own = (o: Readonly<Record<string, string>>, k: string): string | undefined => (Object.hasOwn(o, k) ? o[k] : undefined);

/** spec.provider, defaulting to OpenAI as kagent's CRD does (null counts as unset). */
function providerOf(spec: Record<string, unknown>): unknown {
  return spec.provider === undefined || spec.provider === null ? "OpenAI" : spec.provider;
}

function blockOf(spec: Record<string, unknown>, blockName: string): Record<string, unknown> {
  const block = spec[blockName];
  return isRecord(block) ? block : {};
}

/** A value that counts as set: present, not null, not "". */
function setValue(block: Record<string, unknown>, field: string): unknown {
  const v = block[field];
  return v === undefined || v === null || v === "" ? undefined : v;
}

const REGION = /^[a-z0-9]+(-[a-z0-9]+)*$/;

function cloudRegion(r: unknown): r is string {
  return typeof r === "string" && REGION.test(r) && r.length <= 63;
}

/** Vertex AI's regional hosts: global and the multi-regions us and eu have their own. */
function vertexHost(location: unknown): string | undefined {
  if (location === "global") return "aiplatform.googleapis.com";
  if (location === "us" || location === "eu") return `aiplatform.${location}.rep.googleapis.com`;
  return cloudRegion(location) ? `${location}-aiplatform.googleapis.com` : undefined;
}

/**
 * The endpoint a ModelConfig spec reaches, read from the provider's own
 * block only; each provider's default public host when it names none.
 */
export function modelEndpoint(spec: unknown): ModelEndpoint {
  if (!isRecord(spec)) return { none: "the ModelConfig names no endpoint agentgate can judge" };
  const provider = providerOf(spec);
  const blockName = typeof provider === "string" ? own(PROVIDER_BLOCKS, provider) : undefined;
  if (typeof provider !== "string" || blockName === undefined) return { none: "the ModelConfig names no endpoint agentgate can judge" };
  const block = blockOf(spec, blockName);
  const field = own(ENDPOINT_FIELDS, blockName);
  if (field !== undefined) {
    const value = setValue(block, field);
    if (value !== undefined) {
      const url = endpointUrl(value, blockName === "ollama");
      return url ? { host: url.host, port: url.port, source: `spec.${blockName}.${field}` } : { none: "not a URL agentgate can judge" };
    }
  }
  const fallback = own(DEFAULT_HOSTS, provider);
  if (fallback !== undefined) return { host: fallback, port: 443, source: "spec.provider" };
  if (provider === "GeminiVertexAI" || provider === "AnthropicVertexAI") {
    const host = vertexHost(block.location ?? null);
    if (host) return { host, port: 443, source: `spec.${blockName}.location` };
  }
  if (provider === "Bedrock" && cloudRegion(block.region)) return { host: `bedrock-runtime.${block.region}.amazonaws.com`, port: 443, source: "spec.bedrock.region" };
  return { none: "the ModelConfig names no endpoint agentgate can judge" };
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/;

/**
 * A URL as kagent's clients would read it, or undefined when it is not one
 * agentgate can judge: http:// or https:// (lowercase, as kagent compares
 * it), no user info, percent-encoding or backslashes in the authority, a
 * host name of letters, digits, dots and dashes or a bracketed IPv6
 * address, a port from 1 to 65535. An Ollama host without a scheme gets
 * "http://", as kagent gives it. Host names are lowercased.
 */
export function endpointUrl(value: unknown, ollama = false): { scheme: "http" | "https"; host: string; port: number } | undefined {
  if (typeof value !== "string") return undefined;
  const full = ollama && !value.startsWith("http://") && !value.startsWith("https://") ? `http://${value}` : value;
  const scheme = full.startsWith("http://") ? "http" : full.startsWith("https://") ? "https" : undefined;
  if (!scheme) return undefined;
  const rest = full.slice(scheme.length + 3);
  const authority = (((rest.split("/")[0] ?? "").split("?")[0] ?? "").split("#")[0]) ?? "";
  const hostPort = splitAuthority(authority);
  if (!hostPort) return undefined;
  const port = portOf(hostPort[1], scheme);
  return port === undefined ? undefined : { scheme, host: hostPort[0], port };
}

function splitAuthority(a: string): [string, string] | undefined {
  if (a.startsWith("[")) {
    const close = a.indexOf("]");
    const inner = a.slice(1, close);
    const after = a.slice(close + 1);
    if (close > 1 && IPV6_CHARS.test(inner) && (after === "" || after.startsWith(":"))) return [inner.toLowerCase(), after.slice(1)];
    return undefined;
  }
  const parts = a.split(":");
  if (parts.length > 2) return IPV6_CHARS.test(a) ? [a.toLowerCase(), ""] : undefined;
  const host = parts[0] ?? "";
  return HOST_NAME.test(host) ? [host.toLowerCase(), parts[1] ?? ""] : undefined;
}

function portOf(text: string, scheme: "http" | "https"): number | undefined {
  if (text === "") return scheme === "https" ? 443 : 80;
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * What kind of host this is. "in-cluster": a name that resolves only inside
 * the cluster or a private network (one label, *.svc, *.cluster.local,
 * name.namespace, *.internal: any name whose last label is not a public
 * top-level domain).
 */
export function classifyHost(host: string): HostClass {
  if (host === "localhost" || host.endsWith(".localhost")) return "loopback";
  if (host.includes(":")) return ipv6Class(host);
  const octets = ipv4Octets(host);
  if (octets) return ipv4Class(octets);
  if (numericName(host)) return "ip";
  const labels = host.split(".");
  return labels.length > 1 && PUBLIC_TLDS.has(labels[labels.length - 1] ?? "") ? "public" : "in-cluster";
}

/** A dotted quad as Go reads one: no leading zeros, each part up to 255. */
function ipv4Octets(host: string): [number, number, number, number] | undefined {
  if (!/^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$/.test(host)) return undefined;
  const o = host.split(".").map(Number);
  return o.every((x) => x <= 255) ? (o as [number, number, number, number]) : undefined;
}

/** inet_aton's other spellings of an address ("127.1", "2130706433", "0x7f.1"). */
function numericName(host: string): boolean {
  const labels = host.split(".");
  return /^[0-9]+$/.test(labels[labels.length - 1] ?? "") || labels.some((l) => /^0x[0-9a-f]*$/.test(l));
}

/**
 * The address ranges no public host has, with the class the gateway gives
 * them: one table for classifyHost and for the run's network policies
 * (what a public host's rule excludes, what a name may not resolve to).
 * Disjoint, so an address is in one at most.
 */
export interface NonPublicRange {
  cidr: string;
  class: HostClass;
}

export const NON_PUBLIC_RANGES: readonly NonPublicRange[] = [
  // "this network": Linux connects 0.x.x.x to the host itself
  { cidr: "0.0.0.0/8", class: "loopback" },
  { cidr: "10.0.0.0/8", class: "private-ip" },
  // carrier-grade NAT, where some clusters put pods
  { cidr: "100.64.0.0/10", class: "private-ip" },
  { cidr: "127.0.0.0/8", class: "loopback" },
  // where cloud metadata services answer
  { cidr: "169.254.0.0/16", class: "link-local" },
  { cidr: "172.16.0.0/12", class: "private-ip" },
  { cidr: "192.168.0.0/16", class: "private-ip" },
  // Benchmarking (RFC 2544), used inside some networks, never a public
  // host's. endpoints.rego's ipv4_class reads it as a plain IP and
  // classifyHost must agree with it, so it stays "ip" until the Rego changes.
  { cidr: "198.18.0.0/15", class: "ip" },
  { cidr: "::/128", class: "loopback" },
  { cidr: "::1/128", class: "loopback" },
  { cidr: "fe80::/10", class: "link-local" },
  { cidr: "fc00::/7", class: "private-ip" },
];

/** The table's CIDRs of one family, for a policy's except list or deny rule. */
export function nonPublicCidrs(family: 4 | 6): string[] {
  return NON_PUBLIC_RANGES.filter((r) => r.cidr.includes(":") === (family === 6)).map((r) => r.cidr);
}

/** An address as bytes (4 or 16), or undefined when it is not one. */
function addressBytes(ip: string): number[] | undefined {
  if (ip.includes(":")) return ipv6Words(ip)?.flatMap((w) => [w >> 8, w & 0xff]);
  return ipv4Octets(ip);
}

const PARSED_RANGES = NON_PUBLIC_RANGES.map((r) => {
  const [address = "", bits = ""] = r.cidr.split("/");
  const bytes = addressBytes(address);
  if (!bytes) throw new Error(`NON_PUBLIC_RANGES: ${r.cidr} is not a CIDR`);
  return { range: r, bytes, bits: Number(bits) };
});

function inPrefix(address: number[], prefix: number[], bits: number): boolean {
  if (address.length !== prefix.length) return false;
  for (let i = 0; i * 8 < bits; i++) {
    const mask = bits - i * 8 >= 8 ? 0xff : (0xff << (8 - (bits - i * 8))) & 0xff;
    if (((address[i] ?? 0) & mask) !== ((prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** The table's range an IP address is in, if any (undefined too for what is not an address). */
export function nonPublicRange(ip: string): NonPublicRange | undefined {
  const bytes = addressBytes(ip);
  return bytes ? PARSED_RANGES.find((p) => inPrefix(bytes, p.bytes, p.bits))?.range : undefined;
}

function ipv4Class(o: readonly number[]): HostClass {
  return nonPublicRange(o.join("."))?.class ?? "ip";
}

function ipv6Class(host: string): HostClass {
  const w = ipv6Words(host);
  if (!w) return "ip";
  const own = nonPublicRange(host);
  if (own) return own.class;
  const prefix = w.slice(0, 6).join(",");
  // IPv4-mapped, IPv4-compatible and NAT64 addresses reach the IPv4 address inside.
  if (prefix === "0,0,0,0,0,65535" || prefix === "0,0,0,0,0,0" || prefix === "100,65435,0,0,0,0") {
    const [hi = 0, lo = 0] = w.slice(6);
    return ipv4Class([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  }
  return "ip";
}

/** The eight 16-bit words of an IPv6 address, or undefined. */
function ipv6Words(host: string): number[] | undefined {
  const halves = host.split("::");
  if (halves.length === 1) {
    const w = ipv6Groups(host);
    return w?.length === 8 ? w : undefined;
  }
  if (halves.length !== 2) return undefined;
  const head = ipv6Groups(halves[0] ?? "");
  const tail = ipv6Groups(halves[1] ?? "");
  if (!head || !tail) return undefined;
  const n = 8 - head.length - tail.length;
  return n >= 1 ? [...head, ...new Array<number>(n).fill(0), ...tail] : undefined;
}

function ipv6Groups(s: string): number[] | undefined {
  if (s === "") return [];
  const parts = s.split(":");
  const words: number[] = [];
  for (const [i, p] of parts.entries()) {
    if (/^[0-9a-f]{1,4}$/.test(p)) {
      words.push(parseInt(p, 16));
      continue;
    }
    const o = i === parts.length - 1 ? ipv4Octets(p) : undefined;
    if (!o) return undefined;
    words.push(o[0] * 256 + o[1], o[2] * 256 + o[3]);
  }
  return words;
}

/**
 * A kmcp MCPServer's port: spec.deployment.port (kmcp's CRD defaults it to
 * 3000; kagent refuses 0). kagent dials http://<name>.<namespace>:<port>/mcp
 * (translator/agent/conversion.go ConvertMCPServerToRemoteMCPServer).
 */
export function mcpServerPort(server: unknown): { port: number } | { none: string } {
  const spec = isRecord(server) && isRecord(server.spec) ? server.spec : {};
  const deployment = isRecord(spec.deployment) ? spec.deployment : {};
  const port = deployment.port ?? 3000;
  return typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535 ? { port } : { none: "cannot determine port for the MCPServer (spec.deployment.port)" };
}

/**
 * The port kagent dials on a Service tool server (ConvertServiceToRemoteMCPServer):
 * the annotation kagent.dev/mcp-service-port, else the Service's only port,
 * else the first port whose appProtocol is mcp (any case); the path from
 * kagent.dev/mcp-service-path, default /mcp.
 */
export function mcpServicePort(service: unknown): { port: number; path: string } | { none: string } {
  const metadata = isRecord(service) && isRecord(service.metadata) ? service.metadata : {};
  const annotations = isRecord(metadata.annotations) ? metadata.annotations : {};
  const spec = isRecord(service) && isRecord(service.spec) ? service.spec : {};
  const ports = Array.isArray(spec.ports) ? (spec.ports as unknown[]) : [];
  const path = typeof annotations["kagent.dev/mcp-service-path"] === "string" ? annotations["kagent.dev/mcp-service-path"] : "/mcp";
  let port = 0;
  const annotated = annotations["kagent.dev/mcp-service-port"];
  if (annotated !== undefined) {
    // strconv.ParseInt(s, 10, 64): an optional sign and decimal digits
    if (typeof annotated !== "string" || !/^[+-]?[0-9]+$/.test(annotated)) return { none: "the annotation kagent.dev/mcp-service-port is not a valid integer" };
    port = Number(annotated);
  }
  if (port === 0) {
    const only = ports.length === 1 ? ports[0] : undefined;
    const mcp = ports.find((p) => isRecord(p) && typeof p.appProtocol === "string" && p.appProtocol.toLowerCase() === "mcp");
    const chosen = only ?? mcp;
    port = isRecord(chosen) && typeof chosen.port === "number" ? chosen.port : 0;
  }
  if (port === 0) return { none: "no port found for the Service (no kagent.dev/mcp-service-port annotation, several ports and none with appProtocol mcp)" };
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? { port, path } : { none: `port ${String(port)} is not a TCP port` };
}

/** Where kagent sends a tool server's MCP traffic. */
export function toolServerEndpoint(kind: "RemoteMCPServer" | "MCPServer" | "Service", namespace: string, name: string, server: unknown): ToolServerEndpoint {
  if (kind === "RemoteMCPServer") {
    const url: unknown = isRecord(server) && isRecord(server.spec) ? server.spec.url : undefined;
    const parsed = endpointUrl(url);
    if (typeof url !== "string" || !parsed) return { none: "the RemoteMCPServer's spec.url is not a URL agentgate can judge" };
    const slash = url.indexOf("/", url.indexOf("://") + 3);
    return { host: parsed.host, port: parsed.port, path: slash < 0 ? "/" : url.slice(slash) };
  }
  if (kind === "MCPServer") {
    const found = mcpServerPort(server);
    return "none" in found ? found : { host: `${name}.${namespace}`, port: found.port, path: "/mcp" };
  }
  const found = mcpServicePort(server);
  return "none" in found ? found : { host: `${name}.${namespace}`, port: found.port, path: found.path };
}

/**
 * Top-level domains a public model endpoint can be under: the generic ones
 * in common use and every ISO 3166 country code, plus uk and eu. Any other
 * last label reads as in-cluster. endpoints.rego's public_tlds is the same
 * set (the differential test compares them).
 */
export const PUBLIC_TLDS: ReadonlySet<string> = new Set([
  "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "name", "pro", "mobi", "asia", "tel", "travel", "jobs", "aero", "coop", "museum", "cat",
  "dev", "app", "cloud", "tech", "xyz", "site", "online", "store", "page", "run", "live", "news", "blog", "shop", "space", "website", "host", "zone",
  "digital", "network", "systems", "services", "solutions", "works", "tools", "company", "global", "world", "today", "group", "team", "studio",
  "design", "agency", "media", "top", "one", "link", "click", "icu", "vip", "club", "fun", "art", "inc", "llc", "ltd", "gmbh", "build", "codes",
  "software", "computer", "engineering", "science", "academy", "center", "email", "land", "technology", "directory", "foundation", "institute",
  "google", "amazon", "aws", "microsoft", "azure", "ibm", "nvidia",
  "uk", "eu",
  ..."ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg eh er es et fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug um us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw".split(" "),
]);
