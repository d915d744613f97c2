// One base for agentgate's own errors. The kind says whose mistake it is,
// so the CLI can map it to an exit code and a message can say what to do:
// usage (a flag), input (a file, a manifest, key material), policy (a
// bundle or its config), unavailable (a dependency that did not answer),
// internal (a bug: say so rather than blame the user).
export type ErrorKind = "usage" | "input" | "policy" | "unavailable" | "internal";

export class AgentgateError extends Error {
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = "AgentgateError";
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
