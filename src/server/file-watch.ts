// Files mounted from a Secret or ConfigMap that change under a running
// server. Kubernetes updates such a mount by swapping a symlink, so the
// directory is watched, not the file, and a poll backs the watch up (some
// filesystems send no events). Changes are debounced: the files of a pair
// land one after the other. Used by every reloader, so they all notice a
// change the same way.
import { watch, type FSWatcher } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "../log.ts";

export interface FileWatch {
  stop(): void;
}

/** Calls `onChange` (debounced by `debounceMs`) when any of `files` may have changed; `what` names them in a warning. */
export function watchFiles(files: readonly string[], onChange: () => void, log: Logger, what: string, pollMs = 10_000, debounceMs = 200): FileWatch {
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
    timer.unref();
  };
  for (const dir of new Set(files.map((f) => dirname(f)))) {
    try {
      watchers.push(watch(dir, schedule));
    } catch (err) {
      log.warn(`cannot watch the directory of ${what}; polling only`, { dir, error: String(err) });
    }
  }
  const poll = setInterval(schedule, pollMs);
  poll.unref();
  return {
    stop() {
      for (const w of watchers) w.close();
      clearTimeout(timer);
      clearInterval(poll);
    },
  };
}
