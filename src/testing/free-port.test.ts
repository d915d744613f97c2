import { test } from "node:test";
import assert from "node:assert/strict";
import { freePort } from "./free-port.ts";

test("a port is handed out once in a process, however often the kernel offers it again", async () => {
  const ports: number[] = [];
  for (let i = 0; i < 500; i++) ports.push(await freePort());
  assert.equal(new Set(ports).size, ports.length);
  for (const port of ports) assert.ok(port > 0 && port < 65536, String(port));
});
