// Runs `atoll start` as a child process, the way an operator does, so that a
// test or benchmark can kill it for real (SIGKILL) or read its processes'
// memory from /proc. Knows the front's pid and its worker processes' pids, and
// only ever signals those: processes it started, checked by start time so that
// a recycled pid is never hit.
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const atollBin = fileURLToPath(new URL("../../../bin/atoll.js", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
/** How much of the host's output is kept for error messages. */
const OUTPUT_KEPT_CHARS = 64 * 1024;

/** A process as /proc saw it: the pid and its start time (clock ticks since boot), which together name it uniquely. */
export interface ProcessId {
  pid: number;
  startTime: string;
}

export interface HostProcess {
  dataDir: string;
  dataUrl: string;
  controlUrl: string;
  token: string;
  front: ProcessId;
  /** The front's child processes (the workers), as /proc lists them now. */
  workers(): ProcessId[];
  /** The last part of what the host printed (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or the signal) once the front is gone. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  /** SIGKILL to the front alone, as a crash would; resolves once it is gone. Returns the workers it had. */
  crash(): Promise<ProcessId[]>;
  /** SIGTERM (a clean stop); resolves with the exit code. */
  stop(): Promise<number | NodeJS.Signals | null>;
  /** Cleanup after a failure: SIGKILL to the front and its workers if they still run. */
  kill(): void;
}

export interface HostProcessOptions {
  /** `--workers`; left out, the host starts one per core. */
  workers?: number;
  /** Extra `atoll start` flags. */
  args?: string[];
  /** How long the host may take to print that it is ready, ms (default 60 s). */
  readyTimeoutMs?: number;
  /** The atoll.js to run (default: this repository's bin/atoll.js), e.g. one an `npm install -g` left. */
  bin?: string;
  /** Its working directory (default: this repository). */
  cwd?: string;
  /** Variables that replace the environment's (default: the test's own, minus ATOLL_*). */
  env?: NodeJS.ProcessEnv;
  /** Variables added to that default (S3 credentials …). */
  extraEnv?: NodeJS.ProcessEnv;
}

/** `node --no-node-snapshot bin/atoll.js start --port 0 --control-port 0 --data-dir DIR [--workers N]`; resolves once it serves. */
export async function startHostProcess(dataDir: string, options: HostProcessOptions = {}): Promise<HostProcess> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ATOLL_")) env[key] = value;
  Object.assign(env, options.extraEnv);
  const args = ["--no-node-snapshot", options.bin ?? atollBin, "start", "--port", "0", "--control-port", "0", "--data-dir", dataDir];
  if (options.workers !== undefined) args.push("--workers", String(options.workers));
  args.push(...(options.args ?? []));
  const child = spawn(process.execPath, args, { cwd: options.cwd ?? repoRoot, env: options.env ?? env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: string) => {
    output += chunk;
    if (output.length > 2 * OUTPUT_KEPT_CHARS) output = output.slice(-OUTPUT_KEPT_CHARS);
  };
  child.stdout!.setEncoding("utf8").on("data", keep);
  child.stderr!.setEncoding("utf8").on("data", keep);
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  const front = { pid: child.pid!, startTime: "" };

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`atoll start did not get ready in time:\n${output}`)), options.readyTimeoutMs ?? 60_000);
      const onData = () => {
        if (!output.includes("Press Ctrl+C to stop.")) return;
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve();
      };
      child.stdout!.on("data", onData);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`atoll start exited with ${code} before it was ready:\n${output}`));
      });
    });
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  front.startTime = processStartTime(front.pid) ?? "";
  const dataUrl = /functions: +(http:\/\/\S+)/.exec(output)?.[1];
  const controlUrl = /control API: +(http:\/\/\S+)/.exec(output)?.[1];
  if (!dataUrl || !controlUrl) {
    child.kill("SIGKILL");
    throw new Error(`could not find the host's URLs in its output:\n${output}`);
  }
  const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  let lastWorkers: ProcessId[] = childrenOf(front);

  const workers = () => {
    if (isRunning(front)) lastWorkers = childrenOf(front);
    return lastWorkers;
  };
  return {
    dataDir,
    dataUrl,
    controlUrl,
    token,
    front,
    workers,
    output: () => output,
    exited,
    crash: async () => {
      const had = workers();
      signal(child, "SIGKILL");
      await exited;
      return had;
    },
    stop: async () => {
      signal(child, "SIGTERM");
      return exited;
    },
    kill: () => {
      const had = workers();
      signal(child, "SIGKILL");
      for (const worker of had) killIfSame(worker);
    },
  };
}

/** True while the process runs (a zombie has finished: it only waits to be reaped). */
export function isRunning(process: ProcessId): boolean {
  const stat = readStat(process.pid);
  return stat !== undefined && stat.startTime === process.startTime && stat.state !== "Z";
}

/** Waits up to `timeoutMs` for every process to be gone; returns those still running. */
export async function waitGone(processes: ProcessId[], timeoutMs: number): Promise<ProcessId[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = processes.filter(isRunning);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** SIGKILL, only if the pid still names the process we started. */
export function killIfSame(target: ProcessId): void {
  if (!isRunning(target)) return;
  try {
    process.kill(target.pid, "SIGKILL");
  } catch {
    // Gone in between.
  }
}

/** Peak resident set size (VmHWM) of a running process, bytes; 0 once it is gone. */
export function peakRssBytes(target: ProcessId): number {
  return statusField(target, "VmHWM");
}

/**
 * Resets the process's peak resident set size (VmHWM) to its current RSS
 * (Linux: `echo 5 > /proc/<pid>/clear_refs`), so that the next peakRssBytes
 * is the peak of what follows. False where that is not allowed.
 */
export function resetPeakRss(target: ProcessId): boolean {
  if (!isRunning(target)) return false;
  try {
    writeFileSync(`/proc/${target.pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Current resident set size (VmRSS), bytes; 0 once it is gone. */
export function rssBytes(target: ProcessId): number {
  return statusField(target, "VmRSS");
}

/** User + system CPU time the process has used so far, ms. */
export function cpuMs(target: ProcessId): number {
  const stat = readStat(target.pid);
  if (!stat || stat.startTime !== target.startTime) return 0;
  // utime and stime are in clock ticks: 100 per second on Linux.
  return ((Number(stat.fields[11]) + Number(stat.fields[12])) * 1000) / 100;
}

function statusField(target: ProcessId, field: string): number {
  if (!isRunning(target)) return 0;
  try {
    const status = readFileSync(`/proc/${target.pid}/status`, "utf8");
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function signal(child: ChildProcess, name: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // Until node has reaped it, the child's pid cannot have been recycled: this is our process.
  child.kill(name);
}

function childrenOf(parent: ProcessId): ProcessId[] {
  const found: ProcessId[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.ppid === parent.pid && stat.state !== "Z") found.push({ pid: Number(entry), startTime: stat.startTime });
  }
  return found;
}

function processStartTime(pid: number): string | undefined {
  return readStat(pid)?.startTime;
}

/** /proc/<pid>/stat after the command name (which may hold spaces and parentheses): fields[0] is the state. */
function readStat(pid: number): { state: string; ppid: number; startTime: string; fields: string[] } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).trim().split(" ");
  // Field 3 of stat(5) is fields[0] here: state 3, ppid 4, utime 14, stime 15, starttime 22.
  return { state: fields[0]!, ppid: Number(fields[1]), startTime: fields[19]!, fields };
}
