// KV namespaces (`[[kv_namespaces]]` in atoll.toml): Workers KV's API, bound
// as `env.<binding>`. Types only; the runtime's class is host/runtime/kv.ts.

/** How `get` returns a value: decoded as UTF-8 text (the default), parsed as JSON, as bytes, or as a stream of bytes. */
export type KVValueType = "text" | "json" | "arrayBuffer" | "stream";

/** The options form of `get`'s second argument. */
export interface KVNamespaceGetOptions<Type extends KVValueType | undefined = undefined> {
  /** How to return the value (default `"text"`). */
  type: Type;
  /**
   * Accepted for Workers compatibility and ignored: Atoll reads go to the
   * host's store every time, so there is no edge cache to tune. Seconds.
   */
  cacheTtl?: number;
}

/** The answer of `getWithMetadata`: both null when the key does not exist. */
export interface KVNamespaceGetWithMetadataResult<Value, Metadata> {
  value: Value | null;
  /** The metadata given to `put`, parsed from JSON; null when there was none. */
  metadata: Metadata | null;
}

/** Options of `put`. Give `expiration` or `expirationTtl`, not both (without either, the key never expires). */
export interface KVNamespacePutOptions {
  /** When the key expires: seconds since the Unix epoch. After that it reads as absent. */
  expiration?: number;
  /** How long the key lives from now, in seconds: at least 1. */
  expirationTtl?: number;
  /** Anything JSON can carry, kept with the key and returned by `getWithMetadata` and `list`: at most 1 KiB (1024 bytes) as JSON. */
  metadata?: unknown;
}

/** Options of `list`. */
export interface KVNamespaceListOptions {
  /** Only keys that start with this. Default: every key. */
  prefix?: string | null;
  /** Most keys in one answer: 1 to 1000 (the default). */
  limit?: number;
  /** Continue where a previous `list` stopped: its `cursor`. Any other string is a TypeError. */
  cursor?: string | null;
}

/** One key of a `list` answer. */
export interface KVNamespaceListKey<Metadata = unknown, Key extends string = string> {
  name: Key;
  /** When the key expires, in seconds since the Unix epoch; absent when it never does. */
  expiration?: number;
  /** The key's metadata; absent when it has none. */
  metadata?: Metadata;
}

/**
 * A page of keys, in key order (UTF-8 byte order). When `list_complete` is
 * false, pass `cursor` to the next `list` call for the following page.
 */
export type KVNamespaceListResult<Metadata = unknown, Key extends string = string> =
  | { list_complete: false; keys: KVNamespaceListKey<Metadata, Key>[]; cursor: string }
  | { list_complete: true; keys: KVNamespaceListKey<Metadata, Key>[] };

/**
 * A KV namespace: string keys to values of up to 25 MiB, with optional
 * expiry and metadata. Scripts that name the same namespace `id` share it.
 *
 * Limits (each a TypeError naming the rule):
 * - keys: 1 to 512 bytes of UTF-8, not `.` or `..`;
 * - values: at most 25 MiB (26 214 400 bytes);
 * - metadata: at most 1 KiB (1024 bytes) as JSON;
 * - `expirationTtl`: at least 1 second.
 *
 * A `put` resolves once the write is durable on the host; a read that follows
 * sees it (there is no eventual consistency between edge locations: there is
 * one store). Every call counts against the invocation's wall-clock limit, not
 * its CPU limit.
 *
 * @typeParam Key the keys this code uses (default: any string).
 */
export interface KVNamespace<Key extends string = string> {
  /** The value as text (UTF-8), or null when the key does not exist or expired. */
  get(key: Key, type?: "text"): Promise<string | null>;
  /** The value parsed as JSON (a SyntaxError when it is not JSON), or null. */
  get<Json = unknown>(key: Key, type: "json"): Promise<Json | null>;
  /** The value's bytes, or null. */
  get(key: Key, type: "arrayBuffer"): Promise<ArrayBuffer | null>;
  /** The value as a stream of bytes, or null. */
  get(key: Key, type: "stream"): Promise<ReadableStream<Uint8Array> | null>;
  /** The value as text, or null (options form). */
  get(key: Key, options?: Partial<KVNamespaceGetOptions<undefined>>): Promise<string | null>;
  get(key: Key, options: KVNamespaceGetOptions<"text">): Promise<string | null>;
  get<Json = unknown>(key: Key, options: KVNamespaceGetOptions<"json">): Promise<Json | null>;
  get(key: Key, options: KVNamespaceGetOptions<"arrayBuffer">): Promise<ArrayBuffer | null>;
  get(key: Key, options: KVNamespaceGetOptions<"stream">): Promise<ReadableStream<Uint8Array> | null>;

  /** The value as text and its metadata; both null when the key does not exist. */
  getWithMetadata<Metadata = unknown>(key: Key, type?: "text"): Promise<KVNamespaceGetWithMetadataResult<string, Metadata>>;
  getWithMetadata<Json = unknown, Metadata = unknown>(key: Key, type: "json"): Promise<KVNamespaceGetWithMetadataResult<Json, Metadata>>;
  getWithMetadata<Metadata = unknown>(key: Key, type: "arrayBuffer"): Promise<KVNamespaceGetWithMetadataResult<ArrayBuffer, Metadata>>;
  getWithMetadata<Metadata = unknown>(key: Key, type: "stream"): Promise<KVNamespaceGetWithMetadataResult<ReadableStream<Uint8Array>, Metadata>>;
  getWithMetadata<Metadata = unknown>(key: Key, options?: Partial<KVNamespaceGetOptions<undefined>>): Promise<KVNamespaceGetWithMetadataResult<string, Metadata>>;
  getWithMetadata<Metadata = unknown>(key: Key, options: KVNamespaceGetOptions<"text">): Promise<KVNamespaceGetWithMetadataResult<string, Metadata>>;
  getWithMetadata<Json = unknown, Metadata = unknown>(key: Key, options: KVNamespaceGetOptions<"json">): Promise<KVNamespaceGetWithMetadataResult<Json, Metadata>>;
  getWithMetadata<Metadata = unknown>(key: Key, options: KVNamespaceGetOptions<"arrayBuffer">): Promise<KVNamespaceGetWithMetadataResult<ArrayBuffer, Metadata>>;
  getWithMetadata<Metadata = unknown>(key: Key, options: KVNamespaceGetOptions<"stream">): Promise<KVNamespaceGetWithMetadataResult<ReadableStream<Uint8Array>, Metadata>>;

  /**
   * Writes a value (text is stored as UTF-8; a stream is read to its end
   * first). Resolves once the write is durable. At most 25 MiB.
   */
  put(key: Key, value: string | ArrayBuffer | ArrayBufferView | ReadableStream<Uint8Array>, options?: KVNamespacePutOptions): Promise<void>;

  /** Deletes a key; deleting a key that does not exist is not an error. */
  delete(key: Key): Promise<void>;

  /** A page of keys in key order, with their expiration and metadata (not their values). */
  list<Metadata = unknown>(options?: KVNamespaceListOptions): Promise<KVNamespaceListResult<Metadata, Key>>;
}
