// An invocation's failure as the records (and direct invocations) show it:
// an ATOLL_* code with its message, and the outcome that code stands for.
import { AtollError } from "../errors.js";
import { InvocationError, InvocationTerminatedError } from "../executor/executor.js";
import type { Outcome } from "./records.js";

export interface Failure {
  code: string;
  message: string;
  stack?: string;
}

/** An invocation's failure as an ATOLL_* code and a message an operator can act on. */
export function describeFailure(error: unknown): Failure {
  if (error instanceof InvocationTerminatedError) {
    const code = error.limit === "wall_ms" ? "ATOLL_WALL_LIMIT" : error.limit === "memory_mb" ? "ATOLL_MEMORY_LIMIT" : "ATOLL_CPU_LIMIT";
    return { code, message: error.message };
  }
  if (error instanceof InvocationError) {
    if (error.kind === "script") return { code: "ATOLL_SCRIPT_THREW", message: error.message, ...(error.scriptStack ? { stack: error.scriptStack } : {}) };
    return { code: "ATOLL_WORKER_UNAVAILABLE", message: error.message };
  }
  if (error instanceof AtollError) return { code: error.code, message: error.message };
  return { code: "ATOLL_INTERNAL", message: error instanceof Error ? error.message : String(error) };
}

/** The outcome of a failure's code; `ATOLL_SERVER_ERROR` (the function answered 5xx) is not the function's failure. */
export function outcomeOfCode(code: string): Outcome {
  return OUTCOME_OF_CODE[code] ?? "rejected";
}

const OUTCOME_OF_CODE: Record<string, Outcome> = {
  ATOLL_SCRIPT_THREW: "exception",
  ATOLL_CPU_LIMIT: "cpu",
  ATOLL_MEMORY_LIMIT: "memory",
  ATOLL_WALL_LIMIT: "wall",
  ATOLL_WORKER_CRASHED: "crashed",
  ATOLL_SERVER_ERROR: "ok",
};

export function outcomeOf(error: unknown): Outcome {
  return outcomeOfCode(describeFailure(error).code);
}

/** "ATOLL_SCRIPT_THREW: Error: boom" with the function's stack when it threw. */
export function failureText(failure: Failure): string {
  return `${failure.code}: ${failure.stack || failure.message}`;
}

export function errorTextOf(error: unknown): string {
  return failureText(describeFailure(error));
}
