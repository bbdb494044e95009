// Buckets on any S3-compatible service, shared by every host: each Atoll
// bucket is a key prefix in one S3 bucket (`--objects s3://BUCKET[/PREFIX]?endpoint=URL`),
// credentials from the usual AWS variables. An upload streams to a temporary
// file of this host (its MD5 computed on the way, the key known only at
// commit), then goes up in one PutObject with Content-MD5, so that S3 checks
// the bytes and an object is visible only when whole. Reads stream a range
// of the object, conditional on its ETag, so a read never mixes two versions.
// Records are S3's own (size, ETag, Last-Modified, and Atoll's metadata in
// two x-amz-meta fields): there is no second index to keep in step.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, mkdirSync, readdirSync, rmSync } from "node:fs";
import { open, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { ObjectChangedError, StoreUnavailableError } from "../errors.js";
import { ObjectChangeListeners, type BucketUsage, type HttpMetadata, type ObjectEvent, type ObjectListQuery, type ObjectListing, type ObjectRecord, type ObjectStore, type ObjectUpload } from "./objects.js";
import { ObjectDigestError } from "./sqlite-objects.js";
import { prefixUpperBound } from "./kv.js";

export interface S3Location {
  bucket: string;
  /** Every key starts with this ("" or ending in "/"). */
  prefix: string;
  /** An S3-compatible service's URL; undefined: AWS itself. */
  endpoint?: string;
  region: string;
}

/** HEADs run at once for a listing that includes metadata. */
const HEAD_CONCURRENCY = 16;

export class S3Objects implements ObjectStore {
  private readonly client: S3Client;
  private readonly listeners = new ObjectChangeListeners();
  private readonly what: string;

  /** `uploadsDir`: where uploads wait for their commit (this host's disk). */
  constructor(
    private readonly location: S3Location,
    private readonly uploadsDir: string,
  ) {
    // The SDK warns on every start that releases after January 2027 need Node 22: package.json pins a release that runs on our Node 20.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    this.client = new S3Client({
      region: location.region,
      ...(location.endpoint ? { endpoint: location.endpoint, forcePathStyle: true } : {}),
      // Checksums only where S3 asks for them: S3-compatible servers do not all know the newer trailers.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 2,
    });
    this.what = `the object store (S3 bucket ${location.bucket}${location.endpoint ? ` at ${location.endpoint}` : ""})`;
    mkdirSync(uploadsDir, { recursive: true, mode: 0o700 });
    // Uploads in flight when the host stopped were never committed: never visible.
    for (const name of readdirSync(uploadsDir)) rmSync(join(uploadsDir, name), { force: true });
  }

  async beginPut(bucket: string): Promise<ObjectUpload> {
    const temp = join(this.uploadsDir, randomBytes(16).toString("hex"));
    return new S3Upload(this, bucket, temp, await open(temp, "wx", 0o600));
  }

  async head(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    try {
      const head = await this.guard((client) => client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(bucket, key) })));
      return {
        bucket,
        key,
        size: head.ContentLength ?? 0,
        etag: unquote(head.ETag),
        uploaded: head.LastModified?.getTime() ?? 0,
        httpMetadata: decodeMetadata(head.Metadata?.["atoll-http"]) as HttpMetadata,
        customMetadata: decodeMetadata(head.Metadata?.["atoll-custom"]) as Record<string, string>,
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  openRead(record: ObjectRecord, offset: number, length: number): AsyncIterable<Uint8Array> & { destroy(): void } {
    const abort = new AbortController();
    let body: Readable | undefined;
    const objects = this;
    return {
      async *[Symbol.asyncIterator]() {
        if (length <= 0) return;
        const got = await objects
          .guard((client) =>
            client.send(
              new GetObjectCommand({ Bucket: objects.location.bucket, Key: objects.objectKey(record.bucket, record.key), Range: `bytes=${offset}-${offset + length - 1}`, IfMatch: `"${record.etag}"` }),
              { abortSignal: abort.signal },
            ),
          )
          .catch((error: unknown) => {
            // Deleted since its HEAD, or replaced (the ETag condition failed).
            if (isNotFound(error) || isPreconditionFailed(error)) throw new ObjectChangedError(record.bucket, record.key);
            throw error;
          });
        body = got.Body as unknown as Readable;
        let received = 0;
        for await (const chunk of body) {
          received += (chunk as Uint8Array).byteLength;
          yield chunk as Uint8Array;
        }
        // A service that lets a read see a write in progress (s3rver writes objects in place) must not pass for a whole object.
        if (received !== length) throw new Error(`${objects.what} sent ${received} bytes of ${JSON.stringify(record.key)} in bucket "${record.bucket}" where ${length} were asked for`);
      },
      destroy() {
        abort.abort();
        body?.destroy();
      },
    };
  }

  async delete(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    const record = await this.head(bucket, key);
    if (!record) return undefined;
    await this.guard((client) => client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(bucket, key) })));
    await this.listeners.emit({ bucket, key, action: "delete", size: record.size, etag: record.etag, time: new Date().toISOString() });
    return record;
  }

  async usage(bucket: string): Promise<BucketUsage> {
    const usage: BucketUsage = { objects: 0, bytes: 0 };
    let token: string | undefined;
    do {
      const listed = await this.guard((client) =>
        client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: this.objectKey(bucket, ""), ...(token !== undefined ? { ContinuationToken: token } : {}) })),
      );
      for (const item of listed.Contents ?? []) {
        usage.objects++;
        usage.bytes += item.Size ?? 0;
      }
      token = listed.IsTruncated === true ? listed.NextContinuationToken : undefined;
    } while (token !== undefined);
    return usage;
  }

  async list(bucket: string, query: ObjectListQuery): Promise<ObjectListing> {
    const base = this.objectKey(bucket, "");
    // `from` is inclusive and StartAfter is not: start after the key one character shorter, and skip what sorts before `from`.
    const from = query.from !== null && query.from > query.prefix ? query.from : null;
    const objects: ObjectRecord[] = [];
    const delimitedPrefixes: string[] = [];
    let token: string | undefined;
    let truncated = false;
    do {
      const listed = await this.guard((client) => client.send(new ListObjectsV2Command({
          Bucket: this.location.bucket,
          Prefix: base + query.prefix,
          MaxKeys: query.limit - objects.length - delimitedPrefixes.length,
          ...(query.delimiter ? { Delimiter: query.delimiter } : {}),
          ...(token !== undefined ? { ContinuationToken: token } : from !== null ? { StartAfter: base + from.slice(0, -1) } : {}),
        })),
      );
      for (const item of listed.Contents ?? []) {
        const key = item.Key!.slice(base.length);
        if (from !== null && key < from) continue;
        objects.push({ bucket, key, size: item.Size ?? 0, etag: unquote(item.ETag), uploaded: item.LastModified?.getTime() ?? 0, httpMetadata: {}, customMetadata: {} });
      }
      for (const entry of listed.CommonPrefixes ?? []) {
        const common = entry.Prefix!.slice(base.length);
        // Kept when some key under it is at or after `from`.
        const upper = prefixUpperBound(common);
        if (from === null || upper === null || upper > from) delimitedPrefixes.push(common);
      }
      truncated = listed.IsTruncated === true;
      token = listed.NextContinuationToken;
    } while (truncated && token !== undefined && objects.length + delimitedPrefixes.length < query.limit);
    if (query.withMetadata) await this.fillMetadata(objects);
    let resumeFrom: string | null = null;
    if (truncated) {
      const lastObject = objects.at(-1)?.key;
      const lastPrefix = delimitedPrefixes.at(-1);
      // After an object: the key and a NUL; after a common prefix: past everything under it.
      const afterObject = lastObject === undefined ? undefined : `${lastObject}\0`;
      const afterPrefix = lastPrefix === undefined ? undefined : (prefixUpperBound(lastPrefix) ?? undefined);
      resumeFrom = [afterObject, afterPrefix].filter((at): at is string => at !== undefined).sort().at(-1) ?? null;
    }
    return { objects, delimitedPrefixes, resumeFrom };
  }

  onChange(listener: (event: ObjectEvent) => void | Promise<unknown>): () => void {
    return this.listeners.add(listener);
  }

  close(): void {
    this.client.destroy();
  }

  /** S3Upload's last step: the file is whole; send it, then tell the listeners. */
  async commitUpload(bucket: string, key: string, temp: string, fields: { size: number; md5: Buffer; httpMetadata: HttpMetadata; customMetadata: Record<string, string> }): Promise<ObjectRecord> {
    try {
      const { httpMetadata } = fields;
      await this.guard((client) => client.send(new PutObjectCommand({
          Bucket: this.location.bucket,
          Key: this.objectKey(bucket, key),
          Body: createReadStream(temp, { highWaterMark: 1024 * 1024 }),
          ContentLength: fields.size,
          ContentMD5: fields.md5.toString("base64"),
          ...(httpMetadata.contentType ? { ContentType: httpMetadata.contentType } : {}),
          Metadata: { "atoll-http": encodeMetadata(httpMetadata), "atoll-custom": encodeMetadata(fields.customMetadata) },
        })),
      );
    } finally {
      await rm(temp, { force: true });
    }
    const record = (await this.head(bucket, key)) ?? { bucket, key, size: fields.size, etag: fields.md5.toString("hex"), uploaded: Date.now(), httpMetadata: fields.httpMetadata, customMetadata: fields.customMetadata };
    await this.listeners.emit({ bucket, key, action: "put", size: record.size, etag: record.etag, time: new Date(record.uploaded).toISOString() });
    return record;
  }

  private async fillMetadata(objects: ObjectRecord[]): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < objects.length) {
        const object = objects[next++]!;
        const head = await this.head(object.bucket, object.key);
        if (head) Object.assign(object, { httpMetadata: head.httpMetadata, customMetadata: head.customMetadata });
      }
    };
    await Promise.all(Array.from({ length: Math.min(HEAD_CONCURRENCY, objects.length) }, worker));
  }

  private objectKey(bucket: string, key: string): string {
    return `${this.location.prefix}${encodeURIComponent(bucket)}/${key}`;
  }

  /** Runs a request; a service that cannot be reached becomes StoreUnavailableError. */
  private async guard<T>(request: (client: S3Client) => Promise<T>): Promise<T> {
    try {
      return await request(this.client);
    } catch (error) {
      if (error instanceof S3ServiceException) throw error;
      const code = (error as { code?: string }).code ?? "";
      if (/ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE/.test(`${code} ${(error as Error).message}`)) {
        throw new StoreUnavailableError(this.what, (error as Error).message || code);
      }
      throw error;
    }
  }

}

class S3Upload implements ObjectUpload {
  bytes = 0;
  private readonly md5 = createHash("md5");
  private done = false;

  constructor(
    private readonly store: S3Objects,
    private readonly bucket: string,
    private readonly temp: string,
    private readonly handle: FileHandle,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new Error("the upload is over");
    this.md5.update(chunk);
    this.bytes += chunk.byteLength;
    let offset = 0;
    while (offset < chunk.byteLength) offset += (await this.handle.write(chunk, offset, chunk.byteLength - offset)).bytesWritten;
  }

  async commit(key: string, metadata: { httpMetadata: HttpMetadata; customMetadata: Record<string, string>; md5?: string }): Promise<ObjectRecord> {
    if (this.done) throw new Error("the upload is over");
    this.done = true;
    const md5 = this.md5.digest();
    try {
      if (metadata.md5 !== undefined && metadata.md5.toLowerCase() !== md5.toString("hex")) throw new ObjectDigestError(metadata.md5, md5.toString("hex"));
      await this.handle.close();
    } catch (error) {
      await this.handle.close().catch(() => {});
      await rm(this.temp, { force: true });
      throw error;
    }
    return this.store.commitUpload(this.bucket, key, this.temp, { size: this.bytes, md5, httpMetadata: metadata.httpMetadata, customMetadata: metadata.customMetadata });
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.handle.close().catch(() => {});
    await rm(this.temp, { force: true });
  }
}

/** Metadata values must be ASCII: JSON, percent-encoded. */
function encodeMetadata(value: object): string {
  return encodeURIComponent(JSON.stringify(value));
}

function decodeMetadata(value: string | undefined): object {
  if (!value) return {};
  try {
    return JSON.parse(decodeURIComponent(value)) as object;
  } catch {
    return {};
  }
}

function unquote(etag: string | undefined): string {
  return (etag ?? "").replace(/^"|"$/g, "");
}

function isPreconditionFailed(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.name === "PreconditionFailed" || error.$metadata.httpStatusCode === 412);
}

function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return error.name === "NotFound" || error.name === "NoSuchKey" || error.$metadata.httpStatusCode === 404;
}
