// The embedded store: one SQLite database file in the data directory (WAL,
// synchronous=FULL so that an acknowledged write survives power loss).
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import type { Canary, Deployment, DeploymentKind, NewVersion, SealedSecret, ScriptRecord, ScriptVersion, Store, VersionSummary } from "./store.js";
import type { KvStore } from "./kv.js";
import { SqliteKv } from "./sqlite-kv.js";
import type { QueueStore } from "./queue.js";
import { SqliteQueue } from "./sqlite-queue.js";
import type { ObjectStore } from "./objects.js";
import { SqliteObjects } from "./sqlite-objects.js";

/**
 * A row while a host has the database open, removed by a clean close: finding
 * it at start means the last run crashed (then the object files it may have
 * left unreferenced are swept).
 */
const OPEN_MARKER_SCHEMA = `
CREATE TABLE IF NOT EXISTS store_open (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  opened_at TEXT NOT NULL
);
`;

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

/**
 * Deployments and secrets (added after the first schema: only new tables and
 * columns, see migrateDeployments). Every change of a script's active version
 * or canary is a row of \`deployments\`; \`secrets\` holds values sealed by
 * ./secrets.ts, never plaintext.
 */
const DEPLOYMENTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS deployments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  script TEXT NOT NULL,
  kind TEXT NOT NULL,
  active_version INTEGER NOT NULL,
  previous_version INTEGER,
  canary_version INTEGER,
  canary_percent INTEGER,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deployments_by_script ON deployments (script, id);
CREATE TABLE IF NOT EXISTS secrets (
  script TEXT NOT NULL,
  key TEXT NOT NULL,
  sealed BLOB NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (script, key)
);
CREATE TABLE IF NOT EXISTS secrets_key (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  fingerprint TEXT NOT NULL,
  recorded_at TEXT NOT NULL
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
  canary_version: number | null;
  canary_percent: number | null;
  created_at: string;
  updated_at: string;
  config: string;
}

interface DeploymentRow {
  id: number;
  script: string;
  kind: DeploymentKind;
  active_version: number;
  previous_version: number | null;
  canary_version: number | null;
  canary_percent: number | null;
  created_at: string;
}

/** The kinds of change that move the active version: "the previous version" is the one before the latest of them. */
const ACTIVATIONS = "('deploy', 'promote', 'rollback')";

interface VersionSummaryRow {
  version: number;
  created_at: string;
  message: string | null;
  bundle_hash: string;
  bundle_bytes: number;
  bundle_gzip_bytes: number;
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly statements;
  readonly kv: KvStore;
  private readonly sqliteQueue: SqliteQueue;
  readonly objects: ObjectStore;
  /** Set when the previous run ended without closing the store (a crash, a kill, a power cut): what opening it cleaned up. */
  readonly crashRecovery: { unreferencedObjectFiles: number } | null;
  private readonly deploymentStatements;
  private readonly secretStatements;

  /** `file`: the database; `objectsDir`: where bucket objects' bytes go (default: "objects" beside the database). */
  constructor(file: string, objectsDir?: string, objectsElsewhere?: ObjectStore) {
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
    this.kv = new SqliteKv(this.db);
    this.sqliteQueue = new SqliteQueue(this.db);
    // Objects on S3-compatible storage (--objects s3://…) instead of files beside the database.
    const objects = objectsElsewhere ? null : new SqliteObjects(this.db, objectsDir ?? join(dirname(file), "objects"));
    this.objects = objectsElsewhere ?? objects!;
    migrateDeployments(this.db);
    this.crashRecovery = markOpen(this.db) ? { unreferencedObjectFiles: objects?.sweepUnreferenced() ?? 0 } : null;
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
         ON CONFLICT (name) DO UPDATE SET active_version = @version, canary_version = NULL, canary_percent = NULL, updated_at = @now`,
      ),
      getScript: this.db.prepare<[string], ScriptRow>(
        `SELECT s.name, s.active_version, s.canary_version, s.canary_percent, s.created_at, s.updated_at, v.config FROM scripts s
         JOIN versions v ON v.script = s.name AND v.version = s.active_version WHERE s.name = ?`,
      ),
      listScripts: this.db.prepare<[], ScriptRow>(
        `SELECT s.name, s.active_version, s.canary_version, s.canary_percent, s.created_at, s.updated_at, v.config FROM scripts s
         JOIN versions v ON v.script = s.name AND v.version = s.active_version ORDER BY s.name`,
      ),
      getVersion: this.db.prepare<[string, number], VersionRow>(`SELECT * FROM versions WHERE script = ? AND version = ?`),
      setCodeCache: this.db.prepare<[Buffer, string, number]>(`UPDATE versions SET code_cache = ? WHERE script = ? AND version = ?`),
      countVersions: this.db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM versions WHERE script = ?`),
      deleteScript: this.db.prepare<[string]>(`DELETE FROM scripts WHERE name = ?`),
      deleteVersions: this.db.prepare<[string]>(`DELETE FROM versions WHERE script = ?`),
    };
    this.deploymentStatements = {
      activeOf: this.db.prepare<[string], { active_version: number }>(`SELECT active_version FROM scripts WHERE name = ?`),
      setPointers: this.db.prepare(
        `UPDATE scripts SET active_version = @active, canary_version = @canary_version, canary_percent = @canary_percent, updated_at = @now WHERE name = @script`,
      ),
      record: this.db.prepare<[Omit<DeploymentRow, "id">], DeploymentRow>(
        `INSERT INTO deployments (script, kind, active_version, previous_version, canary_version, canary_percent, created_at)
         VALUES (@script, @kind, @active_version, @previous_version, @canary_version, @canary_percent, @created_at) RETURNING *`,
      ),
      listVersions: this.db.prepare<[string, number, number], VersionSummaryRow>(
        `SELECT version, created_at, message, bundle_hash, bundle_bytes, bundle_gzip_bytes FROM versions
         WHERE script = ? AND version < ? ORDER BY version DESC LIMIT ?`,
      ),
      lastActivation: this.db.prepare<[string], DeploymentRow>(
        `SELECT * FROM deployments WHERE script = ? AND kind IN ${ACTIVATIONS} ORDER BY id DESC LIMIT 1`,
      ),
      listDeployments: this.db.prepare<[string, number], DeploymentRow>(`SELECT * FROM deployments WHERE script = ? ORDER BY id DESC LIMIT ?`),
      deleteHistory: this.db.prepare<[string]>(`DELETE FROM deployments WHERE script = ?`),
    };
    this.secretStatements = {
      exists: this.db.prepare<[string, string], { n: number }>(`SELECT count(*) AS n FROM secrets WHERE script = ? AND key = ?`),
      put: this.db.prepare(
        `INSERT INTO secrets (script, key, sealed, updated_at) VALUES (@script, @key, @sealed, @now)
         ON CONFLICT (script, key) DO UPDATE SET sealed = @sealed, updated_at = @now`,
      ),
      list: this.db.prepare<[string], { key: string; sealed: Buffer; updated_at: string }>(`SELECT key, sealed, updated_at FROM secrets WHERE script = ? ORDER BY key`),
      delete: this.db.prepare<[string, string]>(`DELETE FROM secrets WHERE script = ? AND key = ?`),
      deleteAll: this.db.prepare<[string]>(`DELETE FROM secrets WHERE script = ?`),
      count: this.db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM secrets`),
      getFingerprint: this.db.prepare<[], { fingerprint: string }>(`SELECT fingerprint FROM secrets_key WHERE id = 1`),
      setFingerprint: this.db.prepare<[string, string]>(
        `INSERT INTO secrets_key (id, fingerprint, recorded_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint, recorded_at = excluded.recorded_at`,
      ),
    };
  }

  get queue(): QueueStore {
    return this.sqliteQueue;
  }

  async putVersion(input: NewVersion, options: { canaryPercent?: number } = {}): Promise<ScriptVersion> {
    const createdAt = new Date().toISOString();
    const save = this.db.transaction((): number => {
      const previous = this.deploymentStatements.activeOf.get(input.script)?.active_version ?? null;
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
      if (options.canaryPercent !== undefined) {
        // The front refuses this with NoStableVersionError first: a canary needs an active version to share with.
        if (previous === null) throw new Error(`putVersion: "${input.script}" has no active version for a canary to share with`);
        const canary = { version, percent: options.canaryPercent };
        this.deploymentStatements.setPointers.run({ script: input.script, active: previous, canary_version: version, canary_percent: canary.percent, now: createdAt });
        this.recordDeployment(input.script, "canary", previous, previous, canary, createdAt);
      } else {
        this.statements.upsertScript.run({ name: input.script, version, now: createdAt });
        this.recordDeployment(input.script, "deploy", version, previous, null, createdAt);
      }
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

  async setCodeCache(script: string, version: number, codeCache: Uint8Array): Promise<void> {
    this.statements.setCodeCache.run(Buffer.from(codeCache.buffer, codeCache.byteOffset, codeCache.byteLength), script, version);
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
      this.deploymentStatements.deleteHistory.run(name);
      this.secretStatements.deleteAll.run(name);
      this.sqliteQueue.forgetScriptNow(name);
      return changes > 0;
    });
    return remove.immediate();
  }

  async close(): Promise<void> {
    this.sqliteQueue.flushPending();
    this.db.prepare(`DELETE FROM store_open`).run();
    this.db.close();
  }

  // ---- Deployments: versions, history, rollback, gradual deploys ----------

  async listVersions(script: string, page: { limit: number; before?: number }): Promise<VersionSummary[]> {
    return this.deploymentStatements.listVersions.all(script, page.before ?? Number.MAX_SAFE_INTEGER, page.limit).map((row) => ({
      version: row.version,
      createdAt: row.created_at,
      message: row.message,
      bundleHash: row.bundle_hash,
      bundleBytes: row.bundle_bytes,
      bundleGzipBytes: row.bundle_gzip_bytes,
    }));
  }

  async setDeployment(script: string, change: { kind: Exclude<DeploymentKind, "deploy" | "canary">; activeVersion: number; canary: Canary | null }): Promise<Deployment> {
    const now = new Date().toISOString();
    const save = this.db.transaction((): Deployment => {
      const previous = this.deploymentStatements.activeOf.get(script)?.active_version;
      if (previous === undefined) throw new Error(`setDeployment: no script "${script}"`);
      this.deploymentStatements.setPointers.run({
        script,
        active: change.activeVersion,
        canary_version: change.canary?.version ?? null,
        canary_percent: change.canary?.percent ?? null,
        now,
      });
      return this.recordDeployment(script, change.kind, change.activeVersion, previous, change.canary, now);
    });
    return save.immediate();
  }

  async lastActivation(script: string): Promise<Deployment | undefined> {
    const row = this.deploymentStatements.lastActivation.get(script);
    return row && toDeployment(row);
  }

  async listDeployments(script: string, limit: number): Promise<Deployment[]> {
    return this.deploymentStatements.listDeployments.all(script, limit).map(toDeployment);
  }

  private recordDeployment(script: string, kind: DeploymentKind, active: number, previous: number | null, canary: Canary | null, now: string): Deployment {
    const row = this.deploymentStatements.record.get({
      script,
      kind,
      active_version: active,
      previous_version: previous,
      canary_version: canary?.version ?? null,
      canary_percent: canary?.percent ?? null,
      created_at: now,
    })!;
    return toDeployment(row);
  }

  // ---- Secrets -------------------------------------------------------------

  async putSecret(script: string, key: string, sealed: Uint8Array): Promise<{ updatedAt: string; created: boolean }> {
    const now = new Date().toISOString();
    const save = this.db.transaction((): boolean => {
      const existed = (this.secretStatements.exists.get(script, key)?.n ?? 0) > 0;
      this.secretStatements.put.run({ script, key, sealed: Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength), now });
      return !existed;
    });
    return { updatedAt: now, created: save.immediate() };
  }

  async getSecrets(script: string): Promise<SealedSecret[]> {
    return this.secretStatements.list.all(script).map((row) => ({ key: row.key, sealed: new Uint8Array(row.sealed), updatedAt: row.updated_at }));
  }

  async deleteSecret(script: string, key: string): Promise<boolean> {
    return this.secretStatements.delete.run(script, key).changes > 0;
  }

  async countSecrets(): Promise<number> {
    return this.secretStatements.count.get()?.n ?? 0;
  }

  async getSecretsKeyFingerprint(): Promise<string | undefined> {
    return this.secretStatements.getFingerprint.get()?.fingerprint;
  }

  async setSecretsKeyFingerprint(fingerprint: string): Promise<void> {
    this.secretStatements.setFingerprint.run(fingerprint, new Date().toISOString());
  }
}

function toScriptRecord(row: ScriptRow): ScriptRecord {
  return {
    name: row.name,
    activeVersion: row.active_version,
    config: JSON.parse(row.config),
    canary: row.canary_version === null || row.canary_percent === null ? null : { version: row.canary_version, percent: row.canary_percent },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toDeployment(row: DeploymentRow): Deployment {
  return {
    id: row.id,
    script: row.script,
    kind: row.kind,
    activeVersion: row.active_version,
    previousVersion: row.previous_version,
    canary: row.canary_version === null || row.canary_percent === null ? null : { version: row.canary_version, percent: row.canary_percent },
    createdAt: row.created_at,
  };
}

/**
 * Records that the database is open; true when it already was, i.e. the
 * previous run never closed it. A database from before the marker existed
 * counts as crashed once, so that what older crashes left is swept too.
 */
function markOpen(db: Database.Database): boolean {
  const mark = db.transaction((): boolean => {
    const hadMarker = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'store_open'`).get()!.n > 0;
    db.exec(OPEN_MARKER_SCHEMA);
    const wasOpen = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM store_open`).get()!.n > 0;
    db.prepare(`INSERT OR REPLACE INTO store_open (id, opened_at) VALUES (1, ?)`).run(new Date().toISOString());
    return wasOpen || !hadMarker;
  });
  return mark.immediate();
}

/**
 * Adds what deployments and secrets need to a database of any earlier schema:
 * new tables, and the canary columns of \`scripts\`. Scripts deployed before
 * there was a history get one "deploy" row, whose previous version is the one
 * below the active version, so that a rollback has somewhere to go.
 */
function migrateDeployments(db: Database.Database): void {
  const migrate = db.transaction(() => {
    const hadHistory = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'deployments'`).get()!.n > 0;
    db.exec(DEPLOYMENTS_SCHEMA);
    const columns = new Set(db.prepare<[], { name: string }>(`PRAGMA table_info(scripts)`).all().map((column) => column.name));
    if (!columns.has("canary_version")) db.exec(`ALTER TABLE scripts ADD COLUMN canary_version INTEGER`);
    if (!columns.has("canary_percent")) db.exec(`ALTER TABLE scripts ADD COLUMN canary_percent INTEGER`);
    if (!hadHistory) {
      db.exec(
        `INSERT INTO deployments (script, kind, active_version, previous_version, created_at)
         SELECT s.name, 'deploy', s.active_version,
                (SELECT max(v.version) FROM versions v WHERE v.script = s.name AND v.version < s.active_version), s.updated_at
         FROM scripts s ORDER BY s.updated_at`,
      );
    }
  });
  migrate.immediate();
}
