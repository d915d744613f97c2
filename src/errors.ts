// One base for agentgate's own errors. The kind says whose mistake it is,
// so the CLI can map it to an exit code (in one place, src/cli/main.ts) and
// a message can say what to do: usage (a flag or config value), input (a
// file, a manifest, key material), policy (a bundle or its config),
// unavailable (a dependency that did not answer), internal (a bug: say so
// rather than blame the user). Anything thrown that is not an
// AgentgateError is judged by src/cli/main.ts too.
export type ErrorKind = "usage" | "input" | "policy" | "unavailable" | "internal";

export interface AgentgateErrorOptions {
  cause?: unknown;
  /**
   * The config field, object field or file the error is about, when it is
   * about one: the domain names its own fields ("pollIntervalMs"), and the
   * CLI, which knows which flag set it, words the message for the user.
   */
  field?: string;
}

export class AgentgateError extends Error {
  readonly kind: ErrorKind;
  readonly field?: string;

  constructor(kind: ErrorKind, message: string, options?: AgentgateErrorOptions) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.kind = kind;
    if (options?.field !== undefined) this.field = options.field;
    this.name = "AgentgateError";
  }
}

/** A flag or config value that is malformed or contradicts another; the message names it. */
export class UsageError extends AgentgateError {
  constructor(message: string, options?: AgentgateErrorOptions) {
    super("usage", message, options);
    this.name = "UsageError";
  }
}

/** A file, manifest or document the user gave that cannot be used; the message names it. */
export class InputError extends AgentgateError {
  constructor(message: string, options?: AgentgateErrorOptions) {
    super("input", message, options);
    this.name = "InputError";
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
