// The host side of the Cache API (runtime/cache.ts): `caches:…` binding
// names, which no binding in a config can have, each a bucket of the calling
// script's own (`cache~<script>~<id>`: `~` is in no user bucket's name, so no
// storage trigger or bucket route reaches it). BindingHost hands such calls here.
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { VersionKey } from "../executor/ipc.js";
import { versionId } from "../executor/ipc.js";
import { readConsistently, type ObjectStore } from "../store/objects.js";
import { BindingCallError, plainObject } from "./binding-error.js";
import { Bucket, type BucketHandles } from "./bucket.js";

/** Whether a binding name is a cache's (runtime/cache.ts). */
export function isCacheBinding(binding: string): boolean {
  return binding.startsWith(CACHE_PREFIX);
}

export class CacheHost {
  constructor(
    private readonly objects: ObjectStore,
    private readonly handles: BucketHandles,
  ) {}

  close(): void {
    this.closed = true;
  }

  private closed = false;
  /** Per cache bucket: when its expired entries were last looked for, and where the next look starts. */
  private readonly sweeps = new LRUCache<string, { at: number; from: string | null }>({ max: 4096 });

  /**
   * The Cache API of the calling script. Entries are objects keyed by the
   * SHA-256 of the request URL; the response's status, headers and expiry
   * (the runtime reads Cache-Control) are in its customMetadata, its body in
   * its bytes, streamed both ways as a bucket's are.
   */
  async call(key: VersionKey, binding: string, method: string, args: unknown[]): Promise<unknown> {
    const id = CACHE_BINDING.exec(binding)?.[1];
    if (id === undefined) throw BindingCallError.badArgument(`${binding} is not a cache`);
    const bucket = new Bucket(this.objects, cacheBucketName(key.script, id), this.handles, versionId(key), CACHE_LIMITS.metadataBytes);
    switch (method) {
      case "open":
        return `${CACHE_PREFIX}${cacheId(args[0])}`;
      case "get": {
        const key = cacheKey(args[0]);
        const conditions = plainObject(args[1], "cache match: conditions");
        return readConsistently(() => this.cacheMatch(bucket, key, conditions));
      }
      case "delete": {
        const objectKey = cacheKey(args[0]);
        const deleted = await this.objects.delete(bucket.name, objectKey);
        return deleted !== undefined && entryOf(deleted.customMetadata, Date.now()) !== null;
      }
      case "put": {
        const entry = cacheEntry(args[0], args[2]);
        const stored = await bucket.put(cacheKey(args[0]), args[1], entry);
        this.sweepSoon(bucket.name);
        return stored;
      }
      case "beginPut":
        return bucket.beginPut();
      case "putChunk":
        return bucket.putChunk(args[0], args[1]);
      case "commitPut": {
        let entry: { customMetadata: Record<string, string> };
        let objectKey: string;
        try {
          entry = cacheEntry(args[1], args[2]);
          objectKey = cacheKey(args[1]);
        } catch (error) {
          bucket.cancel(args[0]);
          throw error;
        }
        const stored = await bucket.commitPut(args[0], objectKey, entry);
        this.sweepSoon(bucket.name);
        return stored;
      }
      case "read":
        return bucket.read(args[0]);
      case "cancel":
        return bucket.cancel(args[0]);
      default:
        throw BindingCallError.badArgument(`caches have no method ${JSON.stringify(method)}`);
    }
  }

  /**
   * The response for a match, as Workers' cache answers it: null on a miss or
   * an expired entry (which goes), 304 for a matching If-None-Match (or
   * If-Modified-Since), 206 or 416 for a single byte Range of a 200, the
   * entry otherwise; always with `cf-cache-status: HIT`.
   */
  private async cacheMatch(bucket: Bucket, objectKey: string, conditions: Record<string, unknown>): Promise<CacheAnswer | null> {
    const found = await bucket.open(objectKey);
    if (found === null) return null;
    const entry = entryOf(found.object.customMetadata, Date.now());
    if (entry === null) {
      // No I/O since the record was read, so no put can have replaced it in between.
      await this.objects.delete(bucket.name, objectKey);
      return null;
    }
    const size = found.object.size;
    const headers = entry.headers.filter(([name]) => name !== "cf-cache-status" && name !== "content-length" && name !== "content-range");
    headers.push(["cf-cache-status", "HIT"]);
    const condition = (name: string) => (typeof conditions[name] === "string" ? (conditions[name] as string) : null);
    if (entry.status === 200 && notModified(entry.headers, condition("ifNoneMatch"), condition("ifModifiedSince"))) {
      return { status: 304, statusText: "Not Modified", headers, body: null };
    }
    const range = entry.status === 200 && rangeApplies(entry.headers, condition("ifRange")) ? byteRange(condition("range"), size) : null;
    if (range === "unsatisfiable") {
      headers.push(["content-range", `bytes */${size}`]);
      return { status: 416, statusText: "Range Not Satisfiable", headers, body: null };
    }
    if (range !== null) {
      headers.push(["content-range", `bytes ${range.offset}-${range.offset + range.length - 1}/${size}`], ["content-length", String(range.length)]);
      return { status: 206, statusText: "Partial Content", headers, body: await found.read(range) };
    }
    headers.push(["content-length", String(size)]);
    return { status: entry.status, statusText: entry.statusText, headers, body: await found.read({ offset: 0, length: size }) };
  }

  /**
   * Removes expired entries nobody matched again, so that a cache of ever new
   * URLs does not grow without end: after a put, at most once a minute per
   * cache, up to 1000 entries from where the last look stopped.
   */
  private sweepSoon(bucket: string): void {
    const now = Date.now();
    const last = this.sweeps.get(bucket);
    if (last !== undefined && now - last.at < CACHE_LIMITS.sweepEveryMs) return;
    const state = { at: now, from: last?.from ?? null };
    this.sweeps.set(bucket, state);
    void this.sweep(bucket, state).catch(() => {
      // The next put tries again.
    });
  }

  private async sweep(bucket: string, state: { at: number; from: string | null }): Promise<void> {
    const objects = this.objects;
    // With metadata: an entry's expiry is in it (a store may list without it, and every entry would look expired).
    const listing = await objects.list(bucket, { prefix: "", from: state.from, limit: CACHE_LIMITS.sweepBatch, delimiter: null, withMetadata: true });
    for (const record of listing.objects) {
      if (this.closed) return;
      if (entryOf(record.customMetadata, Date.now()) !== null) continue;
      // Looked at again just before: a put since the listing replaced it with a fresh entry.
      const current = await objects.head(bucket, record.key);
      if (current !== undefined && current.etag === record.etag && current.uploaded === record.uploaded) await objects.delete(bucket, record.key);
    }
    state.from = listing.resumeFrom;
  }
}

const CACHE_PREFIX = "caches:";
/** caches.default, caches.open(name) with a plain short name, and any other name by its hash (see cacheId). */
const CACHE_BINDING = /^caches:(default|n-[a-z0-9][a-z0-9_-]{0,47}|h-[0-9a-f]{32})$/;
const READABLE_CACHE_NAME = /^[a-z0-9][a-z0-9_-]{0,47}$/;

export const CACHE_LIMITS = {
  /** Workers' limit on caches.open names (UTF-8 bytes, exclusive). */
  nameBytes: 1024,
  /** Request URLs, the cache keys (UTF-16 units). */
  urlChars: 16 * 1024,
  /** A stored response's status, headers and expiry, as JSON. */
  metadataBytes: 64 * 1024,
  sweepEveryMs: 60_000,
  sweepBatch: 1000,
} as const;

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A match's answer: the response's head and its body (inline, a read handle, or none). */
interface CacheAnswer {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: Uint8Array | { read: number } | null;
}

/**
 * The id of caches.open(name): the name itself when it is short and plain
 * (a readable directory under the store), otherwise a hash of it. Names
 * cannot meet: a hash id starts with "h-", a plain one with "n-", and
 * caches.default is "default", apart from caches.open("default") ("n-default"),
 * as on Workers.
 */
function cacheId(name: unknown): string {
  if (typeof name !== "string") throw BindingCallError.badArgument("caches.open: the name must be a string");
  if (Buffer.byteLength(name) >= CACHE_LIMITS.nameBytes) throw BindingCallError.badArgument("Cache name is too long.");
  if (READABLE_CACHE_NAME.test(name)) return `n-${name}`;
  return `h-${createHash("sha256").update(name).digest("hex").slice(0, 32)}`;
}

/**
 * The bucket behind one of a script's caches. Scoped to the script (every
 * version of it shares the cache; no other script reaches it), and never a
 * user's bucket: those are [a-z0-9_-] only, and no bucket trigger can watch a
 * name with "~", so cache writes run no function. One directory under the
 * store's objects directory: no "/" and at most 6 + 63 + 1 + 50 characters.
 */
function cacheBucketName(script: string, id: string): string {
  return `cache~${script}~${id}`;
}

/** The object key of a request URL. */
function cacheKey(url: unknown): string {
  if (typeof url !== "string" || url === "" || url.length > CACHE_LIMITS.urlChars) {
    throw BindingCallError.badArgument(`cache: the key must be a request URL of at most ${CACHE_LIMITS.urlChars} characters`);
  }
  return createHash("sha256").update(url).digest("hex");
}

/** The customMetadata of a put, checked (the isolate is hostile): status, statusText, headers (JSON pairs), expires (ms since the epoch). */
function cacheEntry(url: unknown, options: unknown): { customMetadata: Record<string, string> } {
  const given = plainObject(plainObject(options, "cache put: options").customMetadata, "cache put: the entry");
  const entry: Record<string, string> = {};
  for (const field of ["status", "statusText", "headers", "expires"]) if (typeof given[field] === "string") entry[field] = given[field] as string;
  if (entryOf(entry, 0) === null) throw BindingCallError.badArgument("cache put: the entry must have a status, a statusText, headers and an expiry as the runtime writes them");
  return { customMetadata: { ...entry, url: String(url) } };
}

/** A stored entry's response head, or null when it expired by `now` or is not one. */
function entryOf(metadata: Record<string, string>, now: number): { status: number; statusText: string; headers: [string, string][] } | null {
  const status = Number(metadata.status);
  const expires = Number(metadata.expires);
  if (!/^[2-5]\d\d$/.test(metadata.status ?? "") || !/^\d{1,16}$/.test(metadata.expires ?? "") || !(expires > now)) return null;
  const statusText = metadata.statusText;
  if (typeof statusText !== "string" || statusText.length > 1024 || !HEADER_VALUE.test(statusText)) return null;
  let headers: unknown;
  try {
    headers = JSON.parse(metadata.headers ?? "");
  } catch {
    return null;
  }
  if (!Array.isArray(headers)) return null;
  for (const pair of headers) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string" || !HEADER_NAME.test(pair[0]) || !HEADER_VALUE.test(pair[1])) return null;
  }
  return { status, statusText, headers: headers as [string, string][] };
}

function headerOf(headers: [string, string][], name: string): string | null {
  const values = headers.filter((pair) => pair[0] === name).map((pair) => pair[1]);
  return values.length === 0 ? null : values.join(", ");
}

/** An entity tag without W/ and quotes (If-None-Match compares weakly). */
function opaqueTag(tag: string): string {
  return tag.trim().replace(/^W\//, "");
}

/** RFC 9110 §13.1.2–3: If-None-Match decides when present, else If-Modified-Since against Last-Modified. */
function notModified(headers: [string, string][], ifNoneMatch: string | null, ifModifiedSince: string | null): boolean {
  if (ifNoneMatch !== null) {
    const etag = headerOf(headers, "etag");
    if (ifNoneMatch.trim() === "*") return true;
    return etag !== null && ifNoneMatch.split(",").some((tag) => opaqueTag(tag) === opaqueTag(etag));
  }
  if (ifModifiedSince === null) return false;
  const lastModified = Date.parse(headerOf(headers, "last-modified") ?? "");
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(lastModified) && !Number.isNaN(since) && lastModified <= since;
}

/** RFC 9110 §13.1.5: a Range counts only when If-Range (if any) names the stored response by strong ETag or its Last-Modified. */
function rangeApplies(headers: [string, string][], ifRange: string | null): boolean {
  if (ifRange === null) return true;
  const value = ifRange.trim();
  if (value.startsWith('"')) return headerOf(headers, "etag")?.trim() === value;
  const lastModified = headerOf(headers, "last-modified");
  return lastModified !== null && !Number.isNaN(Date.parse(value)) && Date.parse(lastModified) === Date.parse(value);
}

/**
 * A single byte range of a `size`-byte body (RFC 9110 §14.1.2); null when
 * there is no Range header or one this cache ignores (not bytes, several
 * ranges, not parseable): the whole response is the answer then.
 */
function byteRange(header: string | null, size: number): { offset: number; length: number } | "unsatisfiable" | null {
  if (header === null) return null;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match || (match[1] === "" && match[2] === "")) return null;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const first = Number(match[1]);
  const last = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== "" && Number(match[2]) < first) return null;
  if (first >= size) return "unsatisfiable";
  return { offset: first, length: last - first + 1 };
}

