// Invocation records on disk: their own SQLite file beside the store's
// (`invocations.db`), so that a busy host's records never contend with the
// durable writes of deployments, KV and the queue. Written in batches by the
// observer (./observer.ts); `synchronous = NORMAL`: a power cut may lose the
// last batch, never the file. Kept by age and by count, oldest dropped first.
import Database from "better-sqlite3";
import type { RecordFilter } from "./filter.js";
import type { InvocationRecord, Outcome, RecordedLogLine, Trigger } from "./records.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS invocations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  script TEXT NOT NULL,
  version INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  method TEXT,
  path TEXT,
  event TEXT,
  status INTEGER,
  outcome TEXT NOT NULL,
  wall_ms REAL NOT NULL,
  cpu_ms REAL,
  subrequests INTEGER,
  memory_mb INTEGER,
  bytes_in INTEGER,
  bytes_out INTEGER,
  fetch_bytes_out INTEGER,
  fetch_bytes_in INTEGER,
  heap_mb REAL,
  error TEXT,
  logs TEXT NOT NULL,
  dropped_logs INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS invocations_by_script ON invocations (script, time);
CREATE INDEX IF NOT EXISTS invocations_by_time ON invocations (time);
CREATE TABLE IF NOT EXISTS usage_hours (
  script TEXT NOT NULL,
  hour INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  cpu_ms REAL NOT NULL,
  gb_s REAL NOT NULL,
  bytes_in INTEGER NOT NULL,
  bytes_out INTEGER NOT NULL,
  PRIMARY KEY (script, hour)
);
`;

/** Columns added to the files of earlier versions, with their SQL type. */
const ADDED_RECORD_COLUMNS: readonly (readonly [string, string])[] = [
  ["memory_mb", "INTEGER"],
  ["subrequests", "INTEGER"],
  ["fetch_bytes_out", "INTEGER"],
  ["fetch_bytes_in", "INTEGER"],
  ["heap_mb", "REAL"],
];
/** Usage columns that are not plain sums of the records: the peak heap is their maximum, the stored bytes a sample (setStored). */
const ADDED_USAGE_COLUMNS: readonly (readonly [string, string])[] = [
  ["fetch_bytes_out", "INTEGER NOT NULL DEFAULT 0"],
  ["fetch_bytes_in", "INTEGER NOT NULL DEFAULT 0"],
  ["peak_heap_mb", "REAL NOT NULL DEFAULT 0"],
  ["bytes_stored", "INTEGER NOT NULL DEFAULT 0"],
  ["objects_stored", "INTEGER NOT NULL DEFAULT 0"],
];

/** Binding calls metered per script and hour, as Workers and R2 bill them. */
export const BINDING_COUNTERS = ["kv_reads", "kv_writes", "kv_lists", "bucket_class_a", "bucket_class_b"] as const;
export type BindingCounter = (typeof BINDING_COUNTERS)[number];

/** Which counter a binding call adds to; null for the plumbing of one (chunks, reads of a body) and the Cache API. */
export function bindingCounter(kind: "kv" | "bucket" | "cache", method: string): BindingCounter | null {
  if (kind === "kv") return method === "get" ? "kv_reads" : method === "put" || method === "delete" ? "kv_writes" : method === "list" ? "kv_lists" : null;
  if (kind === "bucket") return method === "put" || method === "commitPut" || method === "list" ? "bucket_class_a" : method === "get" || method === "head" ? "bucket_class_b" : null;
  return null;
}

/** Usage is kept this long whatever the records' retention: it is the meter, ms. */
const USAGE_RETENTION_MS = 400 * 24 * 3600 * 1000;
const HOUR_MS = 3600 * 1000;

/** One script's use over one hour (or over a whole query, summed). */
export interface UsageRow {
  script: string;
  /** The hour's start, ms since the epoch. */
  hour: number;
  requests: number;
  /** Invocations whose outcome was not ok, or that answered 5xx. */
  errors: number;
  cpuMs: number;
  /** Wall seconds × memory_mb / 1024, as Lambda bills. */
  gbSeconds: number;
  bytesIn: number;
  bytesOut: number;
  /** Bytes its outbound fetches and service calls sent and received (their bodies). */
  fetchBytesOut: number;
  fetchBytesIn: number;
  /** The most memory one of its isolates held at the end of an invocation this hour, MiB (InvocationRecord.heapMb). */
  peakHeapMb: number;
  /**
   * What the buckets it binds held at the hour's last measurement (the
   * storage sampler, ./storage-sampler.ts): a bucket bound by several scripts
   * is split evenly between them, so that the scripts' figures add up to what
   * is stored. Billed, as R2 bills, by GB-month: an hour is 1/730 of a month.
   */
  bytesStored: number;
  objectsStored: number;
  /** KV gets, puts and deletes, lists; bucket writes and lists (R2's class A), reads and heads (class B). */
  kvReads: number;
  kvWrites: number;
  kvLists: number;
  bucketClassA: number;
  bucketClassB: number;
}

interface Row {
  seq: number;
  time: number;
  script: string;
  version: number;
  trigger: string;
  method: string | null;
  path: string | null;
  event: string | null;
  status: number | null;
  outcome: string;
  wall_ms: number;
  cpu_ms: number | null;
  subrequests: number | null;
  memory_mb: number | null;
  bytes_in: number | null;
  bytes_out: number | null;
  fetch_bytes_out: number | null;
  fetch_bytes_in: number | null;
  heap_mb: number | null;
  error: string | null;
  logs: string;
  dropped_logs: number;
}

/** Wall-time percentiles of one script's records over one bucket of time (InvocationStore.wallPercentiles). */
export interface WallPercentiles {
  script: string;
  /** The bucket's start, ms since the epoch. */
  bucket: number;
  /** Records in it. */
  count: number;
  p50: number;
  p99: number;
}

/** One script's binding calls over one hour, by counter. */
export interface BindingCalls {
  script: string;
  hour: number;
  counts: Record<BindingCounter, number>;
}

/** A stored record: `seq` orders every record the file holds, across restarts. */
export type StoredRecord = Omit<InvocationRecord, "id"> & { seq: number };

export interface RecordQuery {
  script: string;
  /** ms since the epoch. */
  since?: number;
  until?: number;
  filter: RecordFilter;
  /** Records older than this seq (the next page). */
  before?: number;
  limit: number;
}

export interface Retention {
  /** Records older than this are dropped, ms. */
  maxAgeMs: number;
  /** At most this many records are kept (the oldest go first). */
  maxRecords: number;
}

export class InvocationStore {
  private readonly db: Database.Database;
  private readonly insert;
  private readonly pruneAge;
  private readonly pruneCount;
  private readonly addUsage;
  private readonly addBindingCalls;
  private readonly pruneUsage;
  private readonly setStoredRow;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
    // Files written before these were recorded.
    this.addColumns("invocations", ADDED_RECORD_COLUMNS);
    this.addColumns("usage_hours", [...BINDING_COUNTERS.map((counter) => [counter, "INTEGER NOT NULL DEFAULT 0"] as const), ...ADDED_USAGE_COLUMNS]);
    this.addBindingCalls = this.db.prepare(
      `INSERT INTO usage_hours (script, hour, requests, errors, cpu_ms, gb_s, bytes_in, bytes_out, ${BINDING_COUNTERS.join(", ")}) VALUES (?, ?, 0, 0, 0, 0, 0, 0, ?, ?, ?, ?, ?)
       ON CONFLICT (script, hour) DO UPDATE SET ${BINDING_COUNTERS.map((column) => `${column} = ${column} + excluded.${column}`).join(", ")}`,
    );
    this.addUsage = this.db.prepare(
      `INSERT INTO usage_hours (script, hour, requests, errors, cpu_ms, gb_s, bytes_in, bytes_out, fetch_bytes_out, fetch_bytes_in, peak_heap_mb) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (script, hour) DO UPDATE SET requests = requests + excluded.requests, errors = errors + excluded.errors, cpu_ms = cpu_ms + excluded.cpu_ms,
         gb_s = gb_s + excluded.gb_s, bytes_in = bytes_in + excluded.bytes_in, bytes_out = bytes_out + excluded.bytes_out,
         fetch_bytes_out = fetch_bytes_out + excluded.fetch_bytes_out, fetch_bytes_in = fetch_bytes_in + excluded.fetch_bytes_in, peak_heap_mb = max(peak_heap_mb, excluded.peak_heap_mb)`,
    );
    this.setStoredRow = this.db.prepare(
      `INSERT INTO usage_hours (script, hour, requests, errors, cpu_ms, gb_s, bytes_in, bytes_out, bytes_stored, objects_stored) VALUES (?, ?, 0, 0, 0, 0, 0, 0, ?, ?)
       ON CONFLICT (script, hour) DO UPDATE SET bytes_stored = excluded.bytes_stored, objects_stored = excluded.objects_stored`,
    );
    this.pruneUsage = this.db.prepare<[number]>(`DELETE FROM usage_hours WHERE hour < ?`);
    this.insert = this.db.prepare(
      `INSERT INTO invocations (time, script, version, trigger, method, path, event, status, outcome, wall_ms, cpu_ms, subrequests, memory_mb, bytes_in, bytes_out, fetch_bytes_out, fetch_bytes_in, heap_mb, error, logs, dropped_logs)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.pruneAge = this.db.prepare<[number]>(`DELETE FROM invocations WHERE time < ?`);
    this.pruneCount = this.db.prepare<[number]>(`DELETE FROM invocations WHERE seq <= (SELECT seq FROM invocations ORDER BY seq DESC LIMIT 1 OFFSET ?)`);
  }

  /** Writes `records`, and adds them and `bindingCalls` to the hourly usage, in one transaction. */
  write(records: readonly InvocationRecord[], bindingCalls: readonly BindingCalls[] = []): void {
    const writeAll = this.db.transaction((batch: readonly InvocationRecord[]) => {
      for (const calls of bindingCalls) this.addBindingCalls.run(calls.script, calls.hour, ...BINDING_COUNTERS.map((counter) => calls.counts[counter]));
      const usage = new Map<string, UsageRow>();
      // Positional parameters: binding by name cost a third of the insert.
      for (const r of batch) {
        const logs = r.logs.length === 0 ? "[]" : JSON.stringify(r.logs);
        this.insert.run(r.time, r.script, r.version, r.trigger, r.method, r.path, r.event, r.status, r.outcome, r.wallMs, r.cpuMs, r.subrequests, r.memoryMb, r.bytesIn, r.bytesOut, r.fetchBytesOut, r.fetchBytesIn, r.heapMb, r.error, logs, r.droppedLogs);
        const hour = Math.floor(r.time / HOUR_MS) * HOUR_MS;
        const id = `${r.script}\n${hour}`;
        let row = usage.get(id);
        if (!row) usage.set(id, (row = { ...emptyUsage(r.script), hour }));
        row.requests++;
        if (r.outcome !== "ok" || (r.status !== null && r.status >= 500)) row.errors++;
        row.cpuMs += r.cpuMs ?? 0;
        row.gbSeconds += ((r.wallMs / 1000) * (r.memoryMb ?? 0)) / 1024;
        row.bytesIn += r.bytesIn ?? 0;
        row.bytesOut += r.bytesOut ?? 0;
        row.fetchBytesOut += r.fetchBytesOut ?? 0;
        row.fetchBytesIn += r.fetchBytesIn ?? 0;
        if (r.heapMb !== null && r.heapMb > row.peakHeapMb) row.peakHeapMb = r.heapMb;
      }
      for (const row of usage.values()) {
        this.addUsage.run(row.script, row.hour, row.requests, row.errors, row.cpuMs, row.gbSeconds, row.bytesIn, row.bytesOut, row.fetchBytesOut, row.fetchBytesIn, row.peakHeapMb);
      }
    });
    writeAll(records);
  }

  /** Sets what each script's buckets hold in the hour of `time` (ms): the storage sampler's measurement, replacing the hour's earlier one. */
  setStored(rows: readonly { script: string; bytes: number; objects: number }[], time = Date.now()): void {
    const hour = Math.floor(time / HOUR_MS) * HOUR_MS;
    this.db.transaction(() => {
      for (const row of rows) this.setStoredRow.run(row.script, hour, row.bytes, row.objects);
    })();
  }

  /** Hourly usage from `since` to `until` (ms), of one script or all, oldest first. */
  usage(query: { script?: string; since: number; until: number }): UsageRow[] {
    const rows = this.db
      .prepare<[number, number, string | null, string | null], UsageHourRow>(
        `SELECT * FROM usage_hours WHERE hour >= ? AND hour <= ? AND (? IS NULL OR script = ?) ORDER BY hour, script`,
      )
      .all(Math.floor(query.since / HOUR_MS) * HOUR_MS, query.until, query.script ?? null, query.script ?? null);
    return rows.map((row) => ({
      script: row.script,
      hour: row.hour,
      requests: row.requests,
      errors: row.errors,
      cpuMs: row.cpu_ms,
      gbSeconds: row.gb_s,
      bytesIn: row.bytes_in,
      bytesOut: row.bytes_out,
      fetchBytesOut: row.fetch_bytes_out,
      fetchBytesIn: row.fetch_bytes_in,
      peakHeapMb: row.peak_heap_mb,
      bytesStored: row.bytes_stored,
      objectsStored: row.objects_stored,
      kvReads: row.kv_reads,
      kvWrites: row.kv_writes,
      kvLists: row.kv_lists,
      bucketClassA: row.bucket_class_a,
      bucketClassB: row.bucket_class_b,
    }));
  }

  /** Drops what is past `retention`; returns how many records went. */
  prune(retention: Retention, now = Date.now()): number {
    const byAge = this.pruneAge.run(now - retention.maxAgeMs).changes;
    const byCount = this.pruneCount.run(retention.maxRecords).changes;
    this.pruneUsage.run(now - USAGE_RETENTION_MS);
    return byAge + byCount;
  }

  /** A script's records, newest first. */
  query({ script, since, until, filter, before, limit }: RecordQuery): StoredRecord[] {
    const where = ["script = @script"];
    const params: Record<string, unknown> = { script, limit };
    if (since !== undefined) (where.push("time >= @since"), (params.since = since));
    if (until !== undefined) (where.push("time <= @until"), (params.until = until));
    if (before !== undefined) (where.push("seq < @before"), (params.before = before));
    if (filter.status !== null) {
      where.push(`(${filter.status.map((_, i) => `(status BETWEEN @from${i} AND @to${i})`).join(" OR ")})`);
      filter.status.forEach((range, i) => ((params[`from${i}`] = range.from), (params[`to${i}`] = range.to)));
    }
    const inList = (column: string, values: ReadonlySet<string> | null, prefix: string) => {
      if (values === null) return;
      const names = [...values].map((value, i) => ((params[`${prefix}${i}`] = value), `@${prefix}${i}`));
      where.push(`${column} IN (${names.join(", ")})`);
    };
    inList("outcome", filter.outcomes, "outcome");
    inList("method", filter.methods, "method");
    inList("trigger", filter.triggers, "trigger");
    if (filter.search !== null) {
      // instr on lower(): no LIKE wildcards to escape in what the user typed.
      where.push("(instr(lower(coalesce(path, '')), @search) > 0 OR instr(lower(coalesce(event, '')), @search) > 0 OR instr(lower(coalesce(error, '')), @search) > 0 OR instr(lower(logs), @search) > 0)");
      params.search = filter.search;
    }
    const rows = this.db.prepare<Record<string, unknown>, Row>(`SELECT * FROM invocations WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT @limit`).all(params);
    return rows.map(recordOf);
  }

  /**
   * Wall-time percentiles of the stored records from `since` to `until` (ms),
   * of one script or all, per bucket of `bucketMs` (an hour by default): p50
   * and p99 by nearest rank. Only as far back as the records are kept (their
   * retention), unlike usage(). Oldest first, by script.
   */
  wallPercentiles(query: { script?: string; since: number; until: number; bucketMs?: number }): WallPercentiles[] {
    const bucketMs = query.bucketMs ?? HOUR_MS;
    const rows = this.db
      .prepare<[number, number, number, number, string | null, string | null], [string, number, number]>(
        `SELECT script, CAST(time / ? AS INTEGER) * ? AS bucket, wall_ms FROM invocations WHERE time >= ? AND time <= ? AND (? IS NULL OR script = ?) ORDER BY script, bucket, wall_ms`,
      )
      .raw()
      .all(bucketMs, bucketMs, query.since, query.until, query.script ?? null, query.script ?? null);
    const out: WallPercentiles[] = [];
    if (rows.length === 0) return out;
    let start = 0;
    for (let i = 1; i <= rows.length; i++) {
      const first = rows[start]!;
      const row = rows[i];
      if (row !== undefined && row[0] === first[0] && row[1] === first[1]) continue;
      const walls = rows.slice(start, i).map((r) => r[2]);
      const rank = (p: number) => walls[Math.min(walls.length - 1, Math.max(0, Math.ceil(p * walls.length) - 1))]!;
      out.push({ script: first[0], bucket: first[1], count: walls.length, p50: rank(0.5), p99: rank(0.99) });
      start = i;
    }
    return out;
  }

  /** How many records the file holds (tests, metrics). */
  count(): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM invocations`).get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }

  /** Adds the `columns` a file of an earlier version lacks. */
  private addColumns(table: string, columns: readonly (readonly [string, string])[]): void {
    const existing = new Set((this.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((column) => column.name));
    for (const [name, type] of columns) if (!existing.has(name)) this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
  }
}

type UsageHourRow = {
  script: string;
  hour: number;
  requests: number;
  errors: number;
  cpu_ms: number;
  gb_s: number;
  bytes_in: number;
  bytes_out: number;
  fetch_bytes_out: number;
  fetch_bytes_in: number;
  peak_heap_mb: number;
  bytes_stored: number;
  objects_stored: number;
} & Record<BindingCounter, number>;

/** A script's usage row with nothing counted yet (hour 0). */
export function emptyUsage(script: string): UsageRow {
  return {
    script,
    hour: 0,
    requests: 0,
    errors: 0,
    cpuMs: 0,
    gbSeconds: 0,
    bytesIn: 0,
    bytesOut: 0,
    fetchBytesOut: 0,
    fetchBytesIn: 0,
    peakHeapMb: 0,
    bytesStored: 0,
    objectsStored: 0,
    kvReads: 0,
    kvWrites: 0,
    kvLists: 0,
    bucketClassA: 0,
    bucketClassB: 0,
  };
}

/**
 * Hours of one script summed into one row: counters add up, the peak heap is
 * the highest, and the stored bytes are the latest hour's (`rows` oldest first).
 */
export function sumUsage(script: string, rows: readonly UsageRow[]): UsageRow {
  const total = emptyUsage(script);
  for (const row of rows) {
    total.requests += row.requests;
    total.errors += row.errors;
    total.cpuMs += row.cpuMs;
    total.gbSeconds += row.gbSeconds;
    total.bytesIn += row.bytesIn;
    total.bytesOut += row.bytesOut;
    total.fetchBytesOut += row.fetchBytesOut;
    total.fetchBytesIn += row.fetchBytesIn;
    total.peakHeapMb = Math.max(total.peakHeapMb, row.peakHeapMb);
    total.kvReads += row.kvReads;
    total.kvWrites += row.kvWrites;
    total.kvLists += row.kvLists;
    total.bucketClassA += row.bucketClassA;
    total.bucketClassB += row.bucketClassB;
  }
  const latest = rows[rows.length - 1];
  if (latest) {
    total.hour = rows[0]!.hour;
    total.bytesStored = latest.bytesStored;
    total.objectsStored = latest.objectsStored;
  }
  return total;
}

function recordOf(row: Row): StoredRecord {
  return {
    seq: row.seq,
    time: row.time,
    script: row.script,
    version: row.version,
    trigger: row.trigger as Trigger,
    method: row.method,
    path: row.path,
    event: row.event,
    status: row.status,
    outcome: row.outcome as Outcome,
    wallMs: row.wall_ms,
    cpuMs: row.cpu_ms,
    subrequests: row.subrequests,
    memoryMb: row.memory_mb,
    bytesIn: row.bytes_in,
    bytesOut: row.bytes_out,
    fetchBytesOut: row.fetch_bytes_out,
    fetchBytesIn: row.fetch_bytes_in,
    heapMb: row.heap_mb,
    error: row.error,
    logs: JSON.parse(row.logs) as RecordedLogLine[],
    droppedLogs: row.dropped_logs,
  };
}
