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
      `no admin token: pass --token, set ATOLL_TOKEN, or run from the directory of the host's data (looked for ${tokenFile}; use --data-dir if the host keeps it elsewhere)`,
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
