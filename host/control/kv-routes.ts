// KV for operators: the same namespaces functions see, with the same rules
// (host/bindings/kv-namespace.ts). Values travel as raw bytes; metadata as a
// JSON header.
//   GET    /v1/kv/:namespace/keys?prefix=&limit=&cursor=   → { keys, list_complete, cursor? }
//   GET    /v1/kv/:namespace/values/:key                   → the bytes (404 when absent); x-atoll-kv-metadata
//   PUT    /v1/kv/:namespace/values/:key?expiration_ttl=&expiration=   body: the bytes; x-atoll-kv-metadata: JSON
//   DELETE /v1/kv/:namespace/values/:key
// A key may hold any character: it is the rest of the path, percent-decoded.
import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { BindingCallError } from "../bindings/binding-error.js";
import type { BindingHost } from "../bindings/binding-host.js";
import type { KvNamespace } from "../bindings/kv-namespace.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { KV_LIMITS } from "../runtime/protocol.js";

const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const KV_METADATA_HEADER = "x-atoll-kv-metadata";

export function registerKvRoutes(app: Hono, bindings: BindingHost): void {
  app.get("/v1/kv/:namespace/keys", async (c) => {
    const namespace = namespaceOf(c, bindings);
    const limit = c.req.query("limit");
    const answer = await kvCall(() =>
      namespace.list({
        ...(c.req.query("prefix") !== undefined ? { prefix: c.req.query("prefix")! } : {}),
        ...(limit !== undefined ? { limit: Number(limit) } : {}),
        ...(c.req.query("cursor") ? { cursor: c.req.query("cursor")! } : {}),
      }),
    );
    return c.json({ ...answer, keys: answer.keys.map((key) => ({ ...key, ...(key.metadata !== undefined ? { metadata: JSON.parse(key.metadata) as unknown } : {}) })) });
  });

  app.get("/v1/kv/:namespace/values/*", async (c) => {
    const namespace = namespaceOf(c, bindings);
    const key = keyOf(c);
    const found = await kvCall(() => namespace.get(key, true));
    if (!found) throw new NotFoundError(`key ${JSON.stringify(key)} in KV namespace "${namespace.id}"`);
    const headers: Record<string, string> = { "content-type": "application/octet-stream" };
    if (found.metadata) headers[KV_METADATA_HEADER] = found.metadata;
    return c.body(found.value as Uint8Array<ArrayBuffer>, 200, headers);
  });

  app.put(
    "/v1/kv/:namespace/values/*",
    bodyLimit({
      maxSize: KV_LIMITS.valueBytes,
      onError: () => {
        throw new BadRequestError(`the value is over the KV limit of ${KV_LIMITS.valueBytes} bytes (25 MiB)`);
      },
    }),
    async (c) => {
      const namespace = namespaceOf(c, bindings);
      const key = keyOf(c);
      const value = new Uint8Array(await c.req.arrayBuffer());
      const ttl = c.req.query("expiration_ttl");
      const expiration = c.req.query("expiration");
      const metadata = c.req.header(KV_METADATA_HEADER);
      if (metadata !== undefined) {
        try {
          JSON.parse(metadata);
        } catch {
          throw new BadRequestError(`the ${KV_METADATA_HEADER} header must be JSON`);
        }
      }
      await kvCall(() =>
        namespace.put(key, value, {
          ...(ttl !== undefined ? { expirationTtl: Number(ttl) } : {}),
          ...(expiration !== undefined ? { expiration: Number(expiration) } : {}),
          ...(metadata !== undefined ? { metadata } : {}),
        }),
      );
      return c.json({ namespace: namespace.id, key, bytes: value.byteLength });
    },
  );

  app.delete("/v1/kv/:namespace/values/*", async (c) => {
    const namespace = namespaceOf(c, bindings);
    const key = keyOf(c);
    await kvCall(() => namespace.delete(key));
    return c.json({ namespace: namespace.id, deleted: key });
  });
}

function namespaceOf(c: Context, bindings: BindingHost): KvNamespace {
  const id = c.req.param("namespace") ?? "";
  if (!NAMESPACE_PATTERN.test(id)) throw new BadRequestError(`"${id}" is not a KV namespace id: lower-case letters, digits, - and _ (up to 63)`);
  return bindings.kvNamespace(id);
}

/** The key: everything after /values/ in the raw path, percent-decoded once. */
function keyOf(c: Context): string {
  const path = new URL(c.req.url).pathname;
  const marker = "/values/";
  const raw = path.slice(path.indexOf(marker) + marker.length);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequestError("the key in the path is not valid percent-encoding");
  }
}

/** Rule violations (a key too long, a bad cursor) are the caller's: 400 with the rule. */
async function kvCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof BindingCallError) throw new BadRequestError(error.message);
    throw error;
  }
}
