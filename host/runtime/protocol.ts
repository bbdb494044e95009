// The bridge between the host (a worker process) and the runtime inside each
// isolate: the complete, explicit list of what crosses. Types only; both sides
// import it. Everything is copied across (isolated-vm's ExternalCopy rules:
// primitives, plain objects, arrays, Uint8Array); no Reference ever reaches user code.
//
// Start-up, done by the host in a fresh context:
//   1. set globals `__atoll_emit` (Callback, ignored mode: fire-and-forget,
//      taking one IsolateMessage or an array of them) and
//      `__atoll_random_bytes` (Callback, sync mode);
//   2. run the runtime script, which captures both in its closure, deletes them,
//      and leaves `globalThis.__atoll_runtime: RuntimeEntryPoints`;
//   3. take References to the entry points, then delete `__atoll_runtime`;
//   4. evaluate the user's module and call `install(defaultExport, env)`.

/** A header list in order, names lower-cased, duplicates kept (set-cookie). */
export type HeaderList = [name: string, value: string][];

/** What the host asks the runtime to run. */
export interface FetchEvent {
  type: "fetch";
  method: string;
  /** Absolute URL as the client asked for it (scheme://host/path?query). */
  url: string;
  headers: HeaderList;
  /**
   * null: no body. Uint8Array: the whole body, already read by the host (small bodies).
   * "stream": the body is read on demand through the `request-body-read` op.
   */
  body: null | Uint8Array | "stream";
}

export type InvocationEvent = FetchEvent;

/** Which handlers the user's default export provides. */
export interface InstalledHandlers {
  fetch: boolean;
  scheduled: boolean;
  storage: boolean;
}

/** Functions the runtime leaves in `globalThis.__atoll_runtime` for the host. */
export interface RuntimeEntryPoints {
  /**
   * Called once after the user's module is evaluated. Throws a TypeError
   * (message says what is wrong) when the export has no handler function.
   * `env` holds the script's bindings: plain vars for now.
   */
  install(defaultExport: unknown, env: Record<string, unknown>): InstalledHandlers;
  /** Start invocation `id`. Results come back through `emit`. Never throws for user errors. */
  dispatch(id: number, event: InvocationEvent): void;
  /** The host wants the next chunk of invocation `id`'s streamed response body. */
  pull(id: number): void;
  /** Answer to an `op` message: `ok` false means `value` is an error message string. */
  resolve(op: number, ok: boolean, value: unknown): void;
  /** The client went away or the host gave up: abort the request's signal and cancel the body. */
  abort(id: number, reason: string): void;
  /**
   * A call into the isolate was rejected because a promise rejection went
   * unhandled during it (isolated-vm reports the first one per call). `id`:
   * the invocation the call concerned, if any. The runtime dispatches an
   * "unhandledrejection" event and sends `uncaught` unless a listener canceled it.
   * Never call it for the rejection of a `rejection` call: log that one.
   */
  rejection(id: number | null, reason: RejectionReason): void;
}

/** The copy of a rejection's reason the host got from isolated-vm: an Error's parts, or a primitive. */
export type RejectionReason =
  | { error: { name: string; message: string; stack: string } }
  | { value: string | number | boolean | null | undefined };

/**
 * Fire-and-forget messages from the runtime to the host, via
 * `__atoll_emit(message)` or, for several emitted in one turn, `__atoll_emit([message, ...])`.
 */
export type IsolateMessage =
  /** The response head. body: null (none), Uint8Array (whole body, inline), "stream" (pull it). */
  | { t: "response"; id: number; status: number; statusText: string; headers: HeaderList; body: null | Uint8Array | "stream" }
  /** One chunk of a streamed response body, answering `pull(id)`. */
  | { t: "chunk"; id: number; data: Uint8Array }
  /** The streamed response body ended, answering `pull(id)`. */
  | { t: "end"; id: number }
  /** The handler threw or rejected, or the response body stream errored. */
  | { t: "error"; id: number; message: string; stack: string }
  /** Invocation `id` is over: response sent and every ctx.waitUntil promise settled. */
  | { t: "done"; id: number }
  /** console output, already formatted. id: the invocation it belongs to, when known. */
  | { t: "log"; id: number | null; level: LogLevel; message: string }
  /** An error nobody handled (unhandled rejection, error thrown in a timer) whose event no listener canceled. */
  | { t: "uncaught"; id: number | null; message: string; stack: string }
  /** Ask the host for something asynchronous; it answers with `resolve(op, ...)`. */
  | { t: "op"; op: number; name: "timer"; ms: number }
  | { t: "op"; op: number; name: "request-body-read"; id: number }
  /** The runtime no longer wants the answer to `op` (clearTimeout). */
  | { t: "cancel"; op: number };

export type LogLevel = "debug" | "log" | "info" | "warn" | "error";

/** Most bytes `__atoll_random_bytes(n)` hands out per call. */
export const MAX_RANDOM_BYTES = 65536;
