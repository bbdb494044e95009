// The durable event queue part of the store: events that cron schedules,
// bucket changes and `atoll invoke --async` hand to functions, delivered at
// least once, retried with back-off, dead-lettered per script when they keep
// failing; and when each cron schedule last fired. The delivery logic lives in
// host/triggers/event-dispatcher.ts; this is only what must survive a crash.
import type { HeaderList } from "../runtime/protocol.js";

/** What a queued event runs: the function's handler and its argument, as JSON. */
export type QueuedInvocation =
  | {
      kind: "scheduled";
      /** The schedule as written (or given to `atoll invoke --cron`). */
      cron: string;
      /** When the tick was due, ms since the epoch. */
      scheduledTime: number;
    }
  | {
      kind: "storage";
      bucket: string;
      key: string;
      action: "put" | "delete";
      size: number;
      etag: string;
      /** ISO 8601. */
      time: string;
      /** How many storage invocations led to this event, itself included (1: a write from outside any). */
      depth: number;
    }
  | {
      kind: "http";
      method: string;
      /** Path and query, e.g. "/run?x=1". */
      path: string;
      headers: HeaderList;
      /** The request body, base64; null for none. */
      body: string | null;
    };

export type QueuedEventKind = QueuedInvocation["kind"];

export interface NewQueuedEvent {
  script: string;
  event: QueuedInvocation;
  /** Retries after the first failed attempt. */
  maxRetries: number;
  /** An event older than this is dead-lettered instead of run, ms. */
  maxAgeMs: number;
  /** Not before this time, ms since the epoch (default: now). */
  runAt?: number;
  /**
   * The cron schedule whose tick this is (see CronScheduler). Enqueuing it
   * records the tick as the schedule's last one in the same transaction.
   */
  schedule?: string;
}

export interface QueuedEvent {
  /** Increases with every event; kept when the event is dead-lettered and replayed. */
  id: number;
  script: string;
  event: QueuedInvocation;
  schedule: string | null;
  /** Failed attempts so far. */
  attempts: number;
  maxRetries: number;
  maxAgeMs: number;
  /** ms since the epoch. */
  enqueuedAt: number;
  runAt: number;
  /** Why the last attempt failed. */
  lastError: string | null;
}

export interface DeadLetter {
  /** The event's id in the queue. */
  id: number;
  script: string;
  event: QueuedInvocation;
  /** Attempts made, the failed ones (0 when it expired before any). */
  attempts: number;
  /** ms since the epoch. */
  enqueuedAt: number;
  failedAt: number;
  /** Why it was given up: the last error, "noRetry()", or the age limit. */
  error: string;
}

export interface QueueStore {
  /**
   * Adds events; durable once resolved (a crash after that loses none).
   * `now`: commit without waiting to share the next group commit; the SQLite
   * store has committed before the call returns (a bucket write's events are
   * durable before the write is acknowledged).
   */
  enqueue(events: NewQueuedEvent[], options?: { now?: boolean }): Promise<QueuedEvent[]>;
  /**
   * Takes up to `limit` events that are due (run_at ≤ now) and unclaimed, or
   * whose claim expired, oldest due first; each is claimed until now + leaseMs.
   */
  claim(now: number, limit: number, leaseMs: number): Promise<QueuedEvent[]>;
  /** The event was handled: it leaves the queue. */
  complete(id: number): Promise<void>;
  /** The attempt failed and the event will be tried again at `runAt`; counts the failure. */
  retry(id: number, runAt: number, error: string): Promise<void>;
  /**
   * The event is given up: it moves to its script's dead-letter list, with
   * `attempts` (the failed attempts, this one included) and why.
   */
  deadLetter(id: number, attempts: number, error: string, now: number): Promise<void>;
  /**
   * Drops the claims this host left (it is starting: nothing of its own is in
   * flight); a store shared by several hosts keeps the others'. Returns how many.
   */
  releaseClaims(): Promise<number>;
  /**
   * Set on a store shared by several hosts, whose leases are short: extends
   * this host's claims on events still running to `until`, so that no other
   * host takes them over while this one is alive.
   */
  renewClaims?(ids: readonly number[], until: number): Promise<void>;
  /** When the next unclaimed event is due, or the next claim expires; undefined: the queue is empty. */
  nextDueAt(): Promise<number | undefined>;
  /** Whether the schedule has an event in the queue (waiting, running or waiting to retry). */
  hasScheduleEvent(script: string, schedule: string): Promise<boolean>;
  /** Drops the schedule's events that are not running now (the schedule was removed); returns how many. */
  dropScheduleEvents(script: string, schedule: string): Promise<number>;
  /** Events waiting or running, oldest first. */
  listPending(script: string, limit: number): Promise<QueuedEvent[]>;

  // ---- cron schedules ------------------------------------------------------

  /** The last tick of each of the script's schedules that fired (or was recorded when the schedule appeared). */
  cronTicks(script: string): Promise<Map<string, number>>;
  /** Records a schedule's last tick (a new schedule starts from now: no tick before it existed is owed). */
  setCronTick(script: string, schedule: string, tick: number): Promise<void>;
  /** Forgets the script's schedules other than `keep`. */
  forgetCronTicks(script: string, keep: readonly string[]): Promise<void>;

  // ---- dead letters --------------------------------------------------------

  /** Newest first; those with an id below `before` when given. */
  listDeadLetters(script: string, page: { limit: number; before?: number }): Promise<DeadLetter[]>;
  /**
   * Puts dead letters (all of the script's, or those of `ids`) back in the
   * queue, due now, their attempts reset and their age counted from now.
   * Returns the ids replayed.
   */
  replayDeadLetters(script: string, ids: readonly number[] | null, now: number): Promise<number[]>;
  /** Deletes dead letters (all of the script's, or those of `ids`); returns how many. */
  purgeDeadLetters(script: string, ids: readonly number[] | null): Promise<number>;
}
