// The types a function is written against: `import type { ExportedHandler } from "atoll/sdk"`.
// Types only: they are erased when the function is bundled, so nothing here runs in an isolate.

/**
 * What the host hands every invocation besides the event itself.
 */
export interface ExecutionContext {
  /**
   * Keeps the invocation alive until `promise` settles, after the response has
   * been sent: for logging, cache writes and other work the client need not
   * wait for. The work is still bound by the script's `[limits]`.
   */
  waitUntil(promise: Promise<unknown>): void;
  /**
   * Accepted so that Workers code runs unchanged. On Workers it makes a failing
   * request fall through to the origin server; Atoll has no origin to fall
   * through to, so an exception still fails the request (its stack is in the
   * host's log).
   */
  passThroughOnException(): void;
}

/**
 * Handles an HTTP request routed to the script (by one of its `routes`, or at
 * `http://<name>.localhost/`). Return, or resolve to, the Response to send.
 *
 * @param request the incoming request; `request.url` is the full URL as the client sent it.
 * @param env the script's environment: its `[vars]` from atoll.toml, by name.
 * @param ctx the invocation's context (`waitUntil`, `passThroughOnException`).
 */
export type FetchHandler<Env = Record<string, unknown>> = (
  request: Request,
  env: Env,
  ctx: ExecutionContext,
) => Response | Promise<Response>;

/**
 * The `controller` of a scheduled handler: which cron tick is running.
 */
export interface ScheduledController {
  readonly type: "scheduled";
  /** The schedule that fired, as written in `[triggers] crons` (or given to `atoll invoke --cron`). */
  readonly cron: string;
  /** When the tick was due, in milliseconds since the epoch (not when the run started). */
  readonly scheduledTime: number;
  /**
   * Makes a failure of this run final: it goes to the dead-letter list
   * (`atoll dlq list`) at once instead of being retried.
   */
  noRetry(): void;
}

/**
 * Called for each tick of the script's cron schedules (`[triggers] crons` in
 * atoll.toml), and by `atoll invoke NAME --cron`. A run never overlaps the
 * previous run of the same schedule. Throwing (or rejecting) fails the run:
 * it is retried with back-off (`[triggers] retries`, default 2), then
 * dead-lettered.
 */
export type ScheduledHandler<Env = Record<string, unknown>> = (controller: ScheduledController, env: Env, ctx: ExecutionContext) => void | Promise<void>;

/**
 * One change of one object in a bucket the script watches (`[[triggers.storage]]`).
 */
export interface StorageEvent {
  readonly bucket: string;
  readonly key: string;
  readonly action: "put" | "delete";
  /** The new object's size for a put, the deleted object's for a delete, in bytes. */
  readonly size: number;
  /** The object's etag (MD5 of its bytes, hex). */
  readonly etag: string;
  /** When the change became durable, ISO 8601. */
  readonly time: string;
  /** Makes a failure of this invocation final: no retry, straight to the dead-letter list. */
  noRetry(): void;
}

/**
 * Called for every put or delete in a watched bucket that matches the
 * trigger's events, prefix and suffix, whoever made it (a function, the CLI,
 * the control API), and by `atoll invoke NAME --storage put:bucket/key`.
 * Failures are retried, then dead-lettered, like scheduled runs. Writing into
 * the bucket that triggered it is allowed, but a chain of storage invocations
 * deeper than `[triggers] max_chain_depth` (default 4) is stopped.
 */
export type StorageHandler<Env = Record<string, unknown>> = (event: StorageEvent, env: Env, ctx: ExecutionContext) => void | Promise<void>;

/**
 * The default export of a function's entry module: an object with one method
 * per kind of event it handles.
 *
 * ```ts
 * import type { ExportedHandler } from "atoll/sdk";
 *
 * interface Env { GREETING: string }
 *
 * export default {
 *   async fetch(request, env, ctx) {
 *     return new Response(`${env.GREETING} from Atoll`);
 *   },
 * } satisfies ExportedHandler<Env>;
 * ```
 *
 * A Hono app (`export default app`) has the same shape and works unchanged.
 *
 * @typeParam Env the shape of `env`: declare one property per entry of `[vars]`.
 */
export interface ExportedHandler<Env = Record<string, unknown>> {
  /** Called for every HTTP request routed to the script. */
  fetch?: FetchHandler<Env>;
  /** Called for every tick of the script's cron schedules. */
  scheduled?: ScheduledHandler<Env>;
  /** Called for every matching change in the buckets the script watches. */
  storage?: StorageHandler<Env>;
}
