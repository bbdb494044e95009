// The store's schema grows by adding only: a database written before there
// were canaries, a deployment history and secrets opens as it is, keeps every
// version, and gets a history in which a rollback has somewhere to go.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { SqliteStore } from "../host/store/sqlite.js";

/** The schema as it was before deployments and secrets (commit 0817b0f). */
const FIRST_SCHEMA = `
CREATE TABLE scripts (name TEXT PRIMARY KEY, active_version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE versions (script TEXT NOT NULL, version INTEGER NOT NULL, config TEXT NOT NULL, bundle TEXT NOT NULL, bundle_hash TEXT NOT NULL,
  bundle_bytes INTEGER NOT NULL, bundle_gzip_bytes INTEGER NOT NULL, code_cache BLOB, message TEXT, created_at TEXT NOT NULL, PRIMARY KEY (script, version));
CREATE TABLE version_counters (script TEXT PRIMARY KEY, last_version INTEGER NOT NULL);
`;

test("a database of the first schema opens, keeps its versions and gains a history", async () => {
  const dir = mkdtempSync(join(tmpdir(), "atoll-migration-"));
  try {
    const file = join(dir, "atoll.db");
    const old = new Database(file);
    old.exec(FIRST_SCHEMA);
    const config = JSON.stringify({ name: "legacy", main: "x.ts", routes: [], vars: {} });
    for (const version of [1, 2, 4]) {
      old.prepare(`INSERT INTO versions VALUES ('legacy', ?, ?, 'export default {}', 'h', 17, 20, NULL, NULL, '2025-01-0${version}T00:00:00.000Z')`).run(version, config);
    }
    old.exec(`INSERT INTO scripts VALUES ('legacy', 4, '2025-01-01T00:00:00.000Z', '2025-01-04T00:00:00.000Z'); INSERT INTO version_counters VALUES ('legacy', 4);`);
    old.close();

    for (let opening = 0; opening < 2; opening++) {
      const store = new SqliteStore(file);
      try {
        const script = await store.getScript("legacy");
        assert.deepEqual([script?.activeVersion, script?.canary], [4, null]);
        assert.deepEqual((await store.listVersions("legacy", { limit: 10 })).map((v) => v.version), [4, 2, 1]);
        const history = await store.listDeployments("legacy", 10);
        assert.equal(history.length, 1, "the backfill runs once");
        assert.deepEqual([history[0]!.kind, history[0]!.activeVersion, history[0]!.previousVersion], ["deploy", 4, 2]);
        assert.equal(await store.countSecrets(), 0);
      } finally {
        await store.close();
      }
    }

    const store = new SqliteStore(file);
    try {
      const saved = await store.putVersion({ script: "legacy", config: JSON.parse(config), bundle: "export default {}", bundleHash: "h", bundleBytes: 17, bundleGzipBytes: 20, codeCache: null, message: null });
      assert.equal(saved.version, 5);
      assert.equal((await store.lastActivation("legacy"))?.previousVersion, 4);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
