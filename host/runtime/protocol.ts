// The bridge between the host (a worker process) and the runtime inside each
// isolate: the complete, explicit list of what crosses. Types only; both sides
// import it. Everything is copied across (isolated-vm's ExternalCopy rules:
// primitives, plain objects, arrays, Uint8Array); no Reference ever reaches user code.
//
// Start-up, done by the host in a fresh context:
//   1. set globals `__atoll_emit` (Callback, sync mode, called during the
//      host's calls into the isolate, taking one IsolateMessage, an array of
//      them, or the JSON text of such an array) and
//      `__atoll_random_bytes` (Callback, sync mode) and `__atoll_text`
//      (Callback, sync mode: HostTextCodec, UTF-8 of large inputs in native code)
//      and `__atoll_wasm` (Callback, sync mode: HostWasm);
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

/** A cron tick: runs the script's `scheduled(controller, env, ctx)` handler. */
export interface ScheduledEvent {
  type: "scheduled";
  /** The schedule that fired, as written in atoll.toml (or given to `atoll invoke --cron`). */
  cron: string;
  /** When the tick was due, ms since the epoch (not when it ran). */
  scheduledTime: number;
}

/** An object was put into or deleted from a bucket: runs `storage(event, env, ctx)`. */
export interface StorageEvent {
  type: "storage";
  bucket: string;
  key: string;
  action: "put" | "delete";
  /** The new object's size for a put, the deleted one's for a delete, bytes. */
  size: number;
  etag: string;
  /** When the change became durable, ISO 8601. */
  time: string;
}

/** An event that is not an HTTP request: its outcome is "handled" or "error", never a response. */
export type TriggerEvent = ScheduledEvent | StorageEvent;

export type InvocationEvent = FetchEvent | TriggerEvent;

/** An outbound fetch, as the runtime asks the host to make it. */
export interface OutboundRequest {
  method: string;
  url: string;
  headers: HeaderList;
  /**
   * null: no body. Uint8Array: all of it. "stream": sent through `fetch-upload` ops.
   * { pipe }: a body the host already holds, which it sends on by itself.
   */
  body: null | Uint8Array | "stream" | { pipe: HostStreamRef };
  redirect: "follow" | "manual" | "error";
  /** Set by a service binding's fetch (env.AUTH.fetch): the binding's name; the host sends the request to the script it names, not to the URL. */
  service?: string;
}

/**
 * A body stream whose bytes the host holds (a request body it streams in, an
 * outbound fetch's response, a bucket object being read). When the function
 * hands such a stream on untouched (as a response body, to bucket.put, as an
 * outbound fetch's body), the runtime sends this instead of pumping chunks,
 * and the host pipes the bytes without the isolate: the function pays no CPU
 * for bytes it only passes along.
 */
export type HostStreamRef =
  /** The request body of invocation `id`. */
  | { from: "request"; id: number }
  /** The response body of the outbound fetch whose op is `fetch`. */
  | { from: "fetch"; fetch: number }
  /** A bucket object read through handle `read` of binding `binding`. */
  | { from: "object"; binding: string; read: number };

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

/** An event as `dispatch` takes it: its JSON (a fetch event's without the body), and the body. */
export function encodeEvent(event: InvocationEvent): { json: string; body: FetchEvent["body"] } {
  if (event.type !== "fetch") return { json: JSON.stringify(event), body: null };
  return { json: JSON.stringify({ type: "fetch", method: event.method, url: event.url, headers: event.headers }), body: event.body };
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
  install(defaultExport: unknown, env: Record<string, unknown>, bindings: BindingSpec[]): InstalledHandlers;
  /**
   * Start invocation `id`. `event` is the InvocationEvent as JSON (without a
   * fetch event's body, which is `body`: a string crosses for the price of a
   * copy, an object for that of a structured clone). Results come back through `emit`: for a fetch
   * event `response` (or `error`) then `done`; for a scheduled or storage
   * event `handled` (or `error`) then `done`. Never throws for user errors.
   */
  dispatch(id: number, event: string, body: FetchEvent["body"]): void;
  /** The host wants the next chunk of invocation `id`'s streamed response body. */
  pull(id: number): void;
  /**
   * Answer to an `op` message. `ok` false: `value` is an error message string,
   * or for `subtle` ops a SubtleError (the runtime rethrows it as that TypeError or DOMException).
   */
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
  /**
   * Runs the request path once with a handler of the runtime's own, before
   * any user code is loaded (a spare isolate, off the request path): V8 then
   * has the runtime's functions compiled and their inline caches warm, which
   * a fresh isolate's first request would otherwise pay for. Emits nothing
   * the host keeps (its invocation id is not one the host runs).
   */
  warm(): void;
  /**
   * What the isolate's live WebAssembly memories hold together, bytes. The
   * host asks after each call once the isolate has used WebAssembly, and ends
   * the isolate when that plus the heap in use passes memory_mb (V8 leaves
   * wasm memory out of the heap limit).
   */
  wasmBytes(): number;
}

/** The copy of a rejection's reason the host got from isolated-vm: an Error's parts, or a primitive. */
export type RejectionReason =
  | { error: { name: string; message: string; stack: string } }
  | { value: string | number | boolean | null | undefined };

/**
 * Messages from the runtime to the host, via `__atoll_emit(message)` or, for
 * several emitted in one turn, `__atoll_emit([message, ...])`; a batch without
 * bytes in it comes as its JSON text, `__atoll_emit("[...]")`. The host
 * handles them once the call into the isolate that emitted them returns.
 */
export type IsolateMessage =
  /**
   * The response head. body: null (none), Uint8Array (whole body, inline),
   * { text } (whole body, inline, text the host encodes as UTF-8), "stream" (pull it),
   * { pipe } (a stream the host holds: it sends the bytes on by itself).
   */
  | { t: "response"; id: number; status: number; statusText: string; headers: HeaderList; body: null | Uint8Array | { text: string } | "stream" | { pipe: HostStreamRef } }
  /** One chunk of a streamed response body, answering `pull(id)`. */
  | { t: "chunk"; id: number; data: Uint8Array }
  /** The streamed response body ended, answering `pull(id)`. */
  | { t: "end"; id: number }
  /** The handler threw or rejected, or the response body stream errored. */
  | { t: "error"; id: number; message: string; stack: string }
  /**
   * The scheduled or storage handler of invocation `id` returned, or its
   * promise resolved: the event was handled (a throw is an `error` instead).
   */
  | { t: "handled"; id: number }
  /**
   * Invocation `id` is over: response sent (or event handled or failed) and
   * every ctx.waitUntil promise settled. `noRetry`: the handler called
   * `noRetry()` (scheduled and storage events), so a failure is not retried.
   */
  | { t: "done"; id: number; noRetry?: true }
  /** console output, already formatted. id: the invocation it belongs to, when known. */
  | { t: "log"; id: number | null; level: LogLevel; message: string }
  /** An error nobody handled (unhandled rejection, error thrown in a timer) whose event no listener canceled. */
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
  /** One crypto.subtle call: `args` as in SubtleArgs, checked again by the host. Answer: a SubtleResult. */
  | { t: "op"; op: number; name: "subtle"; method: SubtleMethod; args: unknown[] }
  /**
   * A call on a binding in env (KV, bucket) made by invocation `id` (null:
   * the runtime cannot tell which): the host finds what `binding` names in
   * the version's config and checks the method and every argument; a bucket
   * write from a storage invocation carries that invocation's chain depth.
   * Answered with plain data, or { name, message } on failure.
   */
  | { t: "op"; op: number; name: "binding"; id: number | null; binding: string; method: string; args: unknown[] }
  /** CryptoKeys that user code can no longer reach (garbage-collected): the host may drop them. */
  | { t: "release-keys"; handles: number[] }
  /** The runtime no longer wants the answer to `op` (clearTimeout), or is done with fetch `op` (abort it). */
  | { t: "cancel"; op: number };

export type LogLevel = "debug" | "log" | "info" | "warn" | "error";

/** A binding the runtime puts in env; the host knows what it points at. */
export interface BindingSpec {
  name: string;
  kind: "kv" | "bucket" | "service";
}

/** Workers KV's limits, enforced on both sides of the bridge. */
export const KV_LIMITS = {
  keyBytes: 512,
  valueBytes: 25 * 1024 * 1024,
  metadataBytes: 1024,
  listLimit: 1000,
} as const;

/** The host's refusal of a timer whose invocations are over: the runtime drops it without a word. */
export const TIMER_CANCELLED = "atoll:timer-owner-over";

/**
 * `__atoll_text(kind, input)`: UTF-8 done by the host's native code, for
 * inputs of TEXT_ON_HOST_BYTES or more (below that, the call costs more than
 * the runtime's own JS). "encode": string → Uint8Array (lone surrogates as
 * U+FFFD); "decode": Uint8Array → string, errors replaced, a BOM kept;
 * "decode-fatal": the same, or null when the bytes are not valid UTF-8.
 */
export type HostTextCodec = (kind: "encode" | "decode" | "decode-fatal", input: string | Uint8Array | ArrayBuffer) => string | Uint8Array | null;

/**
 * `__atoll_wasm(kind, input)`: the host's half of WebAssembly (runtime/wasm.ts).
 * "compile": a bundled module's bytes as base64 → [bytes, initialPages]: the
 * bytes with each memory it defines capped at memory_mb and exported under a
 * hidden name, and the pages its memories start with; throws with a message
 * for a module Atoll does not run. "pages": memory_mb in 64 KiB wasm pages.
 * Either tells the host that the isolate uses WebAssembly.
 */
export type HostWasm = (kind: "compile" | "pages", input?: string) => [Uint8Array, number] | number;

/** Inputs this large (bytes, or UTF-16 units) go to `__atoll_text`. */
export const TEXT_ON_HOST_BYTES = 8 * 1024;

/**
 * Console output one invocation may write, in characters; the host drops the
 * rest and says so. The runtime stops sending once past it too (formatting
 * and copying a log flood the host would drop costs the function CPU).
 */
export const MAX_LOG_CHARS_PER_INVOCATION = 1024 * 1024;

/** Most bytes `__atoll_random_bytes(n)` hands out per call. */
export const MAX_RANDOM_BYTES = 65536;

// ---- crypto.subtle ------------------------------------------------------------
// CryptoKeys live on the host (executor/worker/subtle-host.ts); the isolate
// holds numbered handles. The runtime converts arguments as WebIDL says and
// the host normalizes algorithms and runs the operation.

export const SUBTLE_METHODS = [
  "encrypt",
  "decrypt",
  "sign",
  "verify",
  "digest",
  "generateKey",
  "deriveKey",
  "deriveBits",
  "importKey",
  "exportKey",
  "wrapKey",
  "unwrapKey",
] as const;
export type SubtleMethod = (typeof SUBTLE_METHODS)[number];

/** A key handle, as the host numbered it. */
export type KeyHandle = number;

/**
 * An algorithm as it crosses: a name, or the members of the user's dictionary
 * the host may need, converted: strings (name, namedCurve), numbers (length,
 * tagLength, iterations, modulusLength, saltLength), copied bytes (iv, counter,
 * additionalData, salt, info, label, publicExponent; null when not a
 * BufferSource), hash as a name or { name }, public as a KeyHandle (null when
 * not a CryptoKey).
 */
export type SubtleAlgorithm = string | { [member: string]: string | number | Uint8Array | null | { name?: string } | undefined };

/** A JsonWebKey's members, converted to strings, booleans and arrays. */
export type JsonWebKeyData = { [member: string]: string | boolean | string[] | { [member: string]: string }[] | undefined };

export type KeyFormat = "raw" | "spki" | "pkcs8" | "jwk";
export type KeyUsage = "encrypt" | "decrypt" | "sign" | "verify" | "deriveKey" | "deriveBits" | "wrapKey" | "unwrapKey";

/** Each method's `args`, in the order of the SubtleCrypto method's parameters. */
export interface SubtleArgs {
  encrypt: [algorithm: SubtleAlgorithm, key: KeyHandle, data: Uint8Array];
  decrypt: [algorithm: SubtleAlgorithm, key: KeyHandle, data: Uint8Array];
  sign: [algorithm: SubtleAlgorithm, key: KeyHandle, data: Uint8Array];
  verify: [algorithm: SubtleAlgorithm, key: KeyHandle, signature: Uint8Array, data: Uint8Array];
  digest: [algorithm: SubtleAlgorithm, data: Uint8Array];
  generateKey: [algorithm: SubtleAlgorithm, extractable: boolean, usages: KeyUsage[]];
  deriveKey: [algorithm: SubtleAlgorithm, baseKey: KeyHandle, derivedKeyType: SubtleAlgorithm, extractable: boolean, usages: KeyUsage[]];
  deriveBits: [algorithm: SubtleAlgorithm, baseKey: KeyHandle, length: number | null];
  importKey: [format: KeyFormat, keyData: Uint8Array | JsonWebKeyData, algorithm: SubtleAlgorithm, extractable: boolean, usages: KeyUsage[]];
  exportKey: [format: KeyFormat, key: KeyHandle];
  wrapKey: [format: KeyFormat, key: KeyHandle, wrappingKey: KeyHandle, wrapAlgorithm: SubtleAlgorithm];
  unwrapKey: [
    format: KeyFormat,
    wrappedKey: Uint8Array,
    unwrappingKey: KeyHandle,
    unwrapAlgorithm: SubtleAlgorithm,
    unwrappedKeyAlgorithm: SubtleAlgorithm,
    extractable: boolean,
    usages: KeyUsage[],
  ];
}

/** A CryptoKey the host holds, described for the runtime's CryptoKey object. */
export interface KeyDescriptor {
  handle: KeyHandle;
  type: "secret" | "public" | "private";
  extractable: boolean;
  /** The KeyAlgorithm dictionary: name, and length, hash { name }, namedCurve, modulusLength, publicExponent as they apply. */
  algorithm: { [member: string]: string | number | Uint8Array | { name: string } };
  usages: KeyUsage[];
}

/**
 * The host's answer to a `subtle` op: bytes (for an ArrayBuffer), verify's
 * boolean, an exported JWK, a key, or a key pair.
 */
export type SubtleResult = Uint8Array | boolean | JsonWebKeyData | KeyDescriptor | { publicKey: KeyDescriptor; privateKey: KeyDescriptor };

/** A failed `subtle` op. name: "TypeError" or a DOMException name such as "OperationError". */
export interface SubtleError {
  name: string;
  message: string;
}

/** Most bytes one crypto.subtle call may hand to the host (data, key data, parameters together). */
export const MAX_SUBTLE_INPUT_BYTES = 32 * 1024 * 1024;

/** Most handles in one `release-keys` message. */
export const MAX_RELEASED_KEYS_PER_MESSAGE = 10_000;
