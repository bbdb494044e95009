// Invocation records on disk: their own SQLite file beside the store's
// (`invocations.db`), so that a busy host's records never contend with the
// durable writes of deployments, KV and the queue. Written in batches by the
// observer (./observer.ts); `synchronous = NORMAL`: a power cut may lose the
// last batch, never the file. Kept by age and by count, oldest dropped first.
//
// Records are stored in blocks: one row per script per batch, its records a
// JSON array of arrays (RECORD_FIELDS order). A row per record cost the front
// ~5 µs each (the insert, two indexes, the commit), a block ~1 µs a record;
// reading one back costs ~0.4 µs a record, and queries walk the blocks of a
// script newest first, filtering as a tail does (./filter.ts matches).
import Database from "better-sqlite3";
import { matches, type RecordFilter } from "./filter.js";
import type { InvocationRecord, Outcome, RecordedLogLine, Trigger } from "./records.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS invocation_blocks (
  id INTEGER PRIMARY KEY,
  script TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  first_time INTEGER NOT NULL,
  last_time INTEGER NOT NULL,
  count INTEGER NOT NULL,
  records TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS invocation_blocks_by_script ON invocation_blocks (script, last_seq);
CREATE INDEX IF NOT EXISTS invocation_blocks_by_time ON invocation_blocks (last_time);
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

/** A stored record, as one array in its block: these fields of StoredRecord, in this order. */
type BlockRow = [
  seq: number,
  time: number,
  version: number,
  trigger: Trigger,
  method: string | null,
  path: string | null,
  event: string | null,
  status: number | null,
  outcome: Outcome,
  wallMs: number,
  cpuMs: number | null,
  subrequests: number | null,
  memoryMb: number | null,
  bytesIn: number | null,
  bytesOut: number | null,
  fetchBytesOut: number | null,
  fetchBytesIn: number | null,
  heapMb: number | null,
  error: string | null,
  logs: RecordedLogLine[],
  droppedLogs: number,
];

interface Block {
  id: number;
  script: string;
  first_seq: number;
  last_seq: number;
  first_time: number;
  last_time: number;
  count: number;
  records: string;
}
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

/** Records per block when an earlier file's rows are moved into blocks. */
const MIGRATED_BLOCK_RECORDS = 500;

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

/** A row of the `invocations` table of earlier versions (one per record), read once to move it into blocks. */
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
  private readonly insertBlock;
  private readonly addUsage;
  private readonly addBindingCalls;
  private readonly pruneUsage;
  private readonly setStoredRow;
  /** The next record's seq: one more than any the file holds, across restarts. */
  private nextSeq: number;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
    // Files written before these were recorded.
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
    this.insertBlock = this.db.prepare<[string, number, number, number, number, number, string]>(
      `INSERT INTO invocation_blocks (script, first_seq, last_seq, first_time, last_time, count, records) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.migrateRowTable();
    this.nextSeq = ((this.db.prepare(`SELECT max(last_seq) AS seq FROM invocation_blocks`).get() as { seq: number | null }).seq ?? 0) + 1;
  }

  /** Writes `records`, and adds them and `bindingCalls` to the hourly usage, in one transaction. */
  write(records: readonly InvocationRecord[], bindingCalls: readonly BindingCalls[] = []): void {
    const writeAll = this.db.transaction((batch: readonly InvocationRecord[]) => {
      for (const calls of bindingCalls) this.addBindingCalls.run(calls.script, calls.hour, ...BINDING_COUNTERS.map((counter) => calls.counts[counter]));
      const usage = new Map<string, UsageRow>();
      const blocks = new Map<string, BlockRow[]>();
      for (const r of batch) {
        let block = blocks.get(r.script);
        if (!block) blocks.set(r.script, (block = []));
        block.push([this.nextSeq++, r.time, r.version, r.trigger, r.method, r.path, r.event, r.status, r.outcome, r.wallMs, r.cpuMs, r.subrequests, r.memoryMb, r.bytesIn, r.bytesOut, r.fetchBytesOut, r.fetchBytesIn, r.heapMb, r.error, r.logs, r.droppedLogs]);
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
      for (const [script, rows] of blocks) this.putBlock(script, rows);
      for (const row of usage.values()) {
        this.addUsage.run(row.script, row.hour, row.requests, row.errors, row.cpuMs, row.gbSeconds, row.bytesIn, row.bytesOut, row.fetchBytesOut, row.fetchBytesIn, row.peakHeapMb);
      }
    });
    writeAll(records);
  }

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
    let dropped = 0;
    this.db.transaction(() => {
      // By age: whole blocks older than the cut, then the older part of blocks that straddle it.
      const cut = now - retention.maxAgeMs;
      dropped += (this.db.prepare(`SELECT coalesce(sum(count), 0) AS n FROM invocation_blocks WHERE last_time < ?`).get(cut) as { n: number }).n;
      this.db.prepare(`DELETE FROM invocation_blocks WHERE last_time < ?`).run(cut);
      for (const block of this.db.prepare<[number], Block>(`SELECT * FROM invocation_blocks WHERE first_time < ?`).all(cut)) {
        const rows = JSON.parse(block.records) as BlockRow[];
        const kept = rows.filter((row) => row[1] >= cut);
        dropped += rows.length - kept.length;
        this.replaceBlock(block, kept);
      }
      // By count: the blocks whose newest record is oldest go first, the last of them in part.
      let excess = this.count() - retention.maxRecords;
      for (const block of excess > 0 ? this.db.prepare<[], Block>(`SELECT * FROM invocation_blocks ORDER BY last_seq`).all() : []) {
        if (excess <= 0) break;
        if (block.count <= excess) {
          this.db.prepare(`DELETE FROM invocation_blocks WHERE id = ?`).run(block.id);
          excess -= block.count;
          dropped += block.count;
        } else {
          const rows = JSON.parse(block.records) as BlockRow[];
          this.replaceBlock(block, rows.slice(excess));
          dropped += excess;
          excess = 0;
        }
      }
      this.pruneUsage.run(now - USAGE_RETENTION_MS);
    })();
    return dropped;
  }

  /** A script's records, newest first. */
  query({ script, since, until, filter, before, limit }: RecordQuery): StoredRecord[] {
    const out: StoredRecord[] = [];
    if (limit <= 0) return out;
    const blocks = this.db
      .prepare<[string, number, number, number], Block>(
        `SELECT * FROM invocation_blocks WHERE script = ? AND first_seq < ? AND last_time >= ? AND first_time <= ? ORDER BY last_seq DESC`,
      )
      .iterate(script, before ?? Number.MAX_SAFE_INTEGER, since ?? 0, until ?? Number.MAX_SAFE_INTEGER);
    for (const block of blocks) {
      const rows = JSON.parse(block.records) as BlockRow[];
      for (let i = rows.length - 1; i >= 0; i--) {
        const row = rows[i]!;
        if (before !== undefined && row[0] >= before) continue;
        if ((since !== undefined && row[1] < since) || (until !== undefined && row[1] > until)) continue;
        const record = storedRecord(block.script, row);
        if (!matches(record, filter)) continue;
        out.push(record);
        if (out.length >= limit) {
          // Stops the statement: the rest of the blocks are never read.
          (blocks as IterableIterator<Block> & { return?: () => void }).return?.();
          return out;
        }
      }
    }
    return out;
  }

  /**
   * Wall-time percentiles of the stored records from `since` to `until` (ms),
   * of one script or all, per bucket of `bucketMs` (an hour by default): p50
   * and p99 by nearest rank. Only as far back as the records are kept (their
   * retention), unlike usage(). Oldest first, by script.
   */
  wallPercentiles(query: { script?: string; since: number; until: number; bucketMs?: number }): WallPercentiles[] {
    const bucketMs = query.bucketMs ?? HOUR_MS;
    const walls = new Map<string, { script: string; bucket: number; walls: number[] }>();
    const blocks = this.db
      .prepare<[number, number, string | null, string | null], Block>(`SELECT * FROM invocation_blocks WHERE last_time >= ? AND first_time <= ? AND (? IS NULL OR script = ?)`)
      .all(query.since, query.until, query.script ?? null, query.script ?? null);
    for (const block of blocks) {
      for (const row of JSON.parse(block.records) as BlockRow[]) {
        const time = row[1];
        if (time < query.since || time > query.until) continue;
        const bucket = Math.floor(time / bucketMs) * bucketMs;
        const id = `${block.script}\n${bucket}`;
        let entry = walls.get(id);
        if (!entry) walls.set(id, (entry = { script: block.script, bucket, walls: [] }));
        entry.walls.push(row[9]);
      }
    }
    const out: WallPercentiles[] = [];
    for (const { script, bucket, walls: values } of walls.values()) {
      values.sort((a, b) => a - b);
      const rank = (p: number) => values[Math.min(values.length - 1, Math.max(0, Math.ceil(p * values.length) - 1))]!;
      out.push({ script, bucket, count: values.length, p50: rank(0.5), p99: rank(0.99) });
    }
    return out.sort((a, b) => (a.script < b.script ? -1 : a.script > b.script ? 1 : a.bucket - b.bucket));
  }

  /** How many records the file holds (tests, metrics). */
  count(): number {
    return (this.db.prepare(`SELECT coalesce(sum(count), 0) AS n FROM invocation_blocks`).get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }

  private putBlock(script: string, rows: BlockRow[]): void {
    if (rows.length === 0) return;
    let first = rows[0]![1];
    let last = first;
    for (const row of rows) {
      if (row[1] < first) first = row[1];
      if (row[1] > last) last = row[1];
    }
    this.insertBlock.run(script, rows[0]![0], rows[rows.length - 1]![0], first, last, rows.length, JSON.stringify(rows));
  }

  /** `block` holding only `rows` now (none: it goes). */
  private replaceBlock(block: Block, rows: BlockRow[]): void {
    this.db.prepare(`DELETE FROM invocation_blocks WHERE id = ?`).run(block.id);
    this.putBlock(block.script, rows);
  }

  /**
   * A file of an earlier version keeps a row per record (the `invocations`
   * table): its records move into blocks, in seq order, once.
   */
  private migrateRowTable(): void {
    const legacy = this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'invocations'`).get();
    if (!legacy) return;
    this.db.transaction(() => {
      const pending = new Map<string, BlockRow[]>();
      // Read a page at a time: the connection cannot write while a statement iterates.
      const page = this.db.prepare<[number], Partial<Row> & Pick<Row, "seq" | "script">>(`SELECT * FROM invocations WHERE seq > ? ORDER BY seq LIMIT 10000`);
      for (let after = 0, rows = page.all(after); rows.length > 0; after = rows[rows.length - 1]!.seq, rows = page.all(after)) {
        for (const row of rows) {
          let block = pending.get(row.script);
          if (!block) pending.set(row.script, (block = []));
          block.push(blockRowOf(row));
          if (block.length >= MIGRATED_BLOCK_RECORDS) {
            this.putBlock(row.script, block);
            pending.delete(row.script);
          }
        }
      }
      for (const [script, rows] of pending) this.putBlock(script, rows);
      this.db.exec(`DROP TABLE invocations`);
    })();
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

/** A block's row as the record it stands for. */
function storedRecord(script: string, row: BlockRow): StoredRecord {
  return {
    seq: row[0],
    time: row[1],
    script,
    version: row[2],
    trigger: row[3],
    method: row[4],
    path: row[5],
    event: row[6],
    status: row[7],
    outcome: row[8],
    wallMs: row[9],
    cpuMs: row[10],
    subrequests: row[11],
    memoryMb: row[12],
    bytesIn: row[13],
    bytesOut: row[14],
    fetchBytesOut: row[15],
    fetchBytesIn: row[16],
    heapMb: row[17],
    error: row[18],
    logs: row[19],
    droppedLogs: row[20],
  };
}

/** A row of the earlier `invocations` table as a block's row (columns it predates are null). */
function blockRowOf(row: Partial<Row> & Pick<Row, "seq">): BlockRow {
  return [
    row.seq,
    row.time ?? 0,
    row.version ?? 0,
    (row.trigger ?? "http") as Trigger,
    row.method ?? null,
    row.path ?? null,
    row.event ?? null,
    row.status ?? null,
    (row.outcome ?? "ok") as Outcome,
    row.wall_ms ?? 0,
    row.cpu_ms ?? null,
    row.subrequests ?? null,
    row.memory_mb ?? null,
    row.bytes_in ?? null,
    row.bytes_out ?? null,
    row.fetch_bytes_out ?? null,
    row.fetch_bytes_in ?? null,
    row.heap_mb ?? null,
    row.error ?? null,
    JSON.parse(row.logs ?? "[]") as RecordedLogLine[],
    row.dropped_logs ?? 0,
  ];
}
