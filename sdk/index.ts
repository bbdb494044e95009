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
}
