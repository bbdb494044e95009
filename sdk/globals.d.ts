// The global scope of an Atoll function, for TypeScript: every global the
// runtime installs (host/runtime/index.ts) and nothing it lacks. A function's
// tsconfig.json names this file and no other lib:
//
//   "lib": [],                          no default lib: no DOM, no full WebWorker scope
//   "types": ["atoll/sdk/globals"]      this file: ECMAScript 2022 + the runtime's web globals
//
// The web APIs are TypeScript's own lib.webworker.d.ts declarations, cut down
// to the runtime's globals by scripts/sdk-globals.mjs (./web.generated.d.ts).
// What a browser worker has and Atoll does not (importScripts, postMessage on
// the global, onmessage, location, indexedDB, WebSocket, Worker,
// XMLHttpRequest, FileReader, BroadcastChannel …) is therefore
// not declared: using it is a compile-time error, not a run-time
// ReferenceError. What the runtime does differently from a browser worker is
// declared below, by hand (caches, for one, is Workers' Cache API).

// ECMAScript 2022 (+ the 2023 array methods V8 has), without the shared-memory
// parts: SharedArrayBuffer and Atomics are deleted from every isolate.
/// <reference lib="es5" />
/// <reference lib="es2015.core" />
/// <reference lib="es2015.collection" />
/// <reference lib="es2015.generator" />
/// <reference lib="es2015.iterable" />
/// <reference lib="es2015.promise" />
/// <reference lib="es2015.proxy" />
/// <reference lib="es2015.reflect" />
/// <reference lib="es2015.symbol" />
/// <reference lib="es2015.symbol.wellknown" />
/// <reference lib="es2016.array.include" />
/// <reference lib="es2016.intl" />
/// <reference lib="es2017.arraybuffer" />
/// <reference lib="es2017.date" />
/// <reference lib="es2017.intl" />
/// <reference lib="es2017.object" />
/// <reference lib="es2017.string" />
/// <reference lib="es2017.typedarrays" />
/// <reference lib="es2018.asyncgenerator" />
/// <reference lib="es2018.asynciterable" />
/// <reference lib="es2018.intl" />
/// <reference lib="es2018.promise" />
/// <reference lib="es2018.regexp" />
/// <reference lib="es2019.array" />
/// <reference lib="es2019.intl" />
/// <reference lib="es2019.object" />
/// <reference lib="es2019.string" />
/// <reference lib="es2019.symbol" />
/// <reference lib="es2020.bigint" />
/// <reference lib="es2020.date" />
/// <reference lib="es2020.intl" />
/// <reference lib="es2020.number" />
/// <reference lib="es2020.promise" />
/// <reference lib="es2020.string" />
/// <reference lib="es2020.symbol.wellknown" />
/// <reference lib="es2021.intl" />
/// <reference lib="es2021.promise" />
/// <reference lib="es2021.string" />
/// <reference lib="es2021.weakref" />
/// <reference lib="es2022.array" />
/// <reference lib="es2022.error" />
/// <reference lib="es2022.intl" />
/// <reference lib="es2022.object" />
/// <reference lib="es2022.regexp" />
/// <reference lib="es2022.string" />
/// <reference lib="es2023.array" />
/// <reference path="./web.generated.d.ts" />

// ---- The global object ------------------------------------------------------

/** The events the global object dispatches: errors and promise rejections nobody handled. */
interface WorkerGlobalScopeEventMap {
  error: ErrorEvent;
  unhandledrejection: PromiseRejectionEvent;
}

/**
 * The global object (`self`, `globalThis`): an EventTarget that receives
 * `error` and `unhandledrejection` events for errors nobody handled. Cancel
 * one with `event.preventDefault()` to keep it out of the host's log. (No
 * `rejectionhandled` event: the runtime cannot tell when a late handler is
 * attached.) Not a constructor and not a global itself.
 */
interface WorkerGlobalScope extends EventTarget {
  /** Called as `onerror(message, filename, lineno, colno, error)`; returning true cancels the event. */
  onerror: OnErrorEventHandler;
  onunhandledrejection: ((this: WorkerGlobalScope, ev: PromiseRejectionEvent) => any) | null;
  addEventListener<K extends keyof WorkerGlobalScopeEventMap>(type: K, listener: (this: WorkerGlobalScope, ev: WorkerGlobalScopeEventMap[K]) => any, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof WorkerGlobalScopeEventMap>(type: K, listener: (this: WorkerGlobalScope, ev: WorkerGlobalScopeEventMap[K]) => any, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
}

/** The global object itself. */
declare var self: WorkerGlobalScope & typeof globalThis;
/** Called as `onerror(message, filename, lineno, colno, error)` for an error nobody handled; returning true cancels it. */
declare var onerror: OnErrorEventHandler;
/** Called for a promise rejection nobody handled; `event.preventDefault()` keeps it out of the host's log. */
declare var onunhandledrejection: ((this: WorkerGlobalScope, ev: PromiseRejectionEvent) => any) | null;
declare function addEventListener<K extends keyof WorkerGlobalScopeEventMap>(type: K, listener: (this: WorkerGlobalScope, ev: WorkerGlobalScopeEventMap[K]) => any, options?: boolean | AddEventListenerOptions): void;
declare function addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
declare function removeEventListener<K extends keyof WorkerGlobalScopeEventMap>(type: K, listener: (this: WorkerGlobalScope, ev: WorkerGlobalScopeEventMap[K]) => any, options?: boolean | EventListenerOptions): void;
declare function removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
declare function dispatchEvent(event: Event): boolean;

// ---- navigator and performance: smaller than a browser worker's ------------

/** What the runtime tells about itself. */
interface Navigator {
  /** `"Atoll"`. */
  readonly userAgent: string;
  /** Always 1: an invocation runs on one thread. */
  readonly hardwareConcurrency: number;
}
declare var navigator: Navigator;

/**
 * High Resolution Time, minimal: `now()` and `timeOrigin`, with the
 * millisecond resolution of `Date.now()` (finer timers would help timing
 * attacks). No marks, measures or entries.
 */
interface Performance {
  /** When the isolate started, in milliseconds since the Unix epoch. */
  readonly timeOrigin: number;
  /** Milliseconds since `timeOrigin`. */
  now(): number;
  toJSON(): { timeOrigin: number };
}
declare var performance: Performance;

/** A message's source: only a MessagePort in an isolate (no windows, no service workers). */
type MessageEventSource = MessagePort;

/**
 * What `structuredClone` and `MessagePort.postMessage` can transfer: only
 * ArrayBuffers (no canvases, frames or streams exist here, and a MessagePort
 * cannot leave its isolate).
 */
type Transferable = ArrayBuffer;

// ---- URLPattern (not in TypeScript's lib yet) --------------------------------

type URLPatternInput = string | URLPatternInit;

/** The parts of a URL pattern, or of a URL to match; each a pattern string (`:name`, `*`, `(regex)`). */
interface URLPatternInit {
  protocol?: string;
  username?: string;
  password?: string;
  hostname?: string;
  port?: string;
  pathname?: string;
  search?: string;
  hash?: string;
  baseURL?: string;
}

interface URLPatternOptions {
  /** Match letters regardless of case. Default false. */
  ignoreCase?: boolean;
}

/** What one part of the URL matched: the input and the named (or numbered) groups. */
interface URLPatternComponentResult {
  input: string;
  groups: Record<string, string | undefined>;
}

/** The result of `URLPattern.exec`: one component result per part of the URL. */
interface URLPatternResult {
  inputs: [URLPatternInput] | [URLPatternInput, string];
  protocol: URLPatternComponentResult;
  username: URLPatternComponentResult;
  password: URLPatternComponentResult;
  hostname: URLPatternComponentResult;
  port: URLPatternComponentResult;
  pathname: URLPatternComponentResult;
  search: URLPatternComponentResult;
  hash: URLPatternComponentResult;
}

/** A pattern for URLs, as in the URL Pattern standard: `new URLPattern({ pathname: "/books/:id" })`. */
interface URLPattern {
  readonly protocol: string;
  readonly username: string;
  readonly password: string;
  readonly hostname: string;
  readonly port: string;
  readonly pathname: string;
  readonly search: string;
  readonly hash: string;
  /** True when some part uses a regular expression group. */
  readonly hasRegExpGroups: boolean;
  test(input?: URLPatternInput, baseURL?: string): boolean;
  exec(input?: URLPatternInput, baseURL?: string): URLPatternResult | null;
}

declare var URLPattern: {
  prototype: URLPattern;
  new (input: URLPatternInput, baseURL: string, options?: URLPatternOptions): URLPattern;
  new (input?: URLPatternInput, options?: URLPatternOptions): URLPattern;
};

// ---- ReadableStream.from (not in TypeScript's lib yet) -------------------------

declare var ReadableStream: {
  prototype: ReadableStream;
  new (underlyingSource: UnderlyingByteSource, strategy?: { highWaterMark?: number }): ReadableStream<Uint8Array<ArrayBuffer>>;
  new <R = any>(underlyingSource: UnderlyingDefaultSource<R>, strategy?: QueuingStrategy<R>): ReadableStream<R>;
  new <R = any>(underlyingSource?: UnderlyingSource<R>, strategy?: QueuingStrategy<R>): ReadableStream<R>;
  /** A stream of the values of an async or sync iterable (awaiting promises in a sync one). */
  from<R>(iterable: AsyncIterable<R> | Iterable<R | PromiseLike<R>>): ReadableStream<R>;
};

// ---- The Cache API, as on Workers ----------------------------------------------
// caches.default and caches.open(name), one response per URL, kept by the
// host and honouring Cache-Control. Workers' surface, not a browser's: no
// add, addAll, matchAll or keys (they throw), no CacheStorage.has, delete,
// keys or match.

interface CacheQueryOptions {
  /** Treat any request as a GET (by default a non-GET request matches nothing and deletes nothing). */
  ignoreMethod?: boolean;
}

/** One cache: responses by request URL (GET requests only). */
interface Cache {
  /**
   * The stored response for the request, or undefined (none, or expired).
   * It carries `cf-cache-status: HIT`; a matching If-None-Match or
   * If-Modified-Since gives a 304, a single byte Range a 206 (or 416).
   */
  match(request: RequestInfo | URL, options?: CacheQueryOptions): Promise<Response | undefined>;
  /**
   * Stores the response for the request (a GET), as long as its
   * Cache-Control allows (s-maxage, max-age, Expires; no-store, no-cache,
   * private and Set-Cookie keep it out). Rejects with a TypeError for a
   * non-GET request, an error response, a 206, `Vary: *` or a used body.
   * The response's body is used afterwards: put a `clone()` to keep it.
   */
  put(request: RequestInfo | URL, response: Response): Promise<void>;
  /** Removes the entry for the request; true when there was one. */
  delete(request: RequestInfo | URL, options?: CacheQueryOptions): Promise<boolean>;
}
declare var Cache: {
  prototype: Cache;
  /** Illegal: use `caches.default` or `await caches.open(name)`. */
  new (): Cache;
};

/** The caches of this function: `default`, and any other by name. */
interface CacheStorage {
  /** The default cache (in Atoll: of this script, shared by its versions; on Workers: of the zone). */
  readonly default: Cache;
  /** The cache with this name (under 1024 bytes), apart from `default`. */
  open(cacheName: string): Promise<Cache>;
}
declare var CacheStorage: {
  prototype: CacheStorage;
  /** Illegal: use the global `caches`. */
  new (): CacheStorage;
};
declare var caches: CacheStorage;

// @sdk-globals additions
// Below: members the runtime has that TypeScript's lib.webworker.d.ts lacks,
// merged into its interfaces of the same name.

interface RequestInit {
  /**
   * How a ReadableStream body is sent: `"half"`, the only value (the request
   * body is sent before the response is read). Optional in Atoll, required by
   * the Fetch standard (and by Node) for a stream body.
   */
  duplex?: "half";
}

interface Request {
  /** Always `"half"`. */
  readonly duplex: "half";
  /** Always false: no request here comes from a navigation. */
  readonly isReloadNavigation: boolean;
  /** Always false: no request here comes from a navigation. */
  readonly isHistoryNavigation: boolean;
}

// ---- WebAssembly, as on Workers ------------------------------------------------
// Modules come with the bundle (`import mod from "./x.wasm"`); code is never
// generated from bytes at run time, so `WebAssembly.compile`, `new
// WebAssembly.Module(bytes)` and `instantiate(bytes)` are not declared (they
// throw CompileError). Memories count against the function's memory_mb.

declare namespace WebAssembly {
  interface CompileError extends Error {}
  var CompileError: { prototype: CompileError; new (message?: string): CompileError; (message?: string): CompileError };
  interface LinkError extends Error {}
  var LinkError: { prototype: LinkError; new (message?: string): LinkError; (message?: string): LinkError };
  interface RuntimeError extends Error {}
  var RuntimeError: { prototype: RuntimeError; new (message?: string): RuntimeError; (message?: string): RuntimeError };

  interface Global<T extends ValueType = ValueType> {
    value: ValueTypeMap[T];
    valueOf(): ValueTypeMap[T];
  }
  var Global: { prototype: Global; new <T extends ValueType = ValueType>(descriptor: GlobalDescriptor<T>, v?: ValueTypeMap[T]): Global<T> };

  interface Instance {
    readonly exports: Exports;
  }
  var Instance: { prototype: Instance; new (module: Module, importObject?: Imports): Instance };

  interface Memory {
    readonly buffer: ArrayBuffer;
    /** Pages (64 KiB) before the growth; a RangeError past the maximum, which is at most the function's memory_mb. */
    grow(delta: number): number;
  }
  var Memory: { prototype: Memory; new (descriptor: MemoryDescriptor): Memory };

  interface Module {}
  var Module: {
    prototype: Module;
    customSections(moduleObject: Module, sectionName: string): ArrayBuffer[];
    exports(moduleObject: Module): ModuleExportDescriptor[];
    imports(moduleObject: Module): ModuleImportDescriptor[];
  };

  interface Table {
    readonly length: number;
    get(index: number): any;
    grow(delta: number, value?: any): number;
    set(index: number, value?: any): void;
  }
  var Table: { prototype: Table; new (descriptor: TableDescriptor, value?: any): Table };

  interface GlobalDescriptor<T extends ValueType = ValueType> {
    mutable?: boolean;
    value: T;
  }
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
  }
  interface ModuleExportDescriptor {
    kind: ImportExportKind;
    name: string;
  }
  interface ModuleImportDescriptor {
    kind: ImportExportKind;
    module: string;
    name: string;
  }
  interface TableDescriptor {
    element: TableKind;
    initial: number;
    maximum?: number;
  }
  interface ValueTypeMap {
    anyfunc: Function;
    externref: any;
    f32: number;
    f64: number;
    i32: number;
    i64: bigint;
    v128: never;
  }
  type ImportExportKind = "function" | "global" | "memory" | "table";
  type TableKind = "anyfunc" | "externref";
  type ExportValue = Function | Global | Memory | Table;
  type Exports = Record<string, ExportValue>;
  type ImportValue = ExportValue | number;
  type Imports = Record<string, ModuleImports>;
  type ModuleImports = Record<string, ImportValue>;
  type ValueType = keyof ValueTypeMap;
  function instantiate(moduleObject: Module, importObject?: Imports): Promise<Instance>;
  function validate(bytes: ArrayBuffer | ArrayBufferView): boolean;
}

// ---- Atoll's own types, global as on Workers ----------------------------------
// Type-only: none of these is a value at run time. Import them from "atoll/sdk"
// if you prefer explicit imports.

type ExportedHandler<Env = unknown> = import("./index.js").ExportedHandler<Env>;
type ExecutionContext = import("./index.js").ExecutionContext;
type ScheduledController = import("./index.js").ScheduledController;
type StorageEvent = import("./index.js").StorageEvent;
type KVNamespace<Key extends string = string> = import("./index.js").KVNamespace<Key>;
type Bucket = import("./index.js").Bucket;
type BucketObject = import("./index.js").BucketObject;
type BucketObjectBody = import("./index.js").BucketObjectBody;
type Fetcher = import("./index.js").Fetcher;

// ---- Modules that are not code (Workers' default module rules) ---------------
// `import page from "./page.html"`: the file as a string; `.bin`: an
// ArrayBuffer; `.wasm`: a WebAssembly.Module. Files a project's [[build.rules]] name need a declaration of
// their own, in the same form.

declare module "*.txt" {
  const text: string;
  export default text;
}
declare module "*.html" {
  const text: string;
  export default text;
}
declare module "*.sql" {
  const text: string;
  export default text;
}
declare module "*.bin" {
  const bytes: ArrayBuffer;
  export default bytes;
}
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
declare module "*.wasm?module" {
  const module: WebAssembly.Module;
  export default module;
}
