// The data plane: receives every public request, finds the function that
// answers it and hands it to the executor; streams the response back. It never
// runs user code itself.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Hono } from "hono";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { AtollError, FetchLoopError, NoRouteError, RequestBodyTooLargeError, ResponseBodyTooLargeError, WorkerCrashedError } from "../errors.js";
import { InvocationError, InvocationTerminatedError, type Executor, type InvocationResponse, InvocationRecorder } from "../executor/executor.js";
import { FETCH_DEPTH_HEADER, versionId } from "../executor/ipc.js";
import type { HostMetrics } from "../metrics.js";
import type { FetchEvent, HeaderList } from "../runtime/protocol.js";
import { clientKeyOf } from "./canary.js";
import type { Deployments } from "./deployments.js";
import { takeRequestBody, type RequestBody } from "./request-body.js";

type Bindings = { incoming: IncomingMessage; outgoing: ServerResponse };

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
}

/** On every response a function gave (or failed to give): the version that answered. */
const VERSION_HEADER = "x-atoll-version";

const MIB = 1024 * 1024;
/** Methods HTTP defines as safe: running one twice has no more effect than once. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Headers that describe one hop of HTTP, not the message: never forwarded. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "proxy-connection", "te", "trailer"]);

export function createDataPlane({ deployments, executor, maxRequestBodyBytes, maxFetchDepth, log, metrics }: DataPlaneOptions): Hono<{ Bindings: Bindings }> {
  const app = new Hono<{ Bindings: Bindings }>();

  app.all("*", async (c) => {
    const { incoming, outgoing } = c.env;
    const started = performance.now();
    const host = incoming.headers.host ?? "";
    const target = incoming.url ?? "/";
    const query = target.indexOf("?");
    const path = query === -1 ? target : target.slice(0, query);
    const active = deployments.route(host, path);
    if (!active) {
      sendError(outgoing, new NoRouteError(host, path));
      return RESPONSE_ALREADY_SENT;
    }
    // During a gradual deploy the client's key decides which version answers (./canary.ts).
    const key = deployments.pick(active, () => clientKeyOf(incoming.headers, incoming.socket.remoteAddress));
    const { limits } = key === active.key || active.canary === null ? active.config : active.canary.config;
    // The function's own body limits, within the host's.
    const scriptRequestLimit = limits.request_body_mb * MIB;
    const requestLimit = Math.min(maxRequestBodyBytes, scriptRequestLimit);
    const tooLarge = () => new RequestBodyTooLargeError(requestLimit, requestLimit < maxRequestBodyBytes ? "function" : "host");
    const responseLimit = limits.response_body_mb * MIB;
    const version = String(key.version);
    const method = incoming.method ?? "GET";
    const label = `${key.script}@v${key.version} ${method} ${path}`;
    const depth = fetchDepth(incoming.headers[FETCH_DEPTH_HEADER]);
    if (depth > maxFetchDepth) {
      const status = sendFailure(outgoing, new FetchLoopError(depth, maxFetchDepth), version);
      log(`${label} ${status} ATOLL_LOOP_DETECTED depth ${depth} ${elapsed(started)}ms`);
      metrics?.invocations.inc({ script: key.script, status, start: "none" });
      metrics?.terminations.inc({ script: key.script, limit: "fetch_depth" });
      return RESPONSE_ALREADY_SENT;
    }
    const whenClientGone = (abort: () => void) =>
      outgoing.once("close", () => {
        if (!outgoing.writableFinished) abort();
      });

    let response: InvocationResponse;
    let body: RequestBody | undefined;
    // Says when the invocation is over (after its response and waitUntil work) and the CPU it used.
    let recorder: InvocationRecorder | null = null;
    try {
      body = await takeRequestBody(incoming, requestLimit, tooLarge);
      const event: FetchEvent = {
        type: "fetch",
        method,
        url: `http://${host || "localhost"}${target}`,
        headers: headerPairs(incoming.rawHeaders),
        body: body.kind === "none" ? null : body.kind === "inline" ? body.bytes : "stream",
      };
      try {
        recorder = new InvocationRecorder(0);
        response = await executor.fetch(key, event, body.kind === "stream" ? body.source : null, whenClientGone, depth, recorder);
      } catch (crash) {
        // Another function took the worker down with this request in flight. A
        // safe request with no body is run again, once, on the replacement; an
        // unsafe one is not (it may have had effects), nor the culprit's own.
        if (!(crash instanceof WorkerCrashedError) || !SAFE_METHODS.has(method) || body.kind !== "none" || crash.culprits.includes(versionId(key))) throw crash;
        log(`${label} retried: its worker died while ${crash.culprits.join(", ") || "something else"} was executing`);
        recorder = new InvocationRecorder(0);
        response = await executor.fetch(key, event, null, whenClientGone, depth, recorder);
      }
    } catch (caught) {
      // A body that outgrew the limit fails the function's read; what the client needs to hear is 413.
      const error = body?.kind === "stream" && body.source.overflowed ? tooLarge() : caught;
      if (error instanceof RequestBodyTooLargeError) outgoing.shouldKeepAlive = false;
      const status = sendFailure(outgoing, error, version);
      const wallMs = elapsed(started);
      // The reason last: a stack trace spans several lines.
      log(`${label} ${status} ${wallMs}ms${await cpuNote(recorder)} ${describeFailure(error)}`);
      if (metrics) {
        metrics.invocations.inc({ script: key.script, status, start: "none" });
        const limit = terminationOf(error);
        if (limit) metrics.terminations.inc({ script: key.script, limit });
      }
      return RESPONSE_ALREADY_SENT;
    }

    const headMs = elapsed(started);
    const headers = flattenHeaders(response.headers, `atoll;desc="${response.cold ? "cold" : "warm"}";dur=${headMs}`, version);
    const noBody = method === "HEAD" || response.status === 204 || response.status === 304;
    try {
      if (response.body === null || response.body instanceof Uint8Array) {
        const bytes = noBody ? null : response.body;
        if (bytes && bytes.byteLength > responseLimit) {
          const status = sendFailure(outgoing, new ResponseBodyTooLargeError(responseLimit), version, { "x-atoll-termination": "response_body_mb" });
          log(`${label} ${status} ATOLL_RESPONSE_TOO_LARGE ${bytes.byteLength} bytes ${elapsed(started)}ms`);
          metrics?.invocations.inc({ script: key.script, status, start: response.cold ? "cold" : "warm" });
          metrics?.terminations.inc({ script: key.script, limit: "response_body_mb" });
          return RESPONSE_ALREADY_SENT;
        }
        headers.push("content-length", String(bytes?.byteLength ?? 0));
        outgoing.writeHead(response.status, response.statusText || undefined, headers);
        outgoing.end(bytes ?? undefined);
      } else {
        outgoing.writeHead(response.status, response.statusText || undefined, headers);
        await pipeBody(response.body, outgoing, noBody, responseLimit);
      }
      const wallMs = elapsed(started);
      log(`${label} ${response.status} ${response.cold ? "cold" : "warm"} ${wallMs}ms${await cpuNote(recorder)}`);
      if (metrics) {
        const start = response.cold ? "cold" : "warm";
        metrics.invocations.inc({ script: key.script, status: response.status, start });
        metrics.headSeconds.observe({ script: key.script, start }, Number(headMs) / 1000);
      }
    } catch (error) {
      // The head is out: all we can do is cut the connection so the client sees a broken body.
      outgoing.destroy();
      log(`${label} ${response.status} body failed: ${describeFailure(error)}`);
      if (metrics) {
        metrics.invocations.inc({ script: key.script, status: response.status, start: response.cold ? "cold" : "warm" });
        const limit = terminationOf(error);
        if (limit) metrics.terminations.inc({ script: key.script, limit });
      }
    }
    return RESPONSE_ALREADY_SENT;
  });

  return app;
}

/** The limit an error stands for, as the terminations metric names it; null for other failures. */
function terminationOf(error: unknown): string | null {
  if (error instanceof InvocationTerminatedError) return error.limit;
  if (error instanceof RequestBodyTooLargeError) return "request_body_mb";
  if (error instanceof ResponseBodyTooLargeError) return "response_body_mb";
  return null;
}

async function pipeBody(reader: NonNullable<Exclude<InvocationResponse["body"], Uint8Array>>, outgoing: ServerResponse, discard: boolean, maxBytes: number): Promise<void> {
  if (discard) {
    reader.cancel("no body is sent for this response");
    outgoing.end();
    return;
  }
  let sent = 0;
  for (let chunk = await reader.read(); chunk; chunk = await reader.read()) {
    if (outgoing.destroyed) {
      reader.cancel("the client went away");
      return;
    }
    sent += chunk.byteLength;
    if (sent > maxBytes) {
      reader.cancel("the response body is over its limit");
      throw new ResponseBodyTooLargeError(maxBytes);
    }
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

/** Node's rawHeaders ([name, value, name, value …]) as the runtime's header list. */
function headerPairs(raw: string[]): HeaderList {
  const pairs: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name !== FETCH_DEPTH_HEADER) pairs.push([name, raw[i + 1]!]);
  }
  return pairs;
}

/** The fetch depth a request claims; anything unreadable counts as a client's own request. */
function fetchDepth(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header[header.length - 1] : header;
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

/** " (cpu 0.42ms)": the CPU time charged to the invocation, once it is over; "" when it never ran to its end. */
async function cpuNote(recorder: InvocationRecorder | null): Promise<string> {
  if (!recorder) return "";
  await recorder.over;
  return recorder.cpuMs === null ? "" : ` (cpu ${recorder.cpuMs.toFixed(2)}ms)`;
}

function elapsed(started: number): string {
  return (performance.now() - started).toFixed(2);
}
