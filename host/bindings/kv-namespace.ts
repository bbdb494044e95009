// One KV namespace with the semantics and limits of Workers KV, over the
// store's KvStore: used for functions' `env.<KV>` calls and for the operators'
// control API and CLI alike, so both see the same rules.
import { KV_LIMITS } from "../runtime/protocol.js";
import type { KvStore } from "../store/kv.js";
import { BindingCallError } from "./binding-error.js";
import { decodeCursor, encodeCursor } from "./cursor.js";

export interface KvPutOptions {
  /** Seconds since the epoch. */
  expiration?: number;
  /** Seconds from now. */
  expirationTtl?: number;
  /** JSON text. */
  metadata?: string;
}

export interface KvListOptions {
  prefix?: string;
  limit?: number;
  cursor?: string;
}

export interface KvListAnswer {
  keys: { name: string; expiration?: number; metadata?: string }[];
  list_complete: boolean;
  cursor?: string;
}

const CURSOR_TAG = "kv1";
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export class KvNamespace {
  constructor(
    private readonly store: KvStore,
    readonly id: string,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  async get(key: unknown, withMetadata = false): Promise<{ value: Uint8Array; metadata?: string | null } | null> {
    const found = await this.store.get(this.id, checkKey(key), this.now());
    if (!found) return null;
    return withMetadata ? { value: found.value, metadata: found.metadata } : { value: found.value };
  }

  async put(key: unknown, value: unknown, options: KvPutOptions = {}): Promise<void> {
    const name = checkKey(key);
    if (!(value instanceof Uint8Array)) throw BindingCallError.badArgument("KV put: the value must be bytes");
    if (value.byteLength > KV_LIMITS.valueBytes) {
      throw BindingCallError.badArgument(`KV put: the value is ${value.byteLength} bytes, over the limit of ${KV_LIMITS.valueBytes} bytes (25 MiB)`);
    }
    const now = this.now();
    let expiration: number | null = null;
    if (options.expiration !== undefined) {
      if (!Number.isFinite(options.expiration) || options.expiration <= now) {
        throw BindingCallError.badArgument(`KV put: expiration must be a time in the future, in seconds since the epoch (now is ${now}; got ${options.expiration})`);
      }
      expiration = Math.floor(options.expiration);
    }
    if (options.expirationTtl !== undefined) {
      if (!Number.isFinite(options.expirationTtl) || options.expirationTtl < 1) {
        throw BindingCallError.badArgument(`KV put: expirationTtl must be a number of seconds, at least 1 (got ${options.expirationTtl})`);
      }
      expiration = now + Math.floor(options.expirationTtl);
    }
    let metadata: string | null = null;
    if (options.metadata !== undefined) {
      if (typeof options.metadata !== "string") throw BindingCallError.badArgument("KV put: metadata must be JSON");
      const bytes = Buffer.byteLength(options.metadata);
      if (bytes > KV_LIMITS.metadataBytes) {
        throw BindingCallError.badArgument(`KV put: the metadata is ${bytes} bytes of JSON, over the limit of ${KV_LIMITS.metadataBytes}`);
      }
      metadata = options.metadata;
    }
    await this.store.put(this.id, name, { value, metadata, expiration });
  }

  async delete(key: unknown): Promise<void> {
    await this.store.delete(this.id, checkKey(key));
  }

  async list(options: KvListOptions = {}): Promise<KvListAnswer> {
    const prefix = options.prefix ?? "";
    if (typeof prefix !== "string" || Buffer.byteLength(prefix) > KV_LIMITS.keyBytes) {
      throw BindingCallError.badArgument(`KV list: prefix must be a string of at most ${KV_LIMITS.keyBytes} bytes`);
    }
    const limit = options.limit ?? KV_LIMITS.listLimit;
    if (!Number.isInteger(limit) || limit < 1 || limit > KV_LIMITS.listLimit) {
      throw BindingCallError.badArgument(`KV list: limit must be an integer from 1 to ${KV_LIMITS.listLimit} (got ${String(options.limit)})`);
    }
    const after = options.cursor === undefined ? null : this.decodeCursor(options.cursor);
    const { keys, more } = await this.store.list(this.id, { prefix, after, limit }, this.now());
    const answer: KvListAnswer = {
      keys: keys.map((entry) => ({
        name: entry.name,
        ...(entry.expiration !== null ? { expiration: entry.expiration } : {}),
        ...(entry.metadata !== null ? { metadata: entry.metadata } : {}),
      })),
      list_complete: !more,
    };
    if (more) answer.cursor = this.encodeCursor(keys[keys.length - 1]!.name);
    return answer;
  }

  private encodeCursor(lastKey: string): string {
    return encodeCursor(CURSOR_TAG, this.id, lastKey);
  }

  private decodeCursor(cursor: unknown): string {
    const position = decodeCursor(CURSOR_TAG, this.id, cursor);
    if (position === null) {
      throw BindingCallError.badArgument("KV list: the cursor is not one that list() on this namespace returned: pass the `cursor` of the previous page as it is");
    }
    return position;
  }
}

/** A key as Workers KV accepts it: 1 to 512 bytes of well-formed UTF-8, not "." or "..". */
export function checkKey(key: unknown): string {
  if (typeof key !== "string") throw BindingCallError.badArgument("KV: the key must be a string");
  if (key === "" || key === "." || key === "..") throw BindingCallError.badArgument(`KV: the key ${JSON.stringify(key)} is not allowed (empty, "." and ".." are refused)`);
  if (LONE_SURROGATE.test(key)) throw BindingCallError.badArgument("KV: the key contains a lone surrogate (it must be valid Unicode)");
  const bytes = Buffer.byteLength(key);
  if (bytes > KV_LIMITS.keyBytes) throw BindingCallError.badArgument(`KV: the key is ${bytes} bytes, over the limit of ${KV_LIMITS.keyBytes}`);
  return key;
}
