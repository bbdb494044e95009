// Real servers for the shared-store tests: redis-server (from Debian: `.ci/run`
// installs it) and s3rver, an S3-compatible server, each as its own process on
// a loopback port, with its data in a temporary directory. Each is stopped by
// the pid the test started.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.js";

const s3rverBin = fileURLToPath(new URL("../../../node_modules/s3rver/bin/s3rver.js", import.meta.url));

/** s3rver's fixed credentials. */
export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" };

/**
 * Why the shared-store tests cannot run here, or undefined when they can. In
 * CI redis-server must be there (`.ci/run` installs it): its absence fails
 * the run instead of skipping.
 */
export function sharedStoreSkip(): string | undefined {
  const found = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (found.status === 0) return undefined;
  if (process.env.CI) throw new Error("redis-server is not installed, and CI must run the shared-store tests: .ci/run installs it with apt-get");
  return "redis-server is not installed (apt-get install redis-server; CI installs it)";
}

export interface ServerProcess {
  url: string;
  port: number;
  dir: string;
  child: ChildProcess;
  /** SIGTERM and wait (Redis writes its append-only file on the way out). */
  stop(): Promise<void>;
  /** Stops it and removes its data. */
  remove(): Promise<void>;
}

/** redis-server on a free loopback port, append-only with an fsync per write (nothing acknowledged is lost). */
export async function startRedis(options: { port?: number; dir?: string } = {}): Promise<ServerProcess> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "atoll-redis-"));
  const port = options.port ?? (await freePort());
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  await waitForOutput(child, /Ready to accept connections/, "redis-server");
  return serverProcess(`redis://127.0.0.1:${port}`, port, dir, child);
}

/**
 * s3rver on a free loopback port with `bucket` created. Its continuation
 * tokens use a cipher OpenSSL 3 keeps in its legacy provider, hence the flag.
 */
export async function startS3(bucket: string): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), "atoll-s3-"));
  const child = spawn(process.execPath, ["--openssl-legacy-provider", s3rverBin, "-d", dir, "-a", "127.0.0.1", "-p", "0", "--configure-bucket", bucket], { stdio: ["ignore", "pipe", "pipe"] });
  const line = await waitForOutput(child, /S3rver listening on 127\.0\.0\.1:(\d+)/, "s3rver");
  const port = Number(/:(\d+)/.exec(line)![1]);
  return serverProcess(`http://127.0.0.1:${port}`, port, dir, child);
}

function serverProcess(url: string, port: number, dir: string, child: ChildProcess): ServerProcess {
  const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  return {
    url,
    port,
    dir,
    child,
    stop,
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function waitForOutput(child: ChildProcess, pattern: RegExp, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} did not start in time:\n${output}`));
    }, 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = pattern.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      // Keep reading, so that a full pipe never blocks the server.
      child.stdout!.resume();
      child.stderr!.resume();
      resolve(match[0]);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${output}`));
    });
  });
}


// ---- The second pass: host tests on the shared store ----------------------------

/** One redis-server and one s3rver for a whole test file (scripts/test.mjs runs files one process each), stopped when it exits. */
let servers: Promise<{ redis: ServerProcess; s3: ServerProcess }> | undefined;
const TEST_BUCKET = "atoll-tests";

/**
 * HostOptions for a test host on Redis + S3 (ATOLL_TEST_STORE=redis). A new
 * data directory gets an empty state (Redis flushed, a fresh key prefix in the
 * bucket); a host restarted on its directory finds its state again.
 */
export async function sharedStoreFor(dataDir: string, fresh: boolean): Promise<{ store: string; objects: string }> {
  const skip = sharedStoreSkip();
  if (skip) throw new Error(`ATOLL_TEST_STORE=redis: ${skip}`);
  servers ??= (async () => {
    Object.assign(process.env, S3RVER_CREDENTIALS);
    const started = { redis: await startRedis(), s3: await startS3(TEST_BUCKET) };
    // They must not keep the test file's process alive: when it has nothing else to do, it exits and stops them.
    for (const { child } of [started.redis, started.s3]) {
      child.unref();
      for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?(): void } | null)?.unref?.();
    }
    process.once("exit", () => {
      for (const server of [started.redis, started.s3]) if (server.child.exitCode === null) server.child.kill("SIGKILL");
      for (const server of [started.redis, started.s3]) rmSync(server.dir, { recursive: true, force: true });
    });
    return started;
  })();
  const { redis, s3 } = await servers;
  if (fresh) {
    const { Redis } = await import("ioredis");
    const client = new Redis(redis.url);
    await client.flushall();
    client.disconnect();
  }
  const prefix = encodeURIComponent(dataDir.split("/").filter(Boolean).pop()!);
  return { store: redis.url, objects: `s3://${TEST_BUCKET}/${prefix}?endpoint=${s3.url}` };
}
