// Starts bench/atoll-host.ts as a child process and knows its processes: the
// front (that child) and its workers (the front's children, as /proc lists them).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { AtollHostReady } from "./atoll-host.js";
import { childrenOf, killIfSame, processId, type ProcessId } from "./proc.js";

const HOST_SCRIPT = fileURLToPath(new URL("./atoll-host.js", import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

export interface AtollProcess extends AtollHostReady {
  front: ProcessId;
  /** The front's child processes: its worker processes. */
  workers(): ProcessId[];
  /** SIGTERM (the host closes), then SIGKILL to the front and its workers if they still run. */
  stop(): Promise<void>;
}

/** `preload: false`: a host that does not preload versions on deploy (HostOptions.preloadOnDeploy), for true cold starts. */
export async function startAtollProcess(dataDir: string, options: { preload?: boolean; invocationRecords?: boolean } = {}): Promise<AtollProcess> {
  // BENCH_FRONT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the front (written when it stops).
  const extra = (process.env.BENCH_FRONT_NODE_ARGS ?? "").split(" ").filter((arg) => arg !== "");
  const args = ["--no-node-snapshot", ...extra, HOST_SCRIPT, dataDir, ...(options.preload === false ? ["--no-preload"] : []), ...(options.invocationRecords === false ? ["--no-invocation-records"] : [])];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let ready: AtollHostReady;
  try {
    ready = await new Promise<AtollHostReady>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the bench host did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      child.once("message", (message) => {
        clearTimeout(timer);
        resolve(message as AtollHostReady);
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the bench host exited (${child.exitCode ?? child.signalCode}) before it was ready`));
      });
    });
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  const front = processId(child.pid!);
  if (!front) throw new Error("the bench host exited just after it was ready");
  let lastWorkers = childrenOf(front);
  const workers = () => (child.exitCode === null && child.signalCode === null ? (lastWorkers = childrenOf(front)) : lastWorkers);
  return {
    ...ready,
    front,
    workers,
    stop: async () => {
      const had = workers();
      if (child.exitCode === null && child.signalCode === null) {
        // Until node has reaped it, the child's pid cannot have been recycled: this is our process.
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      for (const worker of had) killIfSame(worker);
    },
  };
}
