// What the load generators on raw keep-alive TLS connections share
// (paced-generator.ts, overload-generator.ts; why raw sockets: the head of
// paced-generator.ts): the connection, a request as bytes prepared once,
// order statistics, and running one in a process of its own, forked, with a
// task in over IPC and a result (or an error) out.
import { fork } from "node:child_process";
import { connect, type TLSSocket } from "node:tls";
import { responseEnd } from "./http-response.ts";

export function openConnection(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => resolve(socket));
    socket.setNoDelay(true);
    socket.once("error", reject);
  });
}

/** A JSON POST to the gateway on loopback, request line to body. */
export function postBytes(port: number, path: string, body: string): Buffer {
  const payload = Buffer.from(body);
  return Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${String(port)}\r\nContent-Type: application/json\r\nContent-Length: ${String(payload.length)}\r\n\r\n`), payload]);
}

/** The p-th percentile of ascending values (nearest rank), in ms to the microsecond; 0 of none. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[i] ?? 0) * 1000) / 1000;
}

/** Forks `file` (a generator module), sends it `task`, and resolves with the result it sends back. */
export function runForked<R>(file: string, name: string, task: unknown): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const child = fork(file, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let answered = false;
    child.once("message", (m: { result?: R; error?: string }) => {
      answered = true;
      if (m.result) resolve(m.result);
      else reject(new Error(`${name}: ${m.error ?? "no result"}`));
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      if (!answered) reject(new Error(`${name} exited with ${String(code)} before answering`));
    });
    child.send(task as object);
  });
}

/**
 * In a forked generator: one task in, one result (or error) out, then exit.
 * Does nothing when not forked. The task is what runForked was given, taken
 * on trust as the type `run` reads (both ends are this repository's).
 */
export function answerForked(run: (task: never) => Promise<unknown>): void {
  if (!process.send) return;
  process.once("message", (task: unknown) => {
    run(task as never).then(
      (result) => process.send?.({ result }, () => process.exit(0)),
      (err: unknown) => process.send?.({ error: err instanceof Error ? err.message : String(err) }, () => process.exit(1)),
    );
  });
}

/**
 * Calls `each` with every whole response the connection brings, in order:
 * its status and its bytes. A response that cannot be framed goes to `fail`
 * and nothing more is read.
 */
export function onResponses(socket: TLSSocket, each: (status: number, response: Buffer) => void, fail: (err: Error) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  let broken = false;
  socket.on("data", (chunk: Buffer) => {
    if (broken) return;
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      let found;
      try {
        found = responseEnd(pending);
      } catch (err) {
        broken = true;
        fail(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (!found) return;
      const response = pending.subarray(0, found.end);
      pending = pending.subarray(found.end);
      each(found.status, response);
    }
  });
}
