// Static assets' bytes, uploaded by `atoll deploy` before the version that
// names them (host/front/assets.ts serves them). Each file is stored once,
// under the SHA-256 of its contents, so a deploy sends only what the host
// lacks, and a version is accepted only once every file it names is here.
//   POST /v1/assets/missing   { "hashes": ["<sha256>", …] }  → { "missing": [...] }
//   PUT  /v1/assets/:hash     body: the bytes; refused when they do not hash to :hash
import { createHash } from "node:crypto";
import type { Hono } from "hono";
import { ASSET_HASH_PATTERN, ASSET_LIMITS, type ScriptConfig } from "../config/script-config.js";
import { BadRequestError } from "../errors.js";
import { ASSETS_BUCKET } from "../front/assets.js";
import type { ObjectStore } from "../store/objects.js";

/** HEADs in flight while hashes are checked (an S3 store answers each over the network). */
const CHECK_CONCURRENCY = 16;

export function registerAssetRoutes(app: Hono, objects: ObjectStore): void {
  app.post("/v1/assets/missing", async (c) => {
    const usage = 'the body must be JSON: { "hashes": ["<SHA-256 of a file, hex>", …] }';
    const body = (await c.req.json().catch(() => undefined)) as { hashes?: unknown } | undefined;
    const hashes = body?.hashes;
    if (!Array.isArray(hashes) || hashes.some((hash) => typeof hash !== "string" || !ASSET_HASH_PATTERN.test(hash))) throw new BadRequestError(usage);
    if (hashes.length > ASSET_LIMITS.maxFiles) throw new BadRequestError(`at most ${ASSET_LIMITS.maxFiles} hashes at once, got ${hashes.length}`);
    return c.json({ missing: await missingAssets(objects, hashes as string[]) });
  });

  app.put("/v1/assets/:hash", async (c) => {
    const hash = c.req.param("hash");
    if (!ASSET_HASH_PATTERN.test(hash)) throw new BadRequestError(`${JSON.stringify(hash.slice(0, 80))} is not a SHA-256 in hex: PUT /v1/assets/<the SHA-256 of the file's bytes>`);
    if (await objects.head(ASSETS_BUCKET, hash)) return c.json({ hash, stored: false }, 200);
    const upload = await objects.beginPut(ASSETS_BUCKET);
    try {
      const digest = createHash("sha256");
      const body = c.req.raw.body;
      if (body) {
        for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
          if (upload.bytes + chunk.byteLength > ASSET_LIMITS.maxFileBytes) {
            throw new BadRequestError(`a static asset may hold at most ${ASSET_LIMITS.maxFileBytes} bytes (25 MiB, Workers' limit too): put larger files in a bucket`);
          }
          digest.update(chunk);
          await upload.write(chunk);
        }
      }
      const actual = digest.digest("hex");
      if (actual !== hash) throw new BadRequestError(`the bytes' SHA-256 is ${actual}, not ${hash}: the file changed while it was sent, or the URL is wrong`);
      const record = await upload.commit(hash, { httpMetadata: {}, customMetadata: {} });
      return c.json({ hash, stored: true, size: record.size }, 201);
    } catch (error) {
      await upload.abort();
      throw error;
    }
  });
}

/** The hashes of `hashes` the store does not hold, in their order. */
export async function missingAssets(objects: ObjectStore, hashes: readonly string[]): Promise<string[]> {
  const unique = [...new Set(hashes)];
  const present = new Array<boolean>(unique.length);
  let next = 0;
  const worker = async () => {
    while (next < unique.length) {
      const index = next++;
      present[index] = (await objects.head(ASSETS_BUCKET, unique[index]!)) !== undefined;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CHECK_CONCURRENCY, unique.length) }, worker));
  return unique.filter((_, index) => !present[index]);
}

/** Refuses a version whose `[assets]` names files the host does not hold, or came without its manifest. */
export async function checkVersionAssets(objects: ObjectStore, config: ScriptConfig): Promise<void> {
  if (!config.assets) return;
  if (!config.assets.files) {
    throw new BadRequestError("`assets.files` is missing: the manifest of the assets directory is written by `atoll deploy`, which uploads the files first");
  }
  const missing = await missingAssets(objects, Object.values(config.assets.files));
  if (missing.length > 0) {
    const byHash = new Map(Object.entries(config.assets.files).map(([path, hash]) => [hash, path]));
    const named = missing.slice(0, 5).map((hash) => byHash.get(hash)).join(", ");
    throw new BadRequestError(`${missing.length} static asset(s) of the version are not on the host (${named}${missing.length > 5 ? ", …" : ""}): upload them first (PUT /v1/assets/<sha256>; atoll deploy does it)`);
  }
}
