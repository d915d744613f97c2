// Durations in agentgate's flags, configs and CRDs (the signing-key rotation,
// certificate lifetimes, AgentConfig.spec.timeout, guardrail
// budgets). They are parsed by the OPA host's Go-duration parser, not by a
// second one here, because the same strings are read by Rego policies
// through time.parse_duration_ns: "15m" or "2d" must mean the same to the
// controller and the CLI as to the policy that judges them.
export { DurationError, parseDurationNs, parseExtendedDurationNs } from "@agentgate/opa-host/duration";
