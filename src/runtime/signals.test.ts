import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import winston from "winston";
import { runUntilSignal, type Running } from "./signals.ts";

/** A logger that keeps its lines, as JSON objects. */
function recorder(): { log: winston.Logger; lines: { message: unknown; signal?: unknown }[] } {
  const lines: { message: unknown; signal?: unknown }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, next) {
      lines.push(JSON.parse(chunk.toString()) as { message: unknown; signal?: unknown });
      next();
    },
  });
  return { log: winston.createLogger({ format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] }), lines };
}

/** A process that counts its stops and stops as told. */
function process_(stop: () => Promise<void>, ended?: Promise<number>): Running & { stops: () => number } {
  let stops = 0;
  return { stop: () => { stops++; return stop(); }, ...(ended ? { ended } : {}), stops: () => stops };
}

const signalSoon = (signal: "SIGTERM" | "SIGINT"): void => { setImmediate(() => process.emit(signal)); };

test("a process that ends on its own (a lost Lease) exits with its own code, unstopped", async () => {
  const { log } = recorder();
  const p = process_(() => Promise.resolve(), Promise.resolve(7));
  assert.equal(await runUntilSignal(p, { log, message: "shutting down" }), 7);
  assert.equal(p.stops(), 0);
});

test("SIGTERM stops it and exits 0, logging the signal", async () => {
  const { log, lines } = recorder();
  const p = process_(() => Promise.resolve());
  signalSoon("SIGTERM");
  assert.equal(await runUntilSignal(p, { log, message: "shutting down" }), 0);
  assert.equal(p.stops(), 1);
  assert.deepEqual(lines.map((l) => [l.message, l.signal]), [["shutting down", "SIGTERM"]]);
});

test("SIGINT whose stop fails exits 1, and the runner's signal listeners are gone afterwards", async () => {
  const { log } = recorder();
  const before = process.listenerCount("SIGINT");
  const p = process_(() => Promise.reject(new Error("lease write refused")));
  signalSoon("SIGINT");
  assert.equal(await runUntilSignal(p, { log, message: "shutting down" }), 1);
  assert.equal(process.listenerCount("SIGINT"), before);
  assert.equal(process.listenerCount("SIGTERM"), 0);
});
