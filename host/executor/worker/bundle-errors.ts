// Why a bundle could not be loaded into an isolate, in a form the control API
// turns into a 400 with the line and column.
import type { ValidationFailure } from "../ipc.js";

export class BundleLoadError extends Error {
  constructor(
    readonly kind: ValidationFailure["kind"],
    message: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
    this.name = "BundleLoadError";
  }

  /** A compile error from V8: pull the position out of its stack ("file:///x.js:3:7"). */
  static fromCompile(error: unknown): BundleLoadError {
    const message = error instanceof Error ? error.message : String(error);
    const stack = error instanceof Error ? String(error.stack ?? "") : "";
    const position = /:(\d+):(\d+)/.exec(stack) ?? /:(\d+):(\d+)/.exec(message);
    const clean = message.replace(/\s*\[file:[^\]]*\]\s*$/, "");
    return position ? new BundleLoadError("parse", clean, Number(position[1]), Number(position[2])) : new BundleLoadError("parse", clean);
  }

  toFailure(): ValidationFailure {
    return { kind: this.kind, message: this.message, line: this.line, column: this.column };
  }
}

/** The bundle's top-level code ran past the start-up CPU budget. */
export class StartupTimeoutError extends BundleLoadError {}
