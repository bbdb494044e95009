// The Cache API as Cloudflare Workers has it (`caches.default`, `await
// caches.open(name)`), over the `binding` op with names no config binding can
// have ("caches:default", "caches:n-<name>", "caches:h-<hash>"): the host keeps
// each script's caches in buckets of its own (bindings/binding-host.ts).
// Bodies cross as a bucket's do (bucket.ts): about 1 MiB at a time, and a body
// the host holds (an unread fetch response) is stored host-side. Here: what
// put() refuses and what it stores, for how long (Cache-Control, as a shared
// cache reads it); the host answers matches (expiry, 304, 206, HIT).
import { takeBodyPayload } from "./body.js";
import { Bucket, objectReadStream } from "./bucket.js";
import { utf8Encode } from "./encoding.js";
import { bindingCall } from "./kv.js";
import type { HeaderList } from "./protocol.js";
import { Request, type RequestInfo } from "./request.js";
import { Response, responseFromHost, responseHead } from "./response.js";
import { ReadableStream } from "./streams.js";

export interface CacheQueryOptions {
  ignoreMethod?: boolean;
}

/** What the host answers a match with (binding-host.ts cacheMatch). */
interface WireMatch {
  status: number;
  statusText: string;
  headers: HeaderList;
  body: Uint8Array | { read: number } | null;
}

/**
 * Cloudflare's Edge TTL, seconds, for a response without s-maxage, max-age or
 * Expires (developers.cloudflare.com/cache/how-to/configure-cache-status-code);
 * any other status is then not stored.
 */
const DEFAULT_TTL: Record<number, number> = { 200: 7200, 206: 7200, 301: 7200, 302: 1200, 303: 1200, 404: 180, 410: 180 };
/** A response's headers are stored with it (host limit: 64 KiB with the URL); larger ones are not cached. */
const MAX_HEADER_CHARS = 32 * 1024;
/** Names caches.open() gives by itself; any other goes to the host once, for its hash. */
const READABLE_NAME = /^[a-z0-9][a-z0-9_-]{0,47}$/;
const DIRECTIVE = /([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^,]*)))?/g;

let creating: string | null = null;

function notImplemented(what: string, instead: string): Error {
  return new Error(`${what} is not implemented, as on Workers: ${instead}`);
}

function toRequest(request: RequestInfo): Request {
  return request instanceof Request ? request : new Request(request);
}

/** The cache key: the request's URL without its fragment (the server never sees it). */
function cacheKey(request: Request): string {
  const url = request.url;
  const hash = url.indexOf("#");
  return hash === -1 ? url : url.slice(0, hash);
}

function ignoresMethod(options: CacheQueryOptions | undefined): boolean {
  return options !== undefined && options !== null && Boolean(options.ignoreMethod);
}

/** Cache-Control's directives, lower-cased, each its first value (unquoted) or null. */
function directives(headers: HeaderList): Map<string, string | null> {
  const found = new Map<string, string | null>();
  for (const [name, value] of headers) {
    if (name !== "cache-control") continue;
    for (const match of value.matchAll(DIRECTIVE)) {
      const directive = match[1]!.toLowerCase();
      if (found.has(directive)) continue;
      const argument = match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3] !== undefined ? match[3].trim() : null;
      found.set(directive, argument);
    }
  }
  return found;
}

function headerOf(headers: HeaderList, name: string): string | null {
  for (const [key, value] of headers) if (key === name) return value;
  return null;
}

/** delta-seconds, or NaN. */
function seconds(value: string | null): number {
  return value !== null && /^\d+$/.test(value) ? Number(value) : NaN;
}

/**
 * How long a shared cache keeps this response, in seconds (0: not stored),
 * and the headers stored with it. Not stored: no-store, no-cache, private,
 * Set-Cookie (unless private=Set-Cookie, which leaves it out). Fresh for
 * s-maxage, else max-age, else Expires minus Date, less Age; without any of
 * them, Cloudflare's default for the status.
 */
export function cachePolicy(status: number, headers: HeaderList, now: number): { ttl: number; stored: HeaderList } {
  const control = directives(headers);
  if (control.has("no-store") || control.has("no-cache")) return { ttl: 0, stored: headers };
  let stored = headers;
  if (control.has("private")) {
    const fields = control.get("private");
    if (fields === null || fields === undefined || fields.trim() === "") return { ttl: 0, stored: headers };
    const left = new Set(fields.split(",").map((field) => field.trim().toLowerCase()));
    stored = headers.filter(([name]) => !left.has(name));
  }
  if (headerOf(stored, "set-cookie") !== null) return { ttl: 0, stored };
  let lifetime: number;
  if (control.has("s-maxage")) lifetime = seconds(control.get("s-maxage")!);
  else if (control.has("max-age")) lifetime = seconds(control.get("max-age")!);
  else {
    const expires = headerOf(headers, "expires");
    if (expires !== null) {
      const date = Date.parse(headerOf(headers, "date") ?? "");
      // An Expires that is not a date means already expired (RFC 9111 §5.3).
      lifetime = (Date.parse(expires) - (Number.isNaN(date) ? now : date)) / 1000;
    } else lifetime = DEFAULT_TTL[status] ?? 0;
  }
  const age = seconds(headerOf(headers, "age"));
  const ttl = lifetime - (Number.isNaN(age) ? 0 : age);
  return { ttl: ttl > 0 ? ttl : 0, stored };
}

/** One cache: `caches.default` or what `caches.open(name)` gives. */
export class Cache {
  readonly #binding: string;
  readonly #bucket: Bucket;

  constructor() {
    if (creating === null) throw new TypeError("Illegal constructor: use caches.default or await caches.open(name)");
    this.#binding = creating;
    this.#bucket = new Bucket(creating);
  }

  /** The stored response for `request` (GET only, unless ignoreMethod), or undefined. */
  async match(request: RequestInfo, options?: CacheQueryOptions): Promise<Response | undefined> {
    const key = toRequest(request);
    if (key.method !== "GET" && !ignoresMethod(options)) return undefined;
    const conditions: Record<string, string> = {};
    const headers = key.headers;
    for (const [header, field] of [
      ["range", "range"],
      ["if-none-match", "ifNoneMatch"],
      ["if-modified-since", "ifModifiedSince"],
      ["if-range", "ifRange"],
    ] as const) {
      const value = headers.get(header);
      if (value !== null) conditions[field] = value;
    }
    const answer = (await bindingCall(this.#binding, "get", [cacheKey(key), conditions])) as WireMatch | null;
    if (answer === null) return undefined;
    const binding = this.#binding;
    const body = answer.body;
    return responseFromHost({
      status: answer.status,
      statusText: answer.statusText,
      headers: answer.headers,
      url: "",
      redirected: false,
      body: body === null || body instanceof Uint8Array ? body : () => objectReadStream(binding, body.read),
    });
  }

  /**
   * Stores `response` for `request`, as Workers does: a TypeError for a
   * non-GET request, an error response, a 206, `Vary: *` or a used body; a
   * 304, or a response Cache-Control says not to store, is dropped (the
   * promise resolves, the body is used).
   */
  async put(request: RequestInfo, response: Response): Promise<void> {
    const key = toRequest(request);
    if (key.method !== "GET") throw new TypeError("Cannot cache response to non-GET request.");
    if (!(response instanceof Response)) throw new TypeError("Cache.put: the second argument must be a Response");
    const head = responseHead(response);
    if (head.type === "error") throw new TypeError("Cache is unable to store an error response");
    if (head.status === 206) throw new TypeError("Cannot cache response to a range request (206 Partial Content).");
    for (const [name, value] of head.headers) {
      if (name === "vary" && value.includes("*")) throw new TypeError("Cannot cache response with 'Vary: *' header.");
    }
    if (response.bodyUsed) throw new TypeError("Cache.put: the response body was already used");
    // As on Workers: a 304 would answer later unconditional requests with no body.
    if (head.status === 304) return;
    const now = Date.now();
    const { ttl, stored } = cachePolicy(head.status, head.headers, now);
    const headers = ttl > 0 ? JSON.stringify(stored) : "";
    // Taken now, whatever happens next: the body is used once put() returns, as on Workers.
    const payload = takeBodyPayload(response);
    if (ttl <= 0 || headers.length > MAX_HEADER_CHARS) {
      if (payload instanceof ReadableStream) payload.cancel().catch(() => {});
      return;
    }
    const customMetadata = { status: String(head.status), statusText: head.statusText, headers, expires: String(Math.ceil(now + ttl * 1000)) };
    await this.#bucket.put(cacheKey(key), payload, { customMetadata });
  }

  /** Removes the entry for `request`; true when there was one (GET only, unless ignoreMethod). */
  async delete(request: RequestInfo, options?: CacheQueryOptions): Promise<boolean> {
    const key = toRequest(request);
    if (key.method !== "GET" && !ignoresMethod(options)) return false;
    return (await bindingCall(this.#binding, "delete", [cacheKey(key)])) === true;
  }

  add(): never {
    throw notImplemented("Cache.add()", "fetch() the request, then cache.put() the response");
  }
  addAll(): never {
    throw notImplemented("Cache.addAll()", "fetch() each request, then cache.put() each response");
  }
  matchAll(): never {
    throw notImplemented("Cache.matchAll()", "the cache holds one response per URL: use cache.match()");
  }
  keys(): never {
    throw notImplemented("Cache.keys()", "a cache cannot be listed");
  }
}

Object.defineProperty(Cache.prototype, Symbol.toStringTag, { value: "Cache", configurable: true });

function makeCache(binding: string): Cache {
  creating = binding;
  try {
    return new Cache();
  } finally {
    creating = null;
  }
}

/** caches.open names to their binding names, for this isolate. */
const opened = new Map<string, string>();
let constructingStorage = false;

/** The interface of `caches`; `new CacheStorage()` is illegal. */
export class CacheStorage {
  #default: Cache | null = null;

  constructor() {
    if (!constructingStorage) throw new TypeError("Illegal constructor: use the global caches");
  }

  /** The cache every function of this script shares (on Workers: of the zone). */
  get default(): Cache {
    return (this.#default ??= makeCache("caches:default"));
  }

  /** The cache named `cacheName` (created when first written), apart from `default`. */
  async open(cacheName: string): Promise<Cache> {
    if (arguments.length === 0) throw new TypeError("caches.open: 1 argument required, but only 0 present.");
    const name = String(cacheName);
    if (name.length >= 1024 || utf8Encode(name).byteLength >= 1024) throw new TypeError("Cache name is too long.");
    let binding = opened.get(name);
    if (binding === undefined) {
      const given = READABLE_NAME.test(name) ? `caches:n-${name}` : await bindingCall("caches:default", "open", [name]);
      if (typeof given !== "string") throw new Error("caches.open: the host gave no cache");
      if (opened.size >= 256) opened.clear();
      opened.set(name, given);
      binding = given;
    }
    return makeCache(binding);
  }

  has(): never {
    throw notImplemented("caches.has()", "caches cannot be listed; caches.open() gives any of them");
  }
  delete(): never {
    throw notImplemented("caches.delete()", "caches cannot be listed or dropped; cache.delete() removes one entry");
  }
  keys(): never {
    throw notImplemented("caches.keys()", "caches cannot be listed");
  }
  match(): never {
    throw notImplemented("caches.match()", "match in one cache: caches.default.match() or (await caches.open(name)).match()");
  }
}

Object.defineProperty(CacheStorage.prototype, Symbol.toStringTag, { value: "CacheStorage", configurable: true });

constructingStorage = true;
export const caches = new CacheStorage();
constructingStorage = false;
