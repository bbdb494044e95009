// Invocations (protocol.ts): install() takes the user's default export,
// dispatch() runs its fetch handler for one request and reports the response
// (or its scheduled or storage handler for one event and reports the outcome),
// pull() streams the response body one chunk per call, abort() gives up.
// Nothing the user does can make these throw into the host.
import { AbortController, type AbortSignal } from "./abort.js";
import { takeBodyPayload } from "./body.js";
import { cancelOp, emit, invocationEnded, invocationStarted, runAs, startOp } from "./bridge.js";
import { DOMException } from "./dom-exception.js";
import { Bucket } from "./bucket.js";
import { KVNamespace } from "./kv.js";
import { ServiceBinding } from "./fetch.js";
import type { BindingSpec, FetchEvent, InstalledHandlers, InvocationEvent, ScheduledEvent, StorageEvent as StorageEventData, TriggerEvent } from "./protocol.js";
import { claimHostStream, markHostStream } from "./host-stream.js";
import { describeError, reportRejection, reportUncaught } from "./report-error.js";
import { type Request, requestFromHost } from "./request.js";
import { URL } from "./url.js";
import { Response, responseHead } from "./response.js";
import { ReadableStream, type ReadableStreamDefaultReader, chunkBytes } from "./streams.js";

type Handler = (...args: unknown[]) => unknown;

interface Installed {
  target: object;
  fetch: Handler | null;
  scheduled: Handler | null;
  storage: Handler | null;
  env: Record<string, unknown>;
}

interface Invocation {
  id: number;
  controller: AbortController | null;
  abortReason: string | null;
  reader: ReadableStreamDefaultReader<unknown> | null;
  /** A pull() is being answered. */
  pulling: boolean;
  /** No more response messages will be sent: inline body sent, stream ended or errored, or aborted. */
  responseOver: boolean;
  pendingWaitUntil: number;
  done: boolean;
  /** The handler called noRetry() (scheduled and storage events). */
  noRetry: boolean;
  /** request-body-read ops in flight, dropped when the invocation is done. */
  bodyReads: Map<number, (error: Error) => void> | null;
}

let installed: Installed | null = null;
const invocations = new Map<number, Invocation>();

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === "string" && name !== "" && name !== "Object" ? `an instance of ${name}` : "an object";
  }
  return typeof value === "string" ? "a string" : typeof value;
}

function handlerOf(target: object, name: string): Handler | null {
  let value: unknown;
  try {
    value = (target as Record<string, unknown>)[name];
  } catch (error) {
    throw new TypeError(`reading the default export's "${name}" threw: ${describeError(error).message}`);
  }
  if (value === undefined || value === null) return null;
  if (typeof value !== "function") throw new TypeError(`the default export's "${name}" must be a function, got ${describe(value)}`);
  return value as Handler;
}

/** A request and a handler of the runtime's own, for warm() (protocol.ts). */
const WARM_EVENT = JSON.stringify({
  type: "fetch",
  method: "GET",
  url: "http://warm.localhost/path/to?a=1&b=two",
  headers: [["accept", "*/*"], ["host", "warm.localhost"], ["user-agent", "atoll-warm"]],
});

async function warmHandler(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const accept = request.headers.get("accept");
  const response = Response.json({ path: url.pathname, query: url.searchParams.get("a"), accept }, { headers: { "x-warm": "1" } });
  await response.clone().text();
  // Console formatting too (what it emits now goes nowhere: no invocation of the host's has this id).
  (globalThis as unknown as { console: { log(...args: unknown[]): void } }).console.log("warm", url.pathname, { accept, n: 1 }, [1, "two"], new Error("warm").message);
  return new Response(`hello ${url.pathname}`, { headers: { "content-type": "text/plain" } });
}

/** Entry point: the request path run once before any user code (protocol.ts warm). */
export function warm(): void {
  if (installed !== null) return;
  const id = -1;
  installed = { target: {}, fetch: warmHandler as Handler, scheduled: null, storage: null, env: {} };
  try {
    dispatch(id, WARM_EVENT, null);
  } finally {
    installed = null;
  }
}

/** Entry point: called once with the module's default export and the script's bindings. */
export function install(defaultExport: unknown, env: Record<string, unknown>, bindings: BindingSpec[] = []): InstalledHandlers {
  if (installed !== null) throw new Error("install() was already called for this isolate");
  if (defaultExport === null || (typeof defaultExport !== "object" && typeof defaultExport !== "function")) {
    throw new TypeError(
      `the module's default export must be an object with a fetch, scheduled or storage function (export default { async fetch(request, env, ctx) { ... } }), got ${describe(defaultExport)}`,
    );
  }
  const target = defaultExport as object;
  const fetch = handlerOf(target, "fetch");
  const scheduled = handlerOf(target, "scheduled");
  const storage = handlerOf(target, "storage");
  if (!fetch && !scheduled && !storage) {
    throw new TypeError(
      "the module's default export has no handler: give it a fetch(request, env, ctx), scheduled(controller, env, ctx) or storage(event, env, ctx) function",
    );
  }
  const fullEnv: Record<string, unknown> = env ?? {};
  for (const binding of bindings ?? []) {
    fullEnv[binding.name] = binding.kind === "kv" ? new KVNamespace(binding.name) : binding.kind === "service" ? new ServiceBinding(binding.name) : new Bucket(binding.name);
  }
  installed = { target, fetch, scheduled, storage, env: fullEnv };
  return { fetch: fetch !== null, scheduled: scheduled !== null, storage: storage !== null };
}

/** The `ctx` argument of handlers. */
class ExecutionContext {
  #invocation: Invocation;
  #props: Record<string, unknown> | undefined;
  constructor(invocation: Invocation) {
    this.#invocation = invocation;
  }

  waitUntil(promise: unknown): void {
    const invocation = this.#invocation;
    if (invocation.done) return;
    invocation.pendingWaitUntil++;
    const settle = () => {
      invocation.pendingWaitUntil--;
      finishIfOver(invocation);
    };
    const settled = Promise.resolve(promise);
    settled.then(settle, (error: unknown) => {
      // Handed to the platform and rejected: nobody in user code handled it.
      reportRejection(promise instanceof Promise ? promise : settled, error, invocation.id);
      settle();
    });
  }

  passThroughOnException(): void {
    // There is no origin behind Atoll to fall through to: errors become 500s.
  }

  /** Workers' entrypoint props: empty for a request from outside, as every request here is. */
  get props(): Record<string, unknown> {
    return (this.#props ??= {});
  }
}

Object.defineProperty(ExecutionContext.prototype, Symbol.toStringTag, { value: "ExecutionContext", configurable: true });
// Minified, the class lost its name; ctx.constructor.name should say what it is.
Object.defineProperty(ExecutionContext, "name", { value: "ExecutionContext", configurable: true });

function signalOf(invocation: Invocation): AbortSignal {
  const controller = (invocation.controller ??= new AbortController());
  if (invocation.abortReason !== null) controller.abort(new DOMException(invocation.abortReason, "AbortError"));
  return controller.signal;
}

/** The request body the host streams: each pull asks the host for the next chunk. */
function requestBodyStream(invocation: Invocation): ReadableStream<Uint8Array> {
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (invocation.done) return Promise.reject(new TypeError("the request body cannot be read after the invocation is over"));
        const reads = (invocation.bodyReads ??= new Map());
        return new Promise<void>((resolve, reject) => {
          const op = startOp({ name: "request-body-read", id: invocation.id }, (ok, value) => {
            reads.delete(op);
            if (!ok) reject(new TypeError(`reading the request body failed: ${String(value)}`));
            else if (value === null || value === undefined) {
              controller.close();
              resolve();
            } else if (value instanceof Uint8Array) {
              if (value.length > 0) controller.enqueue(value);
              resolve();
            } else reject(new TypeError("reading the request body failed: the host sent no bytes"));
          });
          reads.set(op, reject);
        });
      },
    },
    { highWaterMark: 0 },
  );
  return markHostStream(stream, { from: "request", id: invocation.id });
}

/** Captured at boot: user code may replace JSON's methods. */
const parseJson = JSON.parse;

/**
 * Entry point: runs invocation `id`, whose event comes as JSON (a string
 * crosses cheaply; protocol.ts) and a fetch event's body beside it. Never throws.
 */
export function dispatch(id: number, eventJson: string, body: FetchEvent["body"] = null): void {
  if (invocations.has(id)) return;
  const invocation: Invocation = {
    id,
    controller: null,
    abortReason: null,
    reader: null,
    pulling: false,
    responseOver: false,
    pendingWaitUntil: 0,
    done: false,
    noRetry: false,
    bodyReads: null,
  };
  invocations.set(id, invocation);
  invocationStarted(id);
  try {
    const handlers = installed;
    if (handlers === null) throw new Error("the script was not installed");
    const event = (typeof eventJson === "string" ? parseJson(eventJson) : null) as InvocationEvent | null;
    if (event === null || typeof event !== "object") throw new TypeError("the host sent no event");
    if (event.type === "fetch") event.body = body === null || body === "stream" || body instanceof Uint8Array ? body : null;
    if (event.type === "fetch") {
      if (handlers.fetch === null) throw new TypeError("this script has no fetch handler (export default { fetch(request, env, ctx) { ... } })");
      runFetch(invocation, handlers, event);
    } else runTriggered(invocation, handlers, event);
  } catch (error) {
    fail(invocation, error);
  }
}

/** The `controller` argument of scheduled(): Workers' ScheduledController. */
class ScheduledController {
  readonly type = "scheduled";
  readonly cron: string;
  /** When the tick was due, ms since the epoch. */
  readonly scheduledTime: number;
  #invocation: Invocation;

  constructor(invocation: Invocation, event: ScheduledEvent) {
    this.#invocation = invocation;
    this.cron = String(event.cron);
    this.scheduledTime = Number(event.scheduledTime);
  }

  /** A failure of this run is final: no retry, straight to the dead-letter list. */
  noRetry(): void {
    this.#invocation.noRetry = true;
  }
}

/** The `event` argument of storage(): one change of one object. */
class StorageEvent {
  readonly bucket: string;
  readonly key: string;
  readonly action: "put" | "delete";
  readonly size: number;
  readonly etag: string;
  /** When the change became durable, ISO 8601. */
  readonly time: string;
  #invocation: Invocation;

  constructor(invocation: Invocation, event: StorageEventData) {
    this.#invocation = invocation;
    this.bucket = String(event.bucket);
    this.key = String(event.key);
    this.action = event.action === "delete" ? "delete" : "put";
    this.size = Number(event.size);
    this.etag = String(event.etag);
    this.time = String(event.time);
  }

  /** A failure of this invocation is final: no retry, straight to the dead-letter list. */
  noRetry(): void {
    this.#invocation.noRetry = true;
  }
}

for (const [constructor, name] of [
  [ScheduledController, "ScheduledController"],
  [StorageEvent, "StorageEvent"],
] as const) {
  Object.defineProperty(constructor.prototype, Symbol.toStringTag, { value: name, configurable: true });
  Object.defineProperty(constructor, "name", { value: name, configurable: true });
}

/** Runs the scheduled or storage handler for one event; its outcome is `handled` or `error`. */
function runTriggered(invocation: Invocation, handlers: Installed, event: TriggerEvent): void {
  let handler: Handler | null;
  let argument: object;
  if (event.type === "scheduled") {
    handler = handlers.scheduled;
    if (handler === null) {
      throw new TypeError("this script has no scheduled handler: cron triggers and `atoll invoke --cron` call export default { scheduled(controller, env, ctx) { ... } }");
    }
    argument = new ScheduledController(invocation, event);
  } else if (event.type === "storage") {
    handler = handlers.storage;
    if (handler === null) {
      throw new TypeError("this script has no storage handler: bucket triggers and `atoll invoke --storage` call export default { storage(event, env, ctx) { ... } }");
    }
    argument = new StorageEvent(invocation, event);
  } else {
    throw new TypeError(`this runtime cannot run ${JSON.stringify(String((event as { type?: unknown }).type))} events`);
  }
  const ctx = new ExecutionContext(invocation);
  const run = handler;
  let result: unknown;
  try {
    result = runAs(invocation.id, () => run.call(handlers.target, argument, handlers.env, ctx));
  } catch (error) {
    fail(invocation, error);
    return;
  }
  Promise.resolve(result).then(
    () => handled(invocation),
    (error: unknown) => fail(invocation, error),
  );
}

function handled(invocation: Invocation): void {
  if (invocation.responseOver) return;
  invocation.responseOver = true;
  emit({ t: "handled", id: invocation.id });
  finishIfOver(invocation);
}

function runFetch(invocation: Invocation, handlers: Installed, event: FetchEvent): void {
  const id = invocation.id;
  const body = event.body;
  const request = requestFromHost({
    method: event.method,
    url: event.url,
    headers: event.headers,
    body: body === "stream" ? () => requestBodyStream(invocation) : body,
    signal: () => signalOf(invocation),
  });
  const ctx = new ExecutionContext(invocation);
  let result: unknown;
  try {
    result = runAs(id, () => handlers.fetch!.call(handlers.target, request, handlers.env, ctx));
  } catch (error) {
    fail(invocation, error);
    return;
  }
  // A Response returned synchronously goes out without waiting for a microtask.
  if (result instanceof Response) respond(invocation, result);
  else if (result !== null && typeof result === "object" && typeof (result as { then?: unknown }).then === "function") {
    Promise.resolve(result).then(
      (response) => respond(invocation, response),
      (error: unknown) => fail(invocation, error),
    );
  } else respond(invocation, result);
}

function respond(invocation: Invocation, response: unknown): void {
  if (invocation.responseOver) {
    // Aborted before the handler finished: nobody wants this body any more.
    if (response instanceof Response && response.body !== null && !response.body.locked) response.body.cancel().catch(() => {});
    return;
  }
  try {
    if (!(response instanceof Response)) throw new TypeError(`fetch handler must return a Response, got ${describe(response)}`);
    const head = responseHead(response);
    if (head.type === "error") throw new TypeError("fetch handler returned Response.error()");
    const payload = takeBodyPayload(response);
    if (payload === null || payload instanceof Uint8Array || typeof payload === "string") {
      const body = typeof payload === "string" ? { text: payload } : payload;
      emit({ t: "response", id: invocation.id, status: head.status, statusText: head.statusText, headers: head.headers, body });
      invocation.responseOver = true;
      finishIfOver(invocation);
      return;
    }
    const pipe = claimHostStream(payload);
    if (pipe !== null) {
      // Bytes the host holds: it sends them on itself, and the function's part is over.
      emit({ t: "response", id: invocation.id, status: head.status, statusText: head.statusText, headers: head.headers, body: { pipe } });
      invocation.responseOver = true;
      finishIfOver(invocation);
      return;
    }
    invocation.reader = payload.getReader();
    emit({ t: "response", id: invocation.id, status: head.status, statusText: head.statusText, headers: head.headers, body: "stream" });
  } catch (error) {
    fail(invocation, error);
  }
}

/** Entry point: the host wants the next chunk of invocation `id`'s response body. */
export function pull(id: number): void {
  const invocation = invocations.get(id);
  if (invocation === undefined || invocation.reader === null || invocation.responseOver || invocation.pulling) return;
  invocation.pulling = true;
  runAs(id, () => readChunk(invocation, invocation.reader!));
}

function readChunk(invocation: Invocation, reader: ReadableStreamDefaultReader<unknown>): void {
  let reading: Promise<{ done: boolean; value?: unknown }>;
  try {
    reading = reader.read();
  } catch (error) {
    streamFailed(invocation, error);
    return;
  }
  reading.then(
    ({ done, value }) => {
      if (invocation.responseOver) return;
      if (done) {
        invocation.pulling = false;
        invocation.responseOver = true;
        emit({ t: "end", id: invocation.id });
        finishIfOver(invocation);
        return;
      }
      let bytes: Uint8Array;
      try {
        bytes = chunkBytes(value);
      } catch (error) {
        streamFailed(invocation, error);
        return;
      }
      if (bytes.length === 0) {
        readChunk(invocation, reader);
        return;
      }
      invocation.pulling = false;
      emit({ t: "chunk", id: invocation.id, data: bytes });
    },
    (error: unknown) => streamFailed(invocation, error),
  );
}

function streamFailed(invocation: Invocation, error: unknown): void {
  if (invocation.responseOver) return;
  invocation.reader?.cancel(error).catch(() => {});
  fail(invocation, error);
}

/** Reports `error` for the invocation (unless it is over already) and ends its response. */
function fail(invocation: Invocation, error: unknown): void {
  if (invocation.responseOver) return;
  const { message, stack } = describeError(error);
  invocation.responseOver = true;
  invocation.pulling = false;
  emit({ t: "error", id: invocation.id, message, stack });
  finishIfOver(invocation);
}

/** Sends `done` once the response is over and every waitUntil promise settled. */
function finishIfOver(invocation: Invocation): void {
  if (invocation.done || !invocation.responseOver || invocation.pendingWaitUntil > 0) return;
  invocation.done = true;
  invocations.delete(invocation.id);
  invocationEnded(invocation.id);
  emit(invocation.noRetry ? { t: "done", id: invocation.id, noRetry: true } : { t: "done", id: invocation.id });
  // Nobody is left to wait for request body chunks: stop asking the host.
  for (const [op, reject] of invocation.bodyReads ?? []) {
    cancelOp(op);
    reject(new TypeError("the request body cannot be read after the invocation is over"));
  }
  invocation.bodyReads = null;
}

/** Entry point: the client went away or the host gave up on invocation `id`. */
export function abort(id: number, reason: string): void {
  const invocation = invocations.get(id);
  if (invocation === undefined) return;
  const why = String(reason ?? "aborted");
  invocation.abortReason = why;
  try {
    runAs(id, () => invocation.controller?.abort(new DOMException(why, "AbortError")));
  } catch (error) {
    reportUncaught(error, id);
  }
  invocation.reader?.cancel(new DOMException(why, "AbortError")).catch(() => {});
  invocation.responseOver = true;
  invocation.pulling = false;
  finishIfOver(invocation);
}
