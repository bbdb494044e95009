// Starts a host: the store in the data directory, the worker processes, the
// public data plane and the control API, each on its own port.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { availableParallelism } from "node:os";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type ServerOptions } from "node:http";
import { serve } from "@hono/node-server";
import type { PriceTable } from "./config/host-config.js";
import type { ScriptConfig } from "./config/script-config.js";
import { loadOrCreateToken } from "./control/auth.js";
import { createControlApi } from "./control/app.js";
import { Executor } from "./executor/executor.js";
import { EgressPolicy } from "./executor/worker/egress.js";
import { BindingCallError } from "./bindings/binding-error.js";
import { BindingHost } from "./bindings/binding-host.js";
import { HostMetrics } from "./metrics.js";
import { Deployments } from "./front/deployments.js";
import { createDataPlane, createServicePlane, type RequestHandler } from "./front/data-plane.js";
import { createServiceSocket } from "./front/service-socket.js";
import { Observer } from "./observe/observer.js";
import { StorageSampler } from "./observe/storage-sampler.js";
import { InvocationStore } from "./observe/invocation-store.js";
import { openStore } from "./store/open-store.js";
import { openSecretBox } from "./store/secrets.js";
import { HOST_DEFAULTS } from "./host-defaults.js";
import { terminalSafe } from "./terminal-text.js";
import { Triggers, type TriggerSettings } from "./triggers/index.js";
import { withChainDepth } from "./triggers/chain-depth.js";

/** Binding methods the metrics name; anything else a function calls counts as "other". */
const KNOWN_BINDING_METHODS = new Set(["get", "put", "delete", "list", "head", "read", "cancel", "beginPut", "putChunk", "commitPut", "open"]);

export interface HostOptions {
  /** Where the database, the admin token and objects live. */
  dataDir: string;
  /** "sqlite" (default: the embedded file in dataDir) or redis://HOST:PORT[/DB], a state several hosts share (./store/open-store.ts). */
  store?: string;
  /** "local" (default: files in dataDir) or s3://BUCKET[/PREFIX]?endpoint=URL, S3-compatible storage several hosts share. */
  objects?: string;
  /** Public data-plane port (0: any free port). */
  port: number;
  hostname: string;
  /** Control API port (0: any free port). */
  controlPort: number;
  /** Default 127.0.0.1: the control API is for operators, not the world. */
  controlHostname?: string;
  /** Worker processes (default: the number of cores). */
  workers?: number;
  /** Host log lines (default: stdout). */
  log?: (line: string) => void;
  /** Largest request body passed to a function, bytes (default 100 MiB). */
  maxRequestBodyBytes?: number;
  /**
   * Where functions' fetches may connect. By default only public addresses:
   * `allowPrivate` opens loopback, private and link-local ones (development,
   * tests), `allow` opens chosen addresses or CIDR ranges.
   */
  egress?: { allowPrivate?: boolean; allow?: string[] };
  /** Time a client has to send a request's head, ms (default 10 s): slow-loris clients are cut off. */
  headersTimeoutMs?: number;
  /** A worker process past this resident set size is drained and replaced, bytes (default 3 GiB). */
  maxWorkerRssBytes?: number;
  /** The event queue's concurrency, retry back-off and claim lease (defaults: HOST_DEFAULTS.triggers). */
  triggers?: Partial<TriggerSettings>;
  /**
   * Load each newly active version (deploy, rollback, promotion) into an
   * isolate on its worker before its first request (default true): that
   * request then starts warm, if the worker has room.
   */
  preloadOnDeploy?: boolean;
  /**
   * Every invocation's record (status, outcome, CPU, console lines) kept in
   * `<dataDir>/invocations.db` for `atoll logs`, by age and count (defaults:
   * 7 days, 100,000 records); false keeps none (live tails still work).
   */
  invocationRecords?: false | { maxAgeMs?: number; maxRecords?: number };
  /** The price table that turns usage into costs per script (`[billing]` of `atoll start --config`); left out, usage has no cost. */
  billing?: PriceTable;
  /** Keep the colours of functions' console output in the log (default: when the log is the default one and stdout is a terminal). */
  logColours?: boolean;
  /**
   * Runs once the control API listens and before the data plane does (`atoll
   * start --deploy-fixtures` deploys the examples here). URLs the control API
   * answers meanwhile carry the configured port (0 when it is picked later).
   */
  beforeDataPlane?: (control: { controlUrl: string; token: string }) => Promise<void>;
}

export interface RunningHost {
  dataUrl: string;
  controlUrl: string;
  token: string;
  tokenFile: string;
  /** Process ids of the worker processes, for operators and tests. */
  workerPids(): number[];
  /** The Unix socket where workers send service-binding calls (front/service-socket.ts). */
  serviceSocketPath: string;
  close(): Promise<void>;
}

export async function startHost(options: HostOptions): Promise<RunningHost> {
  const sink = options.log ?? ((line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`));
  const logToTerminal = options.logColours ?? (options.log === undefined && process.stdout.isTTY === true);
  // Every line passes here: functions' console output, the stacks they throw
  // (request and trigger lines) and clients' paths are untrusted text that
  // must never drive the operator's terminal (./terminal-text.ts).
  const log = (line: string) => sink(terminalSafe(line, logToTerminal));
  const egress = { ...HOST_DEFAULTS.worker.egress, ...options.egress };
  // Fails here, with the entry named, rather than in every worker at start-up.
  new EgressPolicy(egress);
  mkdirSync(options.dataDir, { recursive: true });
  const { token, file: tokenFile } = loadOrCreateToken(options.dataDir);
  const { store, shared, notes } = await openStore(options.dataDir, options.store, options.objects);
  for (const note of notes) log(note);
  // A missing or wrong secrets key stops the host here, with the file named (ATOLL_SECRETS_KEY).
  const secrets = await openSecretBox(options.dataDir, store, { shared }).catch(async (error: unknown) => {
    await store.close();
    throw error;
  });
  const deployments = new Deployments(store, HOST_DEFAULTS.baseDomains, secrets.box);
  await deployments.load();
  const metrics = new HostMetrics();
  const bindings = new BindingHost(
    store,
    (key) => deployments.versionConfig(key),
    // Methods are counted under fixed names only: a hostile function cannot grow the label set.
    (kind, method, ok, script) => {
      metrics.bindingCalls.inc({ kind, method: KNOWN_BINDING_METHODS.has(method) ? method : "other", outcome: ok ? "ok" : "error" });
      observer.countBindingCalls(script, kind, method);
    },
  );

  // Service bindings (env.AUTH.fetch) reach the front here, never over the network (./front/service-socket.ts).
  const serviceSocket = createServiceSocket();
  const records = options.invocationRecords === false ? null : { ...HOST_DEFAULTS.invocationRecords, ...options.invocationRecords };
  const observer = new Observer({
    store: records ? new InvocationStore(join(options.dataDir, "invocations.db")) : null,
    retention: records ?? HOST_DEFAULTS.invocationRecords,
    // Every trigger's invocations reach the per-script metrics from here, even with no records kept.
    onRecord: (record) => metrics.countRecord(record),
    log,
  });
  metrics.observe(observer);
  const workerCount = options.workers ?? Math.max(1, availableParallelism());
  const executor = new Executor({
    workers: workerCount,
    workerSettings: {
      ...HOST_DEFAULTS.worker,
      egress,
      maxRssBytes: options.maxWorkerRssBytes ?? HOST_DEFAULTS.worker.maxRssBytes,
      kvReads: store.kv.workerReads ?? null,
      services: { socketPath: serviceSocket.path, token: serviceSocket.token },
    },
    loadCode: (key) => deployments.loadCode(key),
    onCodeCache: (key, codeCache) => deployments.keepCodeCache(key, codeCache, log),
    onLog: ({ key, level, message }) => log(`[${key.script}@v${key.version}] ${level}: ${message}`),
    onEvent: log,
    metrics,
    onLocalKvReads: (script, count) => observer.countBindingCalls(script, "kv", "get", count),
    onBinding: (key, binding, method, args, chain) =>
      // A storage invocation's bucket writes carry its chain depth to the events they cause.
      withChainDepth(chain, () => bindings.call(key, binding, method, args)).catch((error: unknown) => {
        if (!(error instanceof BindingCallError)) log(`[${key.script}@v${key.version}] binding env.${binding}.${method} failed in the host: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        throw error;
      }),
  });
  const triggers = new Triggers({
    queue: store.queue,
    deployments,
    executor,
    // Hosts sharing a queue take over each other's claims once a lease ends: short leases, renewed while an event runs.
    settings: { ...HOST_DEFAULTS.triggers, ...(shared ? { leaseMs: HOST_DEFAULTS.sharedQueueLeaseMs } : {}), ...options.triggers },
    log,
    objects: store.objects,
    observer,
  });
  await triggers.start();
  if (options.preloadOnDeploy !== false) {
    deployments.onActiveChange((script) => {
      const active = deployments.get(script);
      if (active) executor.preload(active.key);
    });
  }
  // What each script's buckets hold, for its usage (./observe/storage-sampler.ts).
  const storageSampler = observer.store ? new StorageSampler({ objects: store.objects, records: observer.store, bindings: () => boundBuckets(deployments), log }) : null;
  if (storageSampler) {
    store.objects.onChange((event) => storageSampler.bucketChanged(event.bucket));
    deployments.onActiveChange(() => storageSampler.bindingsChanged());
    void storageSampler.start();
  }
  // What other hosts sharing the store changed: deploys, rollbacks, secrets, queued events.
  const stopFollowing = store.onClusterChange?.((change) => {
    // Queued events, and whatever a missed stretch of messages held, may be due here.
    if (change.kind === "queue" || change.kind === "resync") triggers.dispatcher.wake();
    if (change.kind !== "queue") {
      void deployments.applyClusterChange(change).catch((error: unknown) => log(`[cluster] could not apply a change another host made (${change.kind}): ${error instanceof Error ? error.message : String(error)}`));
    }
  });
  // Expired KV keys are invisible at once; this only reclaims their space.
  const purgeTimer = setInterval(() => void store.kv.purgeExpired(Math.floor(Date.now() / 1000)).catch(() => {}), 60_000);
  purgeTimer.unref();

  const planeOptions = {
    deployments,
    executor,
    maxRequestBodyBytes: options.maxRequestBodyBytes ?? HOST_DEFAULTS.maxRequestBodyBytes,
    maxFetchDepth: HOST_DEFAULTS.maxFetchDepth,
    log,
    metrics,
    observer,
    objects: store.objects,
    ...(store.unavailable ? { storeUnavailable: () => store.unavailable!() } : {}),
  };
  const dataPlane = createDataPlane(planeOptions);
  // Service-binding calls take the same path, found by script name instead of route.
  const servicePlane = createServicePlane({ ...planeOptions, token: serviceSocket.token });
  // The control API listens first, the data plane last: what the host was
  // started with (`beforeDataPlane`: `atoll start --deploy-fixtures` deploys
  // the examples) goes in through the control API, the door every deploy
  // takes, with its validation in an isolate, before the public port accepts a
  // connection. No client ever meets a host that cannot yet serve what it was
  // started with (a 404 for a function about to be there), and a client that
  // is refused knows to retry.
  let dataPort = options.port;
  const urlsFor = (config: ScriptConfig) => publicUrls(config, dataPort);
  const controlHostname = options.controlHostname ?? "127.0.0.1";
  const controlApi = createControlApi({ token, store, deployments, executor, bindings, metrics, triggers, observer, billing: options.billing ?? null, maxBundleBytes: HOST_DEFAULTS.maxBundleBytes, urlsFor, log });
  const servers: Server[] = [];
  const shutDown = async () => {
    clearInterval(purgeTimer);
    stopFollowing?.();
    await triggers.close();
    bindings.close();
    await Promise.all(servers.map(closeServer));
    await executor.close();
    serviceSocket.remove();
    triggers.detach();
    storageSampler?.close();
    observer.close();
    await store.close();
  };
  let controlUrl: string;
  try {
    const controlServer = await listen(controlApi.fetch, options.controlPort, controlHostname, HOST_DEFAULTS.headersTimeoutMs);
    servers.push(controlServer);
    controlUrl = `http://${urlHost(controlHostname)}:${(controlServer.address() as AddressInfo).port}`;
    servers.push(await serviceSocket.listen(createServer(serverOptions(HOST_DEFAULTS.headersTimeoutMs), servicePlane)));
    await options.beforeDataPlane?.({ controlUrl, token });
    const dataServer = await listenRaw(dataPlane, options.port, options.hostname, options.headersTimeoutMs ?? HOST_DEFAULTS.headersTimeoutMs);
    servers.push(dataServer);
    dataPort = (dataServer.address() as AddressInfo).port;
  } catch (error) {
    // A port in use or a failed start-up deploy: nothing of the host is left running.
    await shutDown();
    throw error;
  }

  let closed: Promise<void> | undefined;
  return {
    dataUrl: `http://${urlHost(options.hostname)}:${dataPort}`,
    controlUrl,
    token,
    tokenFile,
    workerPids: () => executor.workerPids,
    serviceSocketPath: serviceSocket.path,
    close: () => (closed ??= shutDown()),
  };
}

/**
 * An HTTP server for `fetch` (the control API). A client gets `headersTimeoutMs` to send its
 * request head, checked every quarter of that: a slow-loris client that
 * dribbles headers is cut off (408) instead of holding a connection for
 * Node's default minute.
 */
function listen(fetch: (request: Request, env: never) => Response | Promise<Response>, port: number, hostname: string, headersTimeoutMs: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: fetch as never, port, hostname, overrideGlobalObjects: false, serverOptions: serverOptions(headersTimeoutMs) }, () => resolve(server as Server)) as Server;
    server.once("error", reject);
  });
}

/** The data plane's server: node:http with the data plane's handler, same timeouts. */
function listenRaw(handler: RequestHandler, port: number, hostname: string, headersTimeoutMs: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(serverOptions(headersTimeoutMs), handler);
    server.once("error", reject);
    server.listen(port, hostname, () => resolve(server));
  });
}

function serverOptions(headersTimeoutMs: number): ServerOptions {
  return { headersTimeout: headersTimeoutMs, connectionsCheckingInterval: Math.max(100, Math.floor(headersTimeoutMs / 4)) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** The buckets each deployed script binds, in its active version and its canary. */
function boundBuckets(deployments: Deployments): { script: string; buckets: string[] }[] {
  return deployments.list().map((active) => ({
    script: active.key.script,
    buckets: [...active.config.buckets, ...(active.canary?.config.buckets ?? [])].map((bucket) => bucket.bucket_name),
  }));
}

/** Where a script answers: its <name>.localhost host and each of its routes. */
export function publicUrls(config: ScriptConfig, port: number): string[] {
  const urls = [`http://${config.name}.${HOST_DEFAULTS.baseDomains[0]}:${port}/`];
  for (const route of config.routes) {
    urls.push(route.startsWith("/") ? `http://127.0.0.1:${port}${route}` : `http://${route.replace(/^([^/]*)/, `$1:${port}`)}`);
  }
  return urls;
}

function urlHost(hostname: string): string {
  if (hostname === "0.0.0.0" || hostname === "::") return "127.0.0.1";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}
