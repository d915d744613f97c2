// A request body read within a limit, for every server agentgate runs. A
// body declared too large is refused before a byte is read (the caller
// answers, and the server discards the rest); one that grows past the limit
// without having said so gets no answer: its connection is destroyed, so a
// client that lies about its length cannot make the server read on.
import type { IncomingMessage } from "node:http";
import { AgentgateError } from "../errors.ts";

export class BodyTooLarge extends AgentgateError {
  readonly limit: number;

  constructor(limit: number, declared?: number) {
    super("input", declared !== undefined ? `request body of ${declared} bytes is over the limit of ${limit} bytes` : `request body is over the limit of ${limit} bytes`);
    this.name = "BodyTooLarge";
    this.limit = limit;
  }
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) {
      reject(new BodyTooLarge(limit, declared));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge(limit));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
