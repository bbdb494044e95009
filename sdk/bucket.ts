// Buckets (`[[buckets]]` in atoll.toml): R2's API, bound as `env.<binding>`.
// Objects are streamed to and from the host's disk, never held whole in
// memory. Types only; the runtime's classes are host/runtime/bucket.ts.

/** How an object should be served over HTTP; kept with it and written back by `writeHttpMetadata`. Each field at most 1024 characters. */
export interface BucketHttpMetadata {
  /** `Content-Type`, e.g. `"image/png"`. */
  contentType?: string;
  /** `Content-Language`. */
  contentLanguage?: string;
  /** `Content-Disposition`, e.g. `'attachment; filename="a.pdf"'`. */
  contentDisposition?: string;
  /** `Content-Encoding` of the stored bytes, e.g. `"gzip"` (the bucket does not decode them). */
  contentEncoding?: string;
  /** `Cache-Control`. */
  cacheControl?: string;
  /** `Expires`. */
  cacheExpiry?: Date;
}

/**
 * Part of an object: `offset` bytes in, `length` bytes long (to the end when
 * left out), or its last `suffix` bytes. Clamped to the object's size.
 */
export type BucketRange = { offset: number; length?: number } | { offset?: number; length: number } | { suffix: number };

/** Conditions of a `get`: when one fails, `get` returns the object without its body. */
export interface BucketConditional {
  /** Only if the object's etag is this (without quotes). */
  etagMatches?: string;
  /** Only if the object's etag is not this. */
  etagDoesNotMatch?: string;
  /** Only if the object was written before this time. */
  uploadedBefore?: Date;
  /** Only if the object was written after this time. */
  uploadedAfter?: Date;
}

/** Options of `get`. */
export interface BucketGetOptions {
  /** Read only part of the object; a request's Headers give it from their `Range` header (one byte range). */
  range?: BucketRange | Headers;
  /** Read the body only if these hold; a request's Headers give them from If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since. */
  onlyIf?: BucketConditional | Headers;
}

/**
 * An object's description, without its bytes: what `head`, `put` and `list`
 * return, and `get` when its `onlyIf` conditions fail.
 */
export interface BucketObject {
  /** The object's key: 1 to 1024 bytes of UTF-8, no NUL, no `..` segment. */
  readonly key: string;
  /** Identifies this write of the object (its etag: Atoll keeps no older versions). */
  readonly version: string;
  /** Size of the object's bytes (all of them, also when a range was read). */
  readonly size: number;
  /** MD5 of the object's bytes, hex, without quotes. */
  readonly etag: string;
  /** The etag as an HTTP `ETag` header value: in double quotes. */
  readonly httpEtag: string;
  /** When the object was written (its put became durable). */
  readonly uploaded: Date;
  /**
   * How the object should be served. In a `list` answer, filled only when
   * `include` names `"httpMetadata"`.
   */
  readonly httpMetadata: BucketHttpMetadata;
  /**
   * Your own string pairs, given to `put`. In a `list` answer, filled only when
   * `include` names `"customMetadata"`.
   */
  readonly customMetadata: Record<string, string>;
  /** The part of the object a ranged `get` read; undefined otherwise. */
  readonly range: { offset: number; length: number } | undefined;
  /** Always `"Standard"`: there is one storage class. */
  readonly storageClass: "Standard";
  /** The object's MD5, as 16 bytes. */
  readonly checksums: { md5: ArrayBuffer };
  /** Sets Content-Type, Content-Language, Content-Disposition, Content-Encoding, Cache-Control and Expires on `headers` from `httpMetadata`, for serving the object. */
  writeHttpMetadata(headers: Headers): void;
}

/**
 * An object with its bytes, as `get` returns it. The body can be read once,
 * by one of `body`, `text()`, `json()`, `arrayBuffer()`, `bytes()` or `blob()`.
 */
export interface BucketObjectBody extends BucketObject {
  /** The bytes, streamed from the host's disk: return it in a Response to serve the object without buffering it. */
  readonly body: ReadableStream<Uint8Array>;
  /** True once the body has been read (or its stream locked). */
  readonly bodyUsed: boolean;
  /** The bytes decoded as UTF-8. */
  text(): Promise<string>;
  /** The bytes parsed as JSON. */
  json<T = unknown>(): Promise<T>;
  arrayBuffer(): Promise<ArrayBuffer>;
  bytes(): Promise<Uint8Array>;
  /** The bytes as a Blob whose type is the object's `httpMetadata.contentType`. */
  blob(): Promise<Blob>;
}

/** Options of `put`. */
export interface BucketPutOptions {
  /** How the object should be served; a Headers object is read for its Content-*, Cache-Control and Expires fields. */
  httpMetadata?: BucketHttpMetadata | Headers;
  /** Your own string pairs, kept with the object: at most 2 KiB (2048 bytes) as JSON. */
  customMetadata?: Record<string, string>;
  /** The MD5 the bytes must have (16 bytes, or 32 hex digits): a put whose bytes differ fails and stores nothing. */
  md5?: ArrayBuffer | string;
}

/** Options of `list`. */
export interface BucketListOptions {
  /** Only keys that start with this. Default: every key. */
  prefix?: string;
  /**
   * Group keys by the part after `prefix` up to this string (usually `"/"`),
   * as folders: each group appears once in `delimitedPrefixes` instead of its
   * objects. Default: no grouping.
   */
  delimiter?: string;
  /** Continue where a previous `list` stopped: its `cursor`. */
  cursor?: string;
  /** Most objects (and delimited prefixes) in one answer: 1 to 1000 (the default). */
  limit?: number;
  /** Also return these fields of each object (they are left empty otherwise). */
  include?: ("httpMetadata" | "customMetadata")[];
}

/**
 * A page of a bucket's objects, in key order (UTF-8 byte order). When
 * `truncated` is true, pass `cursor` to the next `list` call.
 */
export type BucketObjects = {
  objects: BucketObject[];
  /** With a `delimiter`: the groups of keys ("folders") on this page, each ending with the delimiter. */
  delimitedPrefixes: string[];
} & ({ truncated: true; cursor: string } | { truncated: false; cursor?: undefined });

/**
 * A bucket of objects: keys of up to 1024 bytes to bytes of up to 5 GiB
 * each, with HTTP and custom metadata. Scripts that name the same
 * `bucket_name` share it. A `put` or `delete` resolves once the change is
 * durable on the host, and the storage triggers watching the bucket have
 * their event queued. Bodies cross the bridge in chunks of about 1 MiB each
 * way. Calls count against the invocation's wall-clock limit, not its CPU
 * limit.
 */
export interface Bucket {
  /** The object's description, or null when there is no such key. */
  head(key: string): Promise<BucketObject | null>;
  /** The object with its bytes (streamed; only `range` of them when given), or null when there is no such key. */
  get(key: string, options?: { range?: BucketRange | Headers; onlyIf?: undefined }): Promise<BucketObjectBody | null>;
  /** With `onlyIf`: the object with its bytes when the conditions hold, the object without them when they do not, or null. */
  get(key: string, options: BucketGetOptions): Promise<BucketObjectBody | BucketObject | null>;
  /**
   * Writes an object, replacing any with the same key: at most 5 GiB
   * (5 368 709 120 bytes). A stream is written to disk as it arrives;
   * the object becomes visible once its bytes are durable.
   */
  put(key: string, value: ReadableStream<Uint8Array> | ArrayBuffer | ArrayBufferView | string | Blob | null, options?: BucketPutOptions): Promise<BucketObject>;
  /** Deletes one object, or up to 1000 at once; deleting a key that does not exist is not an error. */
  delete(keys: string | string[]): Promise<void>;
  /** A page of objects in key order. */
  list(options?: BucketListOptions): Promise<BucketObjects>;
}
