// What agentgate evaluates, as an OPA capabilities document: OPA's own
// (`opa capabilities --current`) less the builtins that the wasm target
// leaves to the host and that neither agentgate nor the SDK implements. With
// it, `opa check|build --capabilities` refuse such a builtin while the
// policy is written, not when the bundle loads.
import { HOST_BUILTINS } from "./index.ts";

/**
 * Builtins a policy.wasm built by opa v1.22 calls out to the host for (its
 * builtins() table); every other builtin is compiled into the wasm. Measured
 * by compiling a call to every builtin of `opa capabilities --current`
 * (fidelity-capabilities.test.ts repeats the measurement against the opa on
 * this machine and fails when it differs).
 */
export const WASM_HOST_CALLED: ReadonlySet<string> = new Set([
  "base64url.encode_no_pad", "cast_array", "cast_boolean", "cast_null", "cast_object", "cast_set", "cast_string",
  "crypto.hmac.equal", "crypto.hmac.md5", "crypto.hmac.sha1", "crypto.hmac.sha256", "crypto.hmac.sha512",
  "crypto.md5", "crypto.parse_private_keys", "crypto.sha1", "crypto.sha256",
  "crypto.x509.parse_and_verify_certificates", "crypto.x509.parse_and_verify_certificates_with_options",
  "crypto.x509.parse_certificate_request", "crypto.x509.parse_certificates", "crypto.x509.parse_keypair",
  "crypto.x509.parse_rsa_private_key", "glob.quote_meta", "graph.reachable_paths", "graphql.is_valid", "graphql.parse",
  "graphql.parse_and_verify", "graphql.parse_query", "graphql.parse_schema", "graphql.schema_is_valid", "hex.decode",
  "hex.encode", "http.send", "indexof_n", "io.jwt.decode", "io.jwt.decode_verify", "io.jwt.encode_sign",
  "io.jwt.encode_sign_raw", "io.jwt.verify_eddsa", "io.jwt.verify_es256", "io.jwt.verify_es384", "io.jwt.verify_es512",
  "io.jwt.verify_hs256", "io.jwt.verify_hs384", "io.jwt.verify_hs512", "io.jwt.verify_ps256", "io.jwt.verify_ps384",
  "io.jwt.verify_ps512", "io.jwt.verify_rs256", "io.jwt.verify_rs384", "io.jwt.verify_rs512", "json.marshal_with_options",
  "json.match_schema", "json.patch", "json.verify_schema", "net.cidr_contains_matches", "net.cidr_expand",
  "net.cidr_is_valid", "net.cidr_merge", "net.lookup_ip_addr", "numbers.range_step", "object.subset", "opa.runtime",
  "providers.aws.sign_req", "rand.intn", "regex.find_n", "regex.globs_match", "regex.replace", "regex.split",
  "regex.template_match", "rego.parse_module", "semver.compare", "semver.is_valid", "sprintf", "strings.any_prefix_match",
  "strings.any_suffix_match", "strings.count", "strings.render_template", "strings.split_n", "time.add_date", "time.clock",
  "time.date", "time.diff", "time.format", "time.now_ns", "time.parse_duration_ns", "time.parse_ns",
  "time.parse_rfc3339_ns", "time.weekday", "trace", "units.parse", "units.parse_bytes", "uri.is_valid", "uri.parse",
  "urlquery.decode", "urlquery.decode_object", "urlquery.encode", "urlquery.encode_object", "uuid.parse", "uuid.rfc4122",
  "yaml.is_valid", "yaml.marshal", "yaml.unmarshal",
]);

export interface Capabilities {
  builtins: { name: string; [key: string]: unknown }[];
  [key: string]: unknown;
}

/** Whether a policy.wasm calling this builtin evaluates in agentgate. */
export function evaluates(name: string): boolean {
  return !WASM_HOST_CALLED.has(name) || HOST_BUILTINS.has(name);
}

export class CapabilitiesError extends Error {
  constructor(message: string) {
    super(`opa capabilities: ${message}`);
    this.name = "CapabilitiesError";
  }
}

/** OPA's capabilities document narrowed to what agentgate evaluates. */
export function agentgateCapabilities(opa: unknown): Capabilities {
  if (typeof opa !== "object" || opa === null || !Array.isArray((opa as { builtins?: unknown }).builtins)) {
    throw new CapabilitiesError("not a capabilities document (no builtins list)");
  }
  const doc = opa as Capabilities;
  return { ...doc, builtins: doc.builtins.filter((b) => evaluates(b.name)) };
}
