// What the benchmarks read about the processes they started, from /proc
// (Linux): CPU time, resident memory, child processes. A process is named by
// its pid and its start time together, so that a recycled pid is never read
// as, or signalled in place of, the one the bench started.
import { readdirSync, readFileSync } from "node:fs";

export interface ProcessId {
  pid: number;
  /** Clock ticks since boot at which the process started (field 22 of /proc/<pid>/stat). */
  startTime: string;
}

/** utime and stime are in clock ticks, 100 per second on Linux (USER_HZ). */
const TICKS_PER_SECOND = 100;

interface Stat {
  state: string;
  ppid: number;
  startTime: string;
  cpuTicks: number;
}

/** The process with this pid as it is now, or undefined when there is none. */
export function processId(pid: number): ProcessId | undefined {
  const stat = readStat(pid);
  return stat === undefined || stat.state === "Z" ? undefined : { pid, startTime: stat.startTime };
}

/** True while the process runs (a zombie has finished: it only waits to be reaped). */
export function isRunning(target: ProcessId): boolean {
  const stat = readStat(target.pid);
  return stat !== undefined && stat.startTime === target.startTime && stat.state !== "Z";
}

/** The live child processes of `parent`. */
export function childrenOf(parent: ProcessId): ProcessId[] {
  const found: ProcessId[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.ppid === parent.pid && stat.state !== "Z") found.push({ pid: Number(entry), startTime: stat.startTime });
  }
  return found;
}

/** User + system CPU time the process (all its threads) has used so far, ms; undefined once it is gone. */
export function cpuMs(target: ProcessId): number | undefined {
  const stat = readStat(target.pid);
  if (!stat || stat.startTime !== target.startTime) return undefined;
  return (stat.cpuTicks * 1000) / TICKS_PER_SECOND;
}

/** Resident set size (VmRSS), bytes; 0 once the process is gone. */
export function rssBytes(target: ProcessId): number {
  if (!isRunning(target)) return 0;
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${target.pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** SIGKILL, only if the pid still names the process the bench started. */
export function killIfSame(target: ProcessId): void {
  if (!isRunning(target)) return;
  try {
    process.kill(target.pid, "SIGKILL");
  } catch {
    // Gone in between.
  }
}

/** /proc/<pid>/stat, read after the command name (which may hold spaces and parentheses). */
function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // fields[0] is field 3 of stat(5): state 3, ppid 4, utime 14, stime 15, starttime 22.
  const fields = text.slice(text.lastIndexOf(")") + 2).trim().split(" ");
  return { state: fields[0]!, ppid: Number(fields[1]), startTime: fields[19]!, cpuTicks: Number(fields[11]) + Number(fields[12]) };
}
