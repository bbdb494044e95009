// The data plane: receives every public request, finds the function that
// answers it and hands it to the executor; streams the response back. It never
// runs user code itself.
//
// It is a plain node:http request handler, not a Hono app: it answers from
// the raw request and writes the raw response, so a framework's Request and
// Response objects would be built for nothing (3.5 µs a request measured,
// out of a budget of ~25). The common case (no body, a response inline) runs
// without an await.
import type { IncomingMessage, ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";
import { AtollError, FetchLoopError, NoRouteError, RequestBodyTooLargeError, ResponseBodyTooLargeError, ServiceNotDeployedError, ServiceTokenError, StoreUnavailableError, WorkerCrashedError } from "../errors.js";
import { InvocationError, InvocationTerminatedError, InvocationRecorder, type Executor, type InvocationResponse, type ResponseBodyReader } from "../executor/executor.js";
import { FETCH_DEPTH_HEADER, SERVICE_MISSING_HEADER, SERVICE_SCRIPT_HEADER, SERVICE_TOKEN_HEADER, SERVICE_URL_HEADER, versionId, type VersionKey } from "../executor/ipc.js";
import type { HostMetrics } from "../metrics.js";
import type { FetchEvent, HeaderList } from "../runtime/protocol.js";
import { CLIENT_KEY_HEADER } from "./canary.js";
import type { ActiveScript, Deployments } from "./deployments.js";
import { takeRequestBody, type RequestBody } from "./request-body.js";
import { HOST_DEFAULTS } from "../host-defaults.js";
import type { Observer } from "../observe/observer.js";
import type { Outcome } from "../observe/records.js";
import { errorTextOf, outcomeOf } from "../observe/outcome.js";
import type { ObjectStore } from "../store/objects.js";
import { notFoundAsset, parseAssetsServiceTarget, resolveAsset, serveAsset, type AssetMatch, type AssetsConfig } from "./assets.js";

export interface DataPlaneOptions {
  deployments: Deployments;
  executor: Executor;
  /** Largest request body passed to a function, bytes; larger ones get 413. */
  maxRequestBodyBytes: number;
  /** Function-to-function fetch hops a request may be from its client; deeper ones get 508. */
  maxFetchDepth: number;
  log(line: string): void;
  /** Counters and histograms for GET /metrics (optional: benches and tests may leave it out). */
  metrics?: HostMetrics;
  /** Gets a record of every invocation (../observe/observer.ts); optional, as metrics. */
  observer?: Observer;
  /**
   * A shared store (Redis): why it cannot be reached now, or null. While it
   * cannot, functions with KV or bucket bindings get 503 with the reason;
   * the others are served as usual.
   */
  storeUnavailable?: () => string | null;
  /** Where static assets' bytes are (`[assets]`); without it, requests always go to the function. */
  objects?: ObjectStore;
}

/** Console lines kept in one invocation's record; the rest are counted. */
const RECORDED_LOG_LINES = 100;

export type RequestHandler = (incoming: IncomingMessage, outgoing: ServerResponse) => void;

/** On every response a function gave (or failed to give): the version that answered. */
const VERSION_HEADER = "x-atoll-version";

const MIB = 1024 * 1024;
/** Methods HTTP defines as safe: running one twice has no more effect than once. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Headers that describe one hop of HTTP, not the message: never forwarded. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "proxy-connection", "te", "trailer"]);

/** What one request needs to be answered and logged. */
interface Exchange {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
  started: number;
  key: VersionKey;
  method: string;
  path: string;
  /** Path and query. */
  target: string;
  version: string;
  depth: number;
  event: FetchEvent;
  body: RequestBody | null;
  requestLimit: number;
  requestLimitIsFunction: boolean;
  responseLimit: number;
  memoryMb: number;
  /** Says when the invocation is over (after its response and waitUntil work) and the CPU it used. */
  recorder: InvocationRecorder | null;
  retried: boolean;
}

/** Where a request goes: the script and the URL its function sees, a version's static assets (its ASSETS binding), or an error to answer with. */
type Target = { active: ActiveScript; url: string } | { assets: AssetsConfig; version: string } | AtollError;

/** What routing reads of a request head; `service`: the service-call headers (only the service socket reads them). */
interface RequestHead {
  host: string;
  target: string;
  path: string;
  service: { token?: string; script?: string; url?: string } | null;
}

/** The public port's handler: requests are routed by Host and path. */
export function createDataPlane(options: DataPlaneOptions): RequestHandler {
  const { deployments } = options;
  return createPlane(options, false, (incoming, head) => {
    const active = deployments.route(head.host, head.path);
    if (!active) return new NoRouteError(head.host, head.path, incoming.socket.localPort ?? 0, HOST_DEFAULTS.baseDomains);
    return { active, url: `http://${head.host || "localhost"}${head.target}` };
  });
}

/**
 * The service socket's handler (a Unix socket only workers know, with the
 * host's service token): service-binding calls (env.AUTH.fetch) name their
 * script in a header and skip routing; everything else (limits, the loop
 * depth, streaming, crash retries, logs) is the public path's.
 */
export function createServicePlane(options: DataPlaneOptions & { token: string }): RequestHandler {
  const { deployments, token } = options;
  const expected = Buffer.from(token);
  return createPlane(options, true, (_incoming, head) => {
    const given = Buffer.from(head.service?.token ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return new ServiceTokenError();
    const script = head.service?.script ?? "";
    const assetsOf = parseAssetsServiceTarget(script);
    if (assetsOf) {
      // env.ASSETS.fetch(): the calling version's files (the canary's, for a canary).
      const active = deployments.get(assetsOf.script);
      const config = active && (active.canary?.key.version === assetsOf.version ? active.canary.config : active.config);
      if (!config?.assets) return new ServiceNotDeployedError(assetsOf.script);
      return { assets: config.assets, version: String(assetsOf.version) };
    }
    const active = deployments.get(script);
    if (!active) return new ServiceNotDeployedError(script);
    return { active, url: head.service?.url ?? `http://${head.host || "localhost"}${head.target}` };
  });
}

function createPlane({ deployments, executor, maxRequestBodyBytes, maxFetchDepth, log, metrics, observer, storeUnavailable, objects }: DataPlaneOptions, serviceCalls: boolean, targetOf: (incoming: IncomingMessage, head: RequestHead) => Target): RequestHandler {
  const label = (exchange: Exchange) => `${exchange.key.script}@v${exchange.key.version} ${exchange.method} ${exchange.path}`;
  const tooLarge = (exchange: Exchange) => new RequestBodyTooLargeError(exchange.requestLimit, exchange.requestLimitIsFunction ? "function" : "host");
  const trigger = serviceCalls ? "invoke" : "http";

  /** The invocation's record, once it is over (its CPU known). */
  function record(exchange: Exchange, status: number | null, outcome: Outcome, error: unknown, bytesOut: number | null): void {
    if (!observer) return;
    const wallMs = performance.now() - exchange.started;
    const time = Math.round(Date.now() - wallMs);
    const { body, recorder } = exchange;
    observer.record({
      time,
      script: exchange.key.script,
      version: exchange.key.version,
      trigger,
      method: exchange.method,
      path: exchange.target,
      event: null,
      status,
      outcome,
      wallMs: Math.round(wallMs * 100) / 100,
      cpuMs: recorder?.cpuMs ?? null,
      subrequests: recorder?.subrequests ?? null,
      memoryMb: exchange.memoryMb,
      bytesIn: body === null ? null : body.kind === "none" ? 0 : body.kind === "inline" ? body.bytes.byteLength : body.source.bytesReceived,
      bytesOut,
      fetchBytesOut: recorder?.fetchBytesOut ?? null,
      fetchBytesIn: recorder?.fetchBytesIn ?? null,
      heapMb: recorder?.heapMb ?? null,
      error: error === null ? null : errorTextOf(error),
      logs: recorder?.logs ?? [],
      droppedLogs: recorder?.dropped ?? 0,
    });
  }

  function handle(incoming: IncomingMessage, outgoing: ServerResponse): void {
    const started = performance.now();
    // One pass over the raw headers: what routing needs, and the list the function gets.
    const raw = incoming.rawHeaders;
    const headers: HeaderList = [];
    let host = "";
    let depthHeader: string | undefined;
    let clientKey: string | undefined;
    const service: RequestHead["service"] = serviceCalls ? {} : null;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      const value = raw[i + 1]!;
      if (name === FETCH_DEPTH_HEADER) {
        depthHeader = value;
        continue;
      }
      if (service !== null) {
        if (name === SERVICE_TOKEN_HEADER) service.token ??= value;
        else if (name === SERVICE_SCRIPT_HEADER) service.script ??= value;
        else if (name === SERVICE_URL_HEADER) service.url ??= value;
        if (name.startsWith("x-atoll-service")) continue;
      }
      if (name === "host") host ||= value;
      else if (name === CLIENT_KEY_HEADER) clientKey ??= value;
      headers.push([name, value]);
    }
    const target = incoming.url ?? "/";
    const query = target.indexOf("?");
    const path = query === -1 ? target : target.slice(0, query);
    const routed = targetOf(incoming, { host, target, path, service });
    if (routed instanceof AtollError) {
      sendError(outgoing, routed, routed instanceof ServiceNotDeployedError ? { [SERVICE_MISSING_HEADER]: "1" } : {});
      return;
    }
    const method = incoming.method ?? "GET";
    if ("assets" in routed) {
      // The assets binding answers as Workers' asset server does: files only, then not_found_handling, then 404.
      if (method !== "GET" && method !== "HEAD") {
        sendText(outgoing, 405, "Method Not Allowed: static assets answer GET and HEAD only\n", "ATOLL_BAD_REQUEST", { allow: "GET, HEAD", [VERSION_HEADER]: routed.version });
        return;
      }
      const match = resolveAsset(routed.assets, path) ?? notFoundAsset(routed.assets, path);
      if (match) answerAsset(match, incoming, outgoing, routed.version);
      else sendText(outgoing, 404, "Not Found\n", "ATOLL_NOT_FOUND", { [VERSION_HEADER]: routed.version });
      return;
    }
    const active = routed.active;
    // During a gradual deploy the client's key decides which version answers (./canary.ts).
    const key = active.canary === null ? active.key : deployments.pick(active, () => (clientKey ? `k:${clientKey}` : `a:${incoming.socket.remoteAddress ?? routed.url}`));
    const config = configOf(active, key);
    // Static assets answer a GET or HEAD they match before the function runs (unless it runs first).
    const assets = config.assets;
    if (assets !== undefined && !serviceCalls && !assets.run_worker_first && (method === "GET" || method === "HEAD")) {
      const match = resolveAsset(assets, path) ?? (assets.not_found_handling === "single-page-application" && navigates(incoming) ? notFoundAsset(assets, path) : null);
      if (match) {
        answerAsset(match, incoming, outgoing, String(key.version));
        return;
      }
    }
    const { limits } = config;
    if (storeUnavailable && (config.kv_namespaces.length > 0 || config.buckets.length > 0)) {
      const reason = storeUnavailable();
      if (reason !== null) {
        sendError(outgoing, new StoreUnavailableError(`the shared store that ${key.script}'s bindings need`, reason));
        return;
      }
    }
    // The function's own body limits, within the host's.
    const scriptRequestLimit = limits.request_body_mb * MIB;
    const exchange: Exchange = {
      incoming,
      outgoing,
      started,
      key,
      method,
      path,
      target,
      version: String(key.version),
      depth: fetchDepth(depthHeader),
      event: { type: "fetch", method, url: routed.url, headers, body: null },
      body: null,
      requestLimit: Math.min(maxRequestBodyBytes, scriptRequestLimit),
      requestLimitIsFunction: scriptRequestLimit < maxRequestBodyBytes,
      responseLimit: limits.response_body_mb * MIB,
      memoryMb: limits.memory_mb,
      recorder: null,
      retried: false,
    };
    if (exchange.depth > maxFetchDepth) {
      const status = sendFailure(outgoing, new FetchLoopError(exchange.depth, maxFetchDepth), exchange.version);
      log(`${label(exchange)} ${status} ATOLL_LOOP_DETECTED depth ${exchange.depth} ${elapsed(started)}ms`);
      record(exchange, status, "rejected", new FetchLoopError(exchange.depth, maxFetchDepth), 0);
      metrics?.countInvocation(key.script, status, "none");
      metrics?.terminations.inc({ script: key.script, limit: "fetch_depth" });
      return;
    }
    let body: RequestBody | Promise<RequestBody>;
    try {
      body = takeRequestBody(incoming, exchange.requestLimit, () => tooLarge(exchange));
    } catch (error) {
      failed(exchange, error);
      return;
    }
    if (body instanceof Promise) {
      body.then(
        (taken) => start(exchange, taken),
        (error: unknown) => failed(exchange, error),
      );
    } else start(exchange, body);
  }

  function answerAsset(match: NonNullable<AssetMatch>, incoming: IncomingMessage, outgoing: ServerResponse, version: string): void {
    if (!objects) {
      sendText(outgoing, 503, "Service Unavailable: this host serves no static assets\n", "ATOLL_WORKER_UNAVAILABLE", { [VERSION_HEADER]: version });
      return;
    }
    serveAsset(objects, match, incoming, outgoing, { [VERSION_HEADER]: version }).catch((error: unknown) => {
      log(`static asset ${match.kind === "file" ? match.path : match.location} failed: ${error instanceof Error ? error.message : String(error)}`);
      sendText(outgoing, 500, "Internal Server Error: the static asset could not be read\n", "ATOLL_INTERNAL", { [VERSION_HEADER]: version });
    });
  }

  function start(exchange: Exchange, body: RequestBody): void {
    exchange.body = body;
    exchange.event.body = body.kind === "none" ? null : body.kind === "inline" ? body.bytes : "stream";
    const recorder = (exchange.recorder = new InvocationRecorder(observer ? RECORDED_LOG_LINES : 0));
    const { outgoing } = exchange;
    executor
      .fetch(
        exchange.key,
        exchange.event,
        body.kind === "stream" ? body.source : null,
        (abort) =>
          outgoing.once("close", () => {
            if (!outgoing.writableFinished) abort();
          }),
        exchange.depth,
        recorder,
      )
      .then(
        (response) => respond(exchange, response),
        (error: unknown) => {
          // Another function took the worker down with this request in flight. A
          // safe request with no body is run again, once, on the replacement; an
          // unsafe one is not (it may have had effects), nor the culprit's own.
          if (
            error instanceof WorkerCrashedError &&
            !exchange.retried &&
            SAFE_METHODS.has(exchange.method) &&
            body.kind === "none" &&
            !error.culprits.includes(versionId(exchange.key))
          ) {
            exchange.retried = true;
            log(`${label(exchange)} retried: its worker died while ${error.culprits.join(", ") || "something else"} was executing`);
            start(exchange, body);
            return;
          }
          failed(exchange, error);
        },
      );
  }

  function failed(exchange: Exchange, caught: unknown): void {
    const { outgoing, body, key } = exchange;
    // A body that outgrew the limit fails the function's read; what the client needs to hear is 413.
    const error = body?.kind === "stream" && body.source.overflowed ? tooLarge(exchange) : caught;
    if (error instanceof RequestBodyTooLargeError) outgoing.shouldKeepAlive = false;
    const status = sendFailure(outgoing, error, exchange.version);
    const wallMs = elapsed(exchange.started);
    // The reason last: a stack trace spans several lines.
    whenOver(exchange.recorder, (cpu) => {
      log(`${label(exchange)} ${status} ${wallMs}ms${cpu} ${describeFailure(error)}`);
      record(exchange, status, outcomeOf(error), error, null);
    });
    if (metrics) {
      metrics.countInvocation(key.script, status, "none");
      const limit = terminationOf(error);
      if (limit) metrics.terminations.inc({ script: key.script, limit });
    }
  }

  function respond(exchange: Exchange, response: InvocationResponse): void {
    const { outgoing, method, key, started } = exchange;
    const start = response.cold ? "cold" : "warm";
    const headMs = elapsed(started);
    const headers = flattenHeaders(response.headers, `atoll;desc="${start}";dur=${headMs}`, exchange.version);
    const noBody = method === "HEAD" || response.status === 204 || response.status === 304;
    if (response.body === null || response.body instanceof Uint8Array) {
      const bytes = noBody ? null : response.body;
      if (bytes && bytes.byteLength > exchange.responseLimit) {
        const status = sendFailure(outgoing, new ResponseBodyTooLargeError(exchange.responseLimit), exchange.version, { "x-atoll-termination": "response_body_mb" });
        log(`${label(exchange)} ${status} ATOLL_RESPONSE_TOO_LARGE ${bytes.byteLength} bytes ${elapsed(started)}ms`);
        whenOver(exchange.recorder, () => record(exchange, status, "rejected", new ResponseBodyTooLargeError(exchange.responseLimit), null));
        metrics?.countInvocation(key.script, status, start);
        metrics?.terminations.inc({ script: key.script, limit: "response_body_mb" });
        return;
      }
      headers.push("content-length", String(bytes?.byteLength ?? 0));
      outgoing.writeHead(response.status, response.statusText || undefined, headers);
      outgoing.end(bytes ?? undefined);
      answered(exchange, response, headMs, bytes?.byteLength ?? 0);
      return;
    }
    outgoing.writeHead(response.status, response.statusText || undefined, headers);
    const progress = { sent: 0 };
    pipeBody(response.body, outgoing, noBody, exchange.responseLimit, progress).then(
      () => answered(exchange, response, headMs, progress.sent),
      (error: unknown) => {
        // The head is out: all we can do is cut the connection (no last chunk), so
        // that the client sees a broken body, never a clean end of a short one.
        outgoing.destroy();
        // The outcome first, not the status: the 200 went out, but what happened is the limit.
        const limit = terminationOf(error);
        const outcome = `aborted${limit ? ` (${limit})` : ""} after a ${response.status} head and ${progress.sent} bytes`;
        whenOver(exchange.recorder, (cpu) => {
          log(`${label(exchange)} ${outcome} ${elapsed(started)}ms${cpu}: ${describeFailure(error)}`);
          record(exchange, response.status, limit === "response_body_mb" ? "rejected" : outcomeOf(error), error, progress.sent);
        });
        if (metrics) {
          metrics.countInvocation(key.script, response.status, start);
          if (limit) metrics.terminations.inc({ script: key.script, limit });
        }
      },
    );
  }

  function answered(exchange: Exchange, response: InvocationResponse, headMs: string, bytesOut: number): void {
    const start = response.cold ? "cold" : "warm";
    const wallMs = elapsed(exchange.started);
    whenOver(exchange.recorder, (cpu) => {
      log(`${label(exchange)} ${response.status} ${start} ${wallMs}ms${cpu}`);
      record(exchange, response.status, "ok", null, bytesOut);
    });
    if (metrics) {
      metrics.countInvocation(exchange.key.script, response.status, start);
      metrics.observeHead(exchange.key.script, start, Number(headMs) / 1000);
    }
  }

  return (incoming, outgoing) => {
    try {
      handle(incoming, outgoing);
    } catch (error) {
      // A bug of ours, not the function's: the client still gets an answer.
      log(`data plane: ${incoming.method} ${incoming.url} failed in the host: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      sendText(outgoing, 500, "Internal Server Error\n", "ATOLL_INTERNAL");
    }
  };
}

/** A browser's navigation (a page load, not a fetch from a script): what single-page-application mode answers with /index.html. */
function navigates(incoming: IncomingMessage): boolean {
  return incoming.headers["sec-fetch-mode"] === "navigate";
}

function configOf(active: ActiveScript, key: VersionKey): ActiveScript["config"] {
  return key === active.key || active.canary === null ? active.config : active.canary.config;
}

/** Runs `then` with " (cpu 0.42ms)" once the invocation is over ("" when it never ran to its end). */
function whenOver(recorder: InvocationRecorder | null, then: (cpuNote: string) => void): void {
  if (!recorder) return then("");
  recorder.whenOver(() => then(recorder.cpuMs === null ? "" : ` (cpu ${recorder.cpuMs.toFixed(2)}ms)`));
}

/** The limit an error stands for, as the terminations metric names it; null for other failures. */
function terminationOf(error: unknown): string | null {
  if (error instanceof InvocationTerminatedError) return error.limit;
  if (error instanceof RequestBodyTooLargeError) return "request_body_mb";
  if (error instanceof ResponseBodyTooLargeError) return "response_body_mb";
  return null;
}

/** Streams the body; `progress.sent` counts the bytes written, for the log line of a body that fails midway. */
async function pipeBody(reader: ResponseBodyReader, outgoing: ServerResponse, discard: boolean, maxBytes: number, progress: { sent: number }): Promise<void> {
  if (discard) {
    reader.cancel("no body is sent for this response");
    outgoing.end();
    return;
  }
  for (let chunk = await reader.read(); chunk; chunk = await reader.read()) {
    if (outgoing.destroyed) {
      reader.cancel("the client went away");
      return;
    }
    if (progress.sent + chunk.byteLength > maxBytes) {
      reader.cancel("the response body is over its limit");
      throw new ResponseBodyTooLargeError(maxBytes);
    }
    progress.sent += chunk.byteLength;
    if (!outgoing.write(chunk)) await drained(outgoing);
  }
  outgoing.end();
}

function drained(outgoing: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      outgoing.off("drain", done);
      outgoing.off("close", done);
      resolve();
    };
    outgoing.once("drain", done);
    outgoing.once("close", done);
  });
}

/** The fetch depth a request claims; anything unreadable counts as a client's own request. */
function fetchDepth(value: string | undefined): number {
  const depth = value === undefined ? 0 : Number.parseInt(value, 10);
  return Number.isSafeInteger(depth) && depth > 0 ? depth : 0;
}

function flattenHeaders(headers: HeaderList, serverTiming: string, version: string): string[] {
  const flat: string[] = [];
  let timing = serverTiming;
  for (const [name, value] of headers) {
    if (HOP_BY_HOP.has(name) || name === VERSION_HEADER) continue;
    if (name === "server-timing") {
      timing = `${value}, ${timing}`;
      continue;
    }
    flat.push(name, value);
  }
  flat.push("server-timing", timing, VERSION_HEADER, version);
  return flat;
}

/** Sends the error response for a failed invocation of `version`; returns its status. */
function sendFailure(outgoing: ServerResponse, error: unknown, version: string, extraHeaders: Record<string, string> = {}): number {
  const versionHeader = { [VERSION_HEADER]: version, ...extraHeaders };
  if (error instanceof InvocationTerminatedError) {
    // 503 for CPU (retrying may help once load drops), 504 for wall-clock time, as a gateway would.
    const status = error.limit === "wall_ms" ? 504 : 503;
    const code = error.limit === "wall_ms" ? "ATOLL_WALL_LIMIT" : error.limit === "memory_mb" ? "ATOLL_MEMORY_LIMIT" : "ATOLL_CPU_LIMIT";
    sendText(outgoing, status, `${status === 504 ? "Gateway Timeout" : "Service Unavailable"}: ${error.message}\n`, code, {
      "x-atoll-termination": error.limit,
      ...versionHeader,
    });
    return status;
  }
  if (error instanceof InvocationError) {
    // The function's own failure: a generic body; the stack goes to the host's log only.
    const status = error.kind === "script" ? 500 : 503;
    const text = error.kind === "script" ? "Internal Server Error: the function threw an exception\n" : "Service Unavailable: the function could not be run\n";
    sendText(outgoing, status, text, error.kind === "script" ? "ATOLL_SCRIPT_THREW" : "ATOLL_WORKER_UNAVAILABLE", versionHeader);
    return status;
  }
  if (error instanceof AtollError) {
    sendError(outgoing, error, versionHeader);
    return error.status;
  }
  sendText(outgoing, 500, "Internal Server Error\n", "ATOLL_INTERNAL", versionHeader);
  return 500;
}

function sendError(outgoing: ServerResponse, error: AtollError, extraHeaders: Record<string, string> = {}): void {
  sendText(outgoing, error.status, `${error.message}\n`, error.code, extraHeaders);
}

function sendText(outgoing: ServerResponse, status: number, text: string, code: string, extraHeaders: Record<string, string> = {}): void {
  if (outgoing.headersSent) {
    outgoing.destroy();
    return;
  }
  const body = Buffer.from(text);
  outgoing.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": body.byteLength, "x-atoll-error": code, ...extraHeaders });
  outgoing.end(body);
}

function describeFailure(error: unknown): string {
  if (error instanceof InvocationTerminatedError) return `terminated (${error.limit}): ${error.message}`;
  if (error instanceof InvocationError) return error.kind === "script" ? `threw: ${error.scriptStack || error.message}` : `failed: ${error.message}`;
  if (error instanceof AtollError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

function elapsed(started: number): string {
  return (performance.now() - started).toFixed(2);
}
