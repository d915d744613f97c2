// How a long-running process ends: on SIGTERM or SIGINT it stops what it
// runs and the exit code says how that went; or it ends on its own (the
// controller's lost Lease). Bounded either way, so a write in flight or an
// unreachable API server cannot keep a pod past its grace period.
import type { Logger } from "../log.ts";

/** What a started process hands its runner. */
export interface Running {
  /** stops it; resolves once nothing more will be done */
  stop(): Promise<void>;
  /** settles with an exit code when it ends on its own, before any signal */
  ended?: Promise<number>;
}

export interface SignalOptions {
  log: Logger;
  /** the log line at the signal, e.g. "shutting down" */
  message: string;
  fields?: Record<string, unknown>;
  /** after the signal, exit 0 this much later even if stop() has not finished */
  graceMs?: number;
  /** after stopping, exit with its code this much later even if a socket or a library timer is still open */
  exitAfterMs?: number;
}

const SIGNALS = ["SIGTERM", "SIGINT"] as const;

/** Resolves with the exit code: 0 when stopped by a signal, 1 when stop() failed, else the process's own. */
export async function runUntilSignal(running: Running, opts: SignalOptions): Promise<number> {
  let onSignal: (signal: string) => void = () => undefined;
  const signalled = new Promise<string>((resolve) => { onSignal = resolve; });
  const listeners = SIGNALS.map((s) => [s, () => { onSignal(s); }] as const);
  for (const [s, listener] of listeners) process.once(s, listener);
  const outcome = await Promise.race([signalled.then((signal) => ({ signal })), ...(running.ended ? [running.ended.then((code) => ({ code }))] : [])]);
  // Once decided, a later signal is the default one again: a second Ctrl-C ends a stop that hangs.
  for (const [s, listener] of listeners) process.removeListener(s, listener);
  let code: number;
  if ("code" in outcome) {
    code = outcome.code;
  } else {
    opts.log.info(opts.message, { signal: outcome.signal, ...opts.fields });
    if (opts.graceMs !== undefined) setTimeout(() => process.exit(0), opts.graceMs).unref();
    code = await running.stop().then(() => 0, () => 1);
  }
  if (opts.exitAfterMs !== undefined) setTimeout(() => process.exit(code), opts.exitAfterMs).unref();
  return code;
}
