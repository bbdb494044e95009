// Bucket triggers through a real host: an upload through the control API, the
// CLI or a function fires fixtures/file-processor's storage handler, which
// writes a report (SHA-256, words) into a second bucket; keys outside the
// trigger's prefix and suffix fire nothing; a delete fires the delete event;
// and a function that writes into the bucket that triggers it is stopped at
// its chain depth limit instead of looping forever.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleProject } from "../bundler/bundle.js";
import { atoll, controlArgs } from "./support/cli.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

// Copies each object it is told about to the same bucket under the key + "x": a loop, unless stopped.
const LOOPER = `export default {
  async storage(event, env) {
    if (event.action !== "put") return;
    await env.LOOP.put(event.key + "x", "again");
  },
  async fetch(request, env) {
    await env.LOOP.put(new URL(request.url).pathname.slice(1), "from a request");
    return new Response("written");
  },
};`;

// These tests are about triggers, not CPU: a generous cpu_ms keeps a loaded CI machine from turning a busy cold start into a failed run.
const GENEROUS = { cpu_ms: 1000 };

interface Report {
  key: string;
  size: number;
  etag: string;
  sha256: string;
  lines: number;
  words: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let host: TestHost;
let dir: string;
before(async () => {
  host = await startTestHost();
  dir = await mkdtemp(join(tmpdir(), "atoll-storage-"));
  const { code, config } = await bundleProject(fileURLToPath(new URL("../../fixtures/file-processor", import.meta.url)));
  await host.deploy("file-processor", code, { ...(config as unknown as Record<string, unknown>), limits: GENEROUS });
});
after(async () => {
  await host.stop();
  host.cleanUp();
  await rm(dir, { recursive: true, force: true });
});

async function put(bucket: string, key: string, body: string): Promise<void> {
  const response = await fetch(`${host.controlUrl}/v1/buckets/${bucket}/objects/${key}`, { method: "PUT", headers: { authorization: `Bearer ${host.token}` }, body });
  assert.equal(response.status, 201, await response.text());
}

async function report(key: string): Promise<Report | undefined> {
  const response = await host.control("GET", `/v1/buckets/reports/objects/${key}.json`);
  if (response.status === 404) return undefined;
  assert.equal(response.status, 200);
  return (await response.json()) as Report;
}

async function keys(bucket: string): Promise<string[]> {
  const response = await host.control("GET", `/v1/buckets/${bucket}/objects?limit=1000`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { objects: { key: string }[] }).objects.map((object) => object.key);
}

async function poll<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test("an upload through the control API fires the storage handler, which writes a report into a second bucket", async () => {
  const text = "the quick brown fox\njumps over the lazy dog\n";
  await put("uploads", "docs/fox.txt", text);
  const written = await poll("the report", () => report("docs/fox.txt"));
  assert.equal(written.key, "docs/fox.txt");
  assert.equal(written.size, Buffer.byteLength(text));
  assert.equal(written.etag, createHash("md5").update(text).digest("hex"));
  assert.equal(written.sha256, createHash("sha256").update(text).digest("hex"));
  assert.equal(written.words, 9);
  assert.equal(written.lines, 2);
  // The function serves what it wrote.
  const served = await host.request("file-processor.localhost", "/docs/fox.txt");
  assert.equal(served.status, 200);
  assert.equal(((await served.json()) as Report).sha256, written.sha256);
  assert.ok(host.logs.some((line) => /\[triggers\] file-processor@v1 storage put uploads\/docs\/fox\.txt #\d+ ok/.test(line)));
});

test("atoll bucket put fires it too; keys outside the prefix and suffix fire nothing; a delete removes the report", async () => {
  const file = join(dir, "cli.txt");
  await writeFile(file, "one two three");
  const run = await atoll(["bucket", "put", "uploads", "docs/cli.txt", file, ...controlArgs(host)]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal((await poll("the report", () => report("docs/cli.txt"))).words, 3);

  await put("uploads", "images/cat.txt", "outside the prefix");
  await put("uploads", "docs/notes.md", "outside the suffix");
  await sleep(1000);
  assert.equal(await report("images/cat.txt"), undefined);
  assert.equal(await report("docs/notes.md"), undefined);

  const deleted = await host.control("DELETE", "/v1/buckets/uploads/objects/docs/cli.txt");
  assert.equal(deleted.status, 200);
  await poll("the report to go", async () => ((await report("docs/cli.txt")) === undefined ? true : undefined));
});

test("a function's own bucket write fires the trigger; writing into the bucket that triggers it stops at max_chain_depth", async () => {
  await host.deploy("looper", LOOPER, { buckets: [{ binding: "LOOP", bucket_name: "loop" }], triggers: { storage: [{ bucket: "loop", events: ["put"] }] }, limits: GENEROUS });
  // Depth 1: a write from an HTTP request. Each storage invocation writes one more: depths 2, 3, 4; the fifth is stopped.
  const response = await host.request("looper.localhost", "/a");
  assert.equal(await response.text(), "written");
  const stopped = await poll("the chain to stop", async () =>
    host.logs.find((line) => line.includes("looper: storage put loop/axxxx not delivered: it was caused by a chain of 4 storage invocations, at the limit of 4 (triggers.max_chain_depth)")),
  );
  assert.ok(stopped);
  await sleep(1000);
  assert.deepEqual(await keys("loop"), ["a", "ax", "axx", "axxx", "axxxx"]);

  // A lower limit stops sooner.
  await host.deploy("looper", LOOPER, { buckets: [{ binding: "LOOP", bucket_name: "loop" }], triggers: { storage: [{ bucket: "loop", events: ["put"] }], max_chain_depth: 2 }, limits: GENEROUS });
  await put("loop", "b", "from the control API");
  await poll("the shorter chain to stop", async () => host.logs.find((line) => line.includes("storage put loop/bxx not delivered: it was caused by a chain of 2 storage invocations, at the limit of 2")));
  await sleep(500);
  assert.deepEqual((await keys("loop")).filter((key) => key.startsWith("b")), ["b", "bx", "bxx"]);
});
