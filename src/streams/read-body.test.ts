import assert from "node:assert/strict";
import { createServer, request, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import test from "node:test";
import { BodyTooLarge, readBody } from "./read-body.ts";

/** A server reading each body with a 10-byte limit, answering 413 or the body. */
async function withServer(run: (port: number, seen: unknown[]) => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    readBody(req, 10).then(
      (body) => res.end(body),
      (err: unknown) => {
        seen.push(err);
        if (!res.destroyed) res.writeHead(413).end(err instanceof Error ? err.message : "");
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await run((server.address() as AddressInfo).port, seen);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

test("a body within the limit is read whole", async () => {
  await withServer(async (port) => {
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "0123456789" });
    assert.equal(await res.text(), "0123456789");
  });
});

test("a body declared over the limit is refused before it is read, and answered", async () => {
  await withServer(async (port, seen) => {
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "x".repeat(11) });
    assert.equal(res.status, 413);
    assert.equal(await res.text(), "request body of 11 bytes is over the limit of 10 bytes");
    assert.ok(seen[0] instanceof BodyTooLarge);
  });
});

test("a body that grows past the limit without saying so loses its connection", async () => {
  await withServer(async (port, seen) => {
    const outcome = await new Promise<string>((resolve) => {
      const req = request({ host: "127.0.0.1", port, method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => resolve(`answered ${res.statusCode ?? 0}`));
      req.on("error", () => resolve("connection lost"));
      req.write("x".repeat(8));
      setTimeout(() => req.write("x".repeat(8)), 20);
    });
    assert.equal(outcome, "connection lost");
    assert.match(String(seen[0]), /request body is over the limit of 10 bytes/);
  });
});
