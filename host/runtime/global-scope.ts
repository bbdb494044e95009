// The global object as an EventTarget, as a worker's global scope is (HTML's
// WorkerGlobalScope): errors and promise rejections nobody handled are
// dispatched at it as cancelable "error" and "unhandledrejection" events, and
// only reach the host log when no listener called preventDefault().
import { describeError, listenForUncaught } from "./report-error.js";
import { ErrorEvent, PromiseRejectionEvent } from "./error-events.js";
import { EventTarget, adoptAsEventTarget, defineEventHandler, dispatchTrusted } from "./events.js";

/** The global object's prototype (not a global itself): new WorkerGlobalScope() throws. */
const WorkerGlobalScope = function WorkerGlobalScope() {
  throw new TypeError("Illegal constructor");
} as unknown as { prototype: object };
Object.setPrototypeOf(WorkerGlobalScope, EventTarget);
WorkerGlobalScope.prototype = Object.create(EventTarget.prototype, {
  constructor: { value: WorkerGlobalScope, writable: true, configurable: true },
  [Symbol.toStringTag]: { value: "WorkerGlobalScope", configurable: true },
});

// onerror is called as onerror(message, filename, lineno, colno, error); returning true cancels.
defineEventHandler(WorkerGlobalScope.prototype, "error", {
  call(handler, target, event) {
    if (!(event instanceof ErrorEvent)) return handler.call(target, event);
    return handler.call(target, event.message, event.filename, event.lineno, event.colno, event.error);
  },
  cancelOn: true,
});
// No "rejectionhandled": nothing tells the runtime when a late handler is attached.
defineEventHandler(WorkerGlobalScope.prototype, "unhandledrejection");

/** Where an error was thrown, from the first stack frame outside the runtime. */
function locate(stack: string): { filename: string; lineno: number; colno: number } {
  for (const line of stack.split("\n")) {
    const frame = /^\s+at (?:.*?\()?(.+?):(\d+):(\d+)\)?$/.exec(line);
    if (frame !== null && frame[1] !== "atoll:runtime.js") return { filename: frame[1]!, lineno: Number(frame[2]), colno: Number(frame[3]) };
  }
  return { filename: "", lineno: 0, colno: 0 };
}

/** Set while an error event is being dispatched: an error in one of its listeners goes straight to the log. */
let reportingError = false;

function dispatchError(global: object, error: unknown): boolean {
  if (reportingError) return true;
  reportingError = true;
  try {
    const { stack } = describeError(error);
    const firstLine = stack.split("\n")[0] ?? "";
    const message = firstLine.startsWith("Uncaught ") ? firstLine : `Uncaught ${firstLine}`;
    return dispatchTrusted(global, new ErrorEvent("error", { message, ...locate(stack), error, cancelable: true }));
  } catch {
    return true;
  } finally {
    reportingError = false;
  }
}

function dispatchRejection(global: object, promise: Promise<unknown>, reason: unknown): boolean {
  try {
    return dispatchTrusted(global, new PromiseRejectionEvent("unhandledrejection", { promise, reason, cancelable: true }));
  } catch {
    return true;
  }
}

/** Makes `global` a WorkerGlobalScope and sends what nobody handled to its listeners. */
export function installGlobalScope(global: object): void {
  Object.setPrototypeOf(global, WorkerGlobalScope.prototype);
  adoptAsEventTarget(global);
  listenForUncaught({
    error: (error) => dispatchError(global, error),
    rejection: (promise, reason) => dispatchRejection(global, promise, reason),
  });
}
