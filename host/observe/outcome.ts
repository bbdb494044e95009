// An invocation's failure as a record's outcome and error text.
import { AtollError, WorkerCrashedError } from "../errors.js";
import { InvocationError, InvocationTerminatedError } from "../executor/executor.js";
import type { Outcome } from "./records.js";

export function outcomeOf(error: unknown): Outcome {
  if (error instanceof InvocationTerminatedError) return error.limit === "cpu_ms" ? "cpu" : error.limit === "memory_mb" ? "memory" : "wall";
  if (error instanceof WorkerCrashedError) return "crashed";
  if (error instanceof InvocationError) return error.kind === "script" ? "exception" : "rejected";
  return "rejected";
}

/** "ATOLL_SCRIPT_THREW: Error: boom" and the function's stack, when it threw. */
export function errorTextOf(error: unknown): string {
  if (error instanceof InvocationTerminatedError) return `${error.limit === "wall_ms" ? "ATOLL_WALL_LIMIT" : error.limit === "memory_mb" ? "ATOLL_MEMORY_LIMIT" : "ATOLL_CPU_LIMIT"}: ${error.message}`;
  if (error instanceof InvocationError) return error.kind === "script" ? `ATOLL_SCRIPT_THREW: ${error.scriptStack || error.message}` : `ATOLL_WORKER_UNAVAILABLE: ${error.message}`;
  if (error instanceof AtollError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
