// The bearer token kagent's trusted-proxy auth mode requires
// (go/core/internal/httpserver/auth/proxy_authn.go, v0.9.4 on: an
// `Authorization: Bearer <three-part JWT>` on every A2A call, else 401): a
// projected ServiceAccount token read from its file. The kubelet rotates such
// a token by swapping the file (an atomic symlink change), so the file is
// stat'ed on every call and read again when it is another file or changed;
// a token is also never kept longer than maxAgeMs.
import { readFile, stat } from "node:fs/promises";

export interface TokenFileOptions {
  /** read the file again at least this often even if it looks unchanged; default 60 s */
  maxAgeMs?: number;
  /** for tests */
  now?: () => number;
}

/** A function that yields the current token; it rejects with the file's path and the reason. */
export type TokenSource = () => Promise<string>;

export function tokenFromFile(path: string, opts: TokenFileOptions = {}): TokenSource {
  const maxAgeMs = opts.maxAgeMs ?? 60_000;
  const now = opts.now ?? Date.now;
  let cached: { token: string; key: string; readAt: number } | undefined;
  return async () => {
    let key: string;
    try {
      const s = await stat(path);
      key = `${String(s.dev)}:${String(s.ino)}:${String(s.size)}:${String(s.mtimeMs)}`;
    } catch (err) {
      throw new Error(`bearer token file ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (cached && cached.key === key && now() - cached.readAt < maxAgeMs) return cached.token;
    let token: string;
    try {
      token = (await readFile(path, "utf8")).trim();
    } catch (err) {
      throw new Error(`bearer token file ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (token === "") throw new Error(`bearer token file ${path} is empty`);
    cached = { token, key, readAt: now() };
    return token;
  };
}
