// KV through a real host: a function's env.CACHE writes and lists go worker →
// front → SQLite and back, its gets are answered in the worker from the same
// SQLite file; limits and bad input give clear errors; data outlives the
// host; two scripts naming the same namespace share it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startTestHost, type TestHost } from "./support/test-host.js";

const atollBin = fileURLToPath(new URL("../../bin/atoll.js", import.meta.url));

// A small RPC over HTTP: POST a JSON list of [method, ...args] calls, get their results (or errors) back.
// These tests are about KV, not CPU: a generous cpu_ms keeps a loaded CI machine from turning a busy cold start into a 503.
const GENEROUS = { cpu_ms: 1000 };

const KV_RPC = `export default {
  async fetch(request, env) {
    const calls = await request.json();
    const results = [];
    for (const [method, ...args] of calls) {
      try {
        if (method === "putStream") {
          const [key, text] = args;
          const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(text)); c.close(); } });
          results.push({ ok: await env.CACHE.put(key, stream) ?? null });
        } else if (method === "getStream") {
          const stream = await env.CACHE.get(args[0], "stream");
          results.push({ ok: stream === null ? null : await new Response(stream).text() });
        } else if (method === "getArrayBuffer") {
          const buffer = await env.CACHE.get(args[0], { type: "arrayBuffer" });
          results.push({ ok: buffer === null ? null : [...new Uint8Array(buffer)] });
        } else if (method === "putBytes") {
          results.push({ ok: await env.CACHE.put(args[0], new Uint8Array(args[1])) ?? null });
        } else if (method === "undeclared") {
          // A namespace object for a binding the config does not declare, built by hand.
          results.push({ ok: await new env.CACHE.constructor(args[0]).get("k") });
        } else if (method === "putBig") {
          results.push({ ok: await env.CACHE.put(args[0], "x".repeat(args[1])) ?? null });
        } else {
          results.push({ ok: (await env.CACHE[method](...args)) ?? null });
        }
      } catch (error) {
        results.push({ error: error.name + ": " + error.message });
      }
    }
    return Response.json(results);
  },
};`;

let host: TestHost;
before(async () => {
  host = await startTestHost();
  await host.deploy("kv-rpc", KV_RPC, { kv_namespaces: [{ binding: "CACHE", id: "cache" }], limits: GENEROUS });
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

async function rpc(calls: unknown[][], script = "kv-rpc"): Promise<{ ok?: unknown; error?: string }[]> {
  const response = await host.request(`${script}.localhost`, "/", { method: "POST", body: JSON.stringify(calls) });
  assert.equal(response.status, 200);
  return (await response.json()) as { ok?: unknown; error?: string }[];
}

test("put, get as text, json, arrayBuffer and stream, getWithMetadata, delete", async () => {
  const results = await rpc([
    ["put", "greeting", "hello"],
    ["get", "greeting"],
    ["put", "doc", JSON.stringify({ a: 1 }), { metadata: { author: "ada" } }],
    ["get", "doc", "json"],
    ["getWithMetadata", "doc", "json"],
    ["putBytes", "bytes", [0, 1, 255]],
    ["getArrayBuffer", "bytes"],
    ["putStream", "streamed", "from a stream"],
    ["getStream", "streamed"],
    ["get", "missing"],
    ["getWithMetadata", "missing"],
    ["delete", "greeting"],
    ["get", "greeting"],
    ["delete", "never-there"],
  ]);
  assert.deepEqual(
    results.map((result) => result.ok),
    [null, "hello", null, { a: 1 }, { value: { a: 1 }, metadata: { author: "ada" } }, null, [0, 1, 255], null, "from a stream", null, { value: null, metadata: null }, null, null, null],
  );
});

test("list pages with prefix, limit and cursor; a foreign cursor is refused", async () => {
  const puts = Array.from({ length: 25 }, (_, i) => ["put", `user:${String(i).padStart(2, "0")}`, String(i)]);
  await rpc([...puts, ["put", "other", "x"], ["put", "user", "exact"]]);
  const names: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const [page] = await rpc([["list", { prefix: "user:", limit: 10, ...(cursor ? { cursor } : {}) }]]);
    const result = page!.ok as { keys: { name: string }[]; list_complete: boolean; cursor?: string };
    names.push(...result.keys.map((key) => key.name));
    pages++;
    if (result.list_complete) {
      assert.equal(result.cursor, undefined);
      break;
    }
    cursor = result.cursor;
  }
  assert.equal(pages, 3);
  assert.deepEqual(names, puts.map((put) => put[1]));
  const [, listed] = await rpc([["put", "meta:1", "v", { metadata: { n: 1 }, expirationTtl: 3600 }], ["list", { prefix: "meta:" }]]);
  const key = (listed!.ok as { keys: { name: string; metadata: unknown; expiration: number }[] }).keys[0]!;
  assert.deepEqual(key.metadata, { n: 1 });
  assert.ok(key.expiration > Date.now() / 1000 + 3500);
  const [bad] = await rpc([["list", { cursor: "not-a-cursor" }]]);
  assert.match(bad!.error!, /^TypeError: KV list: the cursor is not one that list\(\) on this namespace returned/);
});

test("limits and bad input get clear errors", async () => {
  const results = await rpc([
    ["put", "k".repeat(513), "v"],
    ["put", "", "v"],
    ["get", ".."],
    ["putBig", "big", 25 * 1024 * 1024 + 1],
    ["put", "meta", "v", { metadata: { blob: "m".repeat(1100) } }],
    ["put", "ttl", "v", { expirationTtl: 0 }],
    ["put", "past", "v", { expiration: 1000 }],
    ["list", { limit: 1001 }],
    ["get", "k", "yaml"],
    ["nope"],
  ]);
  const errors = results.map((result) => result.error ?? "(no error)");
  assert.match(errors[0]!, /TypeError: KV: the key is 513 bytes, over the limit of 512/);
  assert.match(errors[1]!, /TypeError: KV: the key "" is not allowed/);
  assert.match(errors[2]!, /TypeError: KV: the key "\.\." is not allowed/);
  assert.match(errors[3]!, /TypeError: KV put: the value is (at least )?26214401 bytes, over the limit of 26214400 bytes/);
  assert.match(errors[4]!, /TypeError: KV put: the metadata is \d+ bytes of JSON, over the limit of 1024/);
  assert.match(errors[5]!, /TypeError: KV put: expirationTtl must be a number of seconds, at least 1/);
  assert.match(errors[6]!, /TypeError: KV put: expiration must be a time in the future/);
  assert.match(errors[7]!, /TypeError: KV list: limit must be an integer from 1 to 1000/);
  assert.match(errors[8]!, /TypeError: KV get: type must be one of text, json, arrayBuffer, stream/);
  assert.match(errors[9]!, /TypeError: env\.CACHE\[method\] is not a function|is not a function/);
});

test("an expired key is invisible at once", async () => {
  await rpc([["put", "short", "lived", { expirationTtl: 1 }]]);
  assert.deepEqual(await rpc([["get", "short"]]), [{ ok: "lived" }]);
  await new Promise((resolve) => setTimeout(resolve, 2100));
  const [got, listed] = await rpc([["get", "short"], ["list", { prefix: "short" }]]);
  assert.equal(got!.ok, null);
  assert.deepEqual((listed!.ok as { keys: unknown[] }).keys, []);
});

test("two scripts naming the same namespace id share it; another id is separate", async () => {
  await host.deploy("kv-shared", KV_RPC, { kv_namespaces: [{ binding: "CACHE", id: "cache" }], limits: GENEROUS });
  await host.deploy("kv-other", KV_RPC, { kv_namespaces: [{ binding: "CACHE", id: "elsewhere" }], limits: GENEROUS });
  await rpc([["put", "shared-key", "seen by both"]]);
  assert.deepEqual(await rpc([["get", "shared-key"]], "kv-shared"), [{ ok: "seen by both" }]);
  assert.deepEqual(await rpc([["get", "shared-key"]], "kv-other"), [{ ok: null }]);
});

test("a binding the config does not declare is not in env; a duplicate binding name is refused at upload", async () => {
  await host.deploy("kv-none", KV_RPC, { limits: GENEROUS });
  const [result] = await rpc([["get", "x"]], "kv-none");
  assert.match(result!.error!, /TypeError: Cannot read properties of undefined/);
  const response = await host.control("PUT", "/v1/scripts/kv-dup", {
    bundle: KV_RPC,
    config: { name: "kv-dup", main: "src/index.ts", vars: { CACHE: "x" }, kv_namespaces: [{ binding: "CACHE", id: "cache" }] },
  });
  assert.equal(response.status, 400);
  assert.match(JSON.stringify(await response.json()), /kv_namespaces\[0\]\.binding` binds env\.CACHE, which `vars\.CACHE` binds already/);
});

test("a binding the version does not declare is refused by the host, even when the function builds one itself", async () => {
  const [result] = await rpc([["undeclared", "ELSEWHERE"]]);
  assert.match(result!.error!, /^Error: env\.ELSEWHERE is not a binding of kv-rpc version \d+: declare it in atoll\.toml/);
});

test("the control API refuses a value over 25 MiB and a cursor from another namespace, saying why", async () => {
  const auth = { authorization: `Bearer ${host.token}` };
  const tooLarge = await fetch(`${host.controlUrl}/v1/kv/cache/values/huge`, { method: "PUT", headers: auth, body: new Uint8Array(25 * 1024 * 1024 + 1) });
  assert.equal(tooLarge.status, 400);
  assert.match(JSON.stringify(await tooLarge.json()), /the value is over the KV limit of 26214400 bytes \(25 MiB\)/);
  assert.deepEqual(await rpc([["get", "huge"]]), [{ ok: null }]);

  await rpc([["put", "page:1", "a"], ["put", "page:2", "b"]]);
  const [first] = await rpc([["list", { prefix: "page:", limit: 1 }]]);
  const cursor = (first!.ok as { cursor: string }).cursor;
  // A real cursor, but from namespace "cache": "elsewhere" must not take it.
  const foreign = await fetch(`${host.controlUrl}/v1/kv/elsewhere/keys?cursor=${cursor}`, { headers: auth });
  assert.equal(foreign.status, 400);
  assert.match(JSON.stringify(await foreign.json()), /the cursor is not one that list\(\) on this namespace returned/);
  const own = await fetch(`${host.controlUrl}/v1/kv/cache/keys?prefix=page:&cursor=${cursor}`, { headers: auth });
  assert.deepEqual(((await own.json()) as { keys: { name: string }[] }).keys.map((key) => key.name), ["page:2"]);
});

test("KV data survives a host restart", async () => {
  await rpc([["put", "durable", "still here"]]);
  const dataDir = host.dataDir;
  await host.stop();
  host = await startTestHost({ dataDir });
  assert.deepEqual(await rpc([["get", "durable"]]), [{ ok: "still here" }]);
});

test("operators: atoll kv put/get/list/delete and the control API see what functions see", async () => {
  const run = (args: string[], input?: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [atollBin, "kv", ...args, "--control-url", host.controlUrl, "--token", host.token],
        { timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
      );
      if (input !== undefined) child.stdin!.end(input);
      else child.stdin!.end();
    });
  const put = await run(["put", "cache", "from/cli key", "cli value", "--metadata", '{"by":"cli"}']);
  assert.equal(put.code, 0, put.stderr);
  assert.match(put.stdout, /Put "from\/cli key" in cache \(9 bytes\)/);
  assert.deepEqual(await rpc([["getWithMetadata", "from/cli key"]]), [{ ok: { value: "cli value", metadata: { by: "cli" } } }]);
  const piped = await run(["put", "cache", "piped"], "from stdin");
  assert.equal(piped.code, 0, piped.stderr);
  await rpc([["put", "from-function", "written by a function"]]);
  const got = await run(["get", "cache", "from-function"]);
  assert.equal(got.stdout, "written by a function");
  assert.equal((await run(["get", "cache", "piped"])).stdout, "from stdin");
  const listed = await run(["list", "cache", "--prefix", "from"]);
  assert.deepEqual(listed.stdout.trim().split("\n"), ["from-function", "from/cli key"]);
  const missing = await run(["get", "cache", "nope"]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no key "nope" in KV namespace "cache"/);
  const tooLong = await run(["put", "cache", "k".repeat(600), "v"]);
  assert.notEqual(tooLong.code, 0);
  assert.match(tooLong.stderr, /the key is 600 bytes, over the limit of 512/);
  assert.equal((await run(["delete", "cache", "from-function"])).code, 0);
  assert.deepEqual(await rpc([["get", "from-function"]]), [{ ok: null }]);
  const unauthorized = await fetch(`${host.controlUrl}/v1/kv/cache/keys`);
  assert.equal(unauthorized.status, 401);
});

test("binding calls are counted in GET /metrics by kind, method and outcome", async () => {
  await rpc([["put", "metered", "v"], ["get", "metered"], ["put", "", "refused"]]);
  const text = await (await fetch(`${host.controlUrl}/metrics`)).text();
  assert.match(text, /atoll_binding_calls_total\{kind="kv",method="put",outcome="ok"\} [1-9]/);
  assert.match(text, /atoll_binding_calls_total\{kind="kv",method="get",outcome="ok"\} [1-9]/);
  assert.match(text, /atoll_binding_calls_total\{kind="kv",method="put",outcome="error"\} [1-9]/);
});

test("gets answered in the worker see every write at once, and are counted in GET /metrics", async () => {
  const getsCounted = async () => {
    const text = await (await fetch(`${host.controlUrl}/metrics`)).text();
    return Number(/atoll_binding_calls_total\{kind="kv",method="get",outcome="ok"\} (\d+)/.exec(text)?.[1] ?? 0);
  };
  // Earlier tests' gets reach the metrics within a second of being made.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const before = await getsCounted();
  // Read your own writes, in one invocation: each put resolves once durable, the next get reads the file.
  assert.deepEqual(await rpc([["put", "fresh", "one"], ["get", "fresh"], ["put", "fresh", "two"], ["get", "fresh"], ["delete", "fresh"], ["get", "fresh"]]), [
    { ok: null },
    { ok: "one" },
    { ok: null },
    { ok: "two" },
    { ok: null },
    { ok: null },
  ]);
  // A write through the control API (its body is the JSON of the string), read by the function right after.
  const put = await host.control("PUT", "/v1/kv/cache/values/from-operator", "operator's");
  assert.ok(put.ok, await put.text());
  assert.deepEqual(await rpc([["get", "from-operator", "json"], ["getWithMetadata", "from-operator", "json"]]), [
    { ok: "operator's" },
    { ok: { value: "operator's", metadata: null } },
  ]);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal((await getsCounted()) - before, 5, "every get counted once, wherever it was answered");
});
