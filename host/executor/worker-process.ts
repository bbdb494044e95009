// One supervised worker process, seen from the front: forks it with
// --no-node-snapshot, holds messages until it says it is ready, and reports
// its exit so that the executor can fail its invocations and start another.
import { fork, type ChildProcess } from "node:child_process";
import { Outbox, unbatch, type Batch, type FrontMessage, type WorkerMessage } from "./ipc.js";
import { WORKER_SETTINGS_ENV, type WorkerSettings } from "./worker/settings.js";

const WORKER_MAIN = new URL("./worker/main.js", import.meta.url);

export class WorkerProcess {
  private readonly child: ChildProcess;
  private ready = false;
  private exited = false;
  private readonly queued: FrontMessage[] = [];
  private readonly outbox = new Outbox<FrontMessage>((payload) => this.child.send(payload));

  constructor(
    readonly slot: number,
    settings: WorkerSettings,
    onMessage: (message: WorkerMessage) => void,
    onExit: (code: number | null, signal: NodeJS.Signals | null) => void,
  ) {
    this.child = fork(WORKER_MAIN, [], {
      execArgv: ["--no-node-snapshot"],
      serialization: "advanced",
      env: workerEnv(settings),
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.child.on("message", (payload: WorkerMessage | Batch<WorkerMessage>) =>
      unbatch(payload, (message) => {
        if (message.t === "ready") {
          this.ready = true;
          for (const queued of this.queued.splice(0)) this.outbox.send(queued);
        }
        onMessage(message);
      }),
    );
    this.child.on("error", () => {}); // "exit" follows and is what we act on
    this.child.on("exit", (code, signal) => {
      this.exited = true;
      this.queued.length = 0;
      this.outbox.clear();
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
    else this.outbox.send(message);
  }

  /** Asks the worker to finish (it exits when its IPC channel closes), killing it after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.outbox.flush();
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** The front's environment minus anything secret: a worker runs user code, it needs no credentials. */
function workerEnv(settings: WorkerSettings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, [WORKER_SETTINGS_ENV]: JSON.stringify(settings) };
  delete env.ATOLL_TOKEN;
  return env;
}
