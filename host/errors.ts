// Every error the host reports to a user: a stable code, an HTTP status and a
// message that says what to do next. Callers branch on `code`, never on text.

export type AtollErrorCode =
  | "ATOLL_UNAUTHORIZED"
  | "ATOLL_FORBIDDEN"
  | "ATOLL_NOT_FOUND"
  | "ATOLL_NO_ROUTE"
  | "ATOLL_BAD_REQUEST"
  | "ATOLL_BAD_NAME"
  | "ATOLL_BAD_CONFIG"
  | "ATOLL_BUNDLE_PARSE"
  | "ATOLL_BUNDLE_NO_DEFAULT_EXPORT"
  | "ATOLL_BUNDLE_TOO_LARGE"
  | "ATOLL_BODY_TOO_LARGE"
  | "ATOLL_RESPONSE_TOO_LARGE"
  | "ATOLL_LOOP_DETECTED"
  | "ATOLL_SERVICE_NOT_DEPLOYED"
  | "ATOLL_SERVICE_TOKEN"
  | "ATOLL_ROUTE_CONFLICT"
  | "ATOLL_SCRIPT_THREW"
  | "ATOLL_WORKER_CRASHED"
  | "ATOLL_WORKER_UNAVAILABLE"
  | "ATOLL_QUARANTINED"
  | "ATOLL_CPU_LIMIT"
  | "ATOLL_WALL_LIMIT"
  | "ATOLL_MEMORY_LIMIT"
  | "ATOLL_INTERNAL"
  // Deployments: versions, rollback, gradual deploys, secrets.
  | "ATOLL_NO_PREVIOUS_VERSION"
  | "ATOLL_ALREADY_ACTIVE"
  | "ATOLL_NO_CANARY"
  | "ATOLL_NO_STABLE_VERSION"
  | "ATOLL_CANARY_ROUTES_DIFFER"
  | "ATOLL_SECRET_VAR_CLASH"
  | "ATOLL_SECRET_TOO_LARGE"
  | "ATOLL_SECRETS_KEY"
  | "ATOLL_SECRET_UNREADABLE"
  // Triggers: cron, bucket events, direct and async invocation.
  | "ATOLL_NO_HANDLER"
  | "ATOLL_BAD_CRON"
  | "ATOLL_INVOKE_TOO_LARGE"
  | "ATOLL_STORE_UNAVAILABLE"
  | "ATOLL_OBJECT_CHANGED"
  | "ATOLL_BAD_STORE_URL"
  // The host's own config file (atoll start --config).
  | "ATOLL_BAD_HOST_CONFIG";

export class AtollError extends Error {
  readonly code: AtollErrorCode;
  readonly status: number;
  /** Extra fields for the JSON error body (never secrets or host paths). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: AtollErrorCode, status: number, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "AtollError";
    this.code = code;
    this.status = status;
    this.details = details;
  }

  toJSON(): { error: { code: AtollErrorCode; message: string } & Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

export class UnauthorizedError extends AtollError {
  constructor() {
    super("ATOLL_UNAUTHORIZED", 401, "missing or wrong bearer token: send `Authorization: Bearer <token>` with the token from the host's data directory (admin-token)");
  }
}

export class NotFoundError extends AtollError {
  constructor(what: string) {
    super("ATOLL_NOT_FOUND", 404, `${what} not found`);
  }
}

export class NoRouteError extends AtollError {
  /**
   * @param hostHeader the request's Host (it may carry a port)
   * @param port the port the request came in on, for the URL suggested
   * @param baseDomains where `<name>.<domain>` reaches script `<name>`
   */
  constructor(hostHeader: string, path: string, port: number, baseDomains: readonly string[] = ["localhost"]) {
    const host = hostHeader.replace(/:\d+$/, "").toLowerCase();
    const domain = baseDomains.find((base) => host.endsWith(`.${base}`));
    const portPart = port === 80 ? "" : `:${port}`;
    // A public answer: it names no script, only how the operator finds them.
    const message = domain
      ? `no script is named "${host.slice(0, -domain.length - 1)}" on this host, so nothing answers at ${hostHeader}${path}: deploy one of that name (\`atoll deploy\`), or see which scripts there are (\`atoll list\`)`
      : `no function is routed at ${hostHeader || "(no Host header)"}${path}: deploy one with a route that matches, or reach a script by its name at http://<name>.${baseDomains[0] ?? "localhost"}${portPart}/ (\`atoll list\` shows the names)`;
    super("ATOLL_NO_ROUTE", 404, message);
  }
}

export class BadRequestError extends AtollError {
  constructor(message: string) {
    super("ATOLL_BAD_REQUEST", 400, message);
  }
}

export class BadScriptNameError extends AtollError {
  constructor(name: string) {
    super("ATOLL_BAD_NAME", 400, `script name ${JSON.stringify(name.slice(0, 80))} is not allowed: use 1 to 63 characters of a-z, 0-9 and '-'`);
  }
}

export class BadConfigError extends AtollError {
  constructor(readonly problems: string[]) {
    super("ATOLL_BAD_CONFIG", 400, `invalid config:\n  ${problems.join("\n  ")}`, { problems });
  }
}

export class BundleParseError extends AtollError {
  constructor(message: string, line?: number, column?: number) {
    super("ATOLL_BUNDLE_PARSE", 400, `the bundle does not parse${line !== undefined ? ` (line ${line}${column !== undefined ? `, column ${column}` : ""})` : ""}: ${message}`, { line, column });
  }
}

export class BundleEvaluationError extends AtollError {
  constructor(message: string) {
    super("ATOLL_BUNDLE_PARSE", 400, `the bundle threw while it was evaluated: ${message}`);
  }
}

export class NoDefaultExportError extends AtollError {
  constructor(detail: string) {
    super("ATOLL_BUNDLE_NO_DEFAULT_EXPORT", 400, `the bundle has no usable default export (${detail}): export default { fetch(request, env, ctx) { ... } } or a Hono app`);
  }
}

export class BundleTooLargeError extends AtollError {
  /** @param bytes the bundle's size, when known (a body cut off at the limit has none). */
  constructor(bytes: number | undefined, maxBytes: number) {
    super("ATOLL_BUNDLE_TOO_LARGE", 413, `the ${bytes === undefined ? "upload is too large: the bundle is over" : `bundle is ${bytes} bytes, over`} the host's limit of ${maxBytes} bytes; make it smaller (build.minify, fewer dependencies)`);
  }
}

export class RequestBodyTooLargeError extends AtollError {
  constructor(readonly maxBytes: number, whose: "host" | "function" = "host") {
    super(
      "ATOLL_BODY_TOO_LARGE",
      413,
      whose === "host" ? `the request body is over the host's limit of ${maxBytes} bytes` : `the request body is over this function's limit of ${maxBytes} bytes (limits.request_body_mb)`,
    );
  }
}

/** A function's response body grew past its `limits.response_body_mb`. */
export class ResponseBodyTooLargeError extends AtollError {
  constructor(maxBytes: number) {
    super("ATOLL_RESPONSE_TOO_LARGE", 500, `the function's response body is over its limit of ${maxBytes} bytes (limits.response_body_mb)`);
  }
}

export class FetchLoopError extends AtollError {
  constructor(depth: number, maxDepth: number) {
    super(
      "ATOLL_LOOP_DETECTED",
      508,
      `this request is ${depth} fetches deep (function fetching function), over the host's limit of ${maxDepth}: a function that fetches its own URL, directly or through others, loops; break the cycle`,
    );
  }
}

export class ServiceNotDeployedError extends AtollError {
  constructor(script: string) {
    super("ATOLL_SERVICE_NOT_DEPLOYED", 404, `a service binding calls script "${script}", which is not deployed on this host: deploy it (\`atoll deploy\`), or fix \`service\` in the caller's [[services]]`);
  }
}

export class ServiceTokenError extends AtollError {
  constructor() {
    super("ATOLL_SERVICE_TOKEN", 403, "this socket takes service-binding calls from the host's own workers only");
  }
}

export class RouteConflictError extends AtollError {
  constructor(route: string, owner: string, claimant: string) {
    super("ATOLL_ROUTE_CONFLICT", 409, `route ${JSON.stringify(route)} is already claimed by script "${owner}"; "${claimant}" cannot claim it too: remove it from one of the two configs`, { route, owner, claimant });
  }
}

export class ScriptThrewError extends AtollError {
  constructor() {
    super("ATOLL_SCRIPT_THREW", 500, "the function threw an exception; its stack is in the host's log");
  }
}

export class WorkerCrashedError extends AtollError {
  /** @param culprits the versions ("script@version") that were executing when the worker died. */
  constructor(readonly culprits: readonly string[] = []) {
    super("ATOLL_WORKER_CRASHED", 503, "the worker process running this function died; the request was not completed (retry it)");
  }
}

export class ScriptQuarantinedError extends AtollError {
  constructor(version: string, reason: string) {
    super("ATOLL_QUARANTINED", 503, `${version} is quarantined: ${reason}. Deploy a fixed version (or roll back) to lift it`);
  }
}

export class WorkerUnavailableError extends AtollError {
  constructor(reason: string) {
    super("ATOLL_WORKER_UNAVAILABLE", 503, `no worker could take the request: ${reason}`);
  }
}

// ---- Deployments: versions, rollback, gradual deploys, secrets -------------

export class VersionNotFoundError extends AtollError {
  constructor(script: string, version: number) {
    super("ATOLL_NOT_FOUND", 404, `script "${script}" has no version ${version}: \`atoll versions ${script}\` lists the versions it has`, { script, version });
  }
}

export class NothingToRollBackError extends AtollError {
  constructor(script: string, active: number) {
    super(
      "ATOLL_NO_PREVIOUS_VERSION",
      409,
      `script "${script}" has had no version active before version ${active}, so there is nothing to roll back to: name a version (\`atoll rollback ${script} VERSION\`) or deploy a new one`,
      { script, active_version: active },
    );
  }
}

export class AlreadyActiveError extends AtollError {
  constructor(script: string, version: number) {
    super("ATOLL_ALREADY_ACTIVE", 409, `version ${version} is already the active version of script "${script}": nothing to do`, { script, version });
  }
}

export class NoCanaryError extends AtollError {
  constructor(script: string) {
    super("ATOLL_NO_CANARY", 409, `script "${script}" has no canary to promote: start a gradual deploy with \`atoll deploy --percent N\` first`, { script });
  }
}

export class NoStableVersionError extends AtollError {
  constructor(script: string) {
    super(
      "ATOLL_NO_STABLE_VERSION",
      409,
      `script "${script}" has no active version yet, so a gradual deploy has nothing to share its traffic with: deploy its first version without --percent`,
      { script },
    );
  }
}

export class CanaryRoutesDifferError extends AtollError {
  constructor(script: string, stableRoutes: readonly string[], canaryRoutes: readonly string[]) {
    const list = (routes: readonly string[]) => (routes.length === 0 ? "none" : routes.map((route) => JSON.stringify(route)).join(", "));
    super(
      "ATOLL_CANARY_ROUTES_DIFFER",
      409,
      `a canary splits the traffic of the active version's routes, so it must serve the same routes: the active version of "${script}" serves ${list(stableRoutes)}, the upload serves ${list(canaryRoutes)}. Deploy a route change without --percent (after promoting or rolling back any canary)`,
      { script, stable_routes: stableRoutes, canary_routes: canaryRoutes },
    );
  }
}

export class SecretVarClashError extends AtollError {
  /**
   * @param where what holds the var: "the uploaded config", "version 3, the active one".
   * @param writing what clashes: a deploy or a rollback whose var meets an existing secret, or a secret put whose name a var holds.
   */
  constructor(script: string, key: string, where: string, writing: "deploy" | "rollback" | "secret") {
    // Only what exists is suggested: the secret to delete, or the var (in the config, or in a version that cannot change).
    const todo =
      writing === "deploy"
        ? `rename the var, or delete the secret first (\`atoll secret delete ${script} ${key}\`)`
        : writing === "rollback"
          ? `delete the secret first (\`atoll secret delete ${script} ${key}\`), or roll back to another version`
          : `give the secret another name, or remove "${key}" from [vars] and deploy before putting the secret`;
    super("ATOLL_SECRET_VAR_CLASH", 409, `"${key}" would be both a [vars] entry (${where}) and a secret of script "${script}", and env holds one value per name: ${todo}`, { script, key });
  }
}

export class SecretTooLargeError extends AtollError {
  /** @param bytes the value's size, when known (a body cut off at the limit has none). */
  constructor(bytes: number | undefined, maxBytes: number) {
    super(
      "ATOLL_SECRET_TOO_LARGE",
      413,
      `the secret's value is ${bytes === undefined ? "over" : `${bytes} bytes, over`} the limit of ${maxBytes} bytes: keep large data in a bucket or KV, and what opens it in the secret`,
    );
  }
}

export class BadSecretNameError extends AtollError {
  constructor(key: string) {
    super("ATOLL_BAD_NAME", 400, `secret name ${JSON.stringify(key.slice(0, 80))} is not allowed: use letters, digits and \`_\`, not starting with a digit (the rule for [vars] names)`);
  }
}

/** The host's secrets key is missing, malformed or not the one the stored secrets were sealed with. */
export class SecretsKeyError extends AtollError {
  constructor(message: string) {
    super("ATOLL_SECRETS_KEY", 500, message);
  }
}

/** A stored secret does not decrypt: it was altered, or moved to another script or name. */
export class SecretUnreadableError extends AtollError {
  constructor(script: string, key: string) {
    super(
      "ATOLL_SECRET_UNREADABLE",
      500,
      `secret "${key}" of script "${script}" does not decrypt with the host's secrets key (it was altered, or copied from another script or name): put it again with \`atoll secret put ${script} ${key}\``,
      { script, key },
    );
  }
}

// ---- Triggers: cron, bucket events, direct and async invocation ------------

/** The config asks for events the module has no handler for (crons without scheduled, bucket triggers without storage). */
export class MissingHandlerError extends AtollError {
  constructor(handler: "scheduled" | "storage", why: string) {
    const signature = handler === "scheduled" ? "scheduled(controller, env, ctx)" : "storage(event, env, ctx)";
    super(
      "ATOLL_NO_HANDLER",
      400,
      `${why}, but the module's default export has no ${handler} handler: add one (export default { async ${signature} { ... } }) or remove the trigger from atoll.toml`,
      { handler },
    );
  }
}

/** A cron expression given to a direct invocation does not parse. */
export class BadCronError extends AtollError {
  constructor(expression: string, problem: string) {
    super("ATOLL_BAD_CRON", 400, `the schedule ${JSON.stringify(expression.slice(0, 100))} ${problem}`);
  }
}

/** A direct invocation's request body is over the host's limit. */
export class InvokeTooLargeError extends AtollError {
  constructor(bytes: number | undefined, maxBytes: number) {
    super(
      "ATOLL_INVOKE_TOO_LARGE",
      413,
      `the invocation's body is ${bytes === undefined ? "over" : `${bytes} bytes, over`} the limit of ${maxBytes} bytes for direct and queued invocations: send large bodies to the function's URL instead`,
    );
  }
}

// ---- Shared stores: Redis and S3-compatible object storage ------------------

/** The shared store (Redis, S3) cannot be reached: the call was not made; the host reconnects by itself. */
export class StoreUnavailableError extends AtollError {
  constructor(what: string, reason: string, whatToDo = "the host reconnects by itself; retry in a moment") {
    super("ATOLL_STORE_UNAVAILABLE", 503, `${what} is unreachable (${reason}): ${whatToDo}`);
  }
}

/** An object was deleted or replaced between the read of its record and of its bytes, three times in a row. */
export class ObjectChangedError extends AtollError {
  constructor(bucket: string, key: string) {
    super("ATOLL_OBJECT_CHANGED", 503, `object ${JSON.stringify(key)} in bucket "${bucket}" changed while it was being read: read it again`);
  }
}

/** `atoll start --store` or `--objects` names something the host cannot use. */
export class BadStoreUrlError extends AtollError {
  constructor(option: "--store" | "--objects", given: string, problem: string) {
    super("ATOLL_BAD_STORE_URL", 400, `${option} ${JSON.stringify(given.slice(0, 200))} ${problem}`);
  }
}

// ---- The host's config file (atoll start --config) ---------------------------

/** The file given to `atoll start --config` is missing, not TOML, or says something the host does not take: every problem, each naming the file. */
export class BadHostConfigError extends AtollError {
  constructor(readonly problems: string[]) {
    super("ATOLL_BAD_HOST_CONFIG", 400, `invalid host config:\n  ${problems.join("\n  ")}`, { problems });
  }
}

// ---- The dashboard (host/control/dashboard/) --------------------------------

/** The dashboard's login page was given something other than the host's admin token. */
export class DashboardLoginError extends AtollError {
  constructor() {
    super("ATOLL_UNAUTHORIZED", 401, "that is not this host's admin token: paste the token the host keeps in its data directory (admin-token, by default .atoll/admin-token)");
  }
}

/** A dashboard page or action without a live session (no cookie, a forged one, logged out, expired, or the host restarted). */
export class DashboardSessionError extends AtollError {
  constructor() {
    super("ATOLL_UNAUTHORIZED", 401, "not logged in to the dashboard, or the session has ended (logout, expiry, or a restart of the host): log in again at /dashboard/login");
  }
}

/** A state-changing dashboard request that did not come from the dashboard's own pages (Origin, or Referer, of another site, or neither). */
export class CrossOriginRequestError extends AtollError {
  /** @param origin what the request's Origin (or Referer) said, null when it had neither. */
  constructor(origin: string | null, expected: string) {
    super(
      "ATOLL_FORBIDDEN",
      403,
      origin === null
        ? `a dashboard action must come from the dashboard's own pages, and this request has neither an Origin nor a Referer header saying it does (expected ${expected})`
        : `a dashboard action must come from the dashboard's own pages (${expected}), not from ${JSON.stringify(origin.slice(0, 200))}`,
    );
  }
}

/** A state-changing dashboard request without its session's CSRF token (or with another one). */
export class CsrfTokenError extends AtollError {
  constructor(missing: boolean) {
    super(
      "ATOLL_FORBIDDEN",
      403,
      `${missing ? "the request carries no CSRF token" : "the request's CSRF token is not this session's"}: dashboard actions are made with the buttons of its pages; reload the page and try again`,
    );
  }
}

/** The dashboard's Cancel canary, pressed when no canary is live (promoted or cancelled meanwhile). */
export class NoCanaryToCancelError extends AtollError {
  constructor(script: string) {
    super("ATOLL_NO_CANARY", 409, `script "${script}" has no canary to cancel: it was promoted or cancelled meanwhile (reload the page to see its versions)`, { script });
  }
}
