// Messages between the front process and a worker process, over the channel
// of ./channel.ts (JSON with bytes beside it, or v8.serialize for arbitrary data).
import type { ChannelCodec } from "./channel.js";
import type { BindingSpec, HeaderList, HostStreamRef, InstalledHandlers, LogLevel } from "../runtime/protocol.js";

/** A body the front holds, passed on by a function (runtime/protocol.ts HostStreamRef). */
export type FrontHeldRef = Exclude<HostStreamRef, { from: "fetch" }>;

/**
 * Set by the host on every outbound fetch: how many function-to-function hops
 * the request is from its client. The front refuses requests too deep (a loop
 * of self-calls) and never shows the header to functions.
 */
export const FETCH_DEPTH_HEADER = "x-atoll-fetch-depth";

/**
 * A service-binding call (env.AUTH.fetch) travels from a worker to the
 * front's service socket (front/data-plane.ts createServicePlane) with these
 * headers: the host's service token, the script it calls, and the URL the
 * caller gave. The front takes them off before the function sees the request.
 */
export const SERVICE_TOKEN_HEADER = "x-atoll-service-token";
export const SERVICE_SCRIPT_HEADER = "x-atoll-service";
export const SERVICE_URL_HEADER = "x-atoll-service-url";
/** On the service socket's answer when the script called is not deployed: the caller's fetch then fails. */
export const SERVICE_MISSING_HEADER = "x-atoll-service-missing";

/** Identifies the code an invocation runs: one immutable script version. */
export interface VersionKey {
  script: string;
  version: number;
  /**
   * Which revision of the script's secrets the isolate's env is built from
   * (absent: 0). The front bumps it when a secret changes, so workers never
   * reuse an isolate built with the old values. Quarantine and logs ignore it.
   */
  envRevision?: number;
}

/** Per-isolate settings derived from the version's config. */
export interface IsolateSettings {
  memoryMb: number;
  /** CPU time one invocation may use, ms (`limits.cpu_ms`). */
  cpuMs: number;
  /** Wall-clock time one invocation may take, ms (`limits.wall_ms`). */
  wallMs: number;
  /** Outbound fetches one invocation may make (`limits.subrequests`). */
  subrequests: number;
  /** KV namespaces and buckets in env, by binding name. */
  bindings: BindingSpec[];
  /** KV binding name → namespace id, for the gets a worker answers itself (worker/local-kv.ts). */
  kvNamespaces: Record<string, string>;
  /** Service binding name → the script it calls (`[[services]]`). */
  services?: Record<string, string>;
  env: Record<string, unknown>;
}

/** What a worker needs to load a version. */
export interface VersionCode {
  bundle: string;
  codeCache: Uint8Array | null;
  settings: IsolateSettings;
}

/** The limit that ended an invocation, as named in atoll.toml and the x-atoll-termination header. */
export type TerminationLimit = "cpu_ms" | "wall_ms" | "memory_mb";

export type FrontMessage =
  /**
   * Run an event against a version: an HTTP request (answered with
   * `response`), or a scheduled or storage event (answered with `handled` or
   * `error`). `depth` counts the fetch hops that led to it; `chain` is the
   * storage-trigger chain depth of a storage event (0 otherwise), which bucket
   * writes made by the invocation carry on to the events they cause.
   */
  | {
      t: "invoke";
      id: number;
      key: VersionKey;
      /** The InvocationEvent as JSON, without a fetch event's body: the worker hands it to the isolate unread. */
      event: string;
      /** A fetch event's body: null (none or `bodyStream`) or all of it. */
      body: Uint8Array | null;
      /** The body streams: the worker asks for it with `body-read`. */
      bodyStream?: true;
      depth: number;
      chain?: number;
      /**
       * The version's code, on the first invoke of a version the front has not
       * sent this worker before: it spares a cold start the `need-code` round trip.
       */
      code?: VersionCode;
    }
  /**
   * The code of a version, answering `need-code`; or, with `preload`, sent
   * unasked after a deploy, for the worker to load before the first request
   * when it has room (dropped otherwise).
   */
  | { t: "code"; key: VersionKey; bundle: string; codeCache: Uint8Array | null; settings: IsolateSettings; preload?: true }
  /** The version asked for with `need-code` cannot be had: it no longer exists, or `reason`. */
  | { t: "code-missing"; key: VersionKey; reason?: string }
  /** One chunk of a streamed request body (null: the body ended), answering `body-read`. */
  | { t: "body-chunk"; id: number; data: Uint8Array | null; error?: string }
  /** The front wants the next chunk of invocation `id`'s response body. */
  | { t: "pull"; id: number }
  /** The client went away. */
  | { t: "abort"; id: number; reason: string }
  /** The answer to a `binding` call: plain data, or { name, message } when `ok` is false. */
  | { t: "binding-result"; req: number; ok: boolean; value: unknown }
  /** Finish the invocations already sent, say `drained`, expect no more (the worker reported `over-memory`). */
  | { t: "drain" }
  /** Compile and evaluate an uploaded bundle in a throwaway isolate. */
  | { t: "validate"; id: number; script: string; bundle: string; settings: IsolateSettings };

export type WorkerMessage =
  | { t: "ready"; pid: number }
  /** The worker's RSS passed its ceiling (sent once): the front replaces it and answers `drain`. */
  | { t: "over-memory"; rssBytes: number }
  /** Draining and idle: the front may stop it. */
  | { t: "drained" }
  /**
   * A function called a binding (KV, bucket) of version `key`; the front
   * checks it against the version's config. `chain`: the storage-trigger
   * chain depth of the invocation that made the call (0 outside storage events).
   */
  | { t: "binding"; req: number; key: VersionKey; binding: string; method: string; args: unknown[]; chain: number }
  | { t: "need-code"; key: VersionKey }
  /** KV gets this worker answered itself since its last tally, per script (for the metrics). */
  | { t: "kv-read-tally"; counts: [script: string, ok: number, errors: number][] }
  /** The response head; `done` when the invocation was also over by then (it saves a message: most are). */
  | {
      t: "response";
      id: number;
      status: number;
      statusText: string;
      headers: HeaderList;
      /** The whole body (text is sent as UTF-8 and arrives as bytes), or null: none, or `stream`. */
      body: null | Uint8Array | string;
      /** The body streams: the front pulls it chunk by chunk. */
      stream?: true;
      /** The body is one the front holds (a request body, a bucket object): it sends it on itself (./pass-through.ts). */
      pipe?: FrontHeldRef;
      cold: boolean;
      done?: InvocationDone;
    }
  | { t: "chunk"; id: number; data: Uint8Array }
  | { t: "end"; id: number }
  /** The invocation failed: the handler threw, or the worker could not run it. */
  | { t: "error"; id: number; kind: "script" | "host"; message: string; stack: string }
  /** A limit ended the invocation. */
  | { t: "terminated"; id: number; limit: TerminationLimit; message: string }
  /** A scheduled or storage handler returned (or its promise resolved); `cold` as on `response`. */
  | { t: "handled"; id: number; cold: boolean }
  /** The invocation is over (response sent, waitUntil settled); `cpuMs`: the CPU time it was charged; `noRetry`: the handler called noRetry(). */
  | ({ t: "done"; id: number } & InvocationDone)
  | { t: "body-read"; id: number }
  | { t: "log"; key: VersionKey; id: number | null; level: LogLevel; message: string }
  | { t: "validated"; id: number; ok: true; handlers: InstalledHandlers; codeCache: Uint8Array | null; compileMs: number }
  /** A better code cache for the version, made after its first invocation in this worker (FunctionIsolate.refreshCodeCache). */
  | { t: "code-cache"; key: VersionKey; codeCache: Uint8Array }
  | { t: "validated"; id: number; ok: false; error: ValidationFailure };

/** How an invocation ended: the CPU time it was charged; `noRetry`: the handler called noRetry(). */
export interface InvocationDone {
  cpuMs: number;
  /** Outbound fetches (and service calls) it made; absent when it never ran. */
  subrequests?: number;
  /** Bytes their request bodies sent and their response bodies brought in (Subrequests.bytesOf); absent when none. */
  fetchBytesOut?: number;
  fetchBytesIn?: number;
  /** The isolate's memory in use at its end, MiB (IsolatePool.released); absent when it never ran. */
  heapMb?: number;
  noRetry?: true;
}

export interface ValidationFailure {
  kind: "parse" | "evaluate" | "no-default-export";
  message: string;
  line?: number;
  column?: number;
}

/**
 * How the channel (./channel.ts) carries each message type, either way:
 * where its bytes are, and which go through v8.serialize.
 */
export const CHANNEL_CODEC: ChannelCodec = {
  binaryFields: {
    invoke: [{ path: ["event"], text: true }, { path: ["body"] }, { path: ["code", "codeCache"] }, { path: ["code", "bundle"], text: true }],
    // A bundle is JS source: as JSON it would be escaped (every quote, backslash and newline) and parsed back.
    code: [{ path: ["codeCache"] }, { path: ["bundle"], text: true }],
    validate: [{ path: ["bundle"], text: true }],
    "body-chunk": [{ path: ["data"] }],
    response: [{ path: ["body"] }],
    chunk: [{ path: ["data"] }],
    validated: [{ path: ["codeCache"] }],
    "code-cache": [{ path: ["codeCache"] }],
  },
  // A binding call's arguments and result are plain data of any shape (bytes to put, a KV value).
  serialized: new Set(["binding", "binding-result"]),
};

export function versionId(key: VersionKey): string {
  return `${key.script}@${key.version}`;
}

/** What a warm isolate is kept under: its version and the revision of its env ("hello@3", "hello@3~2"). */
export function isolateId(key: VersionKey): string {
  return key.envRevision ? `${key.script}@${key.version}~${key.envRevision}` : `${key.script}@${key.version}`;
}
