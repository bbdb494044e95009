// The embedded store: one SQLite database file in the data directory (WAL,
// synchronous=FULL so that an acknowledged write survives power loss).
import Database from "better-sqlite3";
import type { NewVersion, ScriptRecord, ScriptVersion, Store } from "./store.js";
import type { KvStore } from "./kv.js";
import { SqliteKv } from "./sqlite-kv.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS scripts (
  name TEXT PRIMARY KEY,
  active_version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
  script TEXT NOT NULL,
  version INTEGER NOT NULL,
  config TEXT NOT NULL,
  bundle TEXT NOT NULL,
  bundle_hash TEXT NOT NULL,
  bundle_bytes INTEGER NOT NULL,
  bundle_gzip_bytes INTEGER NOT NULL,
  code_cache BLOB,
  message TEXT,
  created_at TEXT NOT NULL,
  PRIMARY KEY (script, version)
);
CREATE TABLE IF NOT EXISTS version_counters (
  script TEXT PRIMARY KEY,
  last_version INTEGER NOT NULL
);
`;

interface VersionRow {
  script: string;
  version: number;
  config: string;
  bundle: string;
  bundle_hash: string;
  bundle_bytes: number;
  bundle_gzip_bytes: number;
  code_cache: Buffer | null;
  message: string | null;
  created_at: string;
}

interface ScriptRow {
  name: string;
  active_version: number;
  created_at: string;
  updated_at: string;
  config: string;
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly statements;
  readonly kv: KvStore;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
    this.kv = new SqliteKv(this.db);
    this.statements = {
      nextVersion: this.db.prepare<[string], { last_version: number }>(
        `INSERT INTO version_counters (script, last_version) VALUES (?, 1)
         ON CONFLICT (script) DO UPDATE SET last_version = last_version + 1
         RETURNING last_version`,
      ),
      insertVersion: this.db.prepare(
        `INSERT INTO versions (script, version, config, bundle, bundle_hash, bundle_bytes, bundle_gzip_bytes, code_cache, message, created_at)
         VALUES (@script, @version, @config, @bundle, @bundle_hash, @bundle_bytes, @bundle_gzip_bytes, @code_cache, @message, @created_at)`,
      ),
      upsertScript: this.db.prepare(
        `INSERT INTO scripts (name, active_version, created_at, updated_at) VALUES (@name, @version, @now, @now)
         ON CONFLICT (name) DO UPDATE SET active_version = @version, updated_at = @now`,
      ),
      getScript: this.db.prepare<[string], ScriptRow>(
        `SELECT s.name, s.active_version, s.created_at, s.updated_at, v.config FROM scripts s
         JOIN versions v ON v.script = s.name AND v.version = s.active_version WHERE s.name = ?`,
      ),
      listScripts: this.db.prepare<[], ScriptRow>(
        `SELECT s.name, s.active_version, s.created_at, s.updated_at, v.config FROM scripts s
         JOIN versions v ON v.script = s.name AND v.version = s.active_version ORDER BY s.name`,
      ),
      getVersion: this.db.prepare<[string, number], VersionRow>(`SELECT * FROM versions WHERE script = ? AND version = ?`),
      countVersions: this.db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM versions WHERE script = ?`),
      deleteScript: this.db.prepare<[string]>(`DELETE FROM scripts WHERE name = ?`),
      deleteVersions: this.db.prepare<[string]>(`DELETE FROM versions WHERE script = ?`),
    };
  }

  async putVersion(input: NewVersion): Promise<ScriptVersion> {
    const createdAt = new Date().toISOString();
    const save = this.db.transaction((): number => {
      // The counter outlives deletes, so a re-created script never reuses a version number.
      const { last_version: version } = this.statements.nextVersion.get(input.script)!;
      this.statements.insertVersion.run({
        script: input.script,
        version,
        config: JSON.stringify(input.config),
        bundle: input.bundle,
        bundle_hash: input.bundleHash,
        bundle_bytes: input.bundleBytes,
        bundle_gzip_bytes: input.bundleGzipBytes,
        code_cache: input.codeCache ? Buffer.from(input.codeCache.buffer, input.codeCache.byteOffset, input.codeCache.byteLength) : null,
        message: input.message,
        created_at: createdAt,
      });
      this.statements.upsertScript.run({ name: input.script, version, now: createdAt });
      return version;
    });
    const version = save.immediate();
    return { ...input, version, createdAt };
  }

  async getScript(name: string): Promise<ScriptRecord | undefined> {
    const row = this.statements.getScript.get(name);
    return row && toScriptRecord(row);
  }

  async listScripts(): Promise<ScriptRecord[]> {
    return this.statements.listScripts.all().map(toScriptRecord);
  }

  async getVersion(script: string, version: number): Promise<ScriptVersion | undefined> {
    const row = this.statements.getVersion.get(script, version);
    if (!row) return undefined;
    return {
      script: row.script,
      version: row.version,
      config: JSON.parse(row.config),
      bundle: row.bundle,
      bundleHash: row.bundle_hash,
      bundleBytes: row.bundle_bytes,
      bundleGzipBytes: row.bundle_gzip_bytes,
      codeCache: row.code_cache ? new Uint8Array(row.code_cache) : null,
      message: row.message,
      createdAt: row.created_at,
    };
  }

  async countVersions(script: string): Promise<number> {
    return this.statements.countVersions.get(script)?.n ?? 0;
  }

  async deleteScript(name: string): Promise<boolean> {
    const remove = this.db.transaction((): boolean => {
      const { changes } = this.statements.deleteScript.run(name);
      this.statements.deleteVersions.run(name);
      return changes > 0;
    });
    return remove.immediate();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

function toScriptRecord(row: ScriptRow): ScriptRecord {
  return {
    name: row.name,
    activeVersion: row.active_version,
    config: JSON.parse(row.config),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
