// Headers, Request and Response as user code sees them (WHATWG Fetch).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInIsolate } from "./support/runtime-harness.js";

test("Headers: case-insensitive, combined, sorted, set-cookie kept apart", async () => {
  const seen = await runInIsolate(`
    const h = new Headers({ "Content-Type": "text/html", "X-B": "2" });
    h.append("x-a", "1");
    h.append("X-A", "  2\\t");
    h.append("Set-Cookie", "a=1");
    h.append("set-cookie", "b=2");
    const forEach = [];
    h.forEach((value, name) => forEach.push(name + "=" + value));
    const copy = new Headers(h);
    copy.delete("x-a");
    h.set("x-b", "3");
    return {
      get: h.get("X-a"), has: h.has("CONTENT-TYPE"), missing: h.get("nope"),
      entries: [...h], keys: [...h.keys()], values: [...h.values()], forEach,
      cookies: h.getSetCookie(), cookieGet: h.get("set-cookie"),
      copy: [...copy], fromPairs: [...new Headers([["a", "1"], ["A", "2"]])],
      tag: Object.prototype.toString.call(h),
    };
  `);
  assert.deepEqual(seen, {
    get: "1, 2",
    has: true,
    missing: null,
    entries: [["content-type", "text/html"], ["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x-a", "1, 2"], ["x-b", "3"]],
    keys: ["content-type", "set-cookie", "set-cookie", "x-a", "x-b"],
    values: ["text/html", "a=1", "b=2", "1, 2", "3"],
    forEach: ["content-type=text/html", "set-cookie=a=1", "set-cookie=b=2", "x-a=1, 2", "x-b=2"],
    cookies: ["a=1", "b=2"],
    cookieGet: "a=1, b=2",
    copy: [["content-type", "text/html"], ["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x-b", "2"]],
    fromPairs: [["a", "1, 2"]],
    tag: "[object Headers]",
  });
});

test("Headers: invalid names, values and pairs are TypeErrors; redirect headers are immutable", async () => {
  const seen = await runInIsolate(`
    const errors = [];
    const attempt = (label, fn) => { try { fn(); errors.push(label + ": no error"); } catch (e) { errors.push(label + ": " + e.name); } };
    attempt("space in name", () => new Headers({ "bad name": "x" }));
    attempt("newline in value", () => new Headers().set("x", "a\\nb"));
    attempt("non-latin1 value", () => new Headers().set("x", "€"));
    attempt("short pair", () => new Headers([["only-name"]]));
    attempt("get bad name", () => new Headers().get("a:b"));
    attempt("immutable", () => Response.redirect("https://example.com/").headers.set("x", "1"));
    return errors;
  `);
  assert.deepEqual(seen, [
    "space in name: TypeError",
    "newline in value: TypeError",
    "non-latin1 value: TypeError",
    "short pair: TypeError",
    "get bad name: TypeError",
    "immutable: TypeError",
  ]);
});

test("Request: construction, method normalisation, init from another Request, clone", async () => {
  const seen = await runInIsolate(`
    const a = new Request("https://example.com/a?x=1", { method: "post", headers: { "X-T": "1" }, body: "payload" });
    const b = new Request(a, { headers: { "X-T": "2" } });
    const errors = [];
    for (const fn of [
      () => new Request("/relative"),
      () => new Request("https://example.com/", { method: "GET", body: "x" }),
      () => new Request("https://example.com/", { method: "bad method" }),
      () => new Request("https://example.com/", { method: "CONNECT" }),
      () => new Request("https://example.com/", { redirect: "sideways" }),
    ]) { try { fn(); errors.push("none"); } catch (e) { errors.push(e.name); } }
    const c = new Request("https://example.com/c", { method: "PATCH", body: new URLSearchParams({ q: "a b" }) });
    const d = c.clone();
    return {
      a: [a.method, a.url, a.bodyUsed, a.headers.get("content-type")],
      b: [b.method, b.url, b.headers.get("x-t"), await b.text(), a.bodyUsed],
      errors,
      c: [c.method, c.headers.get("content-type"), await c.text(), await d.text(), c.bodyUsed, d.bodyUsed],
      defaults: [a.redirect, a.mode, a.credentials, a.cache, a.signal.aborted, typeof a.signal.addEventListener],
      getBody: new Request("https://example.com/").body,
    };
  `);
  assert.deepEqual(seen, {
    a: ["POST", "https://example.com/a?x=1", true, "text/plain;charset=UTF-8"],
    b: ["POST", "https://example.com/a?x=1", "2", "payload", true],
    errors: ["TypeError", "TypeError", "TypeError", "TypeError", "TypeError"],
    c: ["PATCH", "application/x-www-form-urlencoded;charset=UTF-8", "q=a+b", "q=a+b", true, true],
    defaults: ["follow", "cors", "same-origin", "default", false, "function"],
    getBody: null,
  });
});

test("Request signal follows the signal given in init", async () => {
  const seen = await runInIsolate(`
    const controller = new AbortController();
    const request = new Request("https://example.com/", { signal: controller.signal });
    const clone = request.clone();
    controller.abort("stop");
    return [request.signal.aborted, request.signal.reason, clone.signal.aborted, clone.signal.reason];
  `);
  assert.deepEqual(seen, [true, "stop", true, "stop"]);
});

test("Response: bodies of every kind, readers, bodyUsed and clone", async () => {
  const seen = await runInIsolate(`
    const bytes = new Uint8Array([104, 105]);
    const fromBytes = new Response(bytes);
    bytes[0] = 0; // the body was copied
    const fromBuffer = new Response(new Uint16Array([0x6968]).buffer);
    const fromView = new Response(new DataView(new Uint8Array([0, 111, 107, 0]).buffer, 1, 2));
    const stream = new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("st")); c.enqueue(new TextEncoder().encode("ream")); c.close(); } }));
    const used = new Response("once");
    await used.text();
    let usedError = null;
    try { await used.text(); } catch (e) { usedError = e.name + ": " + e.message; }
    const original = new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array([1, 2, 3])); c.close(); } }));
    const copy = original.clone();
    const inlineOriginal = new Response("twice");
    const inlineCopy = inlineOriginal.clone();
    const empty = new Response();
    return {
      bytes: await fromBytes.text(),
      buffer: await fromBuffer.text(),
      view: await fromView.text(),
      stream: await stream.text(),
      streamUsed: stream.bodyUsed,
      usedError,
      clone: [Array.from(await original.bytes()), Array.from(new Uint8Array(await copy.arrayBuffer()))],
      inlineClone: [await inlineOriginal.text(), await inlineCopy.text()],
      empty: [empty.body, await empty.text(), empty.bodyUsed, empty.headers.has("content-type")],
      number: await new Response(42).text(),
      bodyIsStream: new Response("x").body instanceof ReadableStream,
      bytesType: Object.prototype.toString.call(await new Response("x").bytes()),
    };
  `);
  assert.deepEqual(seen, {
    bytes: "hi",
    buffer: "hi",
    view: "ok",
    stream: "stream",
    streamUsed: true,
    usedError: "TypeError: body already used: a Request or Response body can be read only once (clone() it before reading it twice)",
    clone: [[1, 2, 3], [1, 2, 3]],
    inlineClone: ["twice", "twice"],
    empty: [null, "", false, false],
    number: "42",
    bodyIsStream: true,
    bytesType: "[object Uint8Array]",
  });
});

test("Response: status checks, json(), redirect(), error(), reading .body by hand", async () => {
  const seen = await runInIsolate(`
    const errors = [];
    for (const fn of [
      () => new Response("x", { status: 99 }),
      () => new Response("x", { status: 600 }),
      () => new Response("x", { status: 204 }),
      () => new Response("x", { statusText: "bad\\ntext" }),
      () => Response.redirect("https://example.com/", 200),
      () => Response.redirect("/relative"),
    ]) { try { fn(); errors.push("none"); } catch (e) { errors.push(e.name); } }
    const json = Response.json({ a: 1 }, { status: 201, headers: { "x-j": "1" } });
    const typed = Response.json([1], { headers: { "content-type": "application/vnd.api+json" } });
    const redirect = Response.redirect("https://example.com/next", 307);
    const error = Response.error();
    const manual = new Response("chunky");
    const reader = manual.body.getReader();
    const first = await reader.read();
    const second = await reader.read();
    return {
      errors,
      json: [json.status, json.ok, json.headers.get("content-type"), json.headers.get("x-j"), await json.json()],
      typed: typed.headers.get("content-type"),
      redirect: [redirect.status, redirect.headers.get("location")],
      error: [error.type, error.status, error.ok],
      manual: [new TextDecoder().decode(first.value), second.done, manual.bodyUsed],
      misc: [new Response().type, new Response().url, new Response().redirected, new Response("", { status: 404 }).ok],
    };
  `);
  assert.deepEqual(seen, {
    errors: ["RangeError", "RangeError", "TypeError", "TypeError", "RangeError", "TypeError"],
    json: [201, true, "application/json", "1", { a: 1 }],
    typed: "application/vnd.api+json",
    redirect: [307, "https://example.com/next"],
    error: ["error", 0, false],
    manual: ["chunky", true, true],
    misc: ["default", "", false, false],
  });
});
