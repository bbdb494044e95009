// The events of the non-HTTP triggers: a cron schedule firing, an object
// changing in a watched bucket. Types only.

/**
 * One run of a cron schedule, handed to `scheduled(controller, env, ctx)`.
 */
export interface ScheduledController {
  readonly type: "scheduled";
  /**
   * The schedule that fired, exactly as written in `[triggers] crons` (five
   * fields, or six with seconds first, in the schedule's `timezone`, default
   * UTC), or as given to `atoll invoke NAME --cron`.
   */
  readonly cron: string;
  /**
   * When the tick was due (not when the run started), in milliseconds since
   * the Unix epoch. A retry keeps the time of the run it retries, so it can
   * key idempotent work.
   */
  readonly scheduledTime: number;
  /**
   * Makes a failure of this run final: it goes to the dead-letter list
   * (`atoll dlq list`) at once instead of being retried (`[triggers] retries`,
   * default 2, after 1 s, 2 s, 4 s … at most 10 min).
   */
  noRetry(): void;
}

/**
 * An object was put in or deleted from a bucket the script watches
 * (`[[triggers.storage]]`), handed to `storage(event, env, ctx)`. Events are
 * queued durably before the change is acknowledged and delivered at least
 * once (make the handler idempotent); a failed handler is retried with
 * back-off, then dead-lettered. Writes a storage handler makes into a watched
 * bucket cause events one level deeper; past `[triggers] max_chain_depth`
 * (default 4) they are not delivered.
 */
export interface StorageEvent {
  /** The bucket's name on the host (its `bucket_name`, not the binding's name). */
  readonly bucket: string;
  /** The object's key: 1 to 1024 bytes of UTF-8. */
  readonly key: string;
  /** What happened to the object. */
  readonly action: "put" | "delete";
  /** The object's size in bytes: the new object's for a put, the deleted one's for a delete. */
  readonly size: number;
  /** The object's etag (MD5 of its bytes, hex, no quotes): the new object's for a put, the deleted one's for a delete. */
  readonly etag: string;
  /** When the change became durable: an ISO 8601 timestamp in UTC, e.g. `"2025-01-01T12:00:00.000Z"`. */
  readonly time: string;
  /** Makes a failure of this invocation final: no retry, straight to the dead-letter list. */
  noRetry(): void;
}
