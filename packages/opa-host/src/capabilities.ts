// What agentgate evaluates, as an OPA capabilities document: OPA's own
// (`opa capabilities --current`) less the builtins that the wasm target
// leaves to the host and that agentgate does not implement. With it, `opa
// check|build --capabilities` refuse such a builtin while the policy is
// written, not when the bundle loads.
//
// Which builtins the wasm target leaves to the host is not a list kept here:
// it is measured with the opa that builds the bundles (agentgate's
// cli/capabilities.ts compiles a call to every builtin of its capabilities,
// probeModules below, and reads the policy.wasm's builtins() table). A
// newer opa that moves a builtin to the host, or adds one, therefore drops
// it from agentgate's capabilities until agentgate implements it, instead of
// letting it through as if it were compiled.
import { HOST_BUILTINS } from "./builtins.ts";

export interface Capabilities {
  builtins: { name: string; decl?: { args?: unknown[] }; deprecated?: boolean; [key: string]: unknown }[];
  [key: string]: unknown;
}

/**
 * Builtins no probe can call: the planner compiles them away or specially
 * (unification, assignment, print, membership, template strings) or they
 * belong to OPA's test runner. None reaches the host.
 */
export const NOT_PROBED: ReadonlySet<string> = new Set(["eq", "assign", "equal", "internal.print", "internal.test_case", "internal.template_string", "print", "internal.member_2", "internal.member_3"]);

export class CapabilitiesError extends Error {
  constructor(message: string) {
    super(`opa capabilities: ${message}`);
    this.name = "CapabilitiesError";
  }
}

export function asCapabilities(opa: unknown): Capabilities {
  if (typeof opa !== "object" || opa === null || !Array.isArray((opa as { builtins?: unknown }).builtins)) {
    throw new CapabilitiesError("not a capabilities document (no builtins list)");
  }
  return opa as Capabilities;
}

/**
 * Rego modules calling every probe-able builtin once: `current` for the
 * builtins of Rego v1, `deprecated` (to build with --v0-compatible) for the
 * ones only Rego v0 still has.
 */
export function probeModules(opa: Capabilities): { current: string; deprecated: string } {
  const calls = (list: Capabilities["builtins"], v0: boolean): string =>
    `package probe\n${list
      .map((b, i) => {
        const args = (b.decl?.args ?? []).map((_, k) => `input.a${String(k)}`).join(", ");
        return v0 ? `r${String(i)} = ${b.name}(${args}) { true }` : `r${String(i)} := ${b.name}(${args}) if { true }`;
      })
      .join("\n")}\n`;
  const probed = opa.builtins.filter((b) => !NOT_PROBED.has(b.name));
  return { current: calls(probed.filter((b) => b.deprecated !== true), false), deprecated: calls(probed.filter((b) => b.deprecated === true), true) };
}

/** OPA's capabilities document narrowed to what agentgate evaluates, given the builtins its wasm calls the host for. */
export function agentgateCapabilities(opa: Capabilities, hostCalled: ReadonlySet<string>): Capabilities {
  return { ...opa, builtins: opa.builtins.filter((b) => !hostCalled.has(b.name) || HOST_BUILTINS.has(b.name)) };
}
