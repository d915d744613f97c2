// Why a file could not be read or written, in words and with the errno
// code, for one-line errors ("--key pub.pem: cannot read: ENOENT (no such
// file)"): the code first, as some messages of src/policy give it alone.
// Shared by the CLI and what it configures (bundle sources, the webhook
// path token), so those need not reach into src/cli/.

const WHY: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "a directory, not a file",
  ENOTDIR: "a part of the path is not a directory",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EEXIST: "already exists",
};

/**
 * "ENOENT (no such file)"; an error without an errno code is its message's
 * first line. Writing, ENOENT means the directory the file goes in is missing.
 */
export function describeFileError(err: unknown, doing: "read" | "write" = "read"): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string") {
    const why = doing === "write" && code === "ENOENT" ? "no such directory" : WHY[code];
    return why !== undefined ? `${code} (${why})` : code;
  }
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}
