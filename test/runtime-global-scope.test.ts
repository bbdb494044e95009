// The global object as an EventTarget: "error" events for errors nobody
// handled, "unhandledrejection" events for rejections, both cancelable, and
// only what no listener canceled reaches the host log (`uncaught`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { RuntimeHarness, runInIsolate } from "./support/runtime-harness.js";

/** Lets the isolate's timers, tasks and the host's rejection calls run. */
const settle = (ms = 60) => new Promise((resolve) => setTimeout(resolve, ms));

test("the global object is an EventTarget, with self and bare calls reaching it", async () => {
  const seen = await runInIsolate(`
    const got = [];
    const listener = (event) => got.push([event.type, event.target === globalThis, event.currentTarget === self, event.isTrusted]);
    addEventListener("ping", listener);
    self.dispatchEvent(new Event("ping"));
    globalThis.removeEventListener("ping", listener);
    dispatchEvent(new Event("ping"));
    let illegal = null;
    try { new (Object.getPrototypeOf(globalThis).constructor)(); } catch (e) { illegal = e.name; }
    return {
      got, self: self === globalThis, isEventTarget: globalThis instanceof EventTarget,
      tag: Object.prototype.toString.call(globalThis), illegal,
      handlers: [typeof onerror, onerror, onunhandledrejection],
    };
  `);
  assert.deepEqual(seen, {
    got: [["ping", true, true, false]],
    self: true,
    isEventTarget: true,
    tag: "[object WorkerGlobalScope]",
    illegal: "TypeError",
    handlers: ["object", null, null],
  });
});

test("errors in timers, tasks, listeners and reportError() dispatch a cancelable ErrorEvent at the global", async () => {
  const harness = await RuntimeHarness.boot(`
    const seen = [];
    addEventListener("error", (event) => {
      seen.push({
        message: event.message, file: event.filename, line: event.lineno > 0, col: event.colno > 0,
        error: event.error?.message, trusted: event.isTrusted, cancelable: event.cancelable, event: event instanceof ErrorEvent,
      });
      if (String(event.error?.message).startsWith("quiet")) event.preventDefault();
    });
    export default {
      async fetch(request) {
        if (new URL(request.url).pathname === "/seen") return Response.json(seen);
        setTimeout(() => { throw new Error("loud timer"); }, 1);
        setTimeout(() => { throw new Error("quiet timer"); }, 1);
        queueMicrotask(() => { throw new TypeError("quiet microtask"); });
        const target = new EventTarget();
        target.addEventListener("x", () => { throw new RangeError("loud listener"); });
        target.dispatchEvent(new Event("x"));
        reportError(new Error("quiet report"));
        reportError("a string");
        return new Response("ok");
      },
    };
  `);
  try {
    const response = await harness.fetch();
    await settle();
    const seen = (await harness.fetch({ url: "https://example.com/seen" })).json() as { message: string; error?: string }[];
    assert.deepEqual(
      seen.map((event) => event.message).sort(),
      [
        "Uncaught Error: loud timer",
        "Uncaught Error: quiet report",
        "Uncaught Error: quiet timer",
        'Uncaught "a string"',
        "Uncaught RangeError: loud listener",
        "Uncaught TypeError: quiet microtask",
      ].sort(),
    );
    const timer = seen.find((event) => event.error === "loud timer");
    assert.deepEqual(timer, {
      message: "Uncaught Error: loud timer",
      file: "file:///user.js",
      line: true,
      col: true,
      error: "loud timer",
      trusted: true,
      cancelable: true,
      event: true,
    });
    // Canceled events never reach the log; the others keep the invocation's id.
    assert.deepEqual(harness.uncaught.map((entry) => entry.message).sort(), ["a string", "loud listener", "loud timer"]);
    assert.ok(harness.uncaught.every((entry) => entry.id === response.id));
  } finally {
    harness.dispose();
  }
});

test("onerror gets (message, filename, lineno, colno, error) and cancels by returning true", async () => {
  const harness = await RuntimeHarness.boot(`
    const calls = [];
    self.onerror = function (message, filename, lineno, colno, error) {
      calls.push([this === globalThis, message, filename, typeof lineno, typeof colno, error.message]);
      return error.message === "handled";
    };
    export default {
      fetch(request) {
        if (new URL(request.url).pathname === "/calls") return Response.json(calls);
        reportError(new Error("handled"));
        reportError(new Error("logged"));
        return new Response("ok");
      },
    };
  `);
  try {
    await harness.fetch();
    const calls = (await harness.fetch({ url: "https://example.com/calls" })).json();
    assert.deepEqual(calls, [
      [true, "Uncaught Error: handled", "file:///user.js", "number", "number", "handled"],
      [true, "Uncaught Error: logged", "file:///user.js", "number", "number", "logged"],
    ]);
    assert.deepEqual(harness.uncaught.map((entry) => entry.message), ["logged"]);
  } finally {
    harness.dispose();
  }
});

test("an error thrown by an error listener goes to the log instead of another error event", async () => {
  const harness = await RuntimeHarness.boot(`
    let events = 0;
    addEventListener("error", () => { events++; throw new Error("listener failed"); });
    export default {
      fetch(request) {
        if (new URL(request.url).pathname === "/events") return Response.json(events);
        reportError(new Error("first"));
        return new Response("ok");
      },
    };
  `);
  try {
    await harness.fetch();
    assert.equal((await harness.fetch({ url: "https://example.com/events" })).json(), 1);
    assert.deepEqual(harness.uncaught.map((entry) => entry.message), ["listener failed", "first"]);
  } finally {
    harness.dispose();
  }
});

test("a promise rejection nobody handles dispatches unhandledrejection, with a copy of its reason", async () => {
  const harness = await RuntimeHarness.boot(`
    const seen = [];
    addEventListener("unhandledrejection", (event) => {
      const reason = event.reason;
      seen.push({
        name: reason instanceof Error ? reason.name : typeof reason,
        message: reason instanceof Error ? reason.message : reason,
        stack: reason instanceof Error && /at .*user\\.js/.test(reason.stack),
        promise: event.promise instanceof Promise, trusted: event.isTrusted, cancelable: event.cancelable,
        event: event instanceof PromiseRejectionEvent,
      });
      if (reason === "quiet") event.preventDefault();
    });
    export default {
      async fetch(request) {
        const path = new URL(request.url).pathname;
        if (path === "/seen") return Response.json(seen);
        if (path === "/error") Promise.reject(new TypeError("nobody awaited me"));
        if (path === "/quiet") Promise.reject("quiet");
        if (path === "/handled-late") { const p = Promise.reject(new Error("late")); await null; p.catch(() => {}); }
        return new Response("ok");
      },
    };
  `);
  try {
    const error = await harness.fetch({ url: "https://example.com/error" });
    await settle();
    await harness.fetch({ url: "https://example.com/quiet" });
    await settle();
    await harness.fetch({ url: "https://example.com/handled-late" });
    await settle();
    const seen = (await harness.fetch({ url: "https://example.com/seen" })).json();
    assert.deepEqual(seen, [
      { name: "TypeError", message: "nobody awaited me", stack: true, promise: true, trusted: true, cancelable: true, event: true },
      { name: "string", message: "quiet", stack: false, promise: true, trusted: true, cancelable: true, event: true },
    ]);
    assert.deepEqual(harness.uncaught.map((entry) => [entry.message, entry.id]), [["nobody awaited me", error.id]]);
  } finally {
    harness.dispose();
  }
});

test("a rejected ctx.waitUntil promise dispatches unhandledrejection with the promise itself", async () => {
  const harness = await RuntimeHarness.boot(`
    let same = null;
    let pending = null;
    self.onunhandledrejection = (event) => {
      same = event.promise === pending && event.reason.message === "background";
      return false;
    };
    export default {
      fetch(request, env, ctx) {
        if (new URL(request.url).pathname === "/same") return Response.json(same);
        pending = Promise.reject(new Error("background"));
        ctx.waitUntil(pending);
        return new Response("ok");
      },
    };
  `);
  try {
    const response = await harness.fetch();
    await response.done;
    assert.equal((await harness.fetch({ url: "https://example.com/same" })).json(), true);
    assert.deepEqual(harness.uncaught, []);
  } finally {
    harness.dispose();
  }
});
