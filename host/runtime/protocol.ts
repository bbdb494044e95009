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

/** An outbound fetch, as the runtime asks the host to make it. */
export interface OutboundRequest {
  method: string;
  url: string;
  headers: HeaderList;
  /** null: no body. Uint8Array: all of it. "stream": sent through `fetch-upload` ops. */
  body: null | Uint8Array | "stream";
  redirect: "follow" | "manual" | "error";
}

/** The host's answer to a `fetch` op: the response head, with small bodies inline. */
export interface OutboundResponse {
  status: number;
  statusText: string;
  headers: HeaderList;
  /** The final URL, after redirects. */
  url: string;
  redirected: boolean;
  /** null: no body. Uint8Array: all of it. "stream": read through `fetch-read` ops. */
  body: null | Uint8Array | "stream";
}

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
}

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
  /** An error nobody handled (unhandled rejection, error thrown in a timer). */
  | { t: "uncaught"; id: number | null; message: string; stack: string }
  /** Ask the host for something asynchronous; it answers with `resolve(op, ...)`. */
  /** A timer of invocation `id` (null: unknown, every live one owns it); dropped when its owners are over. */
  | { t: "op"; op: number; name: "timer"; ms: number; id: number | null }
  | { t: "op"; op: number; name: "request-body-read"; id: number }
  /**
   * An outbound fetch made by invocation `id` (null: the runtime cannot tell
   * which, then every live invocation is charged). Answered with an
   * OutboundResponse; the op number names the fetch in the ops below.
   */
  | { t: "op"; op: number; name: "fetch"; id: number | null; request: OutboundRequest }
  /** The next chunk of fetch `fetch`'s request body (null: the end); answered once the host took it. */
  | { t: "op"; op: number; name: "fetch-upload"; fetch: number; data: Uint8Array | null }
  /** The next chunk of fetch `fetch`'s response body; answered with a Uint8Array, or null at the end. */
  | { t: "op"; op: number; name: "fetch-read"; fetch: number }
  /** The runtime no longer wants the answer to `op` (clearTimeout), or is done with fetch `op` (abort it). */
  | { t: "cancel"; op: number };

export type LogLevel = "debug" | "log" | "info" | "warn" | "error";

/** The host's refusal of a timer whose invocations are over: the runtime drops it without a word. */
export const TIMER_CANCELLED = "atoll:timer-owner-over";

/** Most bytes `__atoll_random_bytes(n)` hands out per call. */
export const MAX_RANDOM_BYTES = 65536;
