// Turns anything thrown into the { message, stack } the host expects, and
// reports errors nobody handled (HTML's "report the exception", reportError()).
import { currentInvocation, emit, messageOf } from "./bridge.js";

export interface ErrorReport {
  message: string;
  stack: string;
}

/** Never throws, whatever was thrown (getters, proxies, null prototypes). */
export function describeError(error: unknown): ErrorReport {
  const message = messageOf(error);
  let stack = "";
  try {
    if (error !== null && typeof error === "object") {
      const raw = (error as { stack?: unknown }).stack;
      if (typeof raw === "string") stack = raw;
    }
  } catch {
    // a throwing `stack` getter: no stack
  }
  if (stack === "") {
    if (error === null || typeof error !== "object") {
      // A thrown primitive has no stack: say so the way browsers do.
      stack = `Uncaught ${typeof error === "string" ? JSON.stringify(error) : message}`;
    } else {
      let name = "Error";
      try {
        name = String((error as { name?: unknown }).name ?? "Error");
      } catch {
        // keep "Error"
      }
      stack = `${name}: ${message}`;
    }
  }
  return { message, stack };
}

/** An error nobody handled: a throwing timer callback or listener, a failed waitUntil. */
export function reportUncaught(error: unknown, id: number | null = currentInvocation()): void {
  const { message, stack } = describeError(error);
  emit({ t: "uncaught", id, message, stack });
}

/** The global reportError(error). */
export function reportError(error: unknown): void {
  if (arguments.length === 0) throw new TypeError("reportError: 1 argument required, but only 0 present.");
  reportUncaught(error);
}
