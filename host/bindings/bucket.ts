// One bucket with R2's semantics over the store's ObjectStore: key rules,
// conditional and ranged reads, listing with delimiters and cursors, and
// streamed uploads and reads held by numbered handles (a function's body
// crosses the bridge chunk by chunk; nothing holds an object whole). Used for
// functions' env.<BUCKET> calls and for the control API and CLI alike.
import { openSnapshot, readConsistently, type HttpMetadata, type ObjectRecord, type ObjectStore, type ObjectUpload } from "../store/objects.js";
import { ObjectDigestError } from "../store/sqlite-objects.js";
import { BindingCallError } from "./binding-error.js";
import { decodeCursor, encodeCursor } from "./cursor.js";

export const BUCKET_LIMITS = {
  keyBytes: 1024,
  /** Largest object, bytes (5 GiB). */
  objectBytes: 5 * 1024 ** 3,
  /** Puts up to this size travel in one call; larger bodies stream. */
  inlinePutBytes: 1024 * 1024,
  /** Reads up to this size come back in the answer to `get`; larger ones stream. */
  inlineGetBytes: 64 * 1024,
  customMetadataBytes: 2048,
  listLimit: 1000,
  /** Open upload and read handles, host-wide (each holds a file descriptor). */
  openHandles: 1024,
  /** A handle untouched this long is closed (an abandoned upload is deleted), ms. */
  handleIdleMs: 60_000,
} as const;

const HTTP_METADATA_FIELDS = ["contentType", "contentLanguage", "contentDisposition", "contentEncoding", "cacheControl", "cacheExpiry"] as const;
const CURSOR_TAG = "b1";
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What crosses to the runtime for an object (uploaded: ms since the epoch). */
export interface WireObject {
  key: string;
  size: number;
  etag: string;
  uploaded: number;
  httpMetadata: HttpMetadata;
  customMetadata: Record<string, string>;
  range?: { offset: number; length: number };
}

export interface PutOptions {
  httpMetadata?: unknown;
  customMetadata?: unknown;
  /** Hex. */
  md5?: unknown;
}

export interface GetOptions {
  range?: unknown;
  onlyIf?: unknown;
}

export interface ListOptions {
  prefix?: unknown;
  delimiter?: unknown;
  cursor?: unknown;
  limit?: unknown;
  include?: unknown;
}

/** Handles belong to their owner (the calling version, or the control API): a function cannot touch another's. */
type Handle = { owner: string; timer: NodeJS.Timeout } & (
  | { kind: "upload"; upload: ObjectUpload }
  | { kind: "read"; iterator: AsyncIterator<Uint8Array>; source: { destroy(): void } }
);
type NewHandle = { owner: string } & ({ kind: "upload"; upload: ObjectUpload } | { kind: "read"; iterator: AsyncIterator<Uint8Array>; source: { destroy(): void } });

/** Upload and read handles of every bucket, with idle expiry. */
export class BucketHandles {
  private readonly open = new Map<number, Handle>();
  private last = 0;

  add(handle: NewHandle): number {
    if (this.open.size >= BUCKET_LIMITS.openHandles) {
      throw new BindingCallError("Error", `too many bucket uploads and reads in progress on this host (at most ${BUCKET_LIMITS.openHandles}): finish or cancel some first`);
    }
    const id = ++this.last;
    const entry = { ...handle, timer: this.idleTimer(id) } as Handle;
    this.open.set(id, entry);
    return id;
  }

  take<K extends Handle["kind"]>(id: unknown, kind: K, owner: string): Extract<Handle, { kind: K }> {
    const entry = typeof id === "number" ? this.open.get(id) : undefined;
    if (!entry || entry.kind !== kind || entry.owner !== owner) throw new BindingCallError("Error", `no ${kind} in progress with that handle (it finished, was cancelled, or sat idle for ${BUCKET_LIMITS.handleIdleMs / 1000} s)`);
    entry.timer.refresh();
    return entry as Extract<Handle, { kind: K }>;
  }

  close(id: number, owner: string): void {
    const entry = this.open.get(id);
    if (!entry || entry.owner !== owner) return;
    this.open.delete(id);
    clearTimeout(entry.timer);
    if (entry.kind === "upload") void entry.upload.abort();
    else entry.source.destroy();
  }

  /** Forgets a handle whose work is done (no abort). */
  finish(id: number): void {
    const entry = this.open.get(id);
    if (!entry) return;
    this.open.delete(id);
    clearTimeout(entry.timer);
  }

  closeAll(): void {
    for (const [id, entry] of [...this.open]) this.close(id, entry.owner);
  }

  private idleTimer(id: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const entry = this.open.get(id);
      if (entry) this.close(id, entry.owner);
    }, BUCKET_LIMITS.handleIdleMs);
    timer.unref();
    return timer;
  }
}

export class Bucket {
  constructor(
    private readonly store: ObjectStore,
    readonly name: string,
    private readonly handles: BucketHandles,
    /** Who calls: handles this bucket opens belong to it. */
    private readonly owner: string,
    /** customMetadata's limit, bytes of JSON (the Cache API keeps a response's headers there). */
    private readonly customMetadataBytes: number = BUCKET_LIMITS.customMetadataBytes,
  ) {}

  async head(key: unknown): Promise<WireObject | null> {
    const record = await this.store.head(this.name, checkKey(key));
    return record ? wire(record) : null;
  }

  /**
   * The object, with its bytes inline (small) or a read handle; `body: null`
   * when a condition in onlyIf failed (R2 then returns the object without a body).
   */
  async get(key: unknown, options: GetOptions = {}): Promise<{ object: WireObject; body: Uint8Array | { read: number } | null } | null> {
    const name = checkKey(key);
    return readConsistently(() => this.getOnce(name, options));
  }

  private async getOnce(key: string, options: GetOptions): Promise<{ object: WireObject; body: Uint8Array | { read: number } | null } | null> {
    const record = await this.store.head(this.name, key);
    if (!record) return null;
    if (!conditionsHold(record, options.onlyIf)) return { object: wire(record), body: null };
    const range = rangeOf(options.range, record.size);
    const object = wire(record, range);
    const source = await openSnapshot(this.store, record, range.offset, range.length);
    if (range.length <= BUCKET_LIMITS.inlineGetBytes) return { object, body: await readAll(source) };
    const read = this.handles.add({ kind: "read", owner: this.owner, iterator: source[Symbol.asyncIterator](), source });
    return { object, body: { read } };
  }

  /**
   * The object's record, and a read of a part of it that the caller chooses
   * from the record (the Cache API: conditional and ranged matches); null
   * when there is no such object. Bytes as `get` gives them.
   */
  async open(key: unknown): Promise<{ object: WireObject; read(range: { offset: number; length: number }): Promise<Uint8Array | { read: number }> } | null> {
    const record = await this.store.head(this.name, checkKey(key));
    if (!record) return null;
    return {
      object: wire(record),
      read: async (range) => {
        const source = await openSnapshot(this.store, record, range.offset, range.length);
        if (range.length <= BUCKET_LIMITS.inlineGetBytes) return readAll(source);
        return { read: this.handles.add({ kind: "read", owner: this.owner, iterator: source[Symbol.asyncIterator](), source }) };
      },
    };
  }

  /** The next chunk of a streamed read, or null at its end (the handle is then gone). */
  async read(handle: unknown): Promise<Uint8Array | null> {
    const entry = this.handles.take(handle, "read", this.owner);
    try {
      const next = await entry.iterator.next();
      if (next.done) {
        this.handles.finish(handle as number);
        return null;
      }
      return next.value;
    } catch (error) {
      this.handles.close(handle as number, this.owner);
      throw new BindingCallError("Error", `reading the object failed: ${(error as Error).message}`);
    }
  }

  cancel(handle: unknown): null {
    if (typeof handle === "number") this.handles.close(handle, this.owner);
    return null;
  }

  /** A whole small body in one call. */
  async put(key: unknown, bytes: unknown, options: PutOptions = {}): Promise<WireObject> {
    const name = checkKey(key);
    if (!(bytes instanceof Uint8Array)) throw BindingCallError.badArgument("bucket put: the body must be bytes");
    const metadata = putMetadata(options, this.customMetadataBytes);
    const upload = await this.store.beginPut(this.name);
    try {
      await upload.write(bytes);
    } catch (error) {
      await upload.abort();
      throw error;
    }
    return wire(await commit(upload, name, metadata));
  }

  async beginPut(): Promise<number> {
    const upload = await this.store.beginPut(this.name);
    return this.handles.add({ kind: "upload", owner: this.owner, upload });
  }

  async putChunk(handle: unknown, bytes: unknown): Promise<null> {
    const { upload } = this.handles.take(handle, "upload", this.owner);
    if (!(bytes instanceof Uint8Array)) throw BindingCallError.badArgument("bucket put: body chunks must be bytes");
    if (upload.bytes + bytes.byteLength > BUCKET_LIMITS.objectBytes) {
      this.handles.close(handle as number, this.owner);
      throw BindingCallError.badArgument(`bucket put: the object is over the limit of ${BUCKET_LIMITS.objectBytes} bytes (5 GiB); nothing was stored`);
    }
    await upload.write(bytes);
    return null;
  }

  async commitPut(handle: unknown, key: unknown, options: PutOptions = {}): Promise<WireObject> {
    const name = checkKey(key);
    const metadata = putMetadata(options, this.customMetadataBytes);
    const { upload } = this.handles.take(handle, "upload", this.owner);
    this.handles.finish(handle as number);
    return wire(await commit(upload, name, metadata));
  }

  async delete(keys: unknown): Promise<null> {
    const list = Array.isArray(keys) ? keys : [keys];
    if (list.length > 1000) throw BindingCallError.badArgument("bucket delete: at most 1000 keys at once");
    const names = list.map(checkKey);
    for (const name of names) await this.store.delete(this.name, name);
    return null;
  }

  async list(options: ListOptions = {}): Promise<{ objects: WireObject[]; truncated: boolean; cursor?: string; delimitedPrefixes: string[] }> {
    const prefix = options.prefix ?? "";
    if (typeof prefix !== "string" || Buffer.byteLength(prefix) > BUCKET_LIMITS.keyBytes) throw BindingCallError.badArgument("bucket list: prefix must be a string of at most 1024 bytes");
    const delimiter = options.delimiter ?? null;
    if (delimiter !== null && (typeof delimiter !== "string" || delimiter === "" || delimiter.length > 16)) {
      throw BindingCallError.badArgument('bucket list: delimiter must be a short non-empty string, such as "/"');
    }
    const limit = options.limit ?? BUCKET_LIMITS.listLimit;
    if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > BUCKET_LIMITS.listLimit) {
      throw BindingCallError.badArgument(`bucket list: limit must be an integer from 1 to ${BUCKET_LIMITS.listLimit}`);
    }
    const include = Array.isArray(options.include) ? options.include : [];
    const from = options.cursor === undefined || options.cursor === null || options.cursor === "" ? null : this.decodeCursor(options.cursor);
    const withMetadata = include.includes("httpMetadata") || include.includes("customMetadata");
    const listing = await this.store.list(this.name, { prefix, from, limit, delimiter, withMetadata });
    const objects = listing.objects.map((record) => {
      const object = wire(record);
      if (!include.includes("httpMetadata")) object.httpMetadata = {};
      if (!include.includes("customMetadata")) object.customMetadata = {};
      return object;
    });
    const answer: { objects: WireObject[]; truncated: boolean; cursor?: string; delimitedPrefixes: string[] } = {
      objects,
      truncated: listing.resumeFrom !== null,
      delimitedPrefixes: listing.delimitedPrefixes,
    };
    if (listing.resumeFrom !== null) answer.cursor = encodeCursor(CURSOR_TAG, this.name, listing.resumeFrom);
    return answer;
  }

  private decodeCursor(cursor: unknown): string {
    const position = decodeCursor(CURSOR_TAG, this.name, cursor);
    if (position === null) throw BindingCallError.badArgument("bucket list: the cursor is not one that list() on this bucket returned: pass the previous page's `cursor` as it is");
    return position;
  }
}

/** A key as buckets accept it: 1 to 1024 bytes of valid Unicode, no NUL, no ".." segment. */
export function checkKey(key: unknown): string {
  if (typeof key !== "string") throw BindingCallError.badArgument("bucket: the key must be a string");
  if (key === "") throw BindingCallError.badArgument("bucket: the key must not be empty");
  if (key.includes("\0")) throw BindingCallError.badArgument("bucket: the key contains a NUL character, which is not allowed");
  if (key.split("/").includes("..")) throw BindingCallError.badArgument(`bucket: the key ${JSON.stringify(key)} has a ".." segment, which is not allowed`);
  if (LONE_SURROGATE.test(key)) throw BindingCallError.badArgument("bucket: the key contains a lone surrogate (it must be valid Unicode)");
  const bytes = Buffer.byteLength(key);
  if (bytes > BUCKET_LIMITS.keyBytes) throw BindingCallError.badArgument(`bucket: the key is ${bytes} bytes, over the limit of ${BUCKET_LIMITS.keyBytes}`);
  return key;
}

function wire(record: ObjectRecord, range?: { offset: number; length: number }): WireObject {
  const object: WireObject = {
    key: record.key,
    size: record.size,
    etag: record.etag,
    uploaded: record.uploaded,
    httpMetadata: { ...record.httpMetadata },
    customMetadata: { ...record.customMetadata },
  };
  if (range && (range.offset !== 0 || range.length !== record.size)) object.range = range;
  return object;
}

async function commit(upload: ObjectUpload, key: string, metadata: { httpMetadata: HttpMetadata; customMetadata: Record<string, string>; md5?: string }): Promise<ObjectRecord> {
  try {
    return await upload.commit(key, metadata);
  } catch (error) {
    if (error instanceof ObjectDigestError) throw BindingCallError.badArgument(`bucket put: ${error.message}`);
    throw error;
  }
}

function putMetadata(options: PutOptions, customMetadataBytes: number): { httpMetadata: HttpMetadata; customMetadata: Record<string, string>; md5?: string } {
  const httpMetadata: HttpMetadata = {};
  if (options.httpMetadata !== undefined && options.httpMetadata !== null) {
    if (typeof options.httpMetadata !== "object") throw BindingCallError.badArgument("bucket put: httpMetadata must be an object");
    for (const field of HTTP_METADATA_FIELDS) {
      const value = (options.httpMetadata as Record<string, unknown>)[field];
      if (value === undefined || value === null) continue;
      if (typeof value !== "string" || value.length > 1024) throw BindingCallError.badArgument(`bucket put: httpMetadata.${field} must be a string of at most 1024 characters`);
      httpMetadata[field] = value;
    }
  }
  const customMetadata: Record<string, string> = {};
  if (options.customMetadata !== undefined && options.customMetadata !== null) {
    if (typeof options.customMetadata !== "object") throw BindingCallError.badArgument("bucket put: customMetadata must be an object of strings");
    for (const [name, value] of Object.entries(options.customMetadata as Record<string, unknown>)) {
      if (typeof value !== "string") throw BindingCallError.badArgument(`bucket put: customMetadata.${name} must be a string`);
      customMetadata[name] = value;
    }
    const bytes = Buffer.byteLength(JSON.stringify(customMetadata));
    if (bytes > customMetadataBytes) throw BindingCallError.badArgument(`bucket put: customMetadata is ${bytes} bytes, over the limit of ${customMetadataBytes}`);
  }
  const result: { httpMetadata: HttpMetadata; customMetadata: Record<string, string>; md5?: string } = { httpMetadata, customMetadata };
  if (options.md5 !== undefined && options.md5 !== null) {
    if (typeof options.md5 !== "string" || !/^[0-9a-f]{32}$/i.test(options.md5)) throw BindingCallError.badArgument("bucket put: md5 must be 16 bytes (an ArrayBuffer or 32 hex digits)");
    result.md5 = options.md5;
  }
  return result;
}

/** R2's range: { offset, length? } or { suffix }; clamped to the object. */
function rangeOf(range: unknown, size: number): { offset: number; length: number } {
  if (range === undefined || range === null) return { offset: 0, length: size };
  if (typeof range !== "object") throw BindingCallError.badArgument("bucket get: range must be { offset, length }, { offset } or { suffix }");
  const { offset, length, suffix } = range as { offset?: unknown; length?: unknown; suffix?: unknown };
  const count = (value: unknown, what: string) => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw BindingCallError.badArgument(`bucket get: range.${what} must be a non-negative integer`);
    return value;
  };
  if (suffix !== undefined) {
    const tail = Math.min(count(suffix, "suffix"), size);
    return { offset: size - tail, length: tail };
  }
  const start = offset === undefined ? 0 : count(offset, "offset");
  if (start > size) throw BindingCallError.badArgument(`bucket get: range.offset ${start} is past the end of the object (${size} bytes)`);
  const wanted = length === undefined ? size - start : count(length, "length");
  return { offset: start, length: Math.min(wanted, size - start) };
}

/** R2's onlyIf: etagMatches, etagDoesNotMatch, uploadedBefore, uploadedAfter (ms since the epoch). */
function conditionsHold(record: ObjectRecord, onlyIf: unknown): boolean {
  if (onlyIf === undefined || onlyIf === null) return true;
  if (typeof onlyIf !== "object") throw BindingCallError.badArgument("bucket get: onlyIf must be an object");
  const conditions = onlyIf as { etagMatches?: unknown; etagDoesNotMatch?: unknown; uploadedBefore?: unknown; uploadedAfter?: unknown };
  const etags = (value: unknown) => String(value).split(",").map((tag) => tag.trim().replace(/^W\//, "").replace(/^"|"$/g, ""));
  if (conditions.etagMatches !== undefined) {
    const tags = etags(conditions.etagMatches);
    if (!tags.includes("*") && !tags.includes(record.etag)) return false;
  }
  if (conditions.etagDoesNotMatch !== undefined) {
    const tags = etags(conditions.etagDoesNotMatch);
    if (tags.includes("*") || tags.includes(record.etag)) return false;
  }
  if (typeof conditions.uploadedBefore === "number" && !(record.uploaded < conditions.uploadedBefore)) return false;
  if (typeof conditions.uploadedAfter === "number" && !(record.uploaded > conditions.uploadedAfter)) return false;
  return true;
}

async function readAll(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  const whole = Buffer.concat(chunks);
  return new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength);
}
