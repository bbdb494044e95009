// workerd (Cloudflare's runtime, https://github.com/cloudflare/workerd) serving a
// fixture, for the throughput comparison of `npm run bench`. An optional bench
// dependency, never in package.json: BENCH_WORKERD=/path/to/workerd, else the
// `workerd` npm package resolved from the repo (npm install --no-save workerd).
// The fixture is bundled exactly as `atoll deploy` bundles it (one ES module)
// and served as the only module of one service, its [vars] as bindings.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { bundleProject } from "../bundler/bundle.js";
import type { VarValue } from "../host/config/script-config.js";
import { childrenOf, isRunning, killIfSame, processId, type ProcessId } from "./proc.js";

/** Used when a fixture's atoll.toml names no compatibility_date. */
const DEFAULT_COMPATIBILITY_DATE = "2025-01-01";
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
/** How much of workerd's output is kept for error messages. */
const OUTPUT_KEPT_CHARS = 8 * 1024;

export type WorkerdLookup = { found: true; bin: string; version: string } | { found: false; reason: string };

export interface WorkerdServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The workerd process (and its children, should `bin` be a launcher rather than the binary). */
  processes(): ProcessId[];
  /** SIGTERM, then SIGKILL if it has not exited within a few seconds. */
  stop(): Promise<void>;
}

/** The workerd binary to run: BENCH_WORKERD first, then the `workerd` package as the repo resolves it. */
export function findWorkerd(repoRoot: string): WorkerdLookup {
  const fromEnv = process.env.BENCH_WORKERD;
  if (fromEnv) return isExecutable(fromEnv) ? withVersion(fromEnv) : { found: false, reason: `BENCH_WORKERD=${fromEnv} is not an executable file` };
  const bin = workerdFromPackage(repoRoot) ?? join(repoRoot, "node_modules", ".bin", "workerd");
  return isExecutable(bin) ? withVersion(bin) : { found: false, reason: "not installed — npm install --no-save workerd to compare" };
}

/** Bundles the fixture into `dir`, writes dir/config.capnp and serves it on 127.0.0.1 (a port the kernel picks). */
export async function startWorkerd(bin: string, fixtureDir: string, dir: string): Promise<WorkerdServer> {
  mkdirSync(dir, { recursive: true });
  const { code, config } = await bundleProject(fixtureDir);
  writeFileSync(join(dir, "worker.js"), code);
  writeFileSync(join(dir, "config.capnp"), capnpConfig(config.compatibility_date ?? DEFAULT_COMPATIBILITY_DATE, config.vars));
  // fd 3: workerd writes {"event":"listen","socket":"http","port":N} there once the socket listens.
  const child = spawn(bin, ["serve", "config.capnp", "--control-fd=3"], { cwd: dir, stdio: ["ignore", "pipe", "pipe", "pipe"] });
  const output = keepOutput(child);
  try {
    const port = await listeningPort(child, output);
    const self = processId(child.pid!);
    if (!self) throw new Error(`workerd exited after it listened:\n${output()}`);
    return { url: `http://127.0.0.1:${port}`, processes: () => [self, ...childrenOf(self)].filter(isRunning), stop: () => stopChild(child, self) };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

/** One service running the bundle as its only module, one HTTP socket in front of it. */
export function capnpConfig(compatibilityDate: string, vars: Record<string, VarValue>): string {
  const bindings = Object.entries(vars).map(([name, value]) =>
    // capnp text literals take the escapes JSON writes.
    typeof value === "string" ? `(name = ${JSON.stringify(name)}, text = ${JSON.stringify(value)})` : `(name = ${JSON.stringify(name)}, json = ${JSON.stringify(JSON.stringify(value))})`,
  );
  return `# Written by bench/workerd.ts for \`npm run bench\`.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = ${JSON.stringify(compatibilityDate)},
  bindings = [${bindings.join(", ")}],
);
`;
}

/**
 * The `workerd` package's main module exports the path of the platform's
 * native binary (its bin/workerd may be a Node launcher around it, which would
 * put a second process between the bench and the runtime).
 */
function workerdFromPackage(repoRoot: string): string | undefined {
  const require = createRequire(join(repoRoot, "package.json"));
  let packageJson: string;
  try {
    packageJson = require.resolve("workerd/package.json");
  } catch {
    return undefined;
  }
  try {
    const native = (require("workerd") as { default?: unknown }).default;
    if (typeof native === "string" && existsSync(native)) return native;
  } catch {
    // No binary for this platform, or a layout this does not know: try the package's bin.
  }
  const bin = (require(packageJson) as { bin?: string | Record<string, string> }).bin;
  const relative = typeof bin === "string" ? bin : bin?.workerd;
  return relative === undefined ? undefined : join(dirname(packageJson), relative);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function withVersion(bin: string): WorkerdLookup {
  const run = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 10_000 });
  if (run.status !== 0) return { found: false, reason: `${bin} --version failed: ${(run.stderr || run.error?.message || "").trim()}` };
  return { found: true, bin, version: run.stdout.trim() };
}

/** Keeps the tail of stdout and stderr (and keeps draining them, so workerd never blocks on a full pipe). */
function keepOutput(child: ChildProcess): () => string {
  let output = "";
  const keep = (chunk: string) => {
    output += chunk;
    if (output.length > 2 * OUTPUT_KEPT_CHARS) output = output.slice(-OUTPUT_KEPT_CHARS);
  };
  child.stdout!.setEncoding("utf8").on("data", keep);
  child.stderr!.setEncoding("utf8").on("data", keep);
  return () => output;
}

/** Resolves with the port of the "http" socket, from the control fd; rejects if workerd exits or takes too long. */
function listeningPort(child: ChildProcess, output: () => string): Promise<number> {
  const control = child.stdio[3] as Readable;
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`workerd did not listen within ${START_TIMEOUT_MS} ms:\n${output()}`)), START_TIMEOUT_MS);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(new Error(`workerd exited (${code ?? signal}) before it listened:\n${output()}`));
    let pending = "";
    const onData = (chunk: string) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop()!;
      // The unfinished last line too: its newline may come later, or never.
      const port = [...lines, pending].map(httpSocketPort).find((found) => found !== undefined);
      if (port === undefined) return;
      done();
      resolve(port);
    };
    const done = () => {
      clearTimeout(timer);
      child.off("exit", onExit);
      control.off("data", onData);
      control.resume();
    };
    const fail = (error: Error) => {
      done();
      reject(error);
    };
    child.once("exit", onExit);
    control.setEncoding("utf8").on("data", onData);
  });
}

/** The port in a control line {"event":"listen","socket":"http","port":N}; undefined for any other line. */
function httpSocketPort(line: string): number | undefined {
  let message: { event?: unknown; socket?: unknown; port?: unknown };
  try {
    message = JSON.parse(line) as typeof message;
  } catch {
    return undefined;
  }
  return message.event === "listen" && message.socket === "http" && typeof message.port === "number" ? message.port : undefined;
}

async function stopChild(child: ChildProcess, self: ProcessId): Promise<void> {
  const children = childrenOf(self);
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    // Until node has reaped it, the child's pid cannot have been recycled: this is our process.
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  for (const process of children) killIfSame(process);
}
