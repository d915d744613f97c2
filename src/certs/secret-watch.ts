// Watches one Secret by name so every replica learns of a renewal within
// moments. Each watch starts without a resourceVersion (the API server sends
// the current Secret as ADDED first) and ends on the server's timeout, so a
// missed event costs at most one watch period; the caller's periodic resync
// covers a broken watch too.
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "../log.ts";
import type { SecretRef } from "./secret-store.ts";

export type SecretEvent = "ADDED" | "MODIFIED" | "DELETED";

export interface SecretWatchOptions {
  /** the server ends each watch after this long (seconds) */
  timeoutSeconds?: number;
  /** wait before re-watching after an error */
  retryMs?: number;
}

function isSecret(obj: unknown): obj is k8s.V1Secret {
  return typeof obj === "object" && obj !== null && (obj as { kind?: unknown }).kind === "Secret";
}

export class SecretWatch {
  private stopped = false;
  private abort: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly watch: k8s.Watch;
  private readonly ref: SecretRef;
  private readonly onEvent: (type: SecretEvent, secret: k8s.V1Secret) => void;
  private readonly log: Logger;
  private readonly opts: Required<SecretWatchOptions>;

  constructor(kc: k8s.KubeConfig, ref: SecretRef, onEvent: (type: SecretEvent, secret: k8s.V1Secret) => void, log: Logger, opts: SecretWatchOptions = {}) {
    this.watch = new k8s.Watch(kc);
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
    try {
      this.abort = await this.watch.watch(
        path,
        query,
        (phase: string, obj: unknown) => {
          if ((phase === "ADDED" || phase === "MODIFIED" || phase === "DELETED") && isSecret(obj)) this.onEvent(phase, obj);
        },
        (err: unknown) => {
          if (this.stopped) return;
          if (err) this.log.warn("certificate Secret watch ended; re-watching", { secret: `${this.ref.namespace}/${this.ref.name}`, error: err instanceof Error ? err.message : JSON.stringify(err) });
          this.again(err ? this.opts.retryMs : 0);
        },
      );
    } catch (err) {
      this.log.warn("cannot watch the certificate Secret; retrying", { secret: `${this.ref.namespace}/${this.ref.name}`, error: err instanceof Error ? err.message : String(err) });
      this.again(this.opts.retryMs);
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort?.abort();
  }
}
