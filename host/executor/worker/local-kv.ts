// KV reads a worker answers itself. With the embedded store, KV lives in one
// SQLite file in WAL mode, which other processes may read while the front
// writes: a function's `env.KV.get()` is answered here, from this process's
// own read-only connection, instead of by a round trip to the front (two
// process wake-ups, most of a get's latency on a small machine). Writes, lists
// and every other store (Redis) still go to the front.
//
// A read sees every write the front committed before it: a put resolves in
// the function only once its transaction is durable, and each read here is a
// transaction of its own, so a function reads its own writes.
import Database from "better-sqlite3";
import { checkKey } from "../../bindings/kv-namespace.js";
import type { KvWorkerReads } from "../../store/kv.js";

interface KvRow {
  value: Buffer;
  metadata: string | null;
}

export interface KvReadCount {
  ok: number;
  /** Refused for a bad key. */
  errors: number;
}

/** What `env.KV.get` resolves with, as the front's KvNamespace.get gives it. */
export type KvGetAnswer = { value: Uint8Array; metadata?: string | null } | null;

export class LocalKvReads {
  private statement: Database.Statement<[string, string, number], KvRow> | null = null;
  private db: Database.Database | null = null;
  /** Set when the file could not be opened: every read goes to the front from then on. */
  private unavailable = false;
  /** Gets answered here since the last `takeCounts`, per script (for the front's metrics). */
  private counts = new Map<string, KvReadCount>();

  constructor(private readonly source: KvWorkerReads) {}

  /**
   * The value of `key`, or undefined when this process cannot answer (the
   * caller then asks the front). Throws BindingCallError for a key the
   * function should be told is bad, as the front would.
   */
  get(script: string, namespace: string, key: unknown, withMetadata: boolean): KvGetAnswer | undefined {
    const statement = this.open();
    if (!statement) return undefined;
    const count = this.countOf(script);
    let name: string;
    try {
      name = checkKey(key);
    } catch (error) {
      count.errors++;
      throw error;
    }
    let row: KvRow | undefined;
    try {
      row = statement.get(namespace, name, Math.floor(Date.now() / 1000));
    } catch {
      // SQLITE_BUSY past the timeout, a file replaced under us …: the front answers.
      return undefined;
    }
    count.ok++;
    if (!row) return null;
    const value = new Uint8Array(row.value.buffer, row.value.byteOffset, row.value.byteLength);
    return withMetadata ? { value, metadata: row.metadata } : { value };
  }

  /** The gets answered here since the last call, per script; resets them. */
  takeCounts(): Map<string, KvReadCount> {
    const counts = this.counts;
    this.counts = new Map();
    return counts;
  }

  close(): void {
    this.db?.close();
    this.db = null;
    this.statement = null;
  }

  private countOf(script: string): KvReadCount {
    let count = this.counts.get(script);
    if (!count) this.counts.set(script, (count = { ok: 0, errors: 0 }));
    return count;
  }

  private open(): Database.Statement<[string, string, number], KvRow> | null {
    if (this.statement || this.unavailable) return this.statement;
    try {
      // Not `readonly: true`: a read-only connection cannot create the WAL index
      // (-shm) if the front has not yet, so it is a plain one that refuses writes.
      const db = new Database(this.source.file, { fileMustExist: true });
      db.pragma("query_only = ON");
      db.pragma("busy_timeout = 1000");
      this.statement = db.prepare<[string, string, number], KvRow>(
        `SELECT value, metadata FROM kv WHERE namespace = ? AND key = ? AND (expiration IS NULL OR expiration > ?)`,
      );
      this.db = db;
    } catch (error) {
      this.unavailable = true;
      process.stderr.write(`atoll worker: KV reads go through the front: ${this.source.file} cannot be read here (${(error as Error).message})\n`);
    }
    return this.statement;
  }
}
