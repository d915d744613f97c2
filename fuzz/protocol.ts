// What the fuzz runner and its worker threads share: the worker's
// parameters, the layout of the memory the runner reads the current input
// from, and the report a worker ends with.
import type { FailureKind } from "./engine.ts";

export interface WorkerData {
  target: string;
  seed: number;
  runs?: number;
  seconds?: number;
  /** the header (HEADER_BYTES), then the current input's bytes */
  shared: SharedArrayBuffer;
}

/** [execs, input length, stop] as Int32 from byte 0; the current input's start (ms since the epoch, 0 between inputs) as a Float64 at STARTED_AT */
export const COUNTERS = 3;
export const STARTED_AT = 16;
export const HEADER_BYTES = 24;

/** A failure as a worker posts it the moment it is found. */
export interface WorkerFailure {
  type: "failure";
  kind: FailureKind;
  message: string;
  stack: string;
  signature: string;
  input: Uint8Array;
}

export interface WorkerReport {
  type: "done";
  execs: number;
  elapsedMs: number;
  corpusSize: number;
  seeds: number;
  outcomes: number;
  slowestMs: number;
  slowestInput?: Uint8Array;
  /** how many distinct failures were posted */
  failures: number;
}
