// Resident memory of the soak's processes over time, from /proc/<pid>/status
// (VmRSS), and its judgement: a process of agentgate's that lived through
// the whole judged span (warm-up's end to the soak's end) may not grow by
// more than the allowed share. Start and end are medians of the samples in a
// window at each end of that span, not single readings, and the windows are
// long (soak.ts: a fifth of the span each): a Node process's RSS swings by
// 20-30 % between major collections (the gateway's 220-290 MB in a 30-minute
// soak), and a window shorter than that cycle would judge its phase.
import { readFile } from "node:fs/promises";

export interface RssWindow {
  /** MB, median of the window's samples; NaN when the process has none there */
  mb: number;
  samples: number;
  /** what the process was doing at the window's last sample (a controller: leader or standby) */
  role: string;
}

export interface RssFigure {
  name: string;
  pid: number;
  judged: boolean;
  start: RssWindow;
  end: RssWindow;
  /** (end - start) / start, when both are known */
  growth: number | undefined;
  /** MB, the median of each step of the span (a minute in the soak's report), for the reader to see the trend */
  steps: number[];
}

interface Series {
  name: string;
  pid: number;
  judged: boolean;
  samples: { at: number; mb: number; role: string }[];
}

export async function rssMb(pid: number): Promise<number | undefined> {
  const text = await readFile(`/proc/${String(pid)}/status`, "utf8").catch(() => undefined);
  const kb = text === undefined ? undefined : /VmRSS:\s+(\d+)/.exec(text)?.[1];
  return kb === undefined ? undefined : Number(kb) / 1024;
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
}

export class RssTracker {
  private readonly series = new Map<string, Series>();

  /**
   * Samples each process now; `judged` says whether its growth may fail the
   * soak (agentgate's own processes), `role` what it does now: a process
   * whose role differs at the two ends is not judged, since a standby that
   * became leader holds the leader's caches and that growth is no leak.
   */
  async sample(processes: readonly { name: string; pid: number; judged: boolean; role?: string }[]): Promise<void> {
    const at = Date.now();
    await Promise.all(processes.map(async ({ name, pid, judged, role = "" }) => {
      const mb = await rssMb(pid);
      if (mb === undefined) return;
      const key = `${name}/${String(pid)}`;
      const s = this.series.get(key) ?? { name, pid, judged, samples: [] };
      s.samples.push({ at, mb, role });
      this.series.set(key, s);
    }));
  }

  /** The latest sample of each process still sampled at `since` or later. */
  current(since: number): { name: string; mb: number }[] {
    return [...this.series.values()].flatMap((s) => {
      const last = s.samples.at(-1);
      return last && last.at >= since ? [{ name: s.name, mb: last.mb }] : [];
    });
  }

  /**
   * Start (the window after `from`) and end (the window before `to`) of every
   * process with samples in both; only those are judged.
   */
  figures(from: number, to: number, windowMs: number, stepMs = 60_000): RssFigure[] {
    const out: RssFigure[] = [];
    for (const s of this.series.values()) {
      const first = s.samples.filter((x) => x.at >= from && x.at < from + windowMs);
      const last = s.samples.filter((x) => x.at > to - windowMs && x.at <= to);
      if (first.length === 0 && last.length === 0) continue;
      const start = { mb: median(first.map((x) => x.mb)), samples: first.length, role: first.at(-1)?.role ?? "" };
      const end = { mb: median(last.map((x) => x.mb)), samples: last.length, role: last.at(-1)?.role ?? "" };
      // Alive before the span began and sampled at its end: a process started later has its own warm-up.
      const whole = (s.samples[0]?.at ?? Infinity) <= from && first.length > 0 && last.length > 0;
      const sameRole = first.every((x) => x.role === start.role) && last.every((x) => x.role === start.role);
      const steps: number[] = [];
      for (let at = from; at < to; at += stepMs) steps.push(Math.round(median(s.samples.filter((x) => x.at >= at && x.at < at + stepMs).map((x) => x.mb))));
      out.push({ name: s.name, pid: s.pid, judged: s.judged && whole && sameRole, start, end, growth: whole ? (end.mb - start.mb) / start.mb : undefined, steps });
    }
    return out;
  }
}
