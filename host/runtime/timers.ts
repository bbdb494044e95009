// setTimeout, setInterval, their clear functions, queueMicrotask, and the
// runtime's own task queueing, per HTML
// (https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#timers).
// Every arming of a timer is one `timer` op; the host calls back after `ms`.
import { cancelOp, currentInvocation, runAs, startOp } from "./bridge.js";
import { TIMER_CANCELLED } from "./protocol.js";
import { reportUncaught } from "./report-error.js";

interface Timer {
  callback: (...args: unknown[]) => unknown;
  args: unknown[];
  ms: number;
  repeat: boolean;
  op: number;
  /** The invocation that set the timer: its logs and errors are credited there. */
  invocation: number | null;
}

const MAX_DELAY_MS = 2 ** 31 - 1;
const timers = new Map<number, Timer>();
let lastTimerId = 0;

function delayOf(ms: unknown): number {
  const delay = Math.trunc(Number(ms));
  // Like browsers: NaN, negative and overflowing delays mean "as soon as possible".
  return delay >= 0 && delay <= MAX_DELAY_MS ? delay : 0;
}

function schedule(name: string, callback: unknown, ms: unknown, args: unknown[], repeat: boolean): number {
  if (typeof callback !== "function") {
    throw new TypeError(`${name}: the callback must be a function (code strings are not evaluated)`);
  }
  const id = ++lastTimerId;
  const timer: Timer = { callback: callback as Timer["callback"], args, ms: delayOf(ms), repeat, op: 0, invocation: currentInvocation() };
  timers.set(id, timer);
  arm(id, timer);
  return id;
}

function arm(id: number, timer: Timer): void {
  timer.op = startOp({ name: "timer", ms: timer.ms, id: timer.invocation }, (ok, value) => {
    if (ok) fire(id, timer);
    else refused(id, timer, value);
  });
}

/** The host would not run the timer (a limit): drop it and say why. */
function refused(id: number, timer: Timer, why: unknown): void {
  if (timers.get(id) !== timer) return;
  timers.delete(id);
  // The invocation that set it is over: a timer does not outlive its request.
  if (why === TIMER_CANCELLED) return;
  reportUncaught(new Error(`timer refused by the host: ${String(why)}`), timer.invocation);
}

function fire(id: number, timer: Timer): void {
  if (timers.get(id) !== timer) return;
  if (!timer.repeat) timers.delete(id);
  runAs(timer.invocation, () => {
    try {
      timer.callback(...timer.args);
    } catch (error) {
      reportUncaught(error, timer.invocation);
    }
  });
  if (timer.repeat && timers.get(id) === timer) arm(id, timer);
}

function clear(id: unknown): void {
  if (typeof id !== "number") return;
  const timer = timers.get(id);
  if (timer === undefined) return;
  timers.delete(id);
  cancelOp(timer.op);
}

export function setTimeout(callback: (...args: unknown[]) => unknown, ms?: number, ...args: unknown[]): number {
  return schedule("setTimeout", callback, ms, args, false);
}

export function setInterval(callback: (...args: unknown[]) => unknown, ms?: number, ...args: unknown[]): number {
  return schedule("setInterval", callback, ms, args, true);
}

export function clearTimeout(id?: unknown): void {
  clear(id);
}

export function clearInterval(id?: unknown): void {
  clear(id);
}

/**
 * HTML's "queue a task": `callback` runs in a later turn of the isolate (a
 * zero-ms host timer, so microtasks queued meanwhile run first), credited to
 * the invocation that queued it.
 */
export function queueTask(callback: () => void): void {
  const invocation = currentInvocation();
  startOp({ name: "timer", ms: 0, id: invocation }, (ok, why) => {
    if (!ok) {
      // A task whose invocation is over is dropped, as its timers are.
      if (why === TIMER_CANCELLED) return;
      reportUncaught(new Error(`task refused by the host: ${String(why)}`), invocation);
      return;
    }
    runAs(invocation, () => {
      try {
        callback();
      } catch (error) {
        reportUncaught(error, invocation);
      }
    });
  });
}

export function queueMicrotask(callback: () => void): void {
  if (typeof callback !== "function") throw new TypeError("queueMicrotask: the callback must be a function");
  const invocation = currentInvocation();
  Promise.resolve().then(() => {
    try {
      callback();
    } catch (error) {
      reportUncaught(error, invocation);
    }
  });
}
