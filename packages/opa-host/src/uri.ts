// uri.parse and uri.is_valid as OPA's topdown/uri.go answers them, with Go's
// url.Parse (net/url, Go 1.26, which builds opa v1.22: strict colons in an
// http(s) host). Go works on bytes, so the algorithm runs on the UTF-8 bytes
// of the string (held one byte per character) and unescaped results are
// read back as UTF-8.
import { BuiltinError, stringOperand, type RegoBuiltin } from "./operands.ts";
import { parseAddr } from "./go-net.ts";
import { RegoObject, type RegoValue } from "./rego-value.ts";

type Mode = "path" | "pathSegment" | "host" | "zone" | "userPassword" | "queryComponent" | "fragment";

class UrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UrlError";
  }
}

const isAlnum = (c: string): boolean => /^[A-Za-z0-9]$/.test(c);
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9A-Fa-f]$/.test(c);

/** net/url's shouldEscape (gen_encoding_table.go), c one byte. */
function shouldEscape(c: string, mode: Mode): boolean {
  if (isAlnum(c)) return false;
  if ((mode === "host" || mode === "zone") && "!$&'()*+,;=:[]<>\"".includes(c)) return false;
  if ("-_.~".includes(c)) return false;
  if ("$&+,/:;=?@".includes(c)) {
    if (mode === "path") return c === "?";
    if (mode === "pathSegment") return "/;,?".includes(c);
    if (mode === "userPassword") return "@/?:".includes(c);
    if (mode === "queryComponent") return true;
    if (mode === "fragment") return false;
  }
  if (mode === "fragment" && "!()*".includes(c)) return false;
  return true;
}

const quote = (s: string): string => JSON.stringify(Buffer.from(s, "latin1").toString("utf8"));

/** net/url's unescape, on bytes. */
function unescape(s: string, mode: Mode): string {
  for (let i = 0; i < s.length; ) {
    const c = s.charAt(i);
    if (c === "%") {
      if (i + 2 >= s.length || !isHex(s[i + 1]) || !isHex(s[i + 2])) throw new UrlError(`invalid URL escape ${quote(s.slice(i, i + 3))}`);
      const v = parseInt(s.slice(i + 1, i + 3), 16);
      if (mode === "host" && v < 0x80 && s.slice(i, i + 3) !== "%25") throw new UrlError(`invalid URL escape ${quote(s.slice(i, i + 3))}`);
      if (mode === "zone" && s.slice(i, i + 3) !== "%25" && v !== 0x20 && shouldEscape(String.fromCharCode(v), "host")) {
        throw new UrlError(`invalid URL escape ${quote(s.slice(i, i + 3))}`);
      }
      i += 3;
    } else {
      if ((mode === "host" || mode === "zone") && c.charCodeAt(0) < 0x80 && shouldEscape(c, mode)) throw new UrlError(`invalid character ${quote(c)} in host name`);
      i++;
    }
  }
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (c === "%") {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === "+") {
      out += mode === "queryComponent" ? " " : "+";
    } else {
      out += c;
    }
  }
  return out;
}

function escape(s: string, mode: Mode): string {
  let out = "";
  for (const c of s) {
    if (c === " " && mode === "queryComponent") out += "+";
    else if (shouldEscape(c, mode)) out += `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;
    else out += c;
  }
  return out;
}

function validOptionalPort(port: string): boolean {
  return port === "" || /^:[0-9]*$/.test(port);
}

function parseHost(scheme: string, host: string): string {
  const open = host.lastIndexOf("[");
  if (open > 0) throw new UrlError("invalid IP-literal");
  if (open === 0) {
    const close = host.lastIndexOf("]");
    if (close < 0) throw new UrlError("missing ']' in host");
    const colonPort = host.slice(close + 1);
    if (!validOptionalPort(colonPort)) throw new UrlError(`invalid port ${quote(colonPort)} after host`);
    const unescapedPort = unescape(colonPort, "host");
    const hostname = host.slice(1, close);
    const zone = hostname.indexOf("%25");
    const unescaped = zone >= 0 ? unescape(hostname.slice(0, zone), "host") + unescape(hostname.slice(zone), "zone") : unescape(hostname, "host");
    const pct = unescaped.indexOf("%");
    const addr = parseAddr(pct >= 0 ? unescaped.slice(0, pct) : unescaped);
    // netip.ParseAddr takes a zone after %, which must not be empty; an IPv4 literal is refused.
    if (!addr || (pct >= 0 && (addr.is4 || pct === unescaped.length - 1))) throw new UrlError(`invalid host: ${quote(unescaped)}`);
    if (addr.is4) throw new UrlError("invalid IP-literal");
    return `[${unescaped}]${unescapedPort}`;
  }
  let i = host.indexOf(":");
  if (i !== -1) {
    const last = host.lastIndexOf(":");
    // Go 1.26 (urlstrictcolons): only the first colon of an http(s) host may start the port.
    if (last !== i && scheme !== "http" && scheme !== "https") i = last;
    const colonPort = host.slice(i);
    if (!validOptionalPort(colonPort)) throw new UrlError(`invalid port ${quote(colonPort)} after host`);
  }
  return unescape(host, "host");
}

function validUserinfo(s: string): boolean {
  return /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(s);
}

interface Url {
  scheme: string;
  host: string;
  path: string;
  rawPath: string;
  rawQuery: string;
  fragment: string;
}

function getScheme(raw: string): [string, string] {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charAt(i);
    if (/^[A-Za-z]$/.test(c)) continue;
    if (/^[0-9+\-.]$/.test(c)) {
      if (i === 0) return ["", raw];
      continue;
    }
    if (c === ":") {
      if (i === 0) throw new UrlError("missing protocol scheme");
      return [raw.slice(0, i), raw.slice(i + 1)];
    }
    return ["", raw];
  }
  return ["", raw];
}

/** url.Parse on a byte string. */
function parseUrl(rawURL: string): Url {
  const hash = rawURL.indexOf("#");
  const [u, frag] = hash < 0 ? [rawURL, ""] : [rawURL.slice(0, hash), rawURL.slice(hash + 1)];
  const url: Url = { scheme: "", host: "", path: "", rawPath: "", rawQuery: "", fragment: "" };
  // eslint-disable-next-line no-control-regex -- Go refuses ASCII control bytes in a URL
  if (/[\x00-\x1f\x7f]/.test(u)) throw new UrlError("net/url: invalid control character in URL");
  if (u === "*") {
    url.path = "*";
  } else {
    let [scheme, rest] = getScheme(u);
    url.scheme = scheme.toLowerCase();
    scheme = url.scheme;
    if (rest.endsWith("?") && rest.split("?").length === 2) {
      rest = rest.slice(0, -1);
    } else {
      const q = rest.indexOf("?");
      if (q >= 0) {
        url.rawQuery = rest.slice(q + 1);
        rest = rest.slice(0, q);
      }
    }
    let opaque = false;
    if (!rest.startsWith("/")) {
      if (scheme !== "") opaque = true;
      else if ((rest.split("/")[0] ?? "").includes(":")) throw new UrlError("first path segment in URL cannot contain colon");
    }
    if (!opaque) {
      if ((scheme !== "" || !rest.startsWith("///")) && rest.startsWith("//")) {
        let authority = rest.slice(2);
        rest = "";
        const slash = authority.indexOf("/");
        if (slash >= 0) {
          rest = authority.slice(slash);
          authority = authority.slice(0, slash);
        }
        const at = authority.lastIndexOf("@");
        url.host = parseHost(scheme, at < 0 ? authority : authority.slice(at + 1));
        if (at >= 0) {
          const userinfo = authority.slice(0, at);
          if (!validUserinfo(userinfo)) throw new UrlError("net/url: invalid userinfo");
          for (const part of userinfo.includes(":") ? userinfo.split(/:(.*)/s).slice(0, 2) : [userinfo]) unescape(part, "userPassword");
        }
      }
      const path = unescape(rest, "path");
      url.path = path;
      url.rawPath = escape(path, "path") === rest ? "" : rest;
    }
  }
  if (frag !== "") url.fragment = unescape(frag, "fragment");
  return url;
}

function splitHostPort(hostPort: string): [string, string] {
  let host = hostPort;
  let port = "";
  const colon = host.lastIndexOf(":");
  if (colon !== -1 && validOptionalPort(host.slice(colon))) {
    port = host.slice(colon + 1);
    host = host.slice(0, colon);
  }
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return [host, port];
}

const bytesOf = (s: string): string => Buffer.from(s, "utf8").toString("latin1");
const textOf = (b: string): string => new TextDecoder().decode(Buffer.from(b, "latin1"));

function parse(s: string): RegoValue {
  let url: Url;
  try {
    url = parseUrl(bytesOf(s));
  } catch (err) {
    if (err instanceof UrlError) throw new BuiltinError("uri.parse", `parse ${JSON.stringify(s)}: ${err.message}`);
    throw err;
  }
  const [hostname, port] = splitHostPort(url.host);
  const entries: [string, string][] = [];
  if (url.scheme !== "") entries.push(["scheme", url.scheme]);
  if (hostname !== "") entries.push(["hostname", hostname]);
  if (port !== "") entries.push(["port", port]);
  if (url.path !== "") entries.push(["path", url.path], ["raw_path", url.rawPath === "" ? url.path : url.rawPath]);
  if (url.rawQuery !== "") entries.push(["raw_query", url.rawQuery]);
  if (url.fragment !== "") entries.push(["fragment", url.fragment]);
  return new RegoObject(entries.map(([k, v]) => [k, textOf(v)] as const));
}

export const URI_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "uri.parse": (s) => parse(stringOperand("uri.parse", s, 1)),
  "uri.is_valid": (s) => {
    if (typeof s !== "string" || s === "") return false;
    try {
      parseUrl(bytesOf(s));
      return true;
    } catch (err) {
      if (err instanceof UrlError) return false;
      throw err;
    }
  },
};
