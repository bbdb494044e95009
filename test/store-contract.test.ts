// One set of store tests, run against every backend: the embedded SQLite
// store and the shared Redis store (a real redis-server), and for objects the
// local files and S3-compatible storage (a real s3rver process). Deployments,
// secrets, KV, the event queue, cron ticks, dead letters and objects must
// behave the same whichever the host runs on.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisConnection } from "../host/store/redis-connection.js";
import { RedisStore } from "../host/store/redis.js";
import { RedisQueue } from "../host/store/redis-queue.js";
import { S3Objects } from "../host/store/s3-objects.js";
import { SqliteStore } from "../host/store/sqlite.js";
import type { ObjectStore } from "../host/store/objects.js";
import type { NewQueuedEvent } from "../host/store/queue.js";
import type { Store } from "../host/store/store.js";
import { S3RVER_CREDENTIALS, sharedStoreSkip, startRedis, startS3, type ServerProcess } from "./support/shared-stores.js";

const skip = sharedStoreSkip();
const S3_BUCKET = "atoll-contract";

interface Backend {
  name: string;
  open(): Promise<{ store: Store; objects: ObjectStore; close(): Promise<void> }>;
}

let redis: ServerProcess | undefined;
let s3: ServerProcess | undefined;
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "atoll-contract-"));
  dirs.push(dir);
  return dir;
}

const backends: Backend[] = [
  {
    name: "sqlite",
    async open() {
      const store = new SqliteStore(join(tempDir(), "atoll.db"));
      return { store, objects: store.objects, close: () => store.close() };
    },
  },
  {
    name: "redis + s3",
    async open() {
      const connection = await RedisConnection.open(redis!.url);
      await connection.client.flushall();
      const objects = new S3Objects({ bucket: S3_BUCKET, prefix: `run-${Date.now()}-${Math.random().toString(36).slice(2)}/`, endpoint: s3!.url, region: "us-east-1" }, tempDir());
      const store = new RedisStore(connection, objects, "host-a", async () => objects.close());
      return { store, objects, close: () => store.close() };
    },
  },
];

before(async () => {
  if (skip) return;
  Object.assign(process.env, S3RVER_CREDENTIALS);
  redis = await startRedis();
  s3 = await startS3(S3_BUCKET);
});

after(async () => {
  await redis?.remove();
  await s3?.remove();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const bundle = (text: string) => ({ bundle: `export default { fetch() { return new Response(${JSON.stringify(text)}) } }`, bundleHash: text, bundleBytes: 10, bundleGzipBytes: 5, codeCache: new Uint8Array([1, 2, 3, 255]), message: null });

async function withBackend(backend: Backend, run: (opened: { store: Store; objects: ObjectStore }) => Promise<void>): Promise<void> {
  const opened = await backend.open();
  try {
    await run(opened);
  } finally {
    await opened.close();
  }
}

for (const backend of backends) {
  describe(`store contract: ${backend.name}`, { skip }, () => {
    test("a version's code cache can be replaced; a deleted script's version does not come back for it", () =>
      withBackend(backend, async ({ store }) => {
        await store.putVersion({ script: "cached", config: { name: "cached" }, ...bundle("one") });
        await store.setCodeCache("cached", 1, new Uint8Array([9, 9, 9, 9, 9]));
        const saved = await store.getVersion("cached", 1);
        assert.deepEqual([...saved!.codeCache!], [9, 9, 9, 9, 9]);
        assert.equal(saved?.bundle, bundle("one").bundle, "the rest of the version is as it was");
        assert.equal(await store.deleteScript("cached"), true);
        await store.setCodeCache("cached", 1, new Uint8Array([1]));
        assert.equal(await store.getVersion("cached", 1), undefined);
        assert.equal(await store.getScript("cached"), undefined);
      }));

    test("versions, the active pointer, canaries, rollbacks, history; a re-created script never reuses a version number", () =>
      withBackend(backend, async ({ store }) => {
        const v1 = await store.putVersion({ script: "app", config: { name: "app", routes: ["app.localhost"] }, ...bundle("one"), message: "first" });
        assert.equal(v1.version, 1);
        const v2 = await store.putVersion({ script: "app", config: { name: "app", n: 2 }, ...bundle("two") });
        const canary = await store.putVersion({ script: "app", config: { name: "app", n: 3 }, ...bundle("three") }, { canaryPercent: 10 });
        let script = await store.getScript("app");
        assert.equal(script?.activeVersion, v2.version);
        assert.deepEqual(script?.canary, { version: canary.version, percent: 10 });
        assert.deepEqual(script?.config, { name: "app", n: 2 });
        const saved = await store.getVersion("app", 1);
        assert.equal(saved?.bundle, bundle("one").bundle);
        assert.deepEqual([...saved!.codeCache!], [1, 2, 3, 255], "the code cache keeps its bytes");
        assert.equal(saved?.message, "first");
        assert.equal(await store.countVersions("app"), 3);
        assert.deepEqual((await store.listVersions("app", { limit: 2 })).map((v) => v.version), [3, 2]);
        assert.deepEqual((await store.listVersions("app", { limit: 5, before: 3 })).map((v) => v.version), [2, 1]);

        const promoted = await store.setDeployment("app", { kind: "promote", activeVersion: 3, canary: null });
        assert.equal(promoted.previousVersion, 2);
        script = await store.getScript("app");
        assert.equal(script?.activeVersion, 3);
        assert.equal(script?.canary, null);
        await store.setDeployment("app", { kind: "rollback", activeVersion: 1, canary: null });
        const history = await store.listDeployments("app", 10);
        assert.deepEqual(history.map((d) => d.kind), ["rollback", "promote", "canary", "deploy", "deploy"]);
        assert.ok(history[0]!.id > history[1]!.id);
        assert.deepEqual(history[2]!.canary, { version: 3, percent: 10 });
        assert.equal((await store.lastActivation("app"))?.kind, "rollback");
        assert.equal((await store.lastActivation("app"))?.previousVersion, 3);

        await store.putVersion({ script: "other", config: { name: "other" }, ...bundle("o") });
        assert.deepEqual((await store.listScripts()).map((s) => s.name), ["app", "other"]);
        assert.equal(await store.deleteScript("app"), true);
        assert.equal(await store.deleteScript("app"), false);
        assert.equal(await store.getScript("app"), undefined);
        assert.equal(await store.getVersion("app", 1), undefined);
        assert.deepEqual(await store.listDeployments("app", 10), []);
        const again = await store.putVersion({ script: "app", config: { name: "app" }, ...bundle("again") });
        assert.equal(again.version, 4, "version numbers outlive a delete");
      }));

    test("secrets: sealed bytes kept, created vs replaced, deleted, counted; the key's fingerprint", () =>
      withBackend(backend, async ({ store }) => {
        await store.putVersion({ script: "app", config: { name: "app" }, ...bundle("one") });
        assert.equal((await store.putSecret("app", "B", new Uint8Array([0, 1, 2]))).created, true);
        assert.equal((await store.putSecret("app", "A", new Uint8Array([9]))).created, true);
        assert.equal((await store.putSecret("app", "B", new Uint8Array([3, 0, 255]))).created, false);
        const secrets = await store.getSecrets("app");
        assert.deepEqual(secrets.map((s) => [s.key, [...s.sealed]]), [["A", [9]], ["B", [3, 0, 255]]]);
        assert.equal(await store.countSecrets(), 2);
        assert.equal(await store.deleteSecret("app", "A"), true);
        assert.equal(await store.deleteSecret("app", "A"), false);
        assert.equal(await store.getSecretsKeyFingerprint(), undefined);
        await store.setSecretsKeyFingerprint("f1");
        assert.equal(await store.getSecretsKeyFingerprint(), "f1");
        await store.deleteScript("app");
        assert.equal(await store.countSecrets(), 0, "a deleted script's secrets go with it");
      }));

    test("KV: values with metadata and expiration, expired keys invisible at once, listing in UTF-8 byte order with prefix, cursor and limit", () =>
      withBackend(backend, async ({ store }) => {
        const now = Math.floor(Date.now() / 1000);
        const bytes = (text: string) => new TextEncoder().encode(text);
        await store.kv.put("ns", "b", { value: bytes("2"), metadata: '{"m":1}', expiration: null });
        await store.kv.put("ns", "a", { value: new Uint8Array([0, 255, 10]), metadata: null, expiration: now + 3600 });
        await store.kv.put("ns", "gone", { value: bytes("x"), metadata: null, expiration: now - 1 });
        await store.kv.put("ns", "é", { value: bytes("e"), metadata: null, expiration: null });
        await store.kv.put("ns", "z", { value: bytes("z"), metadata: null, expiration: null });
        await store.kv.put("ns", "\u{1F600}", { value: bytes("emoji"), metadata: null, expiration: null });
        await store.kv.put("other", "a", { value: bytes("other"), metadata: null, expiration: null });
        assert.deepEqual([...(await store.kv.get("ns", "a", now))!.value], [0, 255, 10]);
        assert.equal((await store.kv.get("ns", "a", now))!.expiration, now + 3600);
        assert.equal((await store.kv.get("ns", "b", now))!.metadata, '{"m":1}');
        assert.equal(await store.kv.get("ns", "gone", now), undefined, "an expired key is absent at once");
        assert.equal(await store.kv.get("ns", "a", now + 3600), undefined);
        const all = await store.kv.list("ns", { prefix: "", after: null, limit: 100 }, now);
        assert.deepEqual(all.keys.map((k) => k.name), ["a", "b", "z", "é", "\u{1F600}"], "UTF-8 byte order; the expired key is not listed");
        assert.equal(all.more, false);
        assert.deepEqual(all.keys[1], { name: "b", metadata: '{"m":1}', expiration: null });
        const page = await store.kv.list("ns", { prefix: "", after: null, limit: 2 }, now);
        assert.deepEqual(page.keys.map((k) => k.name), ["a", "b"]);
        assert.equal(page.more, true);
        const next = await store.kv.list("ns", { prefix: "", after: "b", limit: 2 }, now);
        assert.deepEqual(next.keys.map((k) => k.name), ["z", "é"]);
        await store.kv.put("ns", "pre/1", { value: bytes("1"), metadata: null, expiration: null });
        await store.kv.put("ns", "pre/2", { value: bytes("2"), metadata: null, expiration: null });
        await store.kv.put("ns", "prf", { value: bytes("x"), metadata: null, expiration: null });
        assert.deepEqual((await store.kv.list("ns", { prefix: "pre/", after: null, limit: 10 }, now)).keys.map((k) => k.name), ["pre/1", "pre/2"]);
        assert.ok((await store.kv.purgeExpired(now)) >= 1, "the expired key is purged");
        await store.kv.delete("ns", "b");
        await store.kv.delete("ns", "never-there");
        assert.equal(await store.kv.get("ns", "b", now), undefined);
        assert.equal((await store.kv.get("other", "a", now))?.value.length, 5, "namespaces are apart");
        // A key written again without an expiration is not purged by its old one.
        await store.kv.put("ns", "again", { value: bytes("1"), metadata: null, expiration: now - 5 });
        await store.kv.put("ns", "again", { value: bytes("2"), metadata: null, expiration: null });
        await store.kv.purgeExpired(now);
        assert.equal(new TextDecoder().decode((await store.kv.get("ns", "again", now))!.value), "2");
      }));

    test("queue: claims with leases, retries, dead letters and replay, schedules, cron ticks", () =>
      withBackend(backend, async ({ store }) => {
        const { queue } = store;
        const event = (script: string, extra: Partial<NewQueuedEvent> = {}): NewQueuedEvent => ({
          script,
          event: { kind: "http", method: "POST", path: "/x", headers: [], body: null },
          maxRetries: 2,
          maxAgeMs: 60_000,
          ...extra,
        });
        const now = Date.now();
        const [first, second] = await queue.enqueue([event("a"), event("b", { runAt: now + 60_000 })], { now: true });
        assert.ok(first && second && second.id > first.id);
        assert.equal(await queue.nextDueAt() !== undefined, true);
        const claimed = await queue.claim(Date.now(), 10, 1000);
        assert.deepEqual(claimed.map((e) => e.id), [first.id], "only the due event is claimed");
        assert.deepEqual(await queue.claim(Date.now(), 10, 1000), [], "a claimed event is not claimed twice");
        assert.deepEqual((await queue.claim(Date.now() + 1500, 10, 1000)).map((e) => e.id), [first.id], "an expired claim is taken again");
        await queue.retry(first.id, Date.now() - 1, "boom");
        const retried = (await queue.claim(Date.now(), 10, 1000))[0]!;
        assert.equal(retried.attempts, 1);
        assert.equal(retried.lastError, "boom");
        await queue.deadLetter(first.id, 2, "gave up", Date.now());
        const dead = await queue.listDeadLetters("a", { limit: 10 });
        assert.deepEqual(dead.map((d) => [d.id, d.attempts, d.error]), [[first.id, 2, "gave up"]]);
        assert.deepEqual(await queue.listPending("a", 10), []);
        assert.deepEqual(await queue.replayDeadLetters("a", null, Date.now()), [first.id]);
        assert.deepEqual(await queue.listDeadLetters("a", { limit: 10 }), []);
        const replayed = await queue.listPending("a", 10);
        assert.deepEqual(replayed.map((e) => [e.id, e.attempts]), [[first.id, 0]], "a replayed event keeps its id, its attempts reset");
        const again = (await queue.claim(Date.now(), 10, 1000))[0]!;
        assert.equal(again.id, first.id);
        await queue.complete(first.id);
        assert.deepEqual(await queue.listPending("a", 10), []);

        // Schedules: one event per schedule at a time, dropped when the schedule goes.
        const tick = Date.now() - 10;
        await queue.enqueue([event("c", { schedule: "* * * * *", event: { kind: "scheduled", cron: "* * * * *", scheduledTime: tick } })]);
        assert.equal(await queue.hasScheduleEvent("c", "* * * * *"), true);
        assert.equal((await queue.cronTicks("c")).get("* * * * *"), tick, "queuing a tick records it");
        assert.equal(await queue.dropScheduleEvents("c", "* * * * *"), 1);
        assert.equal(await queue.hasScheduleEvent("c", "* * * * *"), false);
        await queue.setCronTick("c", "0 * * * *", 5);
        await queue.forgetCronTicks("c", ["0 * * * *"]);
        assert.deepEqual([...(await queue.cronTicks("c")).keys()], ["0 * * * *"]);

        // Claims left by a host that stopped are released at its next start.
        await queue.claim(Date.now() + 120_000, 10, 60_000);
        assert.equal(await queue.releaseClaims(), 1);
        assert.equal((await queue.claim(Date.now() + 120_000, 10, 60_000)).length, 1);
        await queue.purgeDeadLetters("a", null);
      }));

    test("objects: streamed put, head, ranges, listing with delimiter and cursor, delete; events once durable", () =>
      withBackend(backend, async ({ objects }) => {
        const events: string[] = [];
        objects.onChange((event) => void events.push(`${event.action} ${event.bucket}/${event.key} ${event.size}`));
        const put = async (key: string, text: string, custom: Record<string, string> = {}) => {
          const upload = await objects.beginPut("b");
          for (const part of text.match(/.{1,3}/gs) ?? []) await upload.write(new TextEncoder().encode(part));
          return upload.commit(key, { httpMetadata: { contentType: "text/plain" }, customMetadata: custom });
        };
        const record = await put("dir/a.txt", "hello world", { owner: "ünï" });
        assert.equal(record.size, 11);
        assert.equal(record.etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        const head = await objects.head("b", "dir/a.txt");
        assert.deepEqual(head?.customMetadata, { owner: "ünï" });
        assert.equal(head?.httpMetadata.contentType, "text/plain");
        let read = "";
        for await (const chunk of objects.openRead(head!, 6, 5)) read += Buffer.from(chunk).toString("utf8");
        assert.equal(read, "world");
        await put("dir/b.txt", "b");
        await put("dir/sub/c.txt", "c");
        await put("top.txt", "t");
        await put("ünicode", "u");
        const listing = await objects.list("b", { prefix: "", from: null, limit: 10, delimiter: "/" });
        assert.deepEqual(listing.objects.map((o) => o.key), ["top.txt", "ünicode"]);
        assert.deepEqual(listing.delimitedPrefixes, ["dir/"]);
        assert.equal(listing.resumeFrom, null);
        const firstPage = await objects.list("b", { prefix: "dir/", from: null, limit: 1, delimiter: null });
        assert.deepEqual(firstPage.objects.map((o) => o.key), ["dir/a.txt"]);
        assert.ok(firstPage.resumeFrom !== null);
        const rest = await objects.list("b", { prefix: "dir/", from: firstPage.resumeFrom, limit: 10, delimiter: null });
        assert.deepEqual(rest.objects.map((o) => o.key), ["dir/b.txt", "dir/sub/c.txt"]);
        const withMetadata = await objects.list("b", { prefix: "dir/a", from: null, limit: 10, delimiter: null, withMetadata: true });
        assert.deepEqual(withMetadata.objects[0]?.customMetadata, { owner: "ünï" });
        assert.equal((await objects.delete("b", "dir/a.txt"))?.size, 11);
        assert.equal(await objects.delete("b", "dir/a.txt"), undefined);
        assert.equal(await objects.head("b", "dir/a.txt"), undefined);
        assert.equal(await objects.head("other-bucket", "top.txt"), undefined, "buckets are apart");
        assert.deepEqual(events.slice(0, 1), ["put b/dir/a.txt 11"]);
        assert.equal(events.at(-1), "delete b/dir/a.txt 11");
        // An aborted upload is never visible.
        const aborted = await objects.beginPut("b");
        await aborted.write(new Uint8Array(100));
        await aborted.abort();
        assert.equal((await objects.list("b", { prefix: "", from: null, limit: 100, delimiter: null })).objects.length, 4);
      }));
  });
}

describe("redis queue across hosts", { skip }, () => {
  test("a cron tick is queued once whichever host fires it; a claim is settled only by its holder; each host releases only its own claims", async () => {
    const a = await RedisConnection.open(redis!.url);
    const b = await RedisConnection.open(redis!.url);
    try {
      await a.client.flushall();
      const queueA = new RedisQueue(a, "host-a");
      const queueB = new RedisQueue(b, "host-b");
      const tick = Date.now();
      const scheduled = (): NewQueuedEvent => ({ script: "s", event: { kind: "scheduled", cron: "* * * * * *", scheduledTime: tick }, schedule: "* * * * * *", maxRetries: 0, maxAgeMs: 60_000 });
      const [fromA, fromB] = await Promise.all([queueA.enqueue([scheduled()]), queueB.enqueue([scheduled()])]);
      assert.equal(fromA.length + fromB.length, 1, "the same tick is queued once");
      const claimedByA = await queueA.claim(Date.now(), 10, 100);
      assert.equal(claimedByA.length, 1);
      // A's lease runs out: B takes the event over, and A (stalled) can no longer settle it.
      const claimedByB = await queueB.claim(Date.now() + 200, 10, 60_000);
      assert.equal(claimedByB.length, 1);
      await queueA.complete(claimedByA[0]!.id);
      assert.equal((await queueB.listPending("s", 10)).length, 1, "a stale holder's complete does nothing");
      assert.equal(await queueA.releaseClaims(), 0, "A does not release B's claim");
      assert.equal(await queueB.releaseClaims(), 1);
      const reclaimed = await queueB.claim(Date.now(), 10, 60_000);
      await queueB.renewClaims([reclaimed[0]!.id], Date.now() + 120_000);
      assert.deepEqual(await queueA.claim(Date.now() + 90_000, 10, 1000), [], "a renewed claim holds");
      await queueB.complete(reclaimed[0]!.id);
      assert.deepEqual(await queueB.listPending("s", 10), []);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
