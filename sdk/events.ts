// The events of the non-HTTP triggers: a cron schedule firing, an object
// changing in a watched bucket. Types only.

/**
 * One run of a cron schedule, handed to `scheduled(controller, env, ctx)`.
 */
export interface ScheduledController {
  /**
   * The schedule that fired, exactly as written in `[triggers] crons`
   * (e.g. `"*\/5 * * * *"`; five fields, UTC). Empty when the run was fired by
   * hand without naming a schedule.
   */
  readonly cron: string;
  /**
   * When the run was due, in milliseconds since the Unix epoch (UTC). A retry
   * keeps the time of the run it retries, so it can be used to make the work
   * idempotent.
   */
  readonly scheduledTime: number;
  /**
   * Asks the host not to retry this run if it fails: for work that must not
   * happen twice. Without it, a failed run is retried with back-off.
   */
  noRetry(): void;
}

/**
 * An object was put in or deleted from a bucket the script watches
 * (`[[triggers.storage]]`), handed to `storage(event, env, ctx)`. Events are
 * delivered at least once, after the change is durable; a failed handler is
 * retried with back-off.
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
}
