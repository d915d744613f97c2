// A secret path segment for the admission endpoints (`serve
// --webhook-path-token-file`). The API server calls the path its webhook
// configurations name (`/validate/<token>`, `/mutate/<token>`); reading
// those is a cluster-scoped permission no namespace role grants, so a pod
// in a tenant namespace that reaches the gateway's Service cannot send it a
// review of its own making: the gateway signs decisions, creators and
// approvals in its answers, and judges them from the request's userInfo.
// It works on every cluster, where client certificates (--client-ca-file)
// need the API server's admission configuration.
import { timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";

export type Endpoint = "validate" | "mutate";

// 160 bits at least, in the characters the API server accepts in a
// webhook's service path segment (a lowercase RFC 1123 subdomain).
const TOKEN = /^[a-z0-9]{32,253}$/;
const RULE = "32 to 253 lowercase letters and digits";

export class PathTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PathTokenError";
  }
}

/** The token in a file: one line, trimmed; a one-line error naming the file otherwise. */
export function readPathToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new PathTokenError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const token = text.trim();
  if (!TOKEN.test(token)) throw new PathTokenError(`${file}: the webhook path token must be ${RULE} (found ${String(token.length)} characters${token.length > 0 && !/^[a-z0-9]*$/.test(token) ? ", some of them others" : ""})`);
  return token;
}

/**
 * The token, read again when its file changes (a Secret mounted as a volume
 * is updated in place), so a rotated token takes effect without a restart.
 * A file that turns unreadable keeps the last good token.
 */
export class PathToken {
  private token: string;
  private mtimeMs: number;
  private readonly file: string | undefined;

  constructor(token: string, file?: string) {
    if (!TOKEN.test(token)) throw new PathTokenError(`the webhook path token must be ${RULE}`);
    this.token = token;
    this.file = file;
    this.mtimeMs = file ? statSync(file).mtimeMs : 0;
  }

  static fromFile(file: string): PathToken {
    return new PathToken(readPathToken(file), file);
  }

  private current(): string {
    if (!this.file) return this.token;
    try {
      const mtimeMs = statSync(this.file).mtimeMs;
      if (mtimeMs !== this.mtimeMs) {
        this.token = readPathToken(this.file);
        this.mtimeMs = mtimeMs;
      }
    } catch {
      // keep the last good token
    }
    return this.token;
  }

  /** The endpoint a request path names with the right token; undefined for any other path. */
  match(path: string): Endpoint | undefined {
    const m = /^\/(validate|mutate)\/([^/]+)$/.exec(path);
    if (!m?.[1] || m[2] === undefined) return undefined;
    const given = Buffer.from(m[2]);
    const want = Buffer.from(this.current());
    return given.length === want.length && timingSafeEqual(given, want) ? (m[1] as Endpoint) : undefined;
  }
}
