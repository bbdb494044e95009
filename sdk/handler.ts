// The shape of a function: its default export and the handlers it may carry,
// with the context every invocation gets. Types only.
import type { ScheduledController, StorageEvent } from "./events.js";

/**
 * What the host hands every invocation besides the event itself.
 */
export interface ExecutionContext {
  /**
   * Keeps the invocation alive until `promise` settles, after the response has
   * been sent (or the scheduled or storage handler returned): for logging,
   * cache writes and other work the caller need not wait for. The work still
   * counts against the script's `[limits]`: `cpu_ms` (default 50 ms of CPU)
   * and `wall_ms` (default 30 000 ms from the start of the invocation). A
   * rejected promise is reported as an `unhandledrejection` event and in the
   * host's log; it does not change the response.
   */
  waitUntil(promise: Promise<unknown>): void;
  /**
   * Accepted so that Workers code runs unchanged. On Workers it makes a failing
   * request fall through to the origin server; Atoll has no origin to fall
   * through to, so an exception still fails the request with a 500 (its stack
   * is in the host's log).
   */
  passThroughOnException(): void;
  /**
   * What the caller of a Workers entrypoint passed along; on Workers an empty
   * object for requests from the internet, as it always is here (Atoll has no
   * service bindings yet). Declared so that frameworks typed against Workers
   * (Hono's `app.fetch`) accept this ctx.
   */
  readonly props: Record<string, unknown>;
}

/**
 * Handles an HTTP request routed to the script (by one of its `routes`, or at
 * `http://<name>.localhost/`). Return, or resolve to, the Response to send.
 *
 * The request carries no `cf` object: Atoll adds no properties beyond the
 * standard Request. Request bodies are at most 100 MiB (host-wide); a larger
 * one gets 413 before or while the function reads it.
 *
 * @param request the incoming request; `request.url` is the full URL as the client sent it.
 * @param env the script's environment: `[vars]`, secrets and bindings (KV namespaces, buckets), by name.
 * @param ctx the invocation's context (`waitUntil`, `passThroughOnException`).
 */
export type FetchHandler<Env = unknown> = (request: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response>;

/**
 * Runs on the script's cron schedules (`[triggers] crons` in atoll.toml), and
 * when fired by hand (`atoll invoke NAME --cron`, a key in `atoll dev`, the
 * test helper's `scheduled()`). A run never overlaps the previous run of the
 * same schedule. A thrown error or rejection fails the run: it is retried with
 * back-off (`[triggers] retries`, default 2), then dead-lettered, unless the
 * handler called `controller.noRetry()`.
 *
 * @param controller which schedule fired and for when.
 * @param env the script's environment.
 * @param ctx the invocation's context.
 */
export type ScheduledHandler<Env = unknown> = (controller: ScheduledController, env: Env, ctx: ExecutionContext) => void | Promise<void>;

/**
 * Runs when an object is put in or deleted from a bucket the script watches
 * (`[[triggers.storage]]` in atoll.toml: events, prefix, suffix), whoever made
 * the change (a function, `atoll bucket`, the control API), and when fired by
 * hand (`atoll invoke NAME --storage put:BUCKET/KEY`, the test helper's
 * `storage()`). A thrown error or rejection fails the event: it is retried
 * with back-off, then dead-lettered, unless the handler called
 * `event.noRetry()`.
 *
 * @param event which object changed, and how.
 * @param env the script's environment.
 * @param ctx the invocation's context.
 */
export type StorageHandler<Env = unknown> = (event: StorageEvent, env: Env, ctx: ExecutionContext) => void | Promise<void>;

/**
 * The default export of a function's entry module: an object with one method
 * per kind of event it handles (at least one).
 *
 * ```ts
 * import type { ExportedHandler } from "atoll/sdk";
 *
 * interface Env { GREETING: string; CACHE: KVNamespace }
 *
 * export default {
 *   async fetch(request, env, ctx) {
 *     return new Response(`${env.GREETING} from Atoll`);
 *   },
 * } satisfies ExportedHandler<Env>;
 * ```
 *
 * A Hono app (`export default app`) has the same shape and works unchanged.
 * `atoll types` writes the `Env` interface from atoll.toml.
 *
 * @typeParam Env the shape of `env`: one property per var, secret and binding.
 */
export interface ExportedHandler<Env = unknown> {
  /** Called for every HTTP request routed to the script. */
  fetch?: FetchHandler<Env>;
  /** Called on the script's cron schedules. */
  scheduled?: ScheduledHandler<Env>;
  /** Called when an object changes in a bucket the script watches. */
  storage?: StorageHandler<Env>;
}
