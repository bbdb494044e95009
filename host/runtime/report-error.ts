// Turns anything thrown into the { message, stack } the host expects, and
// reports errors and promise rejections nobody handled (HTML's "report the
// exception", reportError(), unhandled rejections): to the global scope's
// listeners first, then, unless one canceled, to the host log.
import { currentInvocation, emit, messageOf, runAs } from "./bridge.js";
import type { RejectionReason } from "./protocol.js";

export interface ErrorReport {
  message: string;
  stack: string;
}

/** Never throws, whatever was thrown (getters, proxies, null prototypes). */
export function describeError(error: unknown): ErrorReport {
  return describe(error);
}

function describe(error: unknown): ErrorReport {
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

/**
 * Where errors and rejections nobody handled go before the host log: the
 * global scope's "error" and "unhandledrejection" listeners (global-scope.ts).
 * Each returns false when a listener canceled the event (preventDefault()).
 */
export interface UncaughtListeners {
  error(error: unknown): boolean;
  rejection(promise: Promise<unknown>, reason: unknown): boolean;
}

let listeners: UncaughtListeners | null = null;

export function listenForUncaught(hooks: UncaughtListeners): void {
  listeners = hooks;
}

/** An error nobody handled: a throwing timer callback or listener, reportError(). */
export function reportUncaught(error: unknown, id: number | null = currentInvocation()): void {
  const dispatchTo = listeners;
  if (dispatchTo !== null && !runAs(id, () => dispatchTo.error(error))) return;
  const { message, stack } = describeError(error);
  emit({ t: "uncaught", id, message, stack });
}

/** A promise rejection nobody handled: a failed waitUntil, or one isolated-vm saw (rejection()). */
export function reportRejection(promise: Promise<unknown>, reason: unknown, id: number | null = currentInvocation()): void {
  const dispatchTo = listeners;
  if (dispatchTo !== null && !runAs(id, () => dispatchTo.rejection(promise, reason))) return;
  const { message, stack } = describeError(reason);
  emit({ t: "uncaught", id, message, stack });
}

/** The global reportError(error). */
export function reportError(error: unknown): void {
  if (arguments.length === 0) throw new TypeError("reportError: 1 argument required, but only 0 present.");
  reportUncaught(error);
}

const ERRORS: Record<string, ErrorConstructor> = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };

/**
 * Entry point: isolated-vm ended a host call because a promise rejection went
 * unhandled in it, and the host hands back the copy of the reason it got. The
 * promise itself and the reason's identity are lost on the way: the event
 * gets the copy and a stand-in promise rejected with it.
 */
export function rejection(id: number | null, reason: RejectionReason): void {
  let value: unknown;
  if (reason !== null && typeof reason === "object" && "error" in reason && reason.error !== null && typeof reason.error === "object") {
    const { name, message, stack } = reason.error;
    const error = new (ERRORS[String(name)] ?? Error)(String(message));
    if (!(String(name) in ERRORS)) Object.defineProperty(error, "name", { value: String(name), writable: true, configurable: true });
    Object.defineProperty(error, "stack", { value: String(stack), writable: true, configurable: true });
    value = error;
  } else value = reason !== null && typeof reason === "object" && "value" in reason ? reason.value : undefined;
  const standIn = Promise.reject(value);
  standIn.catch(() => {});
  reportRejection(standIn, value, id ?? currentInvocation());
}
