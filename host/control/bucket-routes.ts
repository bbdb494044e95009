// Buckets for operators: the same buckets functions see, with the same key
// rules (host/bindings/bucket.ts). Bodies stream straight between the HTTP
// connection and the object's file: a 5 GiB upload never sits in memory.
//   PUT    /v1/buckets/:bucket/objects/:key   body: the bytes; Content-Type kept, x-atoll-meta-<name> → customMetadata
//   GET    /v1/buckets/:bucket/objects/:key   the bytes (Range: bytes=a-b → 206); HEAD: the headers only
//   DELETE /v1/buckets/:bucket/objects/:key
//   GET    /v1/buckets/:bucket/objects?prefix=&delimiter=&cursor=&limit=   → { objects, truncated, cursor?, delimitedPrefixes }
import { Readable } from "node:stream";
import type { Context, Hono } from "hono";
import { BindingCallError } from "../bindings/binding-error.js";
import type { BindingHost } from "../bindings/binding-host.js";
import { BUCKET_LIMITS, checkKey } from "../bindings/bucket.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { openSnapshot, readConsistently, type ObjectRecord, type ObjectStore } from "../store/objects.js";
import { ObjectDigestError } from "../store/sqlite-objects.js";

const BUCKET_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const META_PREFIX = "x-atoll-meta-";

export function registerBucketRoutes(app: Hono, bindings: BindingHost, objects: ObjectStore): void {
  app.get("/v1/buckets/:bucket/objects", async (c) => {
    const bucket = bindings.bucket(bucketOf(c));
    const limit = c.req.query("limit");
    return c.json(
      await rules(() =>
        bucket.list({
          prefix: c.req.query("prefix"),
          delimiter: c.req.query("delimiter"),
          cursor: c.req.query("cursor"),
          ...(limit !== undefined ? { limit: Number(limit) } : {}),
          include: ["httpMetadata", "customMetadata"],
        }),
      ),
    );
  });

  app.put("/v1/buckets/:bucket/objects/*", async (c) => {
    const bucket = bucketOf(c);
    const key = await rules(async () => checkKey(keyOf(c)));
    const customMetadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(c.req.header())) {
      if (name.startsWith(META_PREFIX)) customMetadata[name.slice(META_PREFIX.length)] = value;
    }
    const contentType = c.req.header("content-type");
    const upload = await objects.beginPut(bucket);
    try {
      const body = c.req.raw.body;
      if (body) {
        for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
          if (upload.bytes + chunk.byteLength > BUCKET_LIMITS.objectBytes) throw new BadRequestError(`the object is over the limit of ${BUCKET_LIMITS.objectBytes} bytes (5 GiB)`);
          await upload.write(chunk);
        }
      }
      const md5 = c.req.header("x-atoll-md5");
      const record = await upload.commit(key, { httpMetadata: contentType ? { contentType } : {}, customMetadata, ...(md5 ? { md5 } : {}) });
      return c.json(describe(record), 201);
    } catch (error) {
      await upload.abort();
      if (error instanceof ObjectDigestError) throw new BadRequestError(error.message);
      throw error;
    }
  });

  const read = async (c: Context, withBody: boolean) => {
    const bucket = bucketOf(c);
    const key = await rules(async () => checkKey(keyOf(c)));
    return readConsistently(() => answerRead(c, bucket, key, withBody));
  };
  const answerRead = async (c: Context, bucket: string, key: string, withBody: boolean) => {
    const record = await objects.head(bucket, key);
    if (!record) throw new NotFoundError(`object ${JSON.stringify(key)} in bucket "${bucket}"`);
    const headers: Record<string, string> = { etag: `"${record.etag}"`, "last-modified": new Date(record.uploaded).toUTCString(), "accept-ranges": "bytes" };
    if (record.httpMetadata.contentType) headers["content-type"] = record.httpMetadata.contentType;
    for (const [name, value] of Object.entries(record.customMetadata)) headers[`${META_PREFIX}${name}`] = value;
    const range = byteRange(c.req.header("range"), record.size);
    if (range === "unsatisfiable") return c.body(null, 416, { ...headers, "content-range": `bytes */${record.size}` });
    const { offset, length } = range ?? { offset: 0, length: record.size };
    headers["content-length"] = String(length);
    if (range) headers["content-range"] = `bytes ${offset}-${offset + length - 1}/${record.size}`;
    const status = range ? 206 : 200;
    if (!withBody) return c.body(null, status, headers);
    const bytes = await openSnapshot(objects, record, offset, length);
    return c.body(Readable.toWeb(Readable.from(bytes)) as ReadableStream, status, headers);
  };
  app.get("/v1/buckets/:bucket/objects/*", (c) => read(c, true));
  app.on("HEAD", "/v1/buckets/:bucket/objects/*", (c) => read(c, false));

  app.delete("/v1/buckets/:bucket/objects/*", async (c) => {
    const bucket = bucketOf(c);
    const key = await rules(async () => checkKey(keyOf(c)));
    const deleted = await objects.delete(bucket, key);
    return c.json({ bucket, deleted: key, existed: deleted !== undefined });
  });
}

function describe(record: ObjectRecord): Record<string, unknown> {
  return { bucket: record.bucket, key: record.key, size: record.size, etag: record.etag, uploaded: new Date(record.uploaded).toISOString() };
}

function bucketOf(c: Context): string {
  const name = c.req.param("bucket") ?? "";
  if (!BUCKET_PATTERN.test(name)) throw new BadRequestError(`"${name}" is not a bucket name: lower-case letters, digits, - and _ (up to 63)`);
  return name;
}

/** The key: everything after /objects/ in the raw path, percent-decoded once. */
function keyOf(c: Context): string {
  const path = new URL(c.req.url).pathname;
  const marker = "/objects/";
  try {
    return decodeURIComponent(path.slice(path.indexOf(marker) + marker.length));
  } catch {
    throw new BadRequestError("the key in the path is not valid percent-encoding");
  }
}

/** A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range; null for none. */
function byteRange(header: string | undefined, size: number): { offset: number; length: number } | null | "unsatisfiable" {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return null;
  if (match[1] === "") {
    const tail = Math.min(Number(match[2]), size);
    return tail === 0 ? "unsatisfiable" : { offset: size - tail, length: tail };
  }
  const offset = Number(match[1]);
  if (offset >= size) return "unsatisfiable";
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  return end < offset ? "unsatisfiable" : { offset, length: end - offset + 1 };
}

async function rules<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof BindingCallError) throw new BadRequestError(error.message);
    throw error;
  }
}
