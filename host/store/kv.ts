// The KV part of the store: namespaced keys with bytes, optional metadata
// (JSON text) and an optional expiration (seconds since the epoch). Limits,
// cursors and the Workers API shape live in host/bindings/kv-binding.ts.

export interface KvValue {
  value: Uint8Array;
  /** JSON text, or null. */
  metadata: string | null;
  /** Seconds since the epoch, or null for never. */
  expiration: number | null;
}

export interface KvListedKey {
  name: string;
  metadata: string | null;
  expiration: number | null;
}

export interface KvListQuery {
  /** Only keys that start with this. */
  prefix: string;
  /** Only keys after this one (the cursor's position), or null from the start. */
  after: string | null;
  limit: number;
}

/** How a worker process may read a KV store itself (host/executor/worker/local-kv.ts). */
export interface KvWorkerReads {
  kind: "sqlite";
  /** The database file, with its `kv` table (./sqlite-kv.ts). */
  file: string;
}

export interface KvStore {
  /** Set when worker processes may answer gets themselves; absent: every call goes through the front. */
  readonly workerReads?: KvWorkerReads;
  /** The live value of a key; an expired key is absent at once, whether purged or not. */
  get(namespace: string, key: string, nowSeconds: number): Promise<KvValue | undefined>;
  /** Durable once resolved. */
  put(namespace: string, key: string, value: KvValue): Promise<void>;
  /** Durable once resolved; deleting a missing key is not an error. */
  delete(namespace: string, key: string): Promise<void>;
  /** Live keys in key order (UTF-8 byte order); `more` when the listing stopped at `limit`. */
  list(namespace: string, query: KvListQuery, nowSeconds: number): Promise<{ keys: KvListedKey[]; more: boolean }>;
  /** Removes expired keys; returns how many. */
  purgeExpired(nowSeconds: number): Promise<number>;
}

/** The smallest string greater than every string that starts with `prefix` (null: there is none). */
export function prefixUpperBound(prefix: string): string | null {
  const points = [...prefix].map((char) => char.codePointAt(0)!);
  while (points.length > 0) {
    let last = points.pop()! + 1;
    if (last === 0xd800) last = 0xe000; // surrogates are not characters
    if (last <= 0x10ffff) return String.fromCodePoint(...points, last);
  }
  return null;
}
