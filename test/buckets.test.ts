// Buckets through a real host: a function streams objects to and from disk
// through env.FILES (R2's API), with metadata, ranges, conditions and
// listings; bad keys and digests are refused; objects outlive the host.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { onSharedStore, startTestHost, uploadsInFlightDir, type TestHost } from "./support/test-host.js";

const atollBin = fileURLToPath(new URL("../../bin/atoll.js", import.meta.url));

const FILES = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const key = decodeURIComponent(url.pathname.slice("/obj/".length));
    if (url.pathname.startsWith("/obj/") && request.method === "PUT") {
      const object = await env.FILES.put(key, request.body, {
        httpMetadata: request.headers,
        customMetadata: { by: request.headers.get("x-by") ?? "nobody" },
      });
      return Response.json({ key: object.key, size: object.size, etag: object.etag, httpEtag: object.httpEtag, uploaded: object.uploaded.toISOString() });
    }
    if (url.pathname.startsWith("/obj/") && request.method === "GET") {
      const object = await env.FILES.get(key, { range: request.headers, onlyIf: request.headers });
      if (object === null) return new Response("no such object", { status: 404 });
      const headers = new Headers({ etag: object.httpEtag, "x-by": object.customMetadata.by ?? "" });
      object.writeHttpMetadata(headers);
      if (!("body" in object)) return new Response(null, { status: 304, headers });
      if (object.range) headers.set("content-range", "bytes " + object.range.offset + "-" + (object.range.offset + object.range.length - 1) + "/" + object.size);
      return new Response(object.body, { status: object.range ? 206 : 200, headers });
    }
    const calls = await request.json();
    const results = [];
    for (const [method, ...args] of calls) {
      try {
        // "undeclared": a bucket object for a binding the config does not declare, built by hand.
        let value = method === "undeclared" ? await new env.FILES.constructor(args[0]).head("x") : await env.FILES[method](...args);
        if (value && typeof value === "object" && "key" in value) value = { key: value.key, size: value.size, etag: value.etag, text: "body" in value ? await value.text() : undefined, custom: value.customMetadata, http: value.httpMetadata };
        if (value && typeof value === "object" && "objects" in value) value = { ...value, objects: value.objects.map((o) => ({ key: o.key, size: o.size, custom: o.customMetadata, http: o.httpMetadata })) };
        results.push({ ok: value ?? null });
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
  await host.deploy("files", FILES, { buckets: [{ binding: "FILES", bucket_name: "files" }], limits: { cpu_ms: 1000 } });
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

async function rpc(calls: unknown[][]): Promise<{ ok?: unknown; error?: string }[]> {
  const response = await host.request("files.localhost", "/rpc", { method: "POST", body: JSON.stringify(calls) });
  assert.equal(response.status, 200);
  return (await response.json()) as { ok?: unknown; error?: string }[];
}

function bigPayload(bytes: number): Buffer {
  const payload = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) payload[i] = (i * 7 + (i >> 10)) & 0xff;
  return payload;
}

test("a 12 MiB object streams in through a function and out again, intact, with its metadata", async () => {
  const payload = bigPayload(12 * 1024 * 1024);
  const md5 = createHash("md5").update(payload).digest("hex");
  const chunks: Buffer[] = [];
  for (let at = 0; at < payload.length; at += 256 * 1024) chunks.push(payload.subarray(at, at + 256 * 1024));
  const body = new ReadableStream({
    pull(controller) {
      const next = chunks.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
  const put = await host.request("files.localhost", "/obj/videos/big.bin", { method: "PUT", body, headers: { "content-type": "video/mp4", "cache-control": "max-age=60", "x-by": "test" } });
  assert.equal(put.status, 200, await put.clone().text());
  const stored = (await put.json()) as { size: number; etag: string; httpEtag: string };
  assert.equal(stored.size, payload.length);
  assert.equal(stored.etag, md5);
  assert.equal(stored.httpEtag, `"${md5}"`);

  const got = await host.request("files.localhost", "/obj/videos/big.bin");
  assert.equal(got.status, 200);
  assert.equal(got.headers.get("content-type"), "video/mp4");
  assert.equal(got.headers.get("cache-control"), "max-age=60");
  assert.equal(got.headers.get("x-by"), "test");
  const back = Buffer.from(await got.arrayBuffer());
  assert.equal(createHash("md5").update(back).digest("hex"), md5);
});

test("reads racing overwrites and deletes answer one whole version or 404, never a stream cut short", async () => {
  // Two versions of one key, each a single byte repeated, big enough to take several chunks.
  const size = 300 * 1024;
  const versions = [Buffer.alloc(size, "a"), Buffer.alloc(size, "b")];
  const key = "race/object.bin";
  const controlPath = `/v1/buckets/files/objects/${key}`;
  const write = async (version: number) => {
    const response = await fetch(`${host.controlUrl}${controlPath}`, { method: "PUT", headers: { authorization: `Bearer ${host.token}` }, body: versions[version] });
    assert.equal(response.status, 201, await response.text());
  };
  const check = async (response: Response, through: string) => {
    if (response.status === 404) return void (await response.arrayBuffer());
    assert.equal(response.status, 200, `${through}: ${response.status}`);
    const body = Buffer.from(await response.arrayBuffer());
    assert.equal(body.length, size, `${through}: a whole object`);
    assert.ok(body.equals(versions[0]!) || body.equals(versions[1]!), `${through}: one version, not a mix`);
  };
  await write(0);
  // s3rver (the second pass's S3) writes an object in place, so a read beside an overwrite sees a part of the new bytes there
  // (Atoll then cuts the response rather than pass it for whole); S3 itself and SQLite switch versions atomically.
  const overwrites = !onSharedStore;
  for (let round = 0; round < 30; round++) {
    const deleting = !overwrites || round % 3 === 2;
    const change = deleting ? host.control("DELETE", controlPath).then((response) => assert.equal(response.status, 200)) : write(1 - (round % 2));
    const reads = [];
    for (let i = 0; i < 3; i++) {
      reads.push(host.control("GET", controlPath).then((response) => check(response, "control API")));
      reads.push(host.request("files.localhost", `/obj/${key}`).then((response) => check(response, "function")));
    }
    await Promise.all([change, ...reads]);
    if (deleting) await write(round % 2);
  }
});

test("ranges, suffix ranges and conditional gets", async () => {
  await rpc([["put", "letters.txt", "abcdefghijklmnopqrstuvwxyz", { httpMetadata: { contentType: "text/plain" } }]]);
  const range = await host.request("files.localhost", "/obj/letters.txt", { headers: { range: "bytes=2-5" } });
  assert.equal(range.status, 206);
  assert.equal(range.headers.get("content-range"), "bytes 2-5/26");
  assert.equal(await range.text(), "cdef");
  const suffix = await host.request("files.localhost", "/obj/letters.txt", { headers: { range: "bytes=-3" } });
  assert.equal(await suffix.text(), "xyz");
  const etag = createHash("md5").update("abcdefghijklmnopqrstuvwxyz").digest("hex");
  const notModified = await host.request("files.localhost", "/obj/letters.txt", { headers: { "if-none-match": `"${etag}"` } });
  assert.equal(notModified.status, 304);
  const modified = await host.request("files.localhost", "/obj/letters.txt", { headers: { "if-none-match": '"other"' } });
  assert.equal(await modified.text(), "abcdefghijklmnopqrstuvwxyz");
});

test("head, get, custom and http metadata, delete one and many", async () => {
  const results = await rpc([
    ["put", "a/1.txt", "one", { customMetadata: { n: "1" }, httpMetadata: { contentLanguage: "en" } }],
    ["head", "a/1.txt"],
    ["get", "a/1.txt"],
    ["get", "missing"],
    ["put", "a/2.txt", "two"],
    ["put", "a/3.txt", "three"],
    ["delete", ["a/2.txt", "a/3.txt"]],
    ["head", "a/2.txt"],
    ["delete", "a/1.txt"],
    ["head", "a/1.txt"],
  ]);
  const ok = results.map((result) => result.ok);
  assert.deepEqual(ok[1], { key: "a/1.txt", size: 3, etag: createHash("md5").update("one").digest("hex"), custom: { n: "1" }, http: { contentLanguage: "en" } });
  assert.equal((ok[2] as { text: string }).text, "one");
  assert.equal(ok[3], null);
  assert.equal(ok[7], null);
  assert.equal(ok[9], null);
});

test("list with prefix, delimiter, limit and cursor; include brings metadata", async () => {
  const keys = ["photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg", "photos/readme.txt", "photos/z.txt", "other.txt"];
  await rpc(keys.map((key) => ["put", key, key, { customMetadata: { k: key } }]));
  const [grouped] = await rpc([["list", { prefix: "photos/", delimiter: "/" }]]);
  const page = grouped!.ok as { objects: { key: string; custom: object }[]; delimitedPrefixes: string[]; truncated: boolean };
  assert.deepEqual(page.delimitedPrefixes, ["photos/2024/", "photos/2025/"]);
  assert.deepEqual(page.objects.map((o) => o.key), ["photos/readme.txt", "photos/z.txt"]);
  assert.deepEqual(page.objects[0]!.custom, {});
  assert.equal(page.truncated, false);
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10; pages++) {
    const [result] = await rpc([["list", { prefix: "photos/", limit: 2, include: ["customMetadata"], ...(cursor ? { cursor } : {}) }]]);
    const listing = result!.ok as { objects: { key: string; custom: { k: string } }[]; truncated: boolean; cursor?: string };
    for (const object of listing.objects) {
      assert.equal(object.custom.k, object.key);
      seen.push(object.key);
    }
    if (!listing.truncated) break;
    cursor = listing.cursor;
  }
  assert.deepEqual(seen, keys.filter((key) => key.startsWith("photos/")));
  const [foreign] = await rpc([["list", { cursor: "bm90LW91cnM" }]]);
  assert.match(foreign!.error!, /TypeError: bucket list: the cursor is not one that list\(\) on this bucket returned/);
});

test("bad keys and a wrong md5 are refused; nothing half-written is visible", async () => {
  const results = await rpc([
    ["put", "../etc/passwd", "x"],
    ["put", "a/../b", "x"],
    ["put", "nul\u0000key", "x"],
    ["put", "", "x"],
    ["put", "k".repeat(1025), "x"],
    ["put", "digest.txt", "hello", { md5: "00000000000000000000000000000000" }],
    ["head", "digest.txt"],
    ["put", "digest-ok.txt", "hello", { md5: createHash("md5").update("hello").digest("hex") }],
  ]);
  assert.match(results[0]!.error!, /TypeError: bucket: the key "\.\.\/etc\/passwd" has a "\.\." segment/);
  assert.match(results[1]!.error!, /has a "\.\." segment/);
  assert.match(results[2]!.error!, /contains a NUL character/);
  assert.match(results[3]!.error!, /must not be empty/);
  assert.match(results[4]!.error!, /1025 bytes, over the limit of 1024/);
  assert.match(results[5]!.error!, /TypeError: bucket put: the object's MD5 is 5d41402abc4b2a76b9719d911017c592, not the 0{32} the put promised: nothing was stored/);
  assert.equal(results[6]!.ok, null);
  assert.equal((results[7]!.ok as { size: number }).size, 5);
  // No temporary file is left behind by the refused upload.
  assert.deepEqual(readdirSync(uploadsInFlightDir(host.dataDir)), []);
});

test("a binding the version does not declare is refused by the host, even when the function builds one itself", async () => {
  const [result] = await rpc([["undeclared", "SOMEONE_ELSES"]]);
  assert.match(result!.error!, /^Error: env\.SOMEONE_ELSES is not a binding of files version \d+: declare it in atoll\.toml/);
});

test("the control API refuses keys with NUL or a \"..\" segment, keys too long and another bucket's cursor", async () => {
  const auth = { authorization: `Bearer ${host.token}` };
  const put = (key: string) => fetch(`${host.controlUrl}/v1/buckets/files/objects/${key}`, { method: "PUT", headers: auth, body: "x" });
  const refusals = [
    [await put("nul%00key"), /contains a NUL character/],
    [await put("a%2F..%2Fb"), /the key "a\/\.\.\/b" has a "\.\." segment/],
    [await put("..%2Fescape"), /has a "\.\." segment/],
    [await put("k".repeat(1025)), /1025 bytes, over the limit of 1024/],
    [await fetch(`${host.controlUrl}/v1/buckets/files/objects/nul%00key`, { headers: auth }), /contains a NUL character/],
  ] as const;
  for (const [response, message] of refusals) {
    assert.equal(response.status, 400);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, "ATOLL_BAD_REQUEST");
    assert.match(error.message, message);
  }
  assert.deepEqual(readdirSync(uploadsInFlightDir(host.dataDir)), [], "a refused put leaves no temporary file");

  await rpc([["put", "cursor/1", "a"], ["put", "cursor/2", "b"]]);
  const [first] = await rpc([["list", { prefix: "cursor/", limit: 1 }]]);
  const cursor = (first!.ok as { cursor: string }).cursor;
  // A real cursor, but from bucket "files": bucket "other" must not take it.
  const foreign = await fetch(`${host.controlUrl}/v1/buckets/other/objects?cursor=${cursor}`, { headers: auth });
  assert.equal(foreign.status, 400);
  assert.match(JSON.stringify(await foreign.json()), /the cursor is not one that list\(\) on this bucket returned/);
});

test("objects survive a host restart", async () => {
  await rpc([["put", "durable.txt", "kept"]]);
  const dataDir = host.dataDir;
  await host.stop();
  host = await startTestHost({ dataDir });
  const [got] = await rpc([["get", "durable.txt"]]);
  assert.equal((got!.ok as { text: string }).text, "kept");
});

test("operators: atoll bucket put/get/list/delete stream files; functions see the same objects", async () => {
  const dir = mkdtempSync(join(tmpdir(), "atoll-bucket-cli-"));
  try {
    const payload = bigPayload(5 * 1024 * 1024);
    writeFileSync(join(dir, "in.bin"), payload);
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [atollBin, "bucket", ...args, "--control-url", host.controlUrl, "--token", host.token], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
        );
      });
    const put = await run(["put", "files", "cli/in.bin", join(dir, "in.bin"), "--content-type", "application/x-test", "--meta", "origin=cli"]);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, new RegExp(`Put "cli/in.bin" in files: ${payload.length} bytes, etag ${createHash("md5").update(payload).digest("hex")} \\([\\d.]+ (GB|MB|kB)/s\\)`));
    // A tiny object has no rate worth printing ("0.0 MB/s"): the time it took instead.
    writeFileSync(join(dir, "tiny.txt"), "hi");
    const tiny = await run(["put", "files", "elsewhere/tiny.txt", join(dir, "tiny.txt")]);
    assert.equal(tiny.code, 0, tiny.stderr);
    assert.match(tiny.stdout, /^Put "elsewhere\/tiny\.txt" in files: 2 bytes, etag [0-9a-f]+ \(in [\d.]+ ms\)\n$/);
    const [seen] = await rpc([["head", "cli/in.bin"]]);
    assert.deepEqual((seen!.ok as { custom: object; http: object }).custom, { origin: "cli" });
    assert.deepEqual((seen!.ok as { custom: object; http: object }).http, { contentType: "application/x-test" });
    await rpc([["put", "cli/from-function.txt", "hello operator"]]);
    const got = await run(["get", "files", "cli/in.bin", "--output", join(dir, "out.bin")]);
    assert.equal(got.code, 0, got.stderr);
    assert.ok(readFileSync(join(dir, "out.bin")).equals(payload));
    assert.equal((await run(["get", "files", "cli/from-function.txt"])).stdout, "hello operator");
    const listed = await run(["list", "files", "--prefix", "cli/"]);
    assert.deepEqual(listed.stdout.trim().split("\n").map((line) => line.split("\t")[0]), ["cli/from-function.txt", "cli/in.bin"]);
    const ranged = await fetch(`${host.controlUrl}/v1/buckets/files/objects/cli%2Fin.bin`, { headers: { authorization: `Bearer ${host.token}`, range: "bytes=10-19" } });
    assert.equal(ranged.status, 206);
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(payload.subarray(10, 20)));
    const bad = await run(["put", "files", "a/../b", join(dir, "in.bin")]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /has a "\.\." segment/);
    assert.equal((await run(["delete", "files", "cli/in.bin", "cli/from-function.txt"])).code, 0);
    assert.deepEqual(await rpc([["head", "cli/in.bin"]]), [{ ok: null }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
