// The Workers Cache API through a real host: fixtures/cache-api deployed
// through the control API, HTTP requests to it, the cache kept in the store.
// Hits and misses, max-age expiry, what put() refuses and drops, 304 and 206
// from match(), delete, named caches, two scripts apart, an 8 MiB body both
// ways (generated in the isolate, and streamed in as a request body), and a
// fetch response cached unread.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bundleProject } from "../bundler/bundle.js";
import { repoRoot } from "./support/cli.js";
import { BIG_BYTES, type Origin, startOrigin } from "./support/origin.js";
import { onSharedStore, startTestHost, type TestHost } from "./support/test-host.js";

const FIXTURE = join(repoRoot, "fixtures", "cache-api");

let host: TestHost;
let origin: Origin;

before(async () => {
  origin = await startOrigin();
  host = await startTestHost({ egress: { allowPrivate: true } });
  const bundle = await bundleProject(FIXTURE);
  const { name: _name, ...config } = bundle.config as unknown as Record<string, unknown>;
  // The same function under two names: each must have a cache of its own.
  await host.deploy("cache-api", bundle.code, config);
  await host.deploy("cache-twin", bundle.code, config);
});

after(async () => {
  await host?.stop();
  host?.cleanUp();
  origin?.server.close();
});

function get(path: string, headers: Record<string, string> = {}, script = "cache-api"): Promise<Response> {
  return host.request(`${script}.localhost`, path, { headers });
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

describe("the Cache API", () => {
  it("misses, then hits with cf-cache-status: HIT and the same body", async () => {
    const miss = await get("/cached/page");
    assert.equal(miss.status, 200);
    assert.equal(miss.headers.get("x-cache"), "MISS");
    assert.equal(miss.headers.get("cf-cache-status"), null);
    const body = await miss.text();
    assert.match(body, /^generated [0-9a-f-]{36} for \/cached\/page\n$/);

    const hit = await get("/cached/page");
    assert.equal(hit.status, 200);
    assert.equal(hit.headers.get("cf-cache-status"), "HIT");
    assert.equal(hit.headers.get("x-cache"), null);
    assert.equal(hit.headers.get("cache-control"), "public, max-age=60");
    assert.equal(hit.headers.get("etag"), '"v1"');
    assert.equal(hit.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(await hit.text(), body);
  });

  it("forgets an entry once its max-age is over", async () => {
    const first = await get("/cached/short?ttl=1");
    assert.equal(first.headers.get("x-cache"), "MISS");
    const body = await first.text();
    const again = await get("/cached/short?ttl=1");
    assert.equal(again.headers.get("cf-cache-status"), "HIT");
    assert.equal(await again.text(), body);
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const later = await get("/cached/short?ttl=1");
    assert.equal(later.headers.get("x-cache"), "MISS", "expired: generated again");
    assert.notEqual(await later.text(), body);
  });

  it("answers a matching If-None-Match or If-Modified-Since with a 304, and a Range with a 206 (or 416)", async () => {
    const miss = await get("/cached/conditional");
    const body = await miss.text();

    const notModified = await get("/cached/conditional", { "if-none-match": 'W/"other", "v1"' });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.get("cf-cache-status"), "HIT");
    assert.equal(notModified.headers.get("etag"), '"v1"');
    assert.equal(await notModified.text(), "");
    const changed = await get("/cached/conditional", { "if-none-match": '"v2"' });
    assert.equal(changed.status, 200);
    assert.equal(await changed.text(), body);
    const since = await get("/cached/conditional", { "if-modified-since": "Thu, 02 Jan 2025 00:00:00 GMT" });
    assert.equal(since.status, 304);
    await since.arrayBuffer();

    const partial = await get("/cached/conditional", { range: "bytes=0-8" });
    assert.equal(partial.status, 206);
    assert.equal(partial.headers.get("content-range"), `bytes 0-8/${Buffer.byteLength(body)}`);
    assert.equal(partial.headers.get("cf-cache-status"), "HIT");
    assert.equal(await partial.text(), "generated");
    const suffix = await get("/cached/conditional", { range: "bytes=-5" });
    assert.equal(suffix.status, 206);
    assert.equal(await suffix.text(), body.slice(-5));
    const past = await get("/cached/conditional", { range: "bytes=9999-" });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get("content-range"), `bytes */${Buffer.byteLength(body)}`);
    await past.arrayBuffer();
  });

  it("follows Workers' rules for put, match and delete, and keeps named caches apart", async () => {
    const response = await get("/rules");
    assert.equal(response.status, 200);
    const seen = (await response.json()) as Record<string, Record<string, unknown>>;
    assert.deepEqual(seen.putRefusals, {
      post: "TypeError: Cannot cache response to non-GET request.",
      partial: "TypeError: Cannot cache response to a range request (206 Partial Content).",
      varyStar: "TypeError: Cannot cache response with 'Vary: *' header.",
      usedBody: "TypeError: Cache.put: the response body was already used",
      error: "TypeError: Cache is unable to store an error response",
    });
    assert.deepEqual(seen.storage, {
      maxAge: true,
      sMaxAge: true,
      maxAgeZero: false,
      expires: true,
      expiresPast: false,
      noStore: false,
      noCache: false,
      private: false,
      setCookie: false,
      privateSetCookie: true,
      noFreshness200: true,
      noFreshness404: true,
      noFreshness500: false,
      notModified: "ok",
    });
    assert.deepEqual(seen.matching, {
      status: 200,
      cfCacheStatus: "HIT",
      text: "m",
      setCookieLeftOut: null,
      post: "undefined",
      postIgnoringMethod: 200,
      immutableHeaders: seen.matching!.immutableHeaders,
    });
    assert.match(String(seen.matching!.immutableHeaders), /^TypeError: .*immutable/i);
    assert.deepEqual(seen.deleting, { postDelete: false, first: true, second: false, afterwards: true });
    assert.deepEqual(seen.named, { a: "in a", aAgain: "in a", b: true, odd: "in odd", default: true, openedDefault: true, tooLong: "TypeError: Cache name is too long." });
    assert.deepEqual(seen.surface!.names, ["[object CacheStorage]", "[object Cache]", "CacheStorage", "Cache"]);
    assert.equal(seen.surface!.sameDefault, true);
    assert.match(String(seen.surface!.newCache), /^TypeError: Illegal constructor/);
    assert.match(String(seen.surface!.newStorage), /^TypeError: Illegal constructor/);
    assert.match(String(seen.surface!.add), /^Error: Cache\.add\(\) is not implemented, as on Workers/);
    assert.match(String(seen.surface!.keys), /^Error: caches\.keys\(\) is not implemented, as on Workers/);
  });

  it("gives each script its own caches, in buckets no user bucket can be", async () => {
    const mine = await get("/cached/shared-key");
    assert.equal(mine.headers.get("x-cache"), "MISS");
    const body = await mine.text();
    const theirs = await get("/cached/shared-key", {}, "cache-twin");
    assert.equal(theirs.headers.get("x-cache"), "MISS", "the twin does not see cache-api's entry for the same URL");
    assert.notEqual(await theirs.text(), body);
    const mineAgain = await get("/cached/shared-key");
    assert.equal(mineAgain.headers.get("cf-cache-status"), "HIT");
    assert.equal(await mineAgain.text(), body);
    // The embedded store keeps a folder per bucket (on S3 they are key prefixes: the same names, checked by the first pass).
    if (!onSharedStore) {
      const buckets = readdirSync(join(host.dataDir, "objects")).filter((name) => name.startsWith("cache~"));
      for (const name of ["cache~cache-api~default", "cache~cache-twin~default", "cache~cache-api~n-a"]) assert.ok(buckets.includes(name), `${name} in ${buckets.join(", ")}`);
      assert.ok(buckets.every((name) => !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name)));
    }
    // The control API's bucket routes do not reach them either.
    assert.equal((await host.control("GET", "/v1/buckets/cache~cache-api~default/objects")).status, 400);
  });

  it("round-trips an 8 MiB body generated in the isolate, and one streamed in as a request body", async () => {
    const expected = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < expected.length; i++) expected[i] = (i * 7) & 0xff;
    for (const attempt of ["stored", "hit"]) {
      const response = await get("/big/eight?mib=8");
      assert.equal(response.status, 200, attempt);
      assert.equal(response.headers.get("cf-cache-status"), "HIT");
      const bytes = new Uint8Array(await response.arrayBuffer());
      assert.equal(bytes.length, expected.length, attempt);
      assert.equal(sha256(bytes), sha256(expected), attempt);
    }

    const upload = Buffer.alloc(8 * 1024 * 1024 + 17);
    for (let i = 0; i < upload.length; i++) upload[i] = (i * 13) & 0xff;
    const stored = await host.request("cache-api.localhost", "/upload/streamed", { method: "POST", body: upload, headers: { "content-type": "application/x-test" } });
    assert.equal(stored.status, 200);
    assert.equal(stored.headers.get("content-type"), "application/x-test");
    assert.equal(sha256(new Uint8Array(await stored.arrayBuffer())), sha256(upload));
  });

  it("caches a fetch response put unread, and serves it without asking the origin again", async () => {
    const path = `/fetched?url=${encodeURIComponent(`${origin.url}/big`)}`;
    const before = origin.seen.filter((line) => line === "GET /big").length;
    const first = await get(path);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("cf-cache-status"), "HIT");
    const firstBytes = new Uint8Array(await first.arrayBuffer());
    assert.equal(firstBytes.length, BIG_BYTES);
    assert.ok(firstBytes.every((byte) => byte === 7));
    const second = await get(path);
    assert.equal(sha256(new Uint8Array(await second.arrayBuffer())), sha256(firstBytes));
    assert.equal(origin.seen.filter((line) => line === "GET /big").length, before + 1, "the origin was asked once");

    const text = await get(`/fetched?url=${encodeURIComponent(`${origin.url}/text`)}`);
    assert.equal(await text.text(), "hello from the origin");
    assert.equal(text.headers.get("x-origin"), "yes");
    // Set-Cookie: not stored, as on Workers.
    const cookies = await get(`/fetched?url=${encodeURIComponent(`${origin.url}/cookies`)}`);
    assert.equal(cookies.status, 502);
    await cookies.arrayBuffer();
  });
});
