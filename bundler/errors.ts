// Errors of the CLI and bundler layer: each a class with a stable code and a
// message that tells the user what to do next. (Config problems are the host's
// BadConfigError, shared with uploads.)

export type CliErrorCode =
  | "ATOLL_BUILD_FAILED"
  | "ATOLL_NO_TOKEN"
  | "ATOLL_CONTROL_UNREACHABLE"
  | "ATOLL_CONTROL_API"
  | "ATOLL_EMPTY_SECRET"
  | "ATOLL_BAD_DEV_VARS"
  | "ATOLL_INIT_EXISTS";

export class CliError extends Error {
  readonly code: string;

  constructor(code: CliErrorCode | (string & {}), message: string) {
    super(message);
    this.name = "CliError";
    this.code = code;
  }
}

/** esbuild could not bundle the function; `problems` are "file:line:column: message" lines. */
export class BuildError extends CliError {
  constructor(readonly problems: string[]) {
    super("ATOLL_BUILD_FAILED", `build failed:\n  ${problems.join("\n  ")}`);
    this.name = "BuildError";
  }
}

export class MissingTokenError extends CliError {
  constructor(tokenFile: string) {
    super(
      "ATOLL_NO_TOKEN",
      `no admin token: log in once (\`atoll login --url URL\`), pass --token, set ATOLL_TOKEN, or run from the directory of the host's data (looked for ${tokenFile}; use --data-dir if the host keeps it elsewhere)`,
    );
    this.name = "MissingTokenError";
  }
}

export class ControlUnreachableError extends CliError {
  constructor(controlUrl: string, reason: string) {
    super("ATOLL_CONTROL_UNREACHABLE", `cannot reach the control API at ${controlUrl} (${reason}): is \`atoll start\` running? Pass --control-url or set ATOLL_CONTROL_URL if it listens elsewhere`);
    this.name = "ControlUnreachableError";
  }
}

/** The control API answered 401: said to a CLI user in CLI terms, not as an HTTP header to send. */
export class TokenRefusedError extends CliError {
  readonly status = 401;
  constructor(controlUrl: string) {
    super(
      "ATOLL_UNAUTHORIZED",
      `the host at ${controlUrl} refused the admin token: use the one in the host's data directory (\`cat .atoll/admin-token\` where it runs, or --data-dir DIR for another one), passed with --token or ATOLL_TOKEN`,
    );
    this.name = "TokenRefusedError";
  }
}

/** The control API answered with an error; `code` is the API's (e.g. ATOLL_ROUTE_CONFLICT). */
export class ControlApiError extends CliError {
  constructor(
    readonly status: number,
    apiCode: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(apiCode, message);
    this.name = "ControlApiError";
  }
}
