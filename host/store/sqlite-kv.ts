// KV on the embedded SQLite database. Writes are group-committed: every put
// and delete that arrives in one turn of the event loop goes into one
// transaction (one fsync with synchronous=FULL), and each resolves only after
// that transaction is durable.
import type Database from "better-sqlite3";
import { type KvListQuery, type KvListedKey, type KvStore, type KvValue, type KvWorkerReads, prefixUpperBound } from "./kv.js";

export const KV_SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  namespace TEXT NOT NULL,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  metadata TEXT,
  expiration INTEGER,
  PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expiration ON kv (expiration) WHERE expiration IS NOT NULL;
`;

type Write =
  | { kind: "put"; namespace: string; key: string; value: KvValue; resolve(): void; reject(error: unknown): void }
  | { kind: "delete"; namespace: string; key: string; resolve(): void; reject(error: unknown): void };

interface KvRow {
  key: string;
  value: Buffer;
  metadata: string | null;
  expiration: number | null;
}

export class SqliteKv implements KvStore {
  readonly workerReads: KvWorkerReads | undefined;
  private readonly statements;
  private pending: Write[] = [];
  private readonly commit: (writes: Write[]) => void;

  constructor(private readonly db: Database.Database) {
    db.exec(KV_SCHEMA);
    // An in-memory database (tests) has no file another process could open.
    this.workerReads = db.memory ? undefined : { kind: "sqlite", file: db.name };
    this.statements = {
      get: db.prepare<[string, string, number], KvRow>(
        `SELECT key, value, metadata, expiration FROM kv WHERE namespace = ? AND key = ? AND (expiration IS NULL OR expiration > ?)`,
      ),
      put: db.prepare(
        `INSERT INTO kv (namespace, key, value, metadata, expiration) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, metadata = excluded.metadata, expiration = excluded.expiration`,
      ),
      delete: db.prepare(`DELETE FROM kv WHERE namespace = ? AND key = ?`),
      list: db.prepare<[string, string, string, string, number, number], Omit<KvRow, "value">>(
        `SELECT key, metadata, expiration FROM kv
         WHERE namespace = ? AND key >= ? AND key > ? AND key < ? AND (expiration IS NULL OR expiration > ?)
         ORDER BY key LIMIT ?`,
      ),
      purge: db.prepare(`DELETE FROM kv WHERE expiration IS NOT NULL AND expiration <= ?`),
    };
    this.commit = db.transaction((writes: Write[]) => {
      for (const write of writes) {
        if (write.kind === "put") {
          this.statements.put.run(write.namespace, write.key, write.value.value, write.value.metadata, write.value.expiration);
        } else {
          this.statements.delete.run(write.namespace, write.key);
        }
      }
    });
  }

  async get(namespace: string, key: string, nowSeconds: number): Promise<KvValue | undefined> {
    const row = this.statements.get.get(namespace, key, nowSeconds);
    if (!row) return undefined;
    return { value: new Uint8Array(row.value.buffer, row.value.byteOffset, row.value.byteLength), metadata: row.metadata, expiration: row.expiration };
  }

  put(namespace: string, key: string, value: KvValue): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: "put", namespace, key, value, resolve, reject }));
  }

  delete(namespace: string, key: string): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: "delete", namespace, key, resolve, reject }));
  }

  async list(namespace: string, query: KvListQuery, nowSeconds: number): Promise<{ keys: KvListedKey[]; more: boolean }> {
    // Every key that starts with the prefix sorts at or after it and before its upper bound.
    const upper = prefixUpperBound(query.prefix) ?? "\u{10ffff}\u{10ffff}\u{10ffff}";
    const rows = this.statements.list.all(namespace, query.prefix, query.after ?? "", upper, nowSeconds, query.limit + 1);
    const more = rows.length > query.limit;
    return { keys: rows.slice(0, query.limit).map((row) => ({ name: row.key, metadata: row.metadata, expiration: row.expiration })), more };
  }

  async purgeExpired(nowSeconds: number): Promise<number> {
    return this.statements.purge.run(nowSeconds).changes;
  }

  private enqueue(write: Write): void {
    this.pending.push(write);
    if (this.pending.length === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    const writes = this.pending;
    this.pending = [];
    try {
      this.commit(writes);
    } catch (error) {
      for (const write of writes) write.reject(error);
      return;
    }
    for (const write of writes) write.resolve();
  }
}
