// Starts a real host for a test: a temporary data directory, free loopback
// ports, real worker processes. Collects the host's log lines for assertions.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, fetch as undiciFetch } from "undici";
import { startHost, type HostOptions, type RunningHost } from "../../host/main.js";
import { sharedStoreFor } from "./shared-stores.js";

/** Resolves every name to 127.0.0.1, the way curl treats *.localhost: tests reach hello.localhost for real. */
export const loopbackAgent = new Agent({
  connect: {
    lookup: (_hostname, options, callback) =>
      (options as { all?: boolean }).all ? (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: "127.0.0.1", family: 4 }]) : callback(null, "127.0.0.1", 4),
  },
});

/** The host tests run on Redis + S3-compatible storage (ATOLL_TEST_STORE=redis, scripts/test.mjs's second pass). */
export const onSharedStore = process.env.ATOLL_TEST_STORE === "redis";

/** Where a host keeps uploads not yet committed: in the object files' directory, or (objects on S3) a folder of its own. */
export function uploadsInFlightDir(dataDir: string): string {
  return onSharedStore ? join(dataDir, "s3-uploads") : join(dataDir, "objects", ".tmp");
}

export interface TestHost extends RunningHost {
  dataDir: string;
  logs: string[];
  /** A request to the data plane at http://<host>:<port><path> (every host name reaches 127.0.0.1). */
  request(host: string, path: string, init?: RequestInit): Promise<Response>;
  /** A control API call with the admin token. */
  control(method: string, path: string, body?: unknown, token?: string | null): Promise<Response>;
  /** Uploads an ES module with a config; throws unless the answer is 201 (or 200 with `unchanged`: it equals the active version). */
  deploy(name: string, bundle: string, config?: Record<string, unknown>): Promise<{ version: number; urls: string[] }>;
  /**
   * The first log line matching `pattern`, waiting for it (up to `timeoutMs`):
   * an invocation's line is written once it is over, just after its response.
   */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Stops the host; the data directory stays (for restart tests) until `cleanUp`. */
  stop(): Promise<void>;
  cleanUp(): void;
}

export interface TestHostOptions {
  dataDir?: string;
  workers?: number;
  maxRequestBodyBytes?: number;
  egress?: HostOptions["egress"];
  maxWorkerRssBytes?: number;
  /** The event queue's settings (retry back-off …): HostOptions.triggers. */
  triggers?: HostOptions["triggers"];
  headersTimeoutMs?: number;
  /** HostOptions.preloadOnDeploy (default true). */
  preloadOnDeploy?: boolean;
}

export async function startTestHost(options: TestHostOptions = {}): Promise<TestHost> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "atoll-test-"));
  const logs: string[] = [];
  // ATOLL_TEST_STORE=redis (scripts/test.mjs's second pass): the same test on Redis and S3-compatible storage.
  const shared = onSharedStore ? await sharedStoreFor(dataDir, options.dataDir === undefined) : null;
  const host = await startHost({
    dataDir,
    ...(shared ?? {}),
    port: 0,
    hostname: "127.0.0.1",
    controlPort: 0,
    workers: options.workers ?? 1,
    ...(options.maxRequestBodyBytes !== undefined ? { maxRequestBodyBytes: options.maxRequestBodyBytes } : {}),
    ...(options.egress !== undefined ? { egress: options.egress } : {}),
    ...(options.maxWorkerRssBytes !== undefined ? { maxWorkerRssBytes: options.maxWorkerRssBytes } : {}),
    ...(options.triggers !== undefined ? { triggers: options.triggers } : {}),
    ...(options.headersTimeoutMs !== undefined ? { headersTimeoutMs: options.headersTimeoutMs } : {}),
    ...(options.preloadOnDeploy !== undefined ? { preloadOnDeploy: options.preloadOnDeploy } : {}),
    log: (line) => logs.push(line),
  });
  const control = (method: string, path: string, body?: unknown, token: string | null = host.token) =>
    fetch(`${host.controlUrl}${path}`, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return {
    ...host,
    dataDir,
    logs,
    control,
    request: (hostName, path, init = {}) => {
      const port = new URL(host.dataUrl).port;
      const duplex = init.body instanceof ReadableStream ? { duplex: "half" } : {};
      return undiciFetch(`http://${hostName}:${port}${path}`, { ...init, ...duplex, dispatcher: loopbackAgent } as never) as unknown as Promise<Response>;
    },
    deploy: async (name, bundle, config = {}) => {
      const response = await control("PUT", `/v1/scripts/${name}`, { bundle, config: { name, main: "src/index.ts", ...config } });
      const answer = (await response.json()) as { version: number; urls: string[]; unchanged?: boolean };
      if (response.status !== 201 && !(response.status === 200 && answer.unchanged === true)) throw new Error(`deploy of ${name} failed with ${response.status}: ${JSON.stringify(answer)}`);
      return answer;
    },
    waitForLog: async (pattern, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = logs.find((entry) => pattern.test(entry));
        if (line !== undefined) return line;
        if (Date.now() > deadline) throw new Error(`no log line matched ${pattern} within ${timeoutMs} ms:\n${logs.join("\n")}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    stop: () => host.close(),
    cleanUp: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}
