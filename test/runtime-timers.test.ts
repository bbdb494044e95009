// Timers over the `timer` op, microtasks, AbortSignal.timeout/any, events.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RuntimeHarness, runInIsolate } from "./support/runtime-harness.js";

test("setTimeout fires in delay order, passes arguments, and clearTimeout cancels", async () => {
  const seen = await runInIsolate(`
    const order = [];
    await new Promise((resolve) => {
      setTimeout((tag) => order.push(tag), 30, "thirty");
      setTimeout(() => order.push("zero"));
      const cancelled = setTimeout(() => order.push("cancelled"), 10);
      setTimeout(() => order.push("ten"), 10);
      clearTimeout(cancelled);
      queueMicrotask(() => order.push("microtask"));
      setTimeout(resolve, 60);
    });
    return order;
  `);
  assert.deepEqual(seen, ["microtask", "zero", "ten", "thirty"]);
});

test("clearTimeout tells the host, setInterval repeats until cleared", async () => {
  const harness = await RuntimeHarness.boot(`
    export default {
      async fetch() {
        const pending = setTimeout(() => {}, 10000);
        clearTimeout(pending);
        let ticks = 0;
        await new Promise((resolve) => {
          const interval = setInterval(() => { if (++ticks === 3) { clearInterval(interval); resolve(); } }, 5);
        });
        return new Response(String(ticks));
      },
    };
  `);
  try {
    const response = await harness.fetch();
    assert.equal(response.text, "3");
    const timerOps = harness.messages.filter((m) => m.t === "op" && m.name === "timer");
    const cancels = harness.messages.filter((m) => m.t === "cancel");
    assert.equal(timerOps.length, 4);
    assert.deepEqual(cancels, [{ t: "cancel", op: (timerOps[0] as { op: number }).op }]);
  } finally {
    harness.dispose();
  }
});

test("an error thrown in a timer callback is reported as uncaught, with the invocation's id", async () => {
  const harness = await RuntimeHarness.boot(`
    export default {
      fetch(request, env, ctx) {
        ctx.waitUntil(new Promise((resolve) => setTimeout(() => { resolve(); throw new Error("timer boom"); }, 5)));
        return new Response("ok");
      },
    };
  `);
  try {
    const response = await harness.fetch();
    await response.done;
    await harness.waitFor((m) => m.t === "uncaught");
    assert.equal(harness.uncaught[0]?.message, "timer boom");
    assert.equal(harness.uncaught[0]?.id, response.id);
    assert.match(harness.uncaught[0]?.stack ?? "", /Error: timer boom/);
  } finally {
    harness.dispose();
  }
});

test("setTimeout refuses code strings", async () => {
  const seen = await runInIsolate(`try { setTimeout("1 + 1", 0); return "accepted"; } catch (e) { return e.name; }`);
  assert.equal(seen, "TypeError");
});

test("AbortController, AbortSignal.abort/timeout/any and listeners", async () => {
  const seen = await runInIsolate(`
    const out = {};
    const controller = new AbortController();
    const events = [];
    controller.signal.addEventListener("abort", (event) => events.push("listener:" + event.type));
    controller.signal.onabort = () => events.push("onabort");
    controller.signal.addEventListener("abort", () => events.push("once"), { once: true });
    controller.abort();
    controller.abort("again");
    out.events = events;
    out.reason = [controller.signal.reason.name, controller.signal.reason.code, controller.signal.reason instanceof DOMException, controller.signal.reason instanceof Error];
    try { controller.signal.throwIfAborted(); } catch (e) { out.thrown = e.name; }
    out.preAborted = [AbortSignal.abort("why").aborted, AbortSignal.abort("why").reason];
    const timeout = AbortSignal.timeout(10);
    await new Promise((resolve) => timeout.addEventListener("abort", resolve));
    out.timeout = timeout.reason.name;
    const a = new AbortController(), b = new AbortController();
    const any = AbortSignal.any([a.signal, b.signal]);
    const anyEvents = [];
    any.addEventListener("abort", () => anyEvents.push(any.reason));
    b.abort("b wins");
    a.abort("too late");
    out.any = [any.aborted, any.reason, anyEvents];
    try { new AbortSignal(); } catch (e) { out.illegal = e.name; }
    return out;
  `);
  assert.deepEqual(seen, {
    events: ["listener:abort", "onabort", "once"],
    reason: ["AbortError", 20, true, true],
    thrown: "AbortError",
    preAborted: [true, "why"],
    timeout: "TimeoutError",
    any: [true, "b wins", ["b wins"]],
    illegal: "TypeError",
  });
});

test("EventTarget: capture order, once, removal, handleEvent objects, preventDefault, listener errors", async () => {
  const harness = await RuntimeHarness.boot(`
    export default {
      fetch() {
        const target = new EventTarget();
        const log = [];
        const removed = () => log.push("removed");
        target.addEventListener("ping", () => log.push("bubble"));
        target.addEventListener("ping", () => log.push("capture"), { capture: true });
        target.addEventListener("ping", removed);
        target.removeEventListener("ping", removed);
        target.addEventListener("ping", { handleEvent(e) { log.push("object:" + (e.currentTarget === target)); } });
        target.addEventListener("ping", () => { throw new Error("listener boom"); });
        target.addEventListener("ping", (e) => { e.preventDefault(); log.push("after error"); });
        const event = new Event("ping", { cancelable: true });
        const notCancelled = target.dispatchEvent(event);
        const custom = new CustomEvent("x", { detail: { n: 1 } });
        return Response.json({ log, notCancelled, defaultPrevented: event.defaultPrevented, detail: custom.detail, phase: event.eventPhase });
      },
    };
  `);
  try {
    const response = await harness.fetch();
    assert.deepEqual(response.json(), {
      log: ["capture", "bubble", "object:true", "after error"],
      notCancelled: false,
      defaultPrevented: true,
      detail: { n: 1 },
      phase: 0,
    });
    await harness.waitFor((m) => m.t === "uncaught");
    assert.equal(harness.uncaught[0]?.message, "listener boom");
  } finally {
    harness.dispose();
  }
});
