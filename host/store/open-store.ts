// Which store a host runs on, from `atoll start --store` and `--objects`:
// the embedded SQLite file and object files in the data directory (the
// default, one host), or state in a Redis that several hosts share
// (`redis://HOST:PORT[/DB]`) and objects in an S3-compatible bucket
// (`s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION`, credentials from the
// usual AWS variables: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE…).
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { BadStoreUrlError } from "../errors.js";
import type { ObjectStore } from "./objects.js";
import { RedisConnection } from "./redis-connection.js";
import { RedisStore } from "./redis.js";
import { S3Objects, type S3Location } from "./s3-objects.js";
import { SqliteObjects } from "./sqlite-objects.js";
import { SqliteStore } from "./sqlite.js";
import type { Store } from "./store.js";

export interface OpenedStore {
  store: Store;
  /** Several hosts may share it: cluster changes, short claim leases, the secrets key checked strictly. */
  shared: boolean;
  /** Lines for the host's log: what it runs on, and what to mind. */
  notes: string[];
}

/** `storeUrl`: "sqlite" (default) or redis://…; `objectsUrl`: "local" (default) or s3://…. */
export async function openStore(dataDir: string, storeUrl = "sqlite", objectsUrl = "local"): Promise<OpenedStore> {
  const s3 = objectsUrl === "local" ? null : parseS3Url(objectsUrl);
  const objects = s3 ? new S3Objects(s3, join(dataDir, "s3-uploads")) : null;
  const closeObjects = async () => objects?.close();
  const notes: string[] = [];
  if (s3) notes.push(`objects in s3://${s3.bucket}/${s3.prefix}${s3.endpoint ? ` at ${s3.endpoint}` : ""}`);
  if (storeUrl === "sqlite") {
    const store = new SqliteStore(join(dataDir, "atoll.db"), undefined, objects ?? undefined);
    if (store.crashRecovery?.unreferencedObjectFiles) {
      notes.push(`the store was not closed cleanly last time: removed ${store.crashRecovery.unreferencedObjectFiles} object files that no object record points at`);
    }
    return { store, shared: false, notes };
  }
  const url = parseRedisUrl(storeUrl);
  const connection = await RedisConnection.open(url);
  let localObjects: ObjectStore | null = null;
  let localDb: Database.Database | null = null;
  if (!objects) {
    localDb = new Database(join(dataDir, "objects.db"));
    localDb.pragma("journal_mode = WAL");
    localDb.pragma("synchronous = FULL");
    localObjects = new SqliteObjects(localDb, join(dataDir, "objects"));
    notes.push("buckets are this host's own (--objects local): other hosts do not see them; give every host --objects s3://BUCKET?endpoint=URL to share them");
  }
  notes.unshift(`state in Redis at ${new URL(url).host}${new URL(url).pathname}`);
  const store = new RedisStore(connection, objects ?? localObjects!, hostId(dataDir), async () => {
    await closeObjects();
    localDb?.close();
  });
  return { store, shared: true, notes };
}

function parseRedisUrl(given: string): string {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new BadStoreUrlError("--store", given, "is not a URL: use sqlite (the default) or redis://HOST:PORT[/DB]");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw new BadStoreUrlError("--store", given, "is not a store Atoll knows: use sqlite (the default) or redis://HOST:PORT[/DB] (rediss:// for TLS)");
  const db = url.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d{1,2}$/.test(db)) throw new BadStoreUrlError("--store", given, "names a database that is not a number: redis://HOST:PORT/0 … /15");
  return given;
}

function parseS3Url(given: string): S3Location {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new BadStoreUrlError("--objects", given, "is not a URL: use local (the default) or s3://BUCKET[/PREFIX]?endpoint=URL");
  }
  if (url.protocol !== "s3:") throw new BadStoreUrlError("--objects", given, "is not an object store Atoll knows: use local (the default) or s3://BUCKET[/PREFIX]?endpoint=URL");
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(url.hostname)) throw new BadStoreUrlError("--objects", given, "does not name an S3 bucket (3 to 63 characters of a-z, 0-9, '.' and '-')");
  for (const key of url.searchParams.keys()) {
    if (key !== "endpoint" && key !== "region") throw new BadStoreUrlError("--objects", given, `has an unknown parameter "${key}": only endpoint and region are taken`);
  }
  const endpoint = url.searchParams.get("endpoint") ?? undefined;
  if (endpoint !== undefined && !/^https?:\/\//.test(endpoint)) throw new BadStoreUrlError("--objects", given, "has an endpoint that is not an http:// or https:// URL");
  const path = decodeURIComponent(url.pathname.replace(/^\//, ""));
  return {
    bucket: url.hostname,
    prefix: path === "" || path.endsWith("/") ? path : `${path}/`,
    ...(endpoint ? { endpoint } : {}),
    region: url.searchParams.get("region") ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
  };
}

/** This host's id, kept in its data directory: its queue claims carry it, so a restart releases its own. */
function hostId(dataDir: string): string {
  const file = join(dataDir, "host-id");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const id = randomUUID();
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}
