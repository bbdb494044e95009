// The bucket part of the store: objects whose bytes live in files (streamed,
// never held whole in memory) and whose records live with the rest of the
// state. Every put and delete, by a function, the CLI or the control API,
// goes through here and is announced to `onChange` listeners (bucket
// triggers) once it is durable.
import { ObjectChangedError } from "../errors.js";

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
  /**
   * The bytes of `record` from `offset`, `length` of them, as a Node stream of
   * chunks. Iterating throws ObjectChangedError when the object was deleted
   * or replaced since `record` was read: use `openSnapshot`, which finds that
   * out before the caller has answered anything.
   */
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

const SNAPSHOT_ATTEMPTS = 3;

/**
 * Runs `read` (which heads an object and opens its bytes with openSnapshot)
 * again when the object changed between the two, so that a read concurrent
 * with a delete or an overwrite answers the object before or after it, never
 * a stream cut in the middle. Gives up after three changes in a row.
 */
export async function readConsistently<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof ObjectChangedError) || attempt === SNAPSHOT_ATTEMPTS) throw error;
    }
  }
}

/**
 * openRead with its first chunk already read: a store notices a deleted or
 * replaced object on its first read (S3's conditional GET, a removed file),
 * so this throws ObjectChangedError while the caller can still read again.
 */
export async function openSnapshot(store: ObjectStore, record: ObjectRecord, offset: number, length: number): Promise<AsyncIterable<Uint8Array> & { destroy(): void }> {
  const source = store.openRead(record, offset, length);
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next().catch((error: unknown) => {
    source.destroy();
    throw error;
  });
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let ended = first.done === true;
    try {
      if (ended) return;
      yield first.value;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return void (ended = true);
        yield next.value;
      }
    } finally {
      // Stopped early (a client gone): the store's stream is closed now, not at GC.
      if (!ended) await iterator.return?.();
    }
  }
  return { [Symbol.asyncIterator]: chunks, destroy: () => source.destroy() };
}
