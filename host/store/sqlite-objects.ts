// Buckets on the embedded store: each object's bytes in its own file under
// <data-dir>/objects, its record in SQLite. An upload writes a temporary file,
// fsyncs it, renames it into place and fsyncs the directory, and only then
// commits the record: an object is visible exactly when it is whole and
// durable. A crash before the commit leaves a file nobody references
// (temporary files are swept at start-up; after a crash, so are files renamed
// into place whose record never committed or was replaced), never a
// half-written object.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, mkdirSync, readdirSync, rmSync } from "node:fs";
import { mkdir, open, rename, rm, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type Database from "better-sqlite3";
import { ObjectChangedError } from "../errors.js";
import { prefixUpperBound } from "./kv.js";
import { ObjectChangeListeners, type BucketUsage, type HttpMetadata, type ObjectEvent, type ObjectListQuery, type ObjectListing, type ObjectRecord, type ObjectStore, type ObjectUpload } from "./objects.js";

export const OBJECTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS objects (
  bucket TEXT NOT NULL,
  key TEXT NOT NULL,
  file TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  uploaded INTEGER NOT NULL,
  http_metadata TEXT NOT NULL,
  custom_metadata TEXT NOT NULL,
  PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
`;

interface ObjectRow {
  bucket: string;
  key: string;
  file: string;
  size: number;
  etag: string;
  uploaded: number;
  http_metadata: string;
  custom_metadata: string;
}

const TEMP_DIR = ".tmp";
const READ_CHUNK_BYTES = 1024 * 1024;
/** Uploads reach their file this many bytes at a time (fewer writes than one per socket chunk). */
const WRITE_BUFFER_BYTES = 1024 * 1024;
const LIST_BATCH = 256;

export class SqliteObjects implements ObjectStore {
  private readonly statements;
  private readonly listeners = new ObjectChangeListeners();
  /** Which file each record handed out reads from (records are plain data for callers). */
  private readonly files = new WeakMap<ObjectRecord, string>();

  constructor(
    db: Database.Database,
    private readonly dir: string,
  ) {
    db.exec(OBJECTS_SCHEMA);
    mkdirSync(join(dir, TEMP_DIR), { recursive: true, mode: 0o700 });
    // Uploads that were in flight when the host stopped: never committed, never visible.
    for (const name of readdirSync(join(dir, TEMP_DIR))) rmSync(join(dir, TEMP_DIR, name), { force: true });
    this.statements = {
      get: db.prepare<[string, string], ObjectRow>(`SELECT * FROM objects WHERE bucket = ? AND key = ?`),
      upsert: db.prepare(
        `INSERT INTO objects (bucket, key, file, size, etag, uploaded, http_metadata, custom_metadata)
         VALUES (@bucket, @key, @file, @size, @etag, @uploaded, @http_metadata, @custom_metadata)
         ON CONFLICT (bucket, key) DO UPDATE SET file = excluded.file, size = excluded.size, etag = excluded.etag,
           uploaded = excluded.uploaded, http_metadata = excluded.http_metadata, custom_metadata = excluded.custom_metadata`,
      ),
      delete: db.prepare<[string, string]>(`DELETE FROM objects WHERE bucket = ? AND key = ?`),
      usage: db.prepare<[string], BucketUsage>(`SELECT count(*) AS objects, coalesce(sum(size), 0) AS bytes FROM objects WHERE bucket = ?`),
      list: db.prepare<[string, string, string, number], ObjectRow>(`SELECT * FROM objects WHERE bucket = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?`),
      filesOf: db.prepare<[string], { file: string }>(`SELECT file FROM objects WHERE bucket = ?`),
    };
    this.replace = db.transaction((row: ObjectRow): string | undefined => {
      const old = this.statements.get.get(row.bucket, row.key);
      this.statements.upsert.run(row);
      return old?.file;
    });
  }

  private readonly replace: (row: ObjectRow) => string | undefined;

  /**
   * Removes object files no record points at; returns how many. A crash
   * leaves them between a commit's rename and its record, and between a
   * record's replacement or deletion and the removal of its old file. Only
   * for start-up, before any upload: an upload in progress has such a file too.
   */
  sweepUnreferenced(): number {
    let removed = 0;
    for (const bucket of readdirSync(this.dir, { withFileTypes: true })) {
      if (!bucket.isDirectory() || bucket.name === TEMP_DIR) continue;
      const referenced = new Set(this.statements.filesOf.all(bucket.name).map((row) => row.file));
      for (const shard of readdirSync(join(this.dir, bucket.name), { withFileTypes: true })) {
        if (!shard.isDirectory()) continue;
        for (const name of readdirSync(join(this.dir, bucket.name, shard.name))) {
          const file = join(bucket.name, shard.name, name);
          if (referenced.has(file)) continue;
          rmSync(join(this.dir, file), { force: true });
          removed++;
        }
      }
    }
    return removed;
  }

  async beginPut(bucket: string): Promise<ObjectUpload> {
    const id = randomBytes(16).toString("hex");
    const temp = join(this.dir, TEMP_DIR, id);
    const handle = await open(temp, "wx", 0o600);
    return new FileUpload(this, bucket, id, temp, handle);
  }

  async head(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    const row = this.statements.get.get(bucket, key);
    return row ? this.toRecord(row) : undefined;
  }

  openRead(record: ObjectRecord, offset: number, length: number): AsyncIterable<Uint8Array> & { destroy(): void } {
    const file = this.files.get(record);
    if (file === undefined) throw new Error("openRead: the record did not come from this store");
    if (length <= 0) return emptyRead();
    const stream = createReadStream(join(this.dir, file), { start: offset, end: offset + length - 1, highWaterMark: READ_CHUNK_BYTES });
    return {
      async *[Symbol.asyncIterator]() {
        try {
          yield* stream;
        } catch (error) {
          // The file went with a delete or an overwrite after the record was read (an open file stays readable).
          if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new ObjectChangedError(record.bucket, record.key);
          throw error;
        }
      },
      destroy: () => stream.destroy(),
    };
  }

  async delete(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    const row = this.statements.get.get(bucket, key);
    if (!row) return undefined;
    this.statements.delete.run(bucket, key);
    await rm(join(this.dir, row.file), { force: true });
    const record = this.toRecord(row);
    await this.listeners.emit({ bucket, key, action: "delete", size: record.size, etag: record.etag, time: new Date().toISOString() });
    return record;
  }

  async list(bucket: string, query: ObjectListQuery): Promise<ObjectListing> {
    const objects: ObjectRecord[] = [];
    const delimitedPrefixes: string[] = [];
    const upper = prefixUpperBound(query.prefix) ?? "\u{10ffff}\u{10ffff}\u{10ffff}";
    let from = query.from !== null && query.from > query.prefix ? query.from : query.prefix;
    for (;;) {
      const rows = this.statements.list.all(bucket, from, upper, LIST_BATCH);
      if (rows.length === 0) return { objects, delimitedPrefixes, resumeFrom: null };
      for (const row of rows) {
        if (objects.length + delimitedPrefixes.length === query.limit) return { objects, delimitedPrefixes, resumeFrom: row.key };
        const rest = row.key.slice(query.prefix.length);
        const cut = query.delimiter ? rest.indexOf(query.delimiter) : -1;
        if (cut === -1) {
          objects.push(this.toRecord(row));
          from = `${row.key}\0`;
          continue;
        }
        // Everything under this common prefix is one entry: skip past all of it.
        const common = query.prefix + rest.slice(0, cut + query.delimiter!.length);
        delimitedPrefixes.push(common);
        const next = prefixUpperBound(common);
        if (next === null) return { objects, delimitedPrefixes, resumeFrom: null };
        from = next;
        break;
      }
    }
  }

  async usage(bucket: string): Promise<BucketUsage> {
    return this.statements.usage.get(bucket) ?? { objects: 0, bytes: 0 };
  }

  onChange(listener: (event: ObjectEvent) => void | Promise<unknown>): () => void {
    return this.listeners.add(listener);
  }

  /** FileUpload's last step: the file is synced and renamed; record it and tell the listeners. */
  async commitUpload(bucket: string, key: string, id: string, temp: string, fields: Omit<ObjectRecord, "bucket" | "key">): Promise<ObjectRecord> {
    const file = join(bucket, id.slice(0, 2), id);
    const target = join(this.dir, file);
    const created = await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    await rename(temp, target);
    await syncDirectory(dirname(target));
    // A directory made just now must itself be durable in its parent, up to the objects directory.
    if (created !== undefined) {
      const first = resolve(created);
      for (let made = resolve(dirname(target)); made.length > first.length - 1; made = dirname(made)) {
        await syncDirectory(dirname(made));
        if (made === first) break;
      }
    }
    const row: ObjectRow = {
      bucket,
      key,
      file,
      size: fields.size,
      etag: fields.etag,
      uploaded: fields.uploaded,
      http_metadata: JSON.stringify(fields.httpMetadata),
      custom_metadata: JSON.stringify(fields.customMetadata),
    };
    let replaced: string | undefined;
    try {
      replaced = this.replace(row);
    } catch (error) {
      await rm(target, { force: true });
      throw error;
    }
    if (replaced !== undefined && replaced !== file) await rm(join(this.dir, replaced), { force: true });
    const record = this.toRecord(row);
    await this.listeners.emit({ bucket, key, action: "put", size: record.size, etag: record.etag, time: new Date(record.uploaded).toISOString() });
    return record;
  }

  private toRecord(row: ObjectRow): ObjectRecord {
    const record: ObjectRecord = {
      bucket: row.bucket,
      key: row.key,
      size: row.size,
      etag: row.etag,
      uploaded: row.uploaded,
      httpMetadata: JSON.parse(row.http_metadata) as HttpMetadata,
      customMetadata: JSON.parse(row.custom_metadata) as Record<string, string>,
    };
    this.files.set(record, row.file);
    return record;
  }

}

class FileUpload implements ObjectUpload {
  bytes = 0;
  private readonly md5 = createHash("md5");
  private done = false;
  /** Small chunks (a socket's are ~64 KiB) gather here and reach the file WRITE_BUFFER_BYTES at a time. */
  private staged: Buffer | null = null;
  private stagedBytes = 0;

  constructor(
    private readonly store: SqliteObjects,
    private readonly bucket: string,
    private readonly id: string,
    private readonly temp: string,
    private readonly handle: FileHandle,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new Error("the upload is over");
    this.md5.update(chunk);
    this.bytes += chunk.byteLength;
    if (this.stagedBytes + chunk.byteLength < WRITE_BUFFER_BYTES) {
      // Copied: the caller may reuse its buffer once this resolves.
      this.staged ??= Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
      this.staged.set(chunk, this.stagedBytes);
      this.stagedBytes += chunk.byteLength;
      return;
    }
    await this.flushStaged();
    await this.writeFully(chunk);
  }

  private async flushStaged(): Promise<void> {
    if (this.stagedBytes === 0) return;
    const bytes = this.stagedBytes;
    this.stagedBytes = 0;
    await this.writeFully(this.staged!.subarray(0, bytes));
  }

  private async writeFully(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.byteLength) {
      const { bytesWritten } = await this.handle.write(bytes, offset, bytes.byteLength - offset);
      offset += bytesWritten;
    }
  }

  async commit(key: string, metadata: { httpMetadata: HttpMetadata; customMetadata: Record<string, string>; md5?: string }): Promise<ObjectRecord> {
    if (this.done) throw new Error("the upload is over");
    this.done = true;
    const etag = this.md5.digest("hex");
    try {
      if (metadata.md5 !== undefined && metadata.md5.toLowerCase() !== etag) {
        throw new ObjectDigestError(metadata.md5, etag);
      }
      await this.flushStaged();
      await this.handle.sync();
      await this.handle.close();
    } catch (error) {
      await this.handle.close().catch(() => {});
      await rm(this.temp, { force: true });
      throw error;
    }
    return this.store.commitUpload(this.bucket, key, this.id, this.temp, {
      size: this.bytes,
      etag,
      uploaded: Date.now(),
      httpMetadata: metadata.httpMetadata,
      customMetadata: metadata.customMetadata,
    });
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.handle.close().catch(() => {});
    await rm(this.temp, { force: true });
  }
}

/** The MD5 a writer promised does not match the bytes it sent. */
export class ObjectDigestError extends Error {
  constructor(expected: string, actual: string) {
    super(`the object's MD5 is ${actual}, not the ${expected} the put promised: nothing was stored`);
    this.name = "ObjectDigestError";
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function emptyRead(): AsyncIterable<Uint8Array> & { destroy(): void } {
  return {
    async *[Symbol.asyncIterator]() {},
    destroy() {},
  };
}
