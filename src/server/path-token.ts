// A path segment for the admission endpoints (`serve
// --webhook-path-token-file`): the API server calls the path its webhook
// configurations name (`/validate/<token>`, `/mutate/<token>`), and the
// gateway answers reviews nowhere else. Webhook configurations are readable
// only with cluster-level roles, so this keeps casual callers (a tenant's
// pod that reaches the Service) out; it is no credential, since the API
// server prints the webhook's URL when a call to it fails. What makes a
// review of one's own making worthless is elsewhere: the validating pass
// re-checks every signature against the real caller, and the gateway signs
// nothing while its webhooks are off (registration-guard.ts).
import { timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { describeFileError } from "../file-errors.ts";
import type { Logger } from "../log.ts";
import { watchFiles, type FileWatch } from "./file-watch.ts";
import { AgentgateError } from "../errors.ts";

export type Endpoint = "validate" | "mutate";

// 160 bits at least, in the characters the API server accepts in a
// webhook's service path segment (a lowercase RFC 1123 subdomain).
const TOKEN = /^[a-z0-9]{32,253}$/;
const RULE = "32 to 253 lowercase letters and digits";

export class PathTokenError extends AgentgateError {
  constructor(message: string) {
    super("input", message);
    this.name = "PathTokenError";
  }
}

function checked(token: string, where: string): string {
  if (!TOKEN.test(token)) throw new PathTokenError(`${where}the webhook path token must be ${RULE} (found ${String(token.length)} characters${token.length > 0 && !/^[a-z0-9]*$/.test(token) ? ", some of them others" : ""})`);
  return token;
}

/**
 * The tokens in a file, one a line (blank lines skipped): the webhooks call
 * with one of them, and a rotation lists the next before the webhooks move
 * to it. A one-line error naming the file otherwise.
 */
export function readPathTokens(file: string): string[] {
  if (file === "") throw new PathTokenError("no file named");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new PathTokenError(`${file}: cannot read: ${describeFileError(err)}`);
  }
  const tokens = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (tokens.length === 0) throw new PathTokenError(`${file}: holds no webhook path token`);
  return tokens.map((t, i) => checked(t, `${file}: line ${String(i + 1)}: `));
}

/**
 * The tokens accepted, read again when their file changes (a Secret
 * mounted as a volume is updated in place; file-watch.ts notices), so a
 * rotation takes effect without a restart. A file that turns unreadable or
 * invalid keeps the tokens in use.
 */
export class PathToken {
  private tokens: readonly string[];
  private watching: FileWatch | undefined;
  private readonly file: string | undefined;

  constructor(tokens: readonly string[], file?: string) {
    if (tokens.length === 0) throw new PathTokenError("no webhook path token");
    this.tokens = tokens.map((t) => checked(t, ""));
    this.file = file;
  }

  static fromFile(file: string): PathToken {
    return new PathToken(readPathTokens(file), file);
  }

  /** Reads the file again; true when the tokens changed. */
  reload(log?: Logger): boolean {
    if (!this.file) return false;
    let tokens: string[];
    try {
      tokens = readPathTokens(this.file);
    } catch (err) {
      log?.warn("webhook path token file changed but cannot be used; keeping the tokens in use", { error: err instanceof Error ? err.message : String(err) });
      return false;
    }
    if (tokens.join("\n") === this.tokens.join("\n")) return false;
    this.tokens = tokens;
    log?.info("webhook path tokens reloaded", { file: this.file, tokens: tokens.length });
    return true;
  }

  start(log: Logger, pollMs = 10_000): void {
    if (this.file) this.watching = watchFiles([this.file], () => this.reload(log), log, "the webhook path token", pollMs);
  }

  stop(): void {
    this.watching?.stop();
  }

  /** The endpoint a request path names with an accepted token; undefined for any other path. */
  match(path: string): Endpoint | undefined {
    const m = /^\/(validate|mutate)\/([^/]+)$/.exec(path);
    if (!m?.[1] || m[2] === undefined) return undefined;
    const given = Buffer.from(m[2]);
    // Every token is compared, so the time taken says nothing of which one nearly matched.
    let found = false;
    for (const token of this.tokens) {
      const want = Buffer.from(token);
      if (given.length === want.length && timingSafeEqual(given, want)) found = true;
    }
    return found ? (m[1] as Endpoint) : undefined;
  }
}
