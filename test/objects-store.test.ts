// The embedded object store on its own: events after durable writes, aborted
// and crashed uploads leave nothing visible (nor files behind), listing with
// delimiters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { SqliteStore } from "../host/store/sqlite.js";
import type { ObjectEvent } from "../host/store/objects.js";

function withStore(run: (store: SqliteStore, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "atoll-objects-"));
  const store = new SqliteStore(join(dir, "atoll.db"));
  return run(store, dir).finally(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

test("a put and a delete are announced once durable, with size and etag", () =>
  withStore(async (store) => {
    const events: ObjectEvent[] = [];
    store.objects.onChange((event) => void events.push(event));
    const upload = await store.objects.beginPut("b");
    await upload.write(new TextEncoder().encode("hello "));
    await upload.write(new TextEncoder().encode("world"));
    assert.equal(events.length, 0, "nothing is announced before the commit");
    assert.equal(await store.objects.head("b", "k"), undefined, "nothing is visible before the commit");
    const record = await upload.commit("k", { httpMetadata: {}, customMetadata: {} });
    assert.equal(record.size, 11);
    await store.objects.delete("b", "k");
    assert.deepEqual(
      events.map(({ bucket, key, action, size, etag }) => ({ bucket, key, action, size, etag })),
      [
        { bucket: "b", key: "k", action: "put", size: 11, etag: "5eb63bbbe01eeed093cb22bb8f5acdc3" },
        { bucket: "b", key: "k", action: "delete", size: 11, etag: "5eb63bbbe01eeed093cb22bb8f5acdc3" },
      ],
    );
    assert.equal(await store.objects.delete("b", "k"), undefined, "deleting twice is not an event");
    assert.equal(events.length, 2);
  }));

test("an aborted upload leaves no file and no object; temporary files from a crash are swept at start", () =>
  withStore(async (store, dir) => {
    const upload = await store.objects.beginPut("b");
    await upload.write(new Uint8Array(1000));
    await upload.abort();
    assert.deepEqual(readdirSync(join(dir, "objects", ".tmp")), []);
    assert.equal(await store.objects.head("b", "k"), undefined);
    // A crash mid-upload leaves a temporary file: the next start removes it.
    writeFileSync(join(dir, "objects", ".tmp", "left-by-a-crash"), "half");
    const again = new SqliteStore(join(dir, "atoll.db"));
    assert.deepEqual(readdirSync(join(dir, "objects", ".tmp")), []);
    await again.close();
  }));

test("overwriting replaces the file; listing groups by delimiter across unicode keys", () =>
  withStore(async (store, dir) => {
    const put = async (key: string, text: string) => {
      const upload = await store.objects.beginPut("b");
      await upload.write(new TextEncoder().encode(text));
      return upload.commit(key, { httpMetadata: {}, customMetadata: {} });
    };
    await put("x", "first");
    await put("x", "second");
    const files = readdirSync(join(dir, "objects", "b"), { recursive: true }).filter((name) => String(name).length > 3);
    assert.equal(files.length, 1, "the first version's file is gone");
    for (const key of ["é/1", "é/2", "éa", "z/1", "\u{10ffff}/x"]) await put(key, key);
    const listing = await store.objects.list("b", { prefix: "", from: null, limit: 100, delimiter: "/" });
    assert.deepEqual(listing.objects.map((o) => o.key), ["x", "éa"]);
    assert.deepEqual(listing.delimitedPrefixes, ["z/", "é/", "\u{10ffff}/"]);
    const page = await store.objects.list("b", { prefix: "é", from: null, limit: 1, delimiter: "/" });
    assert.deepEqual(page.delimitedPrefixes, ["é/"]);
    assert.notEqual(page.resumeFrom, null);
    const next = await store.objects.list("b", { prefix: "é", from: page.resumeFrom, limit: 10, delimiter: "/" });
    assert.deepEqual(next.objects.map((o) => o.key), ["éa"]);
  }));

test("after a crash, object files no record points at are swept at start; after a clean close nothing is", () =>
  withStore(async (store, dir) => {
    const upload = await store.objects.beginPut("b");
    await upload.write(new TextEncoder().encode("kept"));
    await upload.commit("k", { httpMetadata: {}, customMetadata: {} });
    // What a crash between a commit's rename and its record leaves: a whole file in place that nothing refers to.
    mkdirSync(join(dir, "objects", "b", "ff"), { recursive: true });
    writeFileSync(join(dir, "objects", "b", "ff", "ff00left-by-a-crash"), "never recorded");
    const objectFiles = () => readdirSync(join(dir, "objects", "b"), { recursive: true }).filter((name) => String(name).length > 3).map(String).sort();
    assert.equal(objectFiles().length, 2);

    // `store` is never closed before the next open: as after SIGKILL.
    const afterCrash = new SqliteStore(join(dir, "atoll.db"));
    assert.deepEqual(afterCrash.crashRecovery, { unreferencedObjectFiles: 1 });
    assert.equal(objectFiles().length, 1);
    const record = (await afterCrash.objects.head("b", "k"))!;
    const chunks: Uint8Array[] = [];
    for await (const chunk of afterCrash.objects.openRead(record, 0, record.size)) chunks.push(chunk);
    assert.equal(Buffer.concat(chunks).toString(), "kept");
    await afterCrash.close();

    // A clean close: the next open knows there is nothing to sweep.
    const afterCleanClose = new SqliteStore(join(dir, "atoll.db"));
    assert.equal(afterCleanClose.crashRecovery, null);
    await afterCleanClose.close();
  }));

test("an upload in many small chunks, some large ones and a reused buffer reads back whole", () =>
  withStore(async (store) => {
    const upload = await store.objects.beginPut("b");
    const expected = createHash("md5");
    const pieces: Buffer[] = [];
    // One buffer, refilled after every write: the store must have taken its own copy.
    const reused = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 40; i++) {
      const size = [1, 1000, 64 * 1024, 3000][i % 4]!;
      reused.fill(i, 0, size);
      const piece = reused.subarray(0, size);
      pieces.push(Buffer.from(piece));
      expected.update(piece);
      await upload.write(piece);
      if (i % 10 === 9) {
        const large = Buffer.alloc(1024 * 1024 + 7, 200 + i);
        pieces.push(large);
        expected.update(large);
        await upload.write(large);
      }
    }
    const record = await upload.commit("k", { httpMetadata: {}, customMetadata: {} });
    const whole = Buffer.concat(pieces);
    assert.equal(record.size, whole.byteLength);
    assert.equal(record.etag, expected.digest("hex"));
    const chunks: Uint8Array[] = [];
    for await (const chunk of store.objects.openRead(record, 0, record.size)) chunks.push(chunk);
    assert.ok(Buffer.concat(chunks).equals(whole));
  }));
