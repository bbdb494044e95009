// KV on the shared Redis. Each key is a hash (value, metadata, expiration)
// that Redis itself expires; each namespace has a sorted set of its key names
// (all at score 0, so ZRANGEBYLEX walks them in byte order: UTF-8 byte order,
// the order Workers KV lists in); one sorted set of expirations lets
// purgeExpired drop the names of keys that expired. A write is one MULTI: it is
// visible to every host as soon as it resolves.
import type { KvListQuery, KvListedKey, KvStore, KvValue } from "./kv.js";
import { prefixUpperBound } from "./kv.js";
import { LuaScript, redisKey, throwFirstError, type RedisConnection } from "./redis-connection.js";

const WHAT = "the shared store's KV (Redis)";
/** Names looked at per round trip of a listing (those of expired keys are skipped, so a page may take several). */
const LIST_BATCH = 256;

/** Drops an expired key's name, unless it was written again since (then its expiration changed). */
const PURGE_ONE = new LuaScript(
  `local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
   if score and tonumber(score) <= tonumber(ARGV[3]) then
     redis.call('ZREM', KEYS[1], ARGV[1])
     redis.call('ZREM', KEYS[2], ARGV[2])
     redis.call('DEL', KEYS[3])
     return 1
   end
   return 0`,
  3,
);

export class RedisKv implements KvStore {
  constructor(private readonly redis: RedisConnection) {}

  async get(namespace: string, key: string, nowSeconds: number): Promise<KvValue | undefined> {
    const [value, metadata, expiration] = await this.redis.call(WHAT, () => this.redis.client.hmgetBuffer(valueKey(namespace, key), "v", "m", "e"));
    if (!value) return undefined;
    const expires = expiration ? Number(expiration.toString()) : null;
    if (expires !== null && expires <= nowSeconds) return undefined;
    return { value: new Uint8Array(value.buffer, value.byteOffset, value.byteLength), metadata: metadata ? metadata.toString("utf8") : null, expiration: expires };
  }

  async put(namespace: string, key: string, value: KvValue): Promise<void> {
    const hash = valueKey(namespace, key);
    // "p" marks the hash present, so a listing tells a key without metadata from an expired one in the same HMGET.
    const fields: (string | Buffer)[] = ["p", "1", "v", Buffer.from(value.value.buffer, value.value.byteOffset, value.value.byteLength)];
    if (value.metadata !== null) fields.push("m", value.metadata);
    if (value.expiration !== null) fields.push("e", String(value.expiration));
    await this.redis.call(WHAT, async () => {
      const multi = this.redis.client.multi().del(hash).hset(hash, ...fields).zadd(namesKey(namespace), 0, key);
      if (value.expiration !== null) multi.expireat(hash, value.expiration).zadd(EXPIRATIONS, value.expiration, expiringMember(namespace, key));
      else multi.zrem(EXPIRATIONS, expiringMember(namespace, key));
      throwFirstError(await multi.exec());
    });
  }

  async delete(namespace: string, key: string): Promise<void> {
    await this.redis.call(WHAT, async () => {
      throwFirstError(await this.redis.client.multi().del(valueKey(namespace, key)).zrem(namesKey(namespace), key).zrem(EXPIRATIONS, expiringMember(namespace, key)).exec());
    });
  }

  async list(namespace: string, query: KvListQuery, nowSeconds: number): Promise<{ keys: KvListedKey[]; more: boolean }> {
    const upper = prefixUpperBound(query.prefix);
    const max = upper === null ? "+" : `(${upper}`;
    const keys: KvListedKey[] = [];
    // Start after the cursor, or at the prefix, whichever is later.
    let min = query.after !== null && query.after >= query.prefix ? `(${query.after}` : `[${query.prefix}`;
    for (;;) {
      const names = await this.redis.call(WHAT, () => this.redis.client.zrangebylex(namesKey(namespace), min, max, "LIMIT", 0, LIST_BATCH));
      if (names.length === 0) return { keys, more: false };
      const pipeline = this.redis.client.pipeline();
      for (const name of names) pipeline.hmget(valueKey(namespace, name), "p", "m", "e");
      const rows = await this.redis.call(WHAT, () => pipeline.exec());
      for (let index = 0; index < names.length; index++) {
        const [error, row] = rows?.[index] ?? [null, null];
        if (error) throw error;
        const [present, metadata, expiration] = row as [string | null, string | null, string | null];
        const expires = expiration === null ? null : Number(expiration);
        // A name without its hash: the key expired (Redis dropped it) and purgeExpired has not come by yet.
        if (present === null) continue;
        if (expires !== null && expires <= nowSeconds) continue;
        if (keys.length === query.limit) return { keys, more: true };
        keys.push({ name: names[index]!, metadata, expiration: expires });
      }
      if (names.length < LIST_BATCH) return { keys, more: false };
      min = `(${names[names.length - 1]!}`;
    }
  }

  async purgeExpired(nowSeconds: number): Promise<number> {
    let purged = 0;
    for (;;) {
      const members = await this.redis.call(WHAT, () => this.redis.client.zrangebyscore(EXPIRATIONS, "-inf", nowSeconds, "LIMIT", 0, 500));
      for (const member of members) {
        const split = member.indexOf("\0");
        const namespace = member.slice(0, split);
        const key = member.slice(split + 1);
        purged += Number(await PURGE_ONE.run(this.redis, [EXPIRATIONS, namesKey(namespace), valueKey(namespace, key)], [member, key, nowSeconds]));
      }
      if (members.length < 500) return purged;
    }
  }
}

const EXPIRATIONS = redisKey("kv-expirations");

function valueKey(namespace: string, key: string): string {
  return redisKey("kv", namespace, "v", key);
}

function namesKey(namespace: string): string {
  return redisKey("kv", namespace, "names");
}

/** NUL cannot occur in a namespace id (config validation), so the first one splits the two. */
function expiringMember(namespace: string, key: string): string {
  return `${namespace}\0${key}`;
}
