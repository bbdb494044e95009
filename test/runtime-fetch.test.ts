// Invocations through the bridge: Request and Response bodies, the inline fast
// path versus streamed bodies, handler errors, waitUntil and abort.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RuntimeHarness, runInIsolate } from "./support/runtime-harness.js";

async function withHandler(source: string, run: (harness: RuntimeHarness) => Promise<void>): Promise<void> {
  const harness = await RuntimeHarness.boot(source);
  try {
    await run(harness);
  } finally {
    harness.dispose();
  }
}

test("a string response goes out inline, with its default content type, and no stream is made", async () => {
  await withHandler(
    `export default { fetch: () => new Response("hi") };`,
    async (harness) => {
      const response = await harness.fetch();
      assert.equal(response.status, 200);
      assert.equal(response.bodyKind, "inline");
      assert.equal(response.text, "hi");
      assert.deepEqual(response.headers, [["content-type", "text/plain;charset=UTF-8"]]);
      await response.done;
      assert.deepEqual(response.messages.map((m) => m.t), ["response", "done"]);
    },
  );
});

test("status, statusText and headers reach the host; null bodies send no body", async () => {
  await withHandler(
    `export default { fetch: () => new Response(null, { status: 204, statusText: "Nothing", headers: { "X-A": "1", "set-cookie": "a=1" } }) };`,
    async (harness) => {
      const response = await harness.fetch();
      assert.equal(response.status, 204);
      assert.equal(response.statusText, "Nothing");
      assert.equal(response.bodyKind, "none");
      assert.deepEqual(response.headers, [["x-a", "1"], ["set-cookie", "a=1"]]);
    },
  );
});

test("a ReadableStream body is pulled chunk by chunk", async () => {
  await withHandler(
    `export default {
      fetch() {
        let n = 0;
        const encoder = new TextEncoder();
        return new Response(new ReadableStream({
          pull(controller) {
            n++;
            if (n <= 3) controller.enqueue(encoder.encode("part" + n + ";"));
            else if (n === 4) controller.enqueue("text chunk;");
            else controller.close();
          },
        }), { headers: { "content-type": "text/plain" } });
      },
    };`,
    async (harness) => {
      const response = await harness.fetch();
      assert.equal(response.bodyKind, "stream");
      assert.equal(response.chunks, 4);
      assert.equal(response.text, "part1;part2;part3;text chunk;");
      await response.done;
      assert.equal(response.messages.at(-1)?.t, "done");
      assert.equal(response.messages.at(-2)?.t, "end");
    },
  );
});

test("a non-byte chunk in a response stream ends the response with an error", async () => {
  await withHandler(
    `export default { fetch: () => new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array([65])); c.enqueue({ nope: true }); c.close(); } })) };`,
    async (harness) => {
      const response = await harness.fetch();
      assert.equal(response.text, "A");
      assert.match(response.error?.message ?? "", /chunks must be Uint8Array/);
      await response.done;
    },
  );
});

test("request bodies: inline JSON, and a streamed body passed back untouched goes to the host as a pipe, never read in the isolate", async () => {
  await withHandler(
    `export default {
      async fetch(request) {
        if (request.method === "POST" && request.url.endsWith("/json")) {
          const data = await request.json();
          return Response.json({ got: data, used: request.bodyUsed });
        }
        return new Response(request.body, { headers: { "content-type": request.headers.get("content-type") } });
      },
    };`,
    async (harness) => {
      const json = await harness.fetch({ method: "POST", url: "https://example.com/json", body: '{"a":[1,2,"é"]}' });
      assert.deepEqual(json.json(), { got: { a: [1, 2, "é"] }, used: true });
      assert.equal(json.header("content-type"), "application/json");

      const echo = await harness.fetch({ method: "PUT", url: "https://example.com/echo", headers: { "content-type": "text/x-echo" }, bodyChunks: ["one,", "two,", "three"] });
      assert.equal(echo.bodyKind, "piped");
      assert.equal(echo.text, "one,two,three");
      assert.equal(echo.header("content-type"), "text/x-echo");
      const reads = harness.messages.filter((m) => m.t === "op" && m.name === "request-body-read");
      assert.equal(reads.length, 0);
    },
  );
});

test("a streamed request body the function has started reading is pumped through the isolate, not piped", async () => {
  await withHandler(
    `export default {
      async fetch(request) {
        const reader = request.body.getReader();
        const first = await reader.read();
        reader.releaseLock();
        const rest = request.body;
        return new Response(new ReadableStream({
          start(controller) { controller.enqueue(first.value); },
          async pull(controller) {
            const r = rest.getReader();
            for (;;) { const { done, value } = await r.read(); if (done) break; controller.enqueue(value); }
            controller.close();
          },
        }));
      },
    };`,
    async (harness) => {
      const echo = await harness.fetch({ method: "PUT", url: "https://example.com/echo", bodyChunks: ["one,", "two,", "three"] });
      assert.equal(echo.bodyKind, "stream");
      assert.equal(echo.text, "one,two,three");
      assert.equal(harness.messages.filter((m) => m.t === "op" && m.name === "request-body-read").length, 4);
    },
  );
});

test("a streamed request body can be read whole with text()", async () => {
  await withHandler(
    `export default { async fetch(request) { const text = await request.text(); return new Response(text.toUpperCase() + ":" + request.bodyUsed); } };`,
    async (harness) => {
      const response = await harness.fetch({ method: "POST", bodyChunks: ["ab", new Uint8Array([0xc3]), new Uint8Array([0xa9]), "cd"] });
      assert.equal(response.text, "ABÉCD:true");
      assert.equal(response.bodyKind, "inline");
    },
  );
});

test("re-wrapping a response (new Response(res.body, res)) keeps the body inline", async () => {
  await withHandler(
    `export default {
      fetch() {
        const res = new Response("wrapped", { status: 201, headers: { "x-a": "1" } });
        const again = new Response(res.body, res);
        again.headers.set("x-b", "2");
        return again;
      },
    };`,
    async (harness) => {
      const response = await harness.fetch();
      assert.equal(response.status, 201);
      assert.equal(response.bodyKind, "inline");
      assert.equal(response.text, "wrapped");
      assert.equal(response.header("x-b"), "2");
      assert.equal(response.header("content-type"), "text/plain;charset=UTF-8");
    },
  );
});

test("a handler that throws or rejects gives an error message with its stack, then done", async () => {
  await withHandler(
    `export default {
      async fetch(request) {
        if (request.url.endsWith("/sync")) throw new TypeError("sync boom");
        await null;
        throw new Error("async boom");
      },
    };`,
    async (harness) => {
      const sync = await harness.fetch({ url: "https://example.com/sync" });
      assert.equal(sync.error?.message, "sync boom");
      assert.match(sync.error?.stack ?? "", /TypeError: sync boom\n\s+at /);
      await sync.done;
      const later = await harness.fetch({ url: "https://example.com/async" });
      assert.equal(later.error?.message, "async boom");
      await later.done;
      assert.deepEqual(harness.callErrors, []);
    },
  );
});

test("a handler that returns something other than a Response gets a clear error", async () => {
  await withHandler(
    `export default { fetch(request) { return request.url.endsWith("/obj") ? { status: 200 } : "text"; } };`,
    async (harness) => {
      const object = await harness.fetch({ url: "https://example.com/obj" });
      assert.equal(object.error?.message, "fetch handler must return a Response, got an object");
      const text = await harness.fetch({ url: "https://example.com/text" });
      assert.equal(text.error?.message, "fetch handler must return a Response, got a string");
      const error = await runInIsolate(`return "ok";`);
      assert.equal(error, "ok");
    },
  );
});

test("returning Response.error() or a used body is an error", async () => {
  await withHandler(
    `export default {
      async fetch(request) {
        if (request.url.endsWith("/error")) return Response.error();
        const response = new Response("x");
        await response.text();
        return response;
      },
    };`,
    async (harness) => {
      assert.match((await harness.fetch({ url: "https://example.com/error" })).error?.message ?? "", /Response\.error\(\)/);
      assert.match((await harness.fetch({ url: "https://example.com/used" })).error?.message ?? "", /body already used/);
    },
  );
});

test("done waits for every ctx.waitUntil promise; their rejections are reported as uncaught", async () => {
  await withHandler(
    `export default {
      fetch(request, env, ctx) {
        ctx.waitUntil(new Promise((resolve) => setTimeout(() => { console.log("background finished"); resolve(); }, 50)));
        ctx.waitUntil(Promise.reject(new Error("background failed")));
        return new Response("quick");
      },
    };`,
    async (harness) => {
      const started = Date.now();
      const response = await harness.fetch();
      assert.equal(response.text, "quick");
      assert.ok(!response.messages.some((m) => m.t === "done"), "done must wait for waitUntil");
      await response.done;
      assert.ok(Date.now() - started >= 45);
      const kinds = response.messages.map((m) => m.t);
      assert.deepEqual(kinds, ["response", "done"]);
      assert.deepEqual(harness.logs.map((l) => [l.id, l.message]), [[response.id, "background finished"]]);
      assert.equal(harness.uncaught[0]?.message, "background failed");
      assert.equal(harness.uncaught[0]?.id, response.id);
    },
  );
});

test("abort() aborts request.signal, cancels the response stream and still ends with done", async () => {
  await withHandler(
    `let cancelled = null;
    export default {
      fetch(request) {
        request.signal.addEventListener("abort", () => console.log("aborted:", request.signal.reason.name, request.signal.reason.message));
        return new Response(new ReadableStream({
          pull(controller) { controller.enqueue(new Uint8Array(4)); },
          cancel(reason) { console.log("cancelled:", String(reason)); },
        }));
      },
    };`,
    async (harness) => {
      const { id, result } = harness.startFetch();
      await harness.waitFor((m) => m.t === "response");
      harness.abort(id, "client went away");
      await harness.waitFor((m) => m.t === "done" && m.id === id);
      assert.equal((await result).endedWithoutBody, true);
      assert.deepEqual(
        harness.logs.map((l) => l.message),
        ["aborted: AbortError client went away", "cancelled: AbortError: client went away"],
      );
    },
  );
});

test("console output is credited to the invocation and formatted", async () => {
  await withHandler(
    `export default {
      fetch() {
        console.log("plain", 1, { a: [1, { b: "x" }] }, null, undefined);
        console.warn("%s is %d years and %i days, %f%%, %j, %o", "Bob", 42.5, "7.9", "1.5", { k: 1 }, [1]);
        console.error(new RangeError("bad range"));
        const cyclic = { name: "loop" }; cyclic.self = cyclic;
        console.info(cyclic, new Map([["k", 1]]), new Set([1, 2]), new Uint8Array([1, 2]), Symbol("s"), 10n, () => {}, class Foo {});
        console.debug({ deep: { deeper: { deepest: { tooDeep: 1 } } } }, [1, , 3], -0, "str");
        console.log(new Headers({ "X-Y": "z" }), new URL("https://a.example/p?q=1"));
        console.assert(1 === 2, "math");
        console.count(); console.count();
        console.group("g"); console.log("inside"); console.groupEnd(); console.log("outside");
        console.table([{ a: 1, b: "x" }, { a: 2 }]);
        return new Response("ok");
      },
    };`,
    async (harness) => {
      const response = await harness.fetch();
      await response.done;
      const lines = harness.logs.map((l) => `${l.level} ${l.message}`);
      assert.ok(harness.logs.every((l) => l.id === response.id));
      assert.equal(lines[0], "log plain 1 { a: [ 1, { b: 'x' } ] } null undefined");
      assert.equal(lines[1], "warn Bob is 42.5 years and 7 days, 1.5%, {\"k\":1}, [ 1 ]");
      assert.match(lines[2]!, /^error RangeError: bad range\n\s+at /);
      assert.equal(
        lines[3],
        "info <ref *1> { name: 'loop', self: [Circular *1] } Map(1) { 'k' => 1 } Set(2) { 1, 2 } Uint8Array(2) [ 1, 2 ] Symbol(s) 10n [Function (anonymous)] [class Foo]"
          .replace("<ref *1> ", "")
          .replace("[Circular *1]", "[Circular]"),
      );
      assert.equal(lines[4], "debug { deep: { deeper: { deepest: [Object] } } } [ 1, <1 empty item>, 3 ] -0 str");
      assert.equal(lines[5], 'log Headers { "x-y": "z" } URL { href: "https://a.example/p?q=1" }');
      assert.equal(lines[6], "error Assertion failed: math");
      assert.deepEqual(lines.slice(7, 12), ["log default: 1", "log default: 2", "log g", "log   inside", "log outside"]);
      assert.match(lines[12]!, /┌─+┬─+┬─+┐\n│ \(index\) │ +a +│ +b +│/);
    },
  );
});

test("console output outside any invocation has no id", async () => {
  const harness = await RuntimeHarness.boot(`console.log("at load"); export default { fetch: () => new Response("") };`);
  try {
    await harness.waitFor((m) => m.t === "log");
    assert.deepEqual(harness.logs, [{ id: null, level: "log", message: "at load" }]);
  } finally {
    harness.dispose();
  }
});
