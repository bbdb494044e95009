// Bucket: R2's binding API over the `binding` op. Small bodies cross in one
// call; larger ones stream in chunks of about 1 MiB each way (beginPut /
// putChunk / commitPut, and read handles), so an object is never whole in
// the isolate unless the function asks for all of it.
import { Blob, blobBytes } from "./blob.js";
import { utf8Decode, utf8Encode } from "./encoding.js";
import { Headers } from "./headers.js";
import { bindingCall } from "./kv.js";
import { claimHostStream, markHostStream } from "./host-stream.js";
import { ReadableStream, chunkBytes, concatBytes, readAllBytes, streamOfInline } from "./streams.js";

/** What the host sends for an object (uploaded: ms since the epoch). */
interface WireObject {
  key: string;
  size: number;
  etag: string;
  uploaded: number;
  httpMetadata: Record<string, string>;
  customMetadata: Record<string, string>;
  range?: { offset: number; length: number };
}

const INLINE_PUT_BYTES = 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;

export interface BucketHttpMetadata {
  contentType?: string;
  contentLanguage?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  cacheControl?: string;
  cacheExpiry?: Date;
}

export class BucketObject {
  readonly key: string;
  readonly version: string;
  readonly size: number;
  readonly etag: string;
  readonly httpEtag: string;
  readonly uploaded: Date;
  readonly httpMetadata: BucketHttpMetadata;
  readonly customMetadata: Record<string, string>;
  readonly range: { offset: number; length: number } | undefined;
  readonly storageClass = "Standard";

  constructor(wire: WireObject) {
    this.key = wire.key;
    this.version = wire.etag;
    this.size = wire.size;
    this.etag = wire.etag;
    this.httpEtag = `"${wire.etag}"`;
    this.uploaded = new Date(wire.uploaded);
    const { cacheExpiry, ...rest } = wire.httpMetadata;
    this.httpMetadata = cacheExpiry === undefined ? { ...rest } : { ...rest, cacheExpiry: new Date(cacheExpiry) };
    this.customMetadata = { ...wire.customMetadata };
    this.range = wire.range;
  }

  get checksums(): { md5: ArrayBuffer } {
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 16; i++) bytes[i] = parseInt(this.etag.slice(i * 2, i * 2 + 2), 16);
    return { md5: bytes.buffer };
  }

  /** Sets Content-Type, Content-Language, Content-Disposition, Content-Encoding, Cache-Control and Expires from httpMetadata. */
  writeHttpMetadata(headers: Headers): void {
    const meta = this.httpMetadata;
    if (meta.contentType) headers.set("content-type", meta.contentType);
    if (meta.contentLanguage) headers.set("content-language", meta.contentLanguage);
    if (meta.contentDisposition) headers.set("content-disposition", meta.contentDisposition);
    if (meta.contentEncoding) headers.set("content-encoding", meta.contentEncoding);
    if (meta.cacheControl) headers.set("cache-control", meta.cacheControl);
    if (meta.cacheExpiry) headers.set("expires", meta.cacheExpiry.toUTCString());
  }
}

export class BucketObjectBody extends BucketObject {
  readonly #stream: ReadableStream<Uint8Array>;

  constructor(wire: WireObject, stream: ReadableStream<Uint8Array>) {
    super(wire);
    this.#stream = stream;
  }

  get body(): ReadableStream<Uint8Array> {
    return this.#stream;
  }

  get bodyUsed(): boolean {
    return (this.#stream as unknown as { _disturbed?: boolean })._disturbed === true || this.#stream.locked;
  }

  async bytes(): Promise<Uint8Array> {
    if (this.bodyUsed) throw new TypeError("the object's body was already read");
    return readAllBytes(this.#stream);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes();
    return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
  }

  async text(): Promise<string> {
    return utf8Decode(await this.bytes());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async blob(): Promise<Blob> {
    return new Blob([await this.bytes()], { type: this.httpMetadata.contentType ?? "" });
  }
}

Object.defineProperty(BucketObject.prototype, Symbol.toStringTag, { value: "R2Object", configurable: true });
Object.defineProperty(BucketObjectBody.prototype, Symbol.toStringTag, { value: "R2ObjectBody", configurable: true });

export class Bucket {
  readonly #binding: string;

  constructor(binding: string) {
    this.#binding = binding;
  }

  async head(key: string): Promise<BucketObject | null> {
    const wire = (await bindingCall(this.#binding, "head", [key])) as WireObject | null;
    return wire === null ? null : new BucketObject(wire);
  }

  async get(key: string, options?: { range?: unknown; onlyIf?: unknown }): Promise<BucketObjectBody | BucketObject | null> {
    const given = options ?? {};
    const query: { range?: unknown; onlyIf?: unknown } = {};
    if (given.range !== undefined) query.range = given.range instanceof Headers ? rangeFromHeaders(given.range) : given.range;
    if (given.onlyIf !== undefined) query.onlyIf = conditionsOf(given.onlyIf);
    const answer = (await bindingCall(this.#binding, "get", [key, query])) as { object: WireObject; body: Uint8Array | { read: number } | null } | null;
    if (answer === null) return null;
    if (answer.body === null) return new BucketObject(answer.object);
    const stream = answer.body instanceof Uint8Array ? streamOfInline(answer.body) : this.#readStream(answer.body.read);
    return new BucketObjectBody(answer.object, stream);
  }

  async put(key: string, value: unknown, options?: { httpMetadata?: BucketHttpMetadata | Headers; customMetadata?: Record<string, string>; md5?: ArrayBuffer | string }): Promise<BucketObject> {
    const settings = putOptions(options);
    if (value instanceof ReadableStream) return this.#putStream(key, value, settings);
    const bytes = bytesOf(value);
    if (bytes.byteLength <= INLINE_PUT_BYTES) return new BucketObject((await bindingCall(this.#binding, "put", [key, bytes, settings])) as WireObject);
    const handle = (await bindingCall(this.#binding, "beginPut", [])) as number;
    try {
      for (let at = 0; at < bytes.byteLength; at += CHUNK_BYTES) {
        await bindingCall(this.#binding, "putChunk", [handle, bytes.subarray(at, at + CHUNK_BYTES)]);
      }
      return new BucketObject((await bindingCall(this.#binding, "commitPut", [handle, key, settings])) as WireObject);
    } catch (error) {
      void bindingCall(this.#binding, "cancel", [handle]).catch(() => {});
      throw error;
    }
  }

  async delete(keys: string | string[]): Promise<void> {
    await bindingCall(this.#binding, "delete", [Array.isArray(keys) ? [...keys] : keys]);
  }

  async list(options?: { prefix?: string; delimiter?: string; cursor?: string; limit?: number; include?: ("httpMetadata" | "customMetadata")[]; startAfter?: string }): Promise<{
    objects: BucketObject[];
    truncated: boolean;
    cursor?: string;
    delimitedPrefixes: string[];
  }> {
    const given = options ?? {};
    const query: Record<string, unknown> = {};
    for (const name of ["prefix", "delimiter", "cursor", "limit"] as const) if (given[name] !== undefined) query[name] = given[name];
    if (given.include !== undefined) query.include = [...given.include];
    const answer = (await bindingCall(this.#binding, "list", [query])) as { objects: WireObject[]; truncated: boolean; cursor?: string; delimitedPrefixes: string[] };
    const result: { objects: BucketObject[]; truncated: boolean; cursor?: string; delimitedPrefixes: string[] } = {
      objects: answer.objects.map((wire) => new BucketObject(wire)),
      truncated: answer.truncated,
      delimitedPrefixes: answer.delimitedPrefixes,
    };
    if (answer.cursor !== undefined) result.cursor = answer.cursor;
    return result;
  }

  /** Streams `stream` to the host in chunks of about 1 MiB, each acknowledged before the next is sent. */
  async #putStream(key: string, stream: ReadableStream<unknown>, settings: Record<string, unknown>): Promise<BucketObject> {
    if (stream.locked) throw new TypeError("bucket put: the body stream is locked");
    const pipe = claimHostStream(stream);
    // Bytes the host holds (a request body, a fetch response, another object): it stores them itself.
    if (pipe !== null) return new BucketObject((await bindingCall(this.#binding, "putFrom", [key, pipe, settings])) as WireObject);
    const handle = (await bindingCall(this.#binding, "beginPut", [])) as number;
    const reader = stream.getReader();
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const chunk = pending.length === 1 ? pending[0]! : concatBytes(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await bindingCall(this.#binding, "putChunk", [handle, chunk]);
    };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const bytes = chunkBytes(value);
        pending.push(bytes.slice());
        pendingBytes += bytes.byteLength;
        if (pendingBytes >= CHUNK_BYTES) await flush();
      }
      await flush();
      return new BucketObject((await bindingCall(this.#binding, "commitPut", [handle, key, settings])) as WireObject);
    } catch (error) {
      reader.cancel(error).catch(() => {});
      void bindingCall(this.#binding, "cancel", [handle]).catch(() => {});
      throw error;
    }
  }

  #readStream(handle: number): ReadableStream<Uint8Array> {
    return objectReadStream(this.#binding, handle);
  }
}

/**
 * The bytes behind read handle `handle` of `binding`, pulled a chunk (about
 * 1 MiB) at a time; marked as the host's, so that passing it on untouched
 * (returning it as a response body, putting it in a bucket) moves the bytes
 * host-side. Also the Cache API's bodies (cache.ts).
 */
export function objectReadStream(binding: string, handle: number): ReadableStream<Uint8Array> {
  let over = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = (await bindingCall(binding, "read", [handle])) as Uint8Array | null;
        if (chunk === null) {
          over = true;
          controller.close();
        } else controller.enqueue(chunk);
      },
      cancel() {
        if (!over) void bindingCall(binding, "cancel", [handle]).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
  return markHostStream(stream, { from: "object", binding, read: handle });
}

Object.defineProperty(Bucket.prototype, Symbol.toStringTag, { value: "R2Bucket", configurable: true });

function bytesOf(value: unknown): Uint8Array {
  if (value === null || value === undefined) return new Uint8Array(0);
  if (typeof value === "string") return utf8Encode(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  if (value instanceof Blob) return blobBytes(value);
  throw new TypeError("bucket put: the value must be a string, ArrayBuffer, ArrayBufferView, Blob, ReadableStream or null");
}

function putOptions(options: { httpMetadata?: BucketHttpMetadata | Headers; customMetadata?: Record<string, string>; md5?: ArrayBuffer | string } | undefined): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  if (!options) return settings;
  const meta = options.httpMetadata;
  if (meta instanceof Headers) {
    const fromHeaders: Record<string, string> = {};
    const pairs: [string, keyof BucketHttpMetadata][] = [
      ["content-type", "contentType"],
      ["content-language", "contentLanguage"],
      ["content-disposition", "contentDisposition"],
      ["content-encoding", "contentEncoding"],
      ["cache-control", "cacheControl"],
    ];
    for (const [header, field] of pairs) {
      const value = meta.get(header);
      if (value !== null) fromHeaders[field] = value;
    }
    const expires = meta.get("expires");
    if (expires !== null && !Number.isNaN(Date.parse(expires))) fromHeaders.cacheExpiry = new Date(expires).toISOString();
    settings.httpMetadata = fromHeaders;
  } else if (meta !== undefined && meta !== null) {
    const plain: Record<string, string> = {};
    for (const [field, value] of Object.entries(meta)) {
      if (value === undefined) continue;
      plain[field] = value instanceof Date ? value.toISOString() : String(value);
    }
    settings.httpMetadata = plain;
  }
  if (options.customMetadata !== undefined) settings.customMetadata = { ...options.customMetadata };
  if (options.md5 !== undefined) {
    if (typeof options.md5 === "string") settings.md5 = options.md5;
    else {
      const bytes = new Uint8Array(options.md5);
      let hex = "";
      for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
      settings.md5 = hex;
    }
  }
  return settings;
}

/** R2's onlyIf as an object, or the conditional request headers of a Headers. */
function conditionsOf(onlyIf: unknown): Record<string, unknown> {
  if (!(onlyIf instanceof Headers)) {
    if (typeof onlyIf !== "object" || onlyIf === null) throw new TypeError("bucket get: onlyIf must be an object or Headers");
    const given = onlyIf as Record<string, unknown>;
    const conditions: Record<string, unknown> = {};
    for (const name of ["etagMatches", "etagDoesNotMatch"]) if (given[name] !== undefined) conditions[name] = String(given[name]);
    for (const name of ["uploadedBefore", "uploadedAfter"]) {
      const value = given[name];
      if (value instanceof Date) conditions[name] = value.getTime();
    }
    return conditions;
  }
  const conditions: Record<string, unknown> = {};
  const ifMatch = onlyIf.get("if-match");
  const ifNoneMatch = onlyIf.get("if-none-match");
  const ifModifiedSince = onlyIf.get("if-modified-since");
  const ifUnmodifiedSince = onlyIf.get("if-unmodified-since");
  if (ifMatch !== null) conditions.etagMatches = ifMatch;
  if (ifNoneMatch !== null) conditions.etagDoesNotMatch = ifNoneMatch;
  if (ifModifiedSince !== null && !Number.isNaN(Date.parse(ifModifiedSince))) conditions.uploadedAfter = Date.parse(ifModifiedSince);
  if (ifUnmodifiedSince !== null && !Number.isNaN(Date.parse(ifUnmodifiedSince))) conditions.uploadedBefore = Date.parse(ifUnmodifiedSince);
  return conditions;
}

/** A Range header's single byte range as R2's range option. */
function rangeFromHeaders(headers: Headers): unknown {
  const range = headers.get("range");
  if (range === null) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (!match || (match[1] === "" && match[2] === "")) throw new TypeError(`bucket get: the range header ${JSON.stringify(range)} is not a single byte range`);
  if (match[1] === "") return { suffix: Number(match[2]) };
  const offset = Number(match[1]);
  return match[2] === "" ? { offset } : { offset, length: Number(match[2]) - offset + 1 };
}
