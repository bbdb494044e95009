// The bucket part of the store: objects whose bytes live in files (streamed,
// never held whole in memory) and whose records live with the rest of the
// state. Every put and delete, by a function, the CLI or the control API,
// goes through here and is announced to `onChange` listeners (bucket
// triggers) once it is durable.

/** R2's httpMetadata: how the object should be served. */
export interface HttpMetadata {
  contentType?: string;
  contentLanguage?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  cacheControl?: string;
  /** ISO 8601. */
  cacheExpiry?: string;
}

export interface ObjectRecord {
  bucket: string;
  key: string;
  size: number;
  /** MD5 of the bytes, hex (R2's etag for single-part uploads). */
  etag: string;
  /** Milliseconds since the epoch. */
  uploaded: number;
  httpMetadata: HttpMetadata;
  customMetadata: Record<string, string>;
}

export interface ObjectEvent {
  bucket: string;
  key: string;
  action: "put" | "delete";
  /** The new object's size and etag for a put; the deleted one's for a delete. */
  size: number;
  etag: string;
  /** ISO 8601. */
  time: string;
}

/** An object being written: bytes go to a temporary file until `commit`. */
export interface ObjectUpload {
  /** Appends bytes; resolves once they are written or buffered (the caller may then reuse them); `commit` writes and syncs everything. */
  write(chunk: Uint8Array): Promise<void>;
  /** Bytes written so far. */
  readonly bytes: number;
  /**
   * Syncs the file, moves it into place and records the object, durably;
   * only then is it visible. Fails (and aborts) when `md5` is given and does
   * not match the bytes.
   */
  commit(key: string, metadata: { httpMetadata: HttpMetadata; customMetadata: Record<string, string>; md5?: string }): Promise<ObjectRecord>;
  /** Drops the temporary file. */
  abort(): Promise<void>;
}

export interface ObjectListQuery {
  prefix: string;
  /** Only keys from this one on (inclusive: the cursor's position), or null from the start. */
  from: string | null;
  limit: number;
  /** Group keys by the part after the prefix up to this (usually "/"). */
  delimiter: string | null;
  /** The records' httpMetadata and customMetadata are wanted (a store may leave them empty otherwise: S3 lists without them). */
  withMetadata?: boolean;
}

export interface ObjectListing {
  objects: ObjectRecord[];
  delimitedPrefixes: string[];
  /** Where the next page starts (inclusive), for its cursor; null when the listing is complete. */
  resumeFrom: string | null;
}

export interface BucketUsage {
  objects: number;
  bytes: number;
}

export interface ObjectStore {
  beginPut(bucket: string): Promise<ObjectUpload>;
  head(bucket: string, key: string): Promise<ObjectRecord | undefined>;
  /** The bytes of `record` from `offset`, `length` of them, as a Node stream of chunks. */
  openRead(record: ObjectRecord, offset: number, length: number): AsyncIterable<Uint8Array> & { destroy(): void };
  /** Durable once resolved; the deleted record, or undefined when there was none. */
  delete(bucket: string, key: string): Promise<ObjectRecord | undefined>;
  list(bucket: string, query: ObjectListQuery): Promise<ObjectListing>;
  /** What `bucket` holds: its objects and their bytes (the storage sampler's measurement; on S3 a listing of the whole bucket). */
  usage(bucket: string): Promise<BucketUsage>;
  /**
   * Called after every durable put and delete; the put or delete resolves
   * only once the listeners' promises have (bucket triggers queue their
   * events first). Returns an unsubscribe function.
   */
  onChange(listener: (event: ObjectEvent) => void | Promise<unknown>): () => void;
}

/**
 * The listeners of a store's changes (both stores use it): a put or delete
 * waits for them, so a bucket event is queued before the write that caused it
 * is acknowledged; a listener's failure is its own (it logs it).
 */
export class ObjectChangeListeners {
  private readonly listeners = new Set<(event: ObjectEvent) => void | Promise<unknown>>();

  add(listener: (event: ObjectEvent) => void | Promise<unknown>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async emit(event: ObjectEvent): Promise<void> {
    await Promise.allSettled([...this.listeners].map(async (listener) => listener(event)));
  }
}
