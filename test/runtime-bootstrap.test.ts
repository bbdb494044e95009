// The runtime's bootstrap: what user code can and cannot see, install() errors,
// and the runtime script's V8 code cache.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type CachedScript, RuntimeHarness, runInIsolate } from "./support/runtime-harness.js";

test("host functions, entry points, shared memory and Node globals are invisible to user code", async () => {
  const seen = await runInIsolate(`
    return {
      process: typeof process, require: typeof require, module: typeof module, Buffer: typeof Buffer,
      emit: typeof __atoll_emit, random: typeof __atoll_random_bytes, runtime: typeof __atoll_runtime,
      WebAssembly: typeof WebAssembly, SharedArrayBuffer: typeof SharedArrayBuffer, Atomics: typeof Atomics,
      ownHostNames: Object.getOwnPropertyNames(globalThis).filter((name) => name.startsWith("__atoll")),
    };
  `);
  assert.deepEqual(seen, {
    process: "undefined",
    require: "undefined",
    module: "undefined",
    Buffer: "undefined",
    emit: "undefined",
    random: "undefined",
    runtime: "undefined",
    WebAssembly: "object",
    SharedArrayBuffer: "undefined",
    Atomics: "undefined",
    // The runtime's own hook for a bundle's .wasm imports (runtime/wasm.ts); no host function.
    ownHostNames: ["__atoll_wasm_module"],
  });
});

test("Web platform globals are installed, not enumerable, and self is the global", async () => {
  const seen = (await runInIsolate(`
    const names = ["Request", "Response", "Headers", "ReadableStream", "WritableStream", "TransformStream",
      "ReadableStreamDefaultReader", "ByteLengthQueuingStrategy", "CountQueuingStrategy", "TextEncoderStream",
      "URL", "URLSearchParams", "TextEncoder", "TextDecoder", "atob", "btoa", "console", "setTimeout",
      "clearTimeout", "setInterval", "clearInterval", "queueMicrotask", "structuredClone", "crypto", "Event",
      "EventTarget", "AbortController", "AbortSignal", "DOMException", "navigator", "performance", "reportError",
      "caches", "Cache", "CacheStorage"];
    return {
      missing: names.filter((name) => typeof globalThis[name] === "undefined"),
      enumerable: names.filter((name) => Object.getOwnPropertyDescriptor(globalThis, name)?.enumerable),
      misnamed: names.filter((name) => typeof globalThis[name] === "function" && globalThis[name].name !== name),
      constructors: [navigator, performance, globalThis, ctx, caches, caches.default].map((value) => value.constructor.name),
      self: self === globalThis,
      userAgent: navigator.userAgent,
    };
  `)) as Record<string, unknown>;
  assert.deepEqual(seen, {
    missing: [],
    enumerable: [],
    misnamed: [],
    constructors: ["Navigator", "Performance", "WorkerGlobalScope", "ExecutionContext", "CacheStorage", "Cache"],
    self: true,
    userAgent: "Atoll",
  });
});

test("runtime functions cannot be reached through fn.caller or structured stack frames", async () => {
  const harness = await RuntimeHarness.boot(`
    const leaks = [];
    Error.prepareStackTrace = (error, frames) => {
      for (const frame of frames) {
        if (frame.getFileName() === "atoll:runtime.js") leaks.push(typeof frame.getFunction(), typeof frame.getThis());
      }
      return "";
    };
    // A sloppy-mode function: its .caller would expose a sloppy caller.
    const sloppy = new Function("leaks", "leaks.push(sloppyCaller = typeof arguments.callee.caller === 'function' ? 'leaked' : String(arguments.callee.caller)); new Error().stack; return new Response('x');");
    export default {
      async fetch(request) {
        sloppy(leaks);
        const response = await new Promise((resolve) => setTimeout(() => resolve(sloppy(leaks)), 1));
        await new Response(new ReadableStream({ pull(c) { new Error().stack; c.close(); } })).text();
        return Response.json(leaks);
      },
    };
  `);
  try {
    const response = await harness.fetch();
    const leaks = response.json() as string[];
    assert.ok(leaks.length > 2, "frames from the runtime were seen");
    assert.deepEqual(new Set(leaks), new Set(["null", "undefined"]));
  } finally {
    harness.dispose();
  }
});

test("install() accepts an object whose handlers are methods and reports which exist", async () => {
  const harness = await RuntimeHarness.boot(`
    export default {
      greeting: "hello",
      fetch(request) { return new Response(this.greeting); },
      scheduled() {},
    };
  `);
  try {
    assert.deepEqual(harness.handlers, { fetch: true, scheduled: true, storage: false });
    const response = await harness.fetch();
    assert.equal(response.text, "hello");
  } finally {
    harness.dispose();
  }
});

test("install() rejects a default export without a handler, with a clear TypeError", async () => {
  for (const [source, pattern] of [
    ["export default { hello: 1 };", /no handler: give it a fetch/],
    ["export default 42;", /must be an object .* got number/],
    ['export default { fetch: "nope" };', /"fetch" must be a function, got a string/],
  ] as const) {
    await assert.rejects(RuntimeHarness.boot(source), (error: Error) => {
      assert.match(error.message, pattern);
      assert.equal(error.name, "TypeError");
      return true;
    });
  }
});

test("the runtime script boots from V8 code cache", async () => {
  const { default: ivm } = await import("isolated-vm");
  const { readFileSync } = await import("node:fs");
  const code = readFileSync(new URL("../runtime/runtime.js", import.meta.url), "utf8");
  const boot = (isolate: InstanceType<typeof ivm.Isolate>, script: CachedScript) => {
    const context = isolate.createContextSync();
    context.global.setSync("__atoll_emit", new ivm.Callback(() => {}, { ignored: true }));
    context.global.setSync("__atoll_random_bytes", new ivm.Callback((n: number) => new Uint8Array(n), { sync: true }));
    script.runSync(context);
    return context.evalSync("Object.keys(__atoll_runtime).join()");
  };
  const first = new ivm.Isolate({ memoryLimit: 64 });
  const second = new ivm.Isolate({ memoryLimit: 64 });
  try {
    const produced: CachedScript = first.compileScriptSync(code, { produceCachedData: true });
    assert.ok(produced.cachedData && produced.cachedData.copy().byteLength > 0);
    assert.equal(boot(first, produced), "install,dispatch,pull,resolve,abort,rejection,warm,wasmBytes");
    const cached: CachedScript = second.compileScriptSync(code, { cachedData: produced.cachedData });
    assert.equal(cached.cachedDataRejected, false);
    assert.equal(boot(second, cached), "install,dispatch,pull,resolve,abort,rejection,warm,wasmBytes");
  } finally {
    first.dispose();
    second.dispose();
  }
});
