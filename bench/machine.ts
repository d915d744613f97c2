// What the machine was doing while a benchmark ran: the CPU time the
// hypervisor stole, the load average, and which other processes (not this
// benchmark's own tree) burnt CPU meanwhile. On a shared 2-core guest these
// explain most of the spread between runs, so the scale benchmarks print
// them beside every figure rather than leave the reader to guess.
import { readdir, readFile } from "node:fs/promises";
import { loadavg } from "node:os";

const TICKS_PER_SECOND = 100;

interface CpuTimes {
  total: number;
  steal: number;
  /** user, nice, system, irq, softirq: time some process or the kernel ran */
  busy: number;
}

/** Per process: CPU ticks so far, its parent and its name. */
interface ProcessTicks {
  ppid: number;
  name: string;
  ticks: number;
}

export interface MachineSample {
  at: number;
  cpu: CpuTimes;
  load: number[];
  processes: Map<number, ProcessTicks>;
  own: number;
}

export interface OtherWork {
  pid: number;
  name: string;
  cpuSeconds: number;
}

export interface MachineReport {
  seconds: number;
  /** share of all CPUs' time the hypervisor gave to other guests, % */
  stealPercent: number;
  loadBefore: number[];
  loadAfter: number[];
  /** processes outside this benchmark's tree, still running at the end, that used ≥ 1 CPU-second, busiest first */
  otherWork: OtherWork[];
  /** CPU-seconds the machine spent on anything but this benchmark's processes (those that exited meanwhile too), and as cores busy on average */
  otherCpuSeconds: number;
  otherCores: number;
}

async function cpuTimes(): Promise<CpuTimes> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const t = (i: number) => ticks[i] ?? 0;
  return { total: ticks.reduce((a, b) => a + b, 0), steal: t(7), busy: t(0) + t(1) + t(2) + t(5) + t(6) };
}

/** CPU ticks of this process and its children, including the children it has reaped (cutime, cstime). */
async function ownTicks(table: Map<number, ProcessTicks>): Promise<number> {
  const text = await readFile("/proc/self/stat", "utf8");
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  let ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  for (const [pid, p] of table) if (pid !== process.pid && isOurs(pid, table)) ticks += p.ticks;
  return ticks;
}

async function processTicks(): Promise<Map<number, ProcessTicks>> {
  const out = new Map<number, ProcessTicks>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // comm is in parentheses and may hold spaces: fields are counted after its closing one
    const close = text.lastIndexOf(")");
    if (close < 0) continue;
    const name = text.slice(text.indexOf("(") + 1, close);
    const fields = text.slice(close + 2).split(" ");
    // utime + stime only: a shell's cutime/cstime would count its finished children again
    out.set(Number(entry), { ppid: Number(fields[1]), name, ticks: Number(fields[11]) + Number(fields[12]) });
  }
  return out;
}

export async function sampleMachine(): Promise<MachineSample> {
  const processes = await processTicks();
  return { at: performance.now(), cpu: await cpuTimes(), load: loadavg(), processes, own: await ownTicks(processes) };
}

/** Whether pid descends from this process (the benchmark's children: control plane, controller, gateway). */
function isOurs(pid: number, table: Map<number, ProcessTicks>): boolean {
  for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
    if (p === process.pid) return true;
    const next = table.get(p)?.ppid;
    if (next === undefined) return false;
    p = next;
  }
  return false;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;

export async function machineSince(before: MachineSample): Promise<MachineReport> {
  const after = await sampleMachine();
  const seconds = (after.at - before.at) / 1000;
  const total = after.cpu.total - before.cpu.total;
  const other: OtherWork[] = [];
  for (const [pid, p] of after.processes) {
    // The control plane's children run in process groups of their own but keep their parent: ours too.
    if (pid === process.pid || isOurs(pid, after.processes)) continue;
    const used = (p.ticks - (before.processes.get(pid)?.ticks ?? 0)) / TICKS_PER_SECOND;
    if (used >= 1) other.push({ pid, name: p.name, cpuSeconds: round1(used) });
  }
  other.sort((a, b) => b.cpuSeconds - a.cpuSeconds);
  // Busy time less ours: also counts processes that came and went between the samples.
  const otherCpuSeconds = round1(Math.max(0, after.cpu.busy - before.cpu.busy - (after.own - before.own)) / TICKS_PER_SECOND);
  return {
    seconds: round1(seconds),
    stealPercent: total > 0 ? round1(((after.cpu.steal - before.cpu.steal) / total) * 100) : 0,
    loadBefore: before.load.map(round2),
    loadAfter: after.load.map(round2),
    otherWork: other.slice(0, 8),
    otherCpuSeconds,
    otherCores: seconds > 0 ? round2(otherCpuSeconds / seconds) : 0,
  };
}

export function describeMachine(m: MachineReport): string {
  const others = m.otherCpuSeconds < 1 ? "no other work" : `other work ${String(m.otherCpuSeconds)} CPU-s (${String(m.otherCores)} cores on average${m.otherWork.length > 0 ? `; still running: ${m.otherWork.slice(0, 4).map((o) => `${o.name} ${String(o.cpuSeconds)} s`).join(", ")}` : ""})`;
  return `${String(m.seconds)} s; steal ${String(m.stealPercent)} %; load ${m.loadBefore.join(" ")} → ${m.loadAfter.join(" ")}; ${others}`;
}

/** VmRSS and VmHWM of a process, in MB (undefined once it is gone). */
export async function processMemory(pid: number): Promise<{ rssMb: number; hwmMb: number } | undefined> {
  const text = await readFile(`/proc/${String(pid)}/status`, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1] ?? Number.NaN);
  return { rssMb: kb("VmRSS") / 1024, hwmMb: kb("VmHWM") / 1024 };
}
