// One supervised worker process, seen from the front: spawns it with
// --no-node-snapshot and a socketpair on its fd 3 (./channel.ts), holds
// messages until it says it is ready, and reports its exit so that the
// executor can fail its invocations and start another.
import { spawn, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { FrameChannel } from "./channel.js";
import { CHANNEL_CODEC, type FrontMessage, type WorkerMessage } from "./ipc.js";
import { WORKER_SETTINGS_ENV, type WorkerSettings } from "./worker/settings.js";

const WORKER_MAIN = fileURLToPath(new URL("./worker/main.js", import.meta.url));
/** The worker's end of the channel. */
export const WORKER_CHANNEL_FD = 3;

export class WorkerProcess {
  private readonly child: ChildProcess;
  private readonly channel: FrameChannel<WorkerMessage, FrontMessage>;
  private ready = false;
  private exited = false;
  private readonly queued: FrontMessage[] = [];
  /** Versions (isolateId) whose code this worker was sent: their invokes go without it (executor.ts sendInvoke). */
  readonly codeSent = new Set<string>();

  constructor(
    readonly slot: number,
    settings: WorkerSettings,
    onMessage: (message: WorkerMessage) => void,
    onExit: (code: number | null, signal: NodeJS.Signals | null) => void,
  ) {
    this.child = spawn(process.execPath, ["--no-node-snapshot", ...profilingFlags(), WORKER_MAIN], {
      env: workerEnv(settings),
      stdio: ["ignore", "inherit", "inherit", "pipe"],
    });
    this.channel = new FrameChannel<WorkerMessage, FrontMessage>(
      this.child.stdio[WORKER_CHANNEL_FD] as Socket,
      CHANNEL_CODEC,
      (message) => {
        if (message.t === "ready") {
          this.ready = true;
          for (const queued of this.queued.splice(0)) this.channel.send(queued);
        }
        onMessage(message);
      },
      // A broken channel leaves the worker useless: end it; "exit" follows.
      () => {
        if (!this.exited) this.child.kill("SIGKILL");
      },
    );
    this.child.on("error", () => {}); // "exit" follows and is what we act on
    this.child.on("exit", (code, signal) => {
      this.exited = true;
      this.queued.length = 0;
      this.channel.destroy();
      onExit(code, signal);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  send(message: FrontMessage): void {
    if (this.exited) return;
    if (!this.ready) this.queued.push(message);
    else this.channel.send(message);
  }

  /** Asks the worker to finish (it exits when its channel ends), killing it after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.channel.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** The front's environment minus anything secret: a worker runs user code, it needs no credentials. */
function workerEnv(settings: WorkerSettings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, [WORKER_SETTINGS_ENV]: JSON.stringify(settings) };
  delete env.ATOLL_TOKEN;
  delete env.ATOLL_WORKER_CPU_PROF;
  return env;
}

/** `ATOLL_WORKER_CPU_PROF=<dir>` writes a V8 CPU profile of each worker there when it exits (for bench/ and profiling). */
function profilingFlags(): string[] {
  const dir = process.env.ATOLL_WORKER_CPU_PROF;
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}
