// Boots the runtime inside a fresh isolate (see protocol.ts): takes the host
// functions into this closure and deletes their globals, installs the Web
// platform globals, removes what user code must not have, and leaves the
// entry points in `__atoll_runtime` for the host to take.
import { AbortController, AbortSignal } from "./abort.js";
import { atob, btoa } from "./base64.js";
import { Blob, File } from "./blob.js";
import { Cache, CacheStorage, caches } from "./cache.js";
import { connectHost, resolveOp } from "./bridge.js";
import { CompressionStream, DecompressionStream } from "./compression.js";
import { createConsole } from "./console.js";
import { Crypto, crypto } from "./crypto.js";
import { abort, dispatch, install, pull, warm } from "./dispatch.js";
import { DOMException } from "./dom-exception.js";
import { TextDecoder, TextEncoder, useHostText } from "./encoding.js";
import { ErrorEvent, PromiseRejectionEvent } from "./error-events.js";
import { CustomEvent, Event, EventTarget } from "./events.js";
import { fetch } from "./fetch.js";
import { FormData } from "./form-data.js";
import { installGlobalScope } from "./global-scope.js";
import { Headers } from "./headers.js";
import { MessageChannel, MessageEvent, MessagePort } from "./messaging.js";
import { Performance, performance } from "./performance.js";
import type { RuntimeEntryPoints } from "./protocol.js";
import { rejection, reportError } from "./report-error.js";
import { Request } from "./request.js";
import { Response } from "./response.js";
import * as streams from "./streams.js";
import { structuredClone } from "./structured-clone.js";
import { CryptoKey, SubtleCrypto } from "./subtle.js";
import { TextDecoderStream, TextEncoderStream } from "./text-streams.js";
import { clearInterval, clearTimeout, queueMicrotask, setInterval, setTimeout } from "./timers.js";
import { URL, URLSearchParams } from "./url.js";
import { URLPattern } from "./url-pattern.js";
import { installWebAssembly, wasmBytes, wasmModuleFromBundle } from "./wasm.js";

const global = globalThis as unknown as Record<string, unknown>;

connectHost(global.__atoll_emit, global.__atoll_random_bytes);
useHostText(global.__atoll_text);
// WebAssembly as on Workers, its memory counted against memory_mb (wasm.ts).
installWebAssembly(global, global.__atoll_wasm);
delete global.__atoll_emit;
delete global.__atoll_random_bytes;
delete global.__atoll_text;
delete global.__atoll_wasm;

// Shared memory is not offered: it enables timing attacks.
delete global.SharedArrayBuffer;
delete global.Atomics;

let constructingNavigator = false;

class Navigator {
  constructor() {
    if (!constructingNavigator) throw new TypeError("Illegal constructor: use the global navigator");
  }

  get userAgent(): string {
    return "Atoll";
  }
  get hardwareConcurrency(): number {
    return 1;
  }
}
Object.defineProperty(Navigator.prototype, Symbol.toStringTag, { value: "Navigator", configurable: true });
constructingNavigator = true;
const navigator = new Navigator();
constructingNavigator = false;

/** Globals as WebIDL defines them: writable, configurable, not enumerable. */
const globals: Record<string, unknown> = {
  // fetch
  fetch,
  Headers,
  Request,
  Response,
  FormData,
  // file, compression
  Blob,
  File,
  CompressionStream,
  DecompressionStream,
  // streams
  ReadableStream: streams.ReadableStream,
  ReadableStreamDefaultReader: streams.ReadableStreamDefaultReader,
  ReadableStreamBYOBReader: streams.ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest: streams.ReadableStreamBYOBRequest,
  ReadableStreamDefaultController: streams.ReadableStreamDefaultController,
  ReadableByteStreamController: streams.ReadableByteStreamController,
  WritableStream: streams.WritableStream,
  WritableStreamDefaultWriter: streams.WritableStreamDefaultWriter,
  WritableStreamDefaultController: streams.WritableStreamDefaultController,
  TransformStream: streams.TransformStream,
  TransformStreamDefaultController: streams.TransformStreamDefaultController,
  ByteLengthQueuingStrategy: streams.ByteLengthQueuingStrategy,
  CountQueuingStrategy: streams.CountQueuingStrategy,
  TextEncoderStream,
  TextDecoderStream,
  // url, encoding
  URL,
  URLSearchParams,
  URLPattern,
  TextEncoder,
  TextDecoder,
  atob,
  btoa,
  // events
  DOMException,
  Event,
  CustomEvent,
  ErrorEvent,
  PromiseRejectionEvent,
  MessageEvent,
  EventTarget,
  AbortController,
  AbortSignal,
  MessageChannel,
  MessagePort,
  // timers, tasks
  setTimeout,
  clearTimeout,
  setInterval,
  clearInterval,
  queueMicrotask,
  structuredClone,
  reportError,
  // the rest
  console: createConsole(),
  crypto,
  Crypto,
  CryptoKey,
  SubtleCrypto,
  performance,
  Performance,
  navigator,
  // the Cache API, as on Workers (caches.default, caches.open)
  caches,
  Cache,
  CacheStorage,
  self: globalThis,
};

/**
 * The bundle is minified, so its classes and functions lost their names
 * (Request.name was "e"): give back the ones users see. esbuild's keepNames
 * would name every function, at ~160 KB of heap per isolate.
 */
function restoreName(value: unknown, name: string): void {
  if (typeof value === "function" && value.name !== name) Object.defineProperty(value, "name", { value: name, configurable: true });
}

for (const name of Object.keys(globals)) {
  restoreName(globals[name], name);
  Object.defineProperty(globalThis, name, { value: globals[name], writable: true, configurable: true, enumerable: false });
}

// addEventListener("error" | "unhandledrejection", ...) on the global object.
installGlobalScope(globalThis);
// Its interface is not a global (lib.webworker calls it WorkerNavigator), but it has a name.
restoreName(Navigator, "Navigator");
restoreName(Object.getPrototypeOf(globalThis).constructor, "WorkerGlobalScope");

// What a bundle's `.wasm` imports compile through (bundler/module-rules.ts): not a Web API, so not enumerable.
Object.defineProperty(globalThis, "__atoll_wasm_module", { value: wasmModuleFromBundle, writable: false, configurable: false, enumerable: false });

const entryPoints: RuntimeEntryPoints = { install, dispatch, pull, resolve: resolveOp, abort, rejection, warm, wasmBytes };
Object.defineProperty(globalThis, "__atoll_runtime", { value: entryPoints, writable: true, configurable: true, enumerable: false });
