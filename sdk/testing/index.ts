// `atoll/sdk/testing`: a real host for a user's tests. Starts the production
// host (startHost: a worker process, isolates, limits, the SQLite store) on
// free loopback ports with its data in a temporary directory, bundles the
// function's folder and deploys it, and talks to it the way clients and
// operators do: HTTP to the data plane, the control API for invocations, KV
// and buckets. Works under node's test runner and Vitest alike (nothing here
// depends on either). Its types are ./types.ts.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Agent, fetch as undiciFetch } from "undici";
import type { RunningHost } from "../../host/main.js";
import { bundleProject, type BundleResult } from "../../bundler/bundle.js";
import { ControlClient, type InvokeRequest } from "../../bundler/control-client.js";
import { uploadBundle } from "../../bundler/deploy.js";
import { loadDevVars } from "../../bundler/dev-vars.js";
import { StackMapper, bundleOutdir } from "../../bundler/dev/stack-mapper.js";
import type * as api from "./types.js";

export type { TestBucket, TestHost, TestHostOptions, TestInvocation, TestKVNamespace, TestStorageEvent, TestVarValue } from "./types.js";

/** Every host name reaches 127.0.0.1, as curl treats *.localhost: requests keep their Host for routing. */
const loopback = new Agent({
  connect: {
    lookup: (_hostname, options, callback) =>
      (options as { all?: boolean }).all ? (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: "127.0.0.1", family: 4 }]) : callback(null, "127.0.0.1", 4),
  },
});

export const createTestHost: typeof api.createTestHost = async (given = {}) => {
  const options: api.TestHostOptions = typeof given === "string" ? { dir: given } : given;
  const dir = resolve(options.dir ?? ".");
  const dataDir = await mkdtemp(join(tmpdir(), "atoll-test-host-"));
  const logs: string[] = [];
  const logWaiters = new Set<(line: string) => void>();
  const mapper = new StackMapper();
  // Loaded here: importing atoll/sdk/testing costs nothing until a host starts.
  const { startHost } = await import("../../host/main.js");
  let host: RunningHost;
  try {
    host = await startHost({
      dataDir,
      port: 0,
      hostname: "127.0.0.1",
      controlPort: 0,
      workers: 1,
      egress: { allowPrivate: options.allowPrivateFetch === true },
      log: (line) => {
        const mapped = mapper.mapLine(line);
        logs.push(mapped);
        for (const waiter of logWaiters) waiter(mapped);
        options.onLog?.(mapped);
      },
    });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const control = { controlUrl: host.controlUrl, token: host.token };
  const client = new ControlClient(control);
  const port = new URL(host.dataUrl).port;
  let bundle: BundleResult | undefined;
  let version = 0;

  const deploy = async (): Promise<number> => {
    const built = await bundleProject(dir, { sourcemap: true });
    const config = options.vars ? { ...built.config, vars: { ...built.config.vars, ...options.vars } } : built.config;
    const uploaded = await uploadBundle({ ...built, config }, { ...control, message: "atoll/sdk/testing" });
    if (built.sourceMap !== undefined) mapper.add(uploaded.name, uploaded.version, built.sourceMap, bundleOutdir(dir));
    bundle = { ...built, config };
    version = uploaded.version;
    return version;
  };

  try {
    await deploy();
    const secrets = { ...Object.fromEntries(await loadDevVars(dir)), ...options.secrets };
    for (const [key, value] of Object.entries(secrets)) await client.putSecret(bundle!.config.name, key, value);
  } catch (error) {
    await host.close();
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const config = () => bundle!.config;
  const name = config().name;

  const invoke = async (request: InvokeRequest): Promise<api.TestInvocation> => {
    const answer = await client.invoke(name, request);
    if ("queued" in answer) throw new Error("the host queued the invocation instead of running it");
    const error = answer.error && answer.error.stack ? { ...answer.error, stack: mapper.mapStack(name, answer.version, answer.error.stack) } : answer.error;
    return {
      ok: answer.outcome === "ok",
      error,
      noRetry: answer.no_retry,
      logs: answer.logs.map((line) => ({ level: line.level, message: line.message })),
      durationMs: answer.duration_ms,
      cpuMs: answer.cpu_ms ?? null,
    };
  };

  const testHost: api.TestHost = {
    name,
    url: `http://${name}.localhost:${port}`,
    get version() {
      return version;
    },
    logs,

    waitForLog(pattern, timeoutMs = 5000) {
      const matches = (line: string) => (typeof pattern === "string" ? line.includes(pattern) : pattern.test(line));
      const found = logs.find(matches);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolveLine, reject) => {
        const timer = setTimeout(() => {
          logWaiters.delete(waiter);
          reject(new Error(`no log line matching ${String(pattern)} within ${timeoutMs} ms; the last ones:\n${logs.slice(-10).join("\n")}`));
        }, timeoutMs);
        const waiter = (line: string) => {
          if (!matches(line)) return;
          clearTimeout(timer);
          logWaiters.delete(waiter);
          resolveLine(line);
        };
        logWaiters.add(waiter);
      });
    },

    async fetch(input, init = {}) {
      const request = typeof input === "object" && !(input instanceof URL) ? input : null;
      const target = new URL(request ? request.url : String(input), `http://${name}.localhost`);
      target.protocol = "http:";
      target.port = port;
      const merged: Record<string, unknown> = request
        ? {
            method: request.method,
            headers: request.headers,
            ...(request.body !== null ? { body: await request.arrayBuffer() } : {}),
            redirect: request.redirect,
          }
        : {};
      Object.assign(merged, init);
      if (merged["body"] instanceof ReadableStream) merged["duplex"] = "half";
      return (await undiciFetch(target, { ...merged, dispatcher: loopback } as never)) as unknown as Response;
    },

    scheduled(cron) {
      const chosen = cron ?? config().triggers.crons[0];
      return invoke({ kind: "scheduled", ...(chosen !== undefined ? { cron: chosen } : {}) });
    },

    storage(event) {
      const bucket = event.bucket ?? config().triggers.storage[0]?.bucket;
      if (bucket === undefined) throw new TypeError("storage(): name the bucket: the function watches none ([[triggers.storage]] in atoll.toml)");
      return invoke({ kind: "storage", action: event.action ?? "put", bucket, key: event.key });
    },

    kv(bindingOrId) {
      const id = config().kv_namespaces.find((kv) => kv.binding === bindingOrId)?.id ?? bindingOrId;
      const value = (key: string) => `/v1/kv/${encodeURIComponent(id)}/values/${encodeURIComponent(key)}`;
      const get = async (key: string) => {
        const response = await client.raw("GET", value(key), { notFound: "null" });
        return response === null ? null : response.text();
      };
      return {
        get,
        async getJSON<T>(key: string) {
          const text = await get(key);
          return text === null ? null : (JSON.parse(text) as T);
        },
        async put(key, data, putOptions = {}) {
          const query = putOptions.expirationTtl !== undefined ? `?expiration_ttl=${putOptions.expirationTtl}` : "";
          const headers: Record<string, string> = { "content-type": "application/octet-stream" };
          if (putOptions.metadata !== undefined) headers["x-atoll-kv-metadata"] = JSON.stringify(putOptions.metadata);
          await client.raw("PUT", `${value(key)}${query}`, { body: typeof data === "string" ? new TextEncoder().encode(data) : data, headers });
        },
        async delete(key) {
          await client.raw("DELETE", value(key));
        },
        async keys(prefix) {
          const names: string[] = [];
          let cursor: string | undefined;
          do {
            const query = new URLSearchParams({ ...(prefix !== undefined ? { prefix } : {}), ...(cursor !== undefined ? { cursor } : {}) });
            const page = await client.json<{ keys: { name: string }[]; list_complete: boolean; cursor?: string }>("GET", `/v1/kv/${encodeURIComponent(id)}/keys?${query}`);
            names.push(...page.keys.map((key) => key.name));
            cursor = page.list_complete ? undefined : page.cursor;
          } while (cursor !== undefined);
          return names;
        },
      };
    },

    bucket(bindingOrName) {
      const bucketName = config().buckets.find((bucket) => bucket.binding === bindingOrName)?.bucket_name ?? bindingOrName;
      const object = (key: string) => `/v1/buckets/${encodeURIComponent(bucketName)}/objects/${encodeURIComponent(key)}`;
      const get = (key: string) => client.raw("GET", object(key), { notFound: "null" });
      return {
        get,
        async text(key) {
          const response = await get(key);
          return response === null ? null : response.text();
        },
        async put(key, data, putOptions = {}) {
          const headers: Record<string, string> = { "content-type": putOptions.contentType ?? "application/octet-stream" };
          for (const [meta, metaValue] of Object.entries(putOptions.customMetadata ?? {})) headers[`x-atoll-meta-${meta}`] = metaValue;
          await client.raw("PUT", object(key), { body: typeof data === "string" ? new TextEncoder().encode(data) : data, headers });
        },
        async delete(key) {
          await client.raw("DELETE", object(key));
        },
        async keys(prefix) {
          const keys: string[] = [];
          let cursor: string | undefined;
          do {
            const query = new URLSearchParams({ ...(prefix !== undefined ? { prefix } : {}), ...(cursor !== undefined ? { cursor } : {}) });
            const page = await client.json<{ objects: { key: string }[]; truncated: boolean; cursor?: string }>("GET", `/v1/buckets/${encodeURIComponent(bucketName)}/objects?${query}`);
            keys.push(...page.objects.map((entry) => entry.key));
            cursor = page.truncated ? page.cursor : undefined;
          } while (cursor !== undefined);
          return keys;
        },
      };
    },

    redeploy: deploy,

    async close() {
      await host.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return testHost;
};
