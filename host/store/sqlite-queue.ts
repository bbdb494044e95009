// The event queue on the embedded SQLite database. Writes are group-committed
// as KV's are: every enqueue, claim and settlement that arrives in one turn of
// the event loop shares one transaction (one fsync with synchronous=FULL), and
// each resolves only once that transaction is durable.
import type Database from "better-sqlite3";
import type { DeadLetter, NewQueuedEvent, QueuedEvent, QueuedEventKind, QueuedInvocation, QueueStore } from "./queue.js";

export const QUEUE_SCHEMA = `
CREATE TABLE IF NOT EXISTS event_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  script TEXT NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  schedule TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_retries INTEGER NOT NULL,
  max_age_ms INTEGER NOT NULL,
  enqueued_at INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  claimed_until INTEGER,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS event_queue_due ON event_queue (run_at);
CREATE INDEX IF NOT EXISTS event_queue_by_script ON event_queue (script, id);
CREATE INDEX IF NOT EXISTS event_queue_by_schedule ON event_queue (script, schedule) WHERE schedule IS NOT NULL;
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY,
  script TEXT NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  max_retries INTEGER NOT NULL,
  max_age_ms INTEGER NOT NULL,
  enqueued_at INTEGER NOT NULL,
  failed_at INTEGER NOT NULL,
  error TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_by_script ON dead_letters (script, id);
CREATE TABLE IF NOT EXISTS cron_ticks (
  script TEXT NOT NULL,
  schedule TEXT NOT NULL,
  last_tick INTEGER NOT NULL,
  PRIMARY KEY (script, schedule)
) WITHOUT ROWID;
`;

interface EventRow {
  id: number;
  script: string;
  kind: QueuedEventKind;
  payload: string;
  schedule: string | null;
  attempts: number;
  max_retries: number;
  max_age_ms: number;
  enqueued_at: number;
  run_at: number;
  claimed_until: number | null;
  last_error: string | null;
}

interface DeadLetterRow {
  id: number;
  script: string;
  kind: QueuedEventKind;
  payload: string;
  attempts: number;
  enqueued_at: number;
  failed_at: number;
  error: string;
}

/** One write waiting for the next group commit: it runs inside the transaction. */
interface Write {
  run(): unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** Most ids one replay or purge names (SQLite's bound parameters, with room to spare). */
const MAX_IDS = 1000;

export class SqliteQueue implements QueueStore {
  private readonly statements;
  private pending: Write[] = [];
  private readonly commit: (writes: Write[]) => unknown[];

  constructor(private readonly db: Database.Database) {
    db.exec(QUEUE_SCHEMA);
    this.statements = {
      insert: db.prepare<[{ script: string; kind: string; payload: string; schedule: string | null; max_retries: number; max_age_ms: number; now: number; run_at: number }], EventRow>(
        `INSERT INTO event_queue (script, kind, payload, schedule, max_retries, max_age_ms, enqueued_at, run_at)
         VALUES (@script, @kind, @payload, @schedule, @max_retries, @max_age_ms, @now, @run_at) RETURNING *`,
      ),
      setTick: db.prepare<[string, string, number]>(
        `INSERT INTO cron_ticks (script, schedule, last_tick) VALUES (?, ?, ?)
         ON CONFLICT (script, schedule) DO UPDATE SET last_tick = max(last_tick, excluded.last_tick)`,
      ),
      due: db.prepare<[number, number, number], EventRow>(
        `SELECT * FROM event_queue WHERE run_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY run_at, id LIMIT ?`,
      ),
      setClaim: db.prepare<[number, number]>(`UPDATE event_queue SET claimed_until = ? WHERE id = ?`),
      delete: db.prepare<[number]>(`DELETE FROM event_queue WHERE id = ?`),
      retry: db.prepare<[number, string, number]>(`UPDATE event_queue SET attempts = attempts + 1, run_at = ?, last_error = ?, claimed_until = NULL WHERE id = ?`),
      get: db.prepare<[number], EventRow>(`SELECT * FROM event_queue WHERE id = ?`),
      insertDead: db.prepare(
        `INSERT OR REPLACE INTO dead_letters (id, script, kind, payload, attempts, max_retries, max_age_ms, enqueued_at, failed_at, error)
         VALUES (@id, @script, @kind, @payload, @attempts, @max_retries, @max_age_ms, @enqueued_at, @failed_at, @error)`,
      ),
      releaseAll: db.prepare(`UPDATE event_queue SET claimed_until = NULL WHERE claimed_until IS NOT NULL`),
      nextUnclaimed: db.prepare<[], { at: number | null }>(`SELECT min(run_at) AS at FROM event_queue WHERE claimed_until IS NULL`),
      nextLeaseEnd: db.prepare<[], { at: number | null }>(`SELECT min(claimed_until) AS at FROM event_queue WHERE claimed_until IS NOT NULL`),
      hasSchedule: db.prepare<[string, string], { n: number }>(`SELECT count(*) AS n FROM event_queue WHERE script = ? AND schedule = ?`),
      dropSchedule: db.prepare<[string, string]>(`DELETE FROM event_queue WHERE script = ? AND schedule = ? AND claimed_until IS NULL`),
      listPending: db.prepare<[string, number], EventRow>(`SELECT * FROM event_queue WHERE script = ? ORDER BY id LIMIT ?`),
      ticks: db.prepare<[string], { schedule: string; last_tick: number }>(`SELECT schedule, last_tick FROM cron_ticks WHERE script = ?`),
      forceTick: db.prepare<[string, string, number]>(
        `INSERT INTO cron_ticks (script, schedule, last_tick) VALUES (?, ?, ?) ON CONFLICT (script, schedule) DO UPDATE SET last_tick = excluded.last_tick`,
      ),
      deleteTick: db.prepare<[string, string]>(`DELETE FROM cron_ticks WHERE script = ? AND schedule = ?`),
      listDead: db.prepare<[string, number, number], DeadLetterRow>(
        `SELECT id, script, kind, payload, attempts, enqueued_at, failed_at, error FROM dead_letters WHERE script = ? AND id < ? ORDER BY id DESC LIMIT ?`,
      ),
      deadIds: db.prepare<[string], { id: number }>(`SELECT id FROM dead_letters WHERE script = ? ORDER BY id`),
      replay: db.prepare<[number, number, number, string], { id: number }>(
        `INSERT INTO event_queue (id, script, kind, payload, schedule, attempts, max_retries, max_age_ms, enqueued_at, run_at)
         SELECT id, script, kind, payload, NULL, 0, max_retries, max_age_ms, ?, ? FROM dead_letters WHERE id = ? AND script = ? RETURNING id`,
      ),
      deleteDead: db.prepare<[number, string]>(`DELETE FROM dead_letters WHERE id = ? AND script = ?`),
      deleteAllDead: db.prepare<[string]>(`DELETE FROM dead_letters WHERE script = ?`),
      deleteScriptEvents: db.prepare<[string]>(`DELETE FROM event_queue WHERE script = ?`),
      deleteScriptTicks: db.prepare<[string]>(`DELETE FROM cron_ticks WHERE script = ?`),
    };
    this.commit = db.transaction((writes: Write[]) => writes.map((write) => write.run()));
  }

  enqueue(events: NewQueuedEvent[], options: { now?: boolean } = {}): Promise<QueuedEvent[]> {
    const written = this.write(() => {
      const now = Date.now();
      return events.map((event) => {
        const row = this.statements.insert.get({
          script: event.script,
          kind: event.event.kind,
          payload: JSON.stringify(event.event),
          schedule: event.schedule ?? null,
          max_retries: event.maxRetries,
          max_age_ms: event.maxAgeMs,
          now,
          run_at: event.runAt ?? now,
        })!;
        if (event.schedule !== undefined && event.event.kind === "scheduled") this.statements.setTick.run(event.script, event.schedule, event.event.scheduledTime);
        return toQueuedEvent(row);
      });
    });
    if (options.now) this.flushPending();
    return written;
  }

  claim(now: number, limit: number, leaseMs: number): Promise<QueuedEvent[]> {
    return this.write(() => {
      const rows = this.statements.due.all(now, now, limit);
      for (const row of rows) this.statements.setClaim.run(now + leaseMs, row.id);
      return rows.map(toQueuedEvent);
    });
  }

  complete(id: number): Promise<void> {
    return this.write(() => void this.statements.delete.run(id));
  }

  retry(id: number, runAt: number, error: string): Promise<void> {
    return this.write(() => void this.statements.retry.run(runAt, error, id));
  }

  deadLetter(id: number, attempts: number, error: string, now: number): Promise<void> {
    return this.write(() => {
      const row = this.statements.get.get(id);
      if (!row) return;
      this.statements.insertDead.run({
        id: row.id,
        script: row.script,
        kind: row.kind,
        payload: row.payload,
        attempts,
        max_retries: row.max_retries,
        max_age_ms: row.max_age_ms,
        enqueued_at: row.enqueued_at,
        failed_at: now,
        error,
      });
      this.statements.delete.run(id);
    });
  }

  releaseClaims(): Promise<number> {
    return this.write(() => this.statements.releaseAll.run().changes);
  }

  async nextDueAt(): Promise<number | undefined> {
    const unclaimed = this.statements.nextUnclaimed.get()?.at ?? null;
    const leaseEnd = this.statements.nextLeaseEnd.get()?.at ?? null;
    const times = [unclaimed, leaseEnd].filter((at): at is number => at !== null);
    return times.length === 0 ? undefined : Math.min(...times);
  }

  async hasScheduleEvent(script: string, schedule: string): Promise<boolean> {
    return (this.statements.hasSchedule.get(script, schedule)?.n ?? 0) > 0;
  }

  dropScheduleEvents(script: string, schedule: string): Promise<number> {
    return this.write(() => this.statements.dropSchedule.run(script, schedule).changes);
  }

  async listPending(script: string, limit: number): Promise<QueuedEvent[]> {
    return this.statements.listPending.all(script, limit).map(toQueuedEvent);
  }

  async cronTicks(script: string): Promise<Map<string, number>> {
    return new Map(this.statements.ticks.all(script).map((row) => [row.schedule, row.last_tick]));
  }

  setCronTick(script: string, schedule: string, tick: number): Promise<void> {
    return this.write(() => void this.statements.forceTick.run(script, schedule, tick));
  }

  forgetCronTicks(script: string, keep: readonly string[]): Promise<void> {
    const kept = new Set(keep);
    const stale = () => this.statements.ticks.all(script).filter(({ schedule }) => !kept.has(schedule));
    // Most deploys change no schedule: no write, no fsync.
    if (stale().length === 0) return Promise.resolve();
    return this.write(() => {
      for (const { schedule } of stale()) this.statements.deleteTick.run(script, schedule);
    });
  }

  async listDeadLetters(script: string, page: { limit: number; before?: number }): Promise<DeadLetter[]> {
    return this.statements.listDead.all(script, page.before ?? Number.MAX_SAFE_INTEGER, page.limit).map((row) => ({
      id: row.id,
      script: row.script,
      event: JSON.parse(row.payload) as QueuedInvocation,
      attempts: row.attempts,
      enqueuedAt: row.enqueued_at,
      failedAt: row.failed_at,
      error: row.error,
    }));
  }

  replayDeadLetters(script: string, ids: readonly number[] | null, now: number): Promise<number[]> {
    return this.write(() => {
      const chosen = ids ?? this.statements.deadIds.all(script).map((row) => row.id);
      const replayed: number[] = [];
      for (const id of chosen.slice(0, ids === null ? undefined : MAX_IDS)) {
        if (!this.statements.replay.get(now, now, id, script)) continue;
        this.statements.deleteDead.run(id, script);
        replayed.push(id);
      }
      return replayed;
    });
  }

  purgeDeadLetters(script: string, ids: readonly number[] | null): Promise<number> {
    return this.write(() => {
      if (ids === null) return this.statements.deleteAllDead.run(script).changes;
      let purged = 0;
      for (const id of ids.slice(0, MAX_IDS)) purged += this.statements.deleteDead.run(id, script).changes;
      return purged;
    });
  }

  /**
   * Forgets everything queued for a deleted script: its events, dead letters
   * and schedules. Synchronous, so that the store deletes the script and this
   * in one transaction.
   */
  forgetScriptNow(script: string): void {
    this.statements.deleteScriptEvents.run(script);
    this.statements.deleteAllDead.run(script);
    this.statements.deleteScriptTicks.run(script);
  }

  /** Commits the writes waiting for the next turn now (the store is closing). */
  flushPending(): void {
    if (this.pending.length > 0) this.flush();
  }

  private write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const writes = this.pending;
    if (writes.length === 0) return;
    this.pending = [];
    let results: unknown[];
    try {
      results = this.commit(writes);
    } catch (error) {
      // One failing write rolls back the batch: the others are tried again, each on its own.
      if (writes.length > 1) for (const write of writes) this.retryAlone(write);
      else writes[0]?.reject(error);
      return;
    }
    writes.forEach((write, index) => write.resolve(results[index]));
  }

  private retryAlone(write: Write): void {
    try {
      write.resolve(this.commit([write])[0]);
    } catch (error) {
      write.reject(error);
    }
  }
}

function toQueuedEvent(row: EventRow): QueuedEvent {
  return {
    id: row.id,
    script: row.script,
    event: JSON.parse(row.payload) as QueuedInvocation,
    schedule: row.schedule,
    attempts: row.attempts,
    maxRetries: row.max_retries,
    maxAgeMs: row.max_age_ms,
    enqueuedAt: row.enqueued_at,
    runAt: row.run_at,
    lastError: row.last_error,
  };
}
