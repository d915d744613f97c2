// Where an HTTP/1.1 response ends in the bytes read so far, for the load
// generators that read raw keep-alive connections (paced-generator.ts,
// overload-generator.ts): they measure to the last byte without an HTTP
// client's cost in their event loop.
const CRLFCRLF = Buffer.from("\r\n\r\n");

/**
 * Where the response at the start of `buf` ends, with its status; undefined
 * while it is incomplete. Content-Length or chunked framing (HTTP/1.1).
 */
export function responseEnd(buf: Buffer): { end: number; status: number } | undefined {
  const headerEnd = buf.indexOf(CRLFCRLF);
  if (headerEnd < 0) return undefined;
  const head = buf.toString("latin1", 0, headerEnd);
  const status = Number(head.slice(9, 12));
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const bodyStart = headerEnd + 4;
  if (length) {
    const end = bodyStart + Number(length[1]);
    return buf.length >= end ? { end, status } : undefined;
  }
  if (!/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) throw new Error(`response without Content-Length or chunked encoding: ${head.split("\r\n")[0] ?? ""}`);
  let at = bodyStart;
  for (;;) {
    const lineEnd = buf.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(buf.toString("latin1", at, lineEnd), 16);
    if (Number.isNaN(size)) throw new Error("malformed chunk size in response");
    if (size === 0) {
      // No trailers from either server: the last chunk is followed by CRLF.
      const end = lineEnd + 4;
      return buf.length >= end ? { end, status } : undefined;
    }
    at = lineEnd + 2 + size + 2;
    if (buf.length < at) return undefined;
  }
}
