// Watches one Secret by name so every replica learns of a renewal within
// moments. Each watch starts without a resourceVersion (the API server sends
// the current Secret as ADDED first) and ends on the server's timeout, so a
// missed event costs at most one watch period; the caller's periodic resync
// covers a broken watch too.
import type * as k8s from "@kubernetes/client-node";
import type { KubeApi, WatchEvent } from "../kube/api.ts";
import type { Logger } from "../log.ts";
import type { SecretRef } from "./secret-store.ts";

export type SecretEvent = "ADDED" | "MODIFIED" | "DELETED";

export interface SecretWatchOptions {
  /** the server ends each watch after this long (seconds) */
  timeoutSeconds?: number;
  /** wait before re-watching after an error */
  retryMs?: number;
}

/**
 * A watch with no event this long is given up and started again, as
 * client-node's watch did (30 s): a connection that died without a word
 * would otherwise hang it until TCP gives up. Never before the server's own
 * end of the watch is due.
 */
const SILENT_WATCH_MS = 30_000;

function isSecret(obj: unknown): obj is k8s.V1Secret {
  return typeof obj === "object" && obj !== null && (obj as { kind?: unknown }).kind === "Secret";
}

export class SecretWatch {
  private stopped = false;
  private abort: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly api: KubeApi;
  private readonly ref: SecretRef;
  private readonly onEvent: (type: SecretEvent, secret: k8s.V1Secret) => void;
  private readonly log: Logger;
  private readonly opts: Required<SecretWatchOptions>;

  constructor(api: KubeApi, ref: SecretRef, onEvent: (type: SecretEvent, secret: k8s.V1Secret) => void, log: Logger, opts: SecretWatchOptions = {}) {
    this.api = api;
    this.ref = ref;
    this.onEvent = onEvent;
    this.log = log;
    this.opts = { timeoutSeconds: opts.timeoutSeconds ?? 25, retryMs: opts.retryMs ?? 2000 };
  }

  start(): void {
    void this.run();
  }

  private again(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.run(), delayMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    const path = `/api/v1/namespaces/${encodeURIComponent(this.ref.namespace)}/secrets`;
    const query = { fieldSelector: `metadata.name=${this.ref.name}`, timeoutSeconds: this.opts.timeoutSeconds };
    const abort = new AbortController();
    this.abort = abort;
    let timedOut = false;
    const silentMs = Math.max(SILENT_WATCH_MS, this.opts.timeoutSeconds * 1000 + 5000);
    let silence: NodeJS.Timeout | undefined;
    const listen = (): void => {
      clearTimeout(silence);
      silence = setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, silentMs);
      silence.unref();
    };
    listen();
    await this.api
      .watch(
        path,
        query,
        (event: WatchEvent) => {
          listen();
          const { type, object } = event;
          if (!((type === "ADDED" || type === "MODIFIED" || type === "DELETED") && isSecret(object))) return;
          try {
            this.onEvent(type, object);
          } catch {
            // Not a reason to end the watch: the caller's round reads the Secret again and reports what fails.
          }
        },
        { signal: abort.signal, onConnected: listen },
      )
      .then(
        // The server ended the watch (its timeout): watch again at once.
        () => { this.again(0); },
        (err: unknown) => {
          if (this.stopped) return;
          const error = timedOut ? "The operation was aborted due to timeout" : err instanceof Error ? err.message : JSON.stringify(err);
          this.log.warn("certificate Secret watch ended; re-watching", { secret: `${this.ref.namespace}/${this.ref.name}`, error });
          this.again(this.opts.retryMs);
        },
      )
      .finally(() => { clearTimeout(silence); });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort?.abort();
  }
}
