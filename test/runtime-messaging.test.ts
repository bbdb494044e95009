// MessageChannel, MessagePort and MessageEvent inside one isolate, and
// structuredClone's transfer list.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInIsolate } from "./support/runtime-harness.js";

test("messages are cloned when posted and delivered as tasks once the port is started", async () => {
  const seen = await runInIsolate(`
    const { port1, port2 } = new MessageChannel();
    const got = [];
    const order = [];
    const sent = { n: 1, when: new Date(0), items: new Map([["k", [1, 2]]]) };
    port1.postMessage(sent);
    sent.n = 2;
    port1.postMessage("second");
    port2.addEventListener("message", (event) => {
      got.push({
        data: typeof event.data === "string" ? event.data : { n: event.data.n, when: event.data.when.getTime(), items: [...event.data.items], same: event.data === sent },
        trusted: event.isTrusted, target: event.target === port2, type: event instanceof MessageEvent, origin: event.origin, ports: event.ports.length, source: event.source,
      });
      order.push("message");
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    order.push("not started yet");
    port2.start();
    Promise.resolve().then(() => order.push("microtask"));
    await new Promise((resolve) => setTimeout(resolve, 10));
    return { got, order };
  `);
  assert.deepEqual(seen, {
    got: [
      { data: { n: 1, when: 0, items: [["k", [1, 2]]], same: false }, trusted: true, target: true, type: true, origin: "", ports: 0, source: null },
      { data: "second", trusted: true, target: true, type: true, origin: "", ports: 0, source: null },
    ],
    order: ["not started yet", "microtask", "message", "message"],
  });
});

test("setting onmessage starts the port; close() stops delivery both ways", async () => {
  const seen = await runInIsolate(`
    const { port1, port2 } = new MessageChannel();
    const got = [];
    port2.onmessage = (event) => { got.push(event.data); if (event.data === "ping") port2.postMessage("pong"); };
    port1.onmessage = (event) => got.push(event.data);
    port1.postMessage("ping");
    await new Promise((resolve) => setTimeout(resolve, 10));
    port1.close();
    port1.postMessage("after close");
    port2.postMessage("to a closed port");
    await new Promise((resolve) => setTimeout(resolve, 10));
    return { got, handler: typeof port2.onmessage, cleared: (port2.onmessage = null, port2.onmessage) };
  `);
  assert.deepEqual(seen, { got: ["ping", "pong"], handler: "function", cleared: null });
});

test("postMessage transfers only ArrayBuffers, with a clear DataCloneError for anything else", async () => {
  const seen = await runInIsolate(`
    const { port1, port2 } = new MessageChannel();
    const errors = [];
    for (const transfer of [[port1], [new Uint8Array(2)], [{}]]) {
      try { port1.postMessage(1, transfer); } catch (e) { errors.push(e.name + ": " + e.message); }
    }
    try { port1.postMessage(() => 1); } catch (e) { errors.push(e.name); }
    const buffer = new Uint8Array([1, 2, 3]).buffer;
    let received = null;
    port2.onmessage = (event) => { received = Array.from(new Uint8Array(event.data.view.buffer)); };
    port1.postMessage({ view: new Uint8Array(buffer) }, { transfer: [buffer] });
    await new Promise((resolve) => setTimeout(resolve, 10));
    let illegal = null;
    try { new MessagePort(); } catch (e) { illegal = e.name; }
    return { errors, received, illegal };
  `);
  assert.deepEqual(seen, {
    errors: [
      "DataCloneError: MessagePort.postMessage: MessagePorts cannot be transferred in Atoll (the channel lives in one isolate).",
      "DataCloneError: MessagePort.postMessage: Uint8Array could not be transferred: only ArrayBuffers can be transferred in Atoll.",
      "DataCloneError: MessagePort.postMessage: Object could not be transferred: only ArrayBuffers can be transferred in Atoll.",
      "DataCloneError",
    ],
    received: [1, 2, 3],
    illegal: "TypeError",
  });
});

test("MessageEvent, ErrorEvent and PromiseRejectionEvent constructors", async () => {
  const seen = await runInIsolate(`
    const message = new MessageEvent("message", { data: { a: 1 }, origin: "o", lastEventId: "7" });
    const error = new ErrorEvent("error", { message: "m", filename: "f.js", lineno: 3, colno: 4, error: 5, cancelable: true });
    const promise = Promise.resolve();
    const rejection = new PromiseRejectionEvent("unhandledrejection", { promise, reason: "r" });
    const failures = [];
    try { new PromiseRejectionEvent("unhandledrejection", {}); } catch (e) { failures.push(e.name); }
    try { new MessageEvent("message", { source: {} }); } catch (e) { failures.push(e.name); }
    return {
      message: [message.data.a, message.origin, message.lastEventId, message.source, message.ports.length, Object.isFrozen(message.ports), message.isTrusted],
      error: [error.message, error.filename, error.lineno, error.colno, error.error, error.cancelable, error instanceof Event],
      rejection: [rejection.promise === promise, rejection.reason],
      failures,
      tags: [message, error, rejection].map((event) => Object.prototype.toString.call(event)),
    };
  `);
  assert.deepEqual(seen, {
    message: [1, "o", "7", null, 0, true, false],
    error: ["m", "f.js", 3, 4, 5, true, true],
    rejection: [true, "r"],
    failures: ["TypeError", "TypeError"],
    tags: ["[object MessageEvent]", "[object ErrorEvent]", "[object PromiseRejectionEvent]"],
  });
});

test("structuredClone takes a transfer list of ArrayBuffers", async () => {
  const seen = await runInIsolate(`
    const buffer = new Uint8Array([9, 8]).buffer;
    const copy = structuredClone({ buffer }, { transfer: [buffer] });
    let error = null;
    try { structuredClone(1, { transfer: [buffer, buffer] }); } catch (e) { error = e.name; }
    return { bytes: Array.from(new Uint8Array(copy.buffer)), distinct: copy.buffer !== buffer, error };
  `);
  assert.deepEqual(seen, { bytes: [9, 8], distinct: true, error: "DataCloneError" });
});
