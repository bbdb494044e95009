// The parts of the meter that are not plain counts of calls, through a real
// host: the bytes a function's fetches send and receive (inline, streamed,
// uploaded, passed along without entering the isolate), the isolate's memory
// at an invocation's end and its hourly peak, and the bytes its buckets hold,
// shared between the scripts that bind the same bucket.
import { strict as assert } from "node:assert";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { startTestHost, type TestHost } from "./support/test-host.js";

const SMALL = 10_000;
const BIG = 300_000;
const PASSED = 1024 * 1024;
const UPLOAD = 50_000;

let origin: Server;
let originUrl: string;
let host: TestHost;

const BUNDLE = (originUrl: string) => `
let kept = null;
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/inline") { await (await fetch("${originUrl}/small")).arrayBuffer(); return new Response("x"); }
    if (pathname === "/stream") { await (await fetch("${originUrl}/big")).arrayBuffer(); return new Response("x"); }
    if (pathname === "/upload") { await (await fetch("${originUrl}/sink", { method: "POST", body: "a".repeat(${UPLOAD}) })).text(); return new Response("x"); }
    if (pathname === "/forward") { await (await fetch("${originUrl}/sink", { method: "POST", body: request.body })).text(); return new Response("x"); }
    if (pathname === "/proxy") return fetch("${originUrl}/passed");
    if (pathname === "/heap") { kept = new Array(400000).fill(0).map((_, i) => ({ i })); return new Response(String(kept.length)); }
    if (pathname === "/store") {
      for (const [key, size] of [["a", 1000], ["b", 2000], ["c", 3000]]) await env.FILES.put(key, "z".repeat(size));
      return new Response("stored");
    }
    if (pathname === "/unstore") { await env.FILES.delete("c"); return new Response("deleted"); }
    return new Response("plain");
  },
};`;

before(async () => {
  origin = createServer((request, response) => {
    const path = request.url ?? "/";
    if (path === "/small") return response.writeHead(200, { "content-length": String(SMALL) }).end(Buffer.alloc(SMALL, 1));
    if (path === "/big") {
      // No length: streamed to the isolate chunk by chunk.
      response.writeHead(200);
      for (let sent = 0; sent < BIG; sent += 30_000) response.write(Buffer.alloc(30_000, 2));
      return response.end();
    }
    if (path === "/passed") return response.writeHead(200, { "content-length": String(PASSED) }).end(Buffer.alloc(PASSED, 3));
    if (path === "/sink") {
      request.resume();
      return request.on("end", () => response.writeHead(200, { "content-length": "2" }).end("ok"));
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  host = await startTestHost({ egress: { allowPrivate: true } });
  await host.deploy("meter", BUNDLE(originUrl), { buckets: [{ binding: "FILES", bucket_name: "shared-files" }] });
  await host.deploy("meter-too", BUNDLE(originUrl), { buckets: [{ binding: "FILES", bucket_name: "shared-files" }] });
});

after(async () => {
  await host?.stop();
  host?.cleanUp();
  origin?.close();
});

interface RecordJson {
  path: string;
  status: number;
  fetch_bytes_in: number | null;
  fetch_bytes_out: number | null;
  heap_mb: number | null;
  bytes_out: number | null;
}

async function records(script: string): Promise<RecordJson[]> {
  const response = await host.control("GET", `/v1/scripts/${script}/invocations?since=1h&limit=1000`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { invocations: RecordJson[] }).invocations;
}

async function usage(script: string): Promise<Record<string, number>> {
  const response = await host.control("GET", `/v1/usage?since=1h&script=${script}`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { scripts: Record<string, number>[] }).scripts[0] ?? {};
}

describe("fetch bytes and heap", () => {
  it("count each fetch's body bytes, both ways, whichever path the body takes", async () => {
    for (const path of ["/inline", "/stream", "/upload", "/proxy", "/plain"]) {
      const response = await host.request("meter.localhost", path);
      assert.equal(response.status, 200, path);
      await response.arrayBuffer();
    }
    const forwarded = await host.request("meter.localhost", "/forward", { method: "POST", body: "f".repeat(70_000) });
    assert.equal(forwarded.status, 200);
    await forwarded.text();
    const byPath = new Map((await records("meter")).map((record) => [record.path, record]));
    const bytes = (path: string) => ({ in: byPath.get(path)?.fetch_bytes_in, out: byPath.get(path)?.fetch_bytes_out });
    assert.deepEqual(bytes("/inline"), { in: SMALL, out: 0 });
    assert.deepEqual(bytes("/stream"), { in: BIG, out: 0 });
    assert.deepEqual(bytes("/upload"), { in: 2, out: UPLOAD });
    assert.deepEqual(bytes("/forward"), { in: 2, out: 70_000 });
    // Passed along host-side, never through the isolate, and counted all the same.
    assert.deepEqual(bytes("/proxy"), { in: PASSED, out: 0 });
    assert.equal(byPath.get("/proxy")?.bytes_out, PASSED);
    assert.deepEqual(bytes("/plain"), { in: 0, out: 0 });
    const meter = await usage("meter");
    assert.equal(meter.fetch_bytes_in, SMALL + BIG + 2 + PASSED + 2);
    assert.equal(meter.fetch_bytes_out, UPLOAD + 70_000);
  });

  it("record the isolate's memory at the end, and its peak per hour", async () => {
    const before = await records("meter");
    assert.ok(before.every((record) => record.heap_mb !== null && record.heap_mb > 0), JSON.stringify(before.map((record) => record.heap_mb)));
    const small = Math.max(...before.map((record) => record.heap_mb!));
    const grown = await host.request("meter.localhost", "/heap");
    assert.equal(await grown.text(), "400000");
    const heap = (await records("meter")).find((record) => record.path === "/heap")!;
    // 400,000 small objects in an array: well over 5 MiB more than a hello's isolate.
    assert.ok(heap.heap_mb! > small + 5, `heap ${heap.heap_mb} MiB after /heap, ${small} MiB before`);
    assert.equal((await usage("meter")).peak_heap_mb, Math.round(heap.heap_mb! * 1000) / 1000);
  });
});

describe("bytes stored", () => {
  it("are what the bound buckets hold, split between the scripts that bind them, and follow writes and deletes", async () => {
    const stored = await host.request("meter.localhost", "/store");
    assert.equal(await stored.text(), "stored");
    const settle = async (expected: { bytes: number; objects: number }) => {
      let figures: Record<string, Record<string, number>> = {};
      for (let attempt = 0; attempt < 60; attempt++) {
        figures = { meter: await usage("meter"), "meter-too": await usage("meter-too") };
        const total = figures.meter!.bytes_stored! + figures["meter-too"]!.bytes_stored!;
        if (total === expected.bytes) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return figures;
    };
    let figures = await settle({ bytes: 6000, objects: 3 });
    assert.deepEqual(
      { bytes: [figures.meter!.bytes_stored, figures["meter-too"]!.bytes_stored], objects: [figures.meter!.objects_stored, figures["meter-too"]!.objects_stored] },
      { bytes: [3000, 3000], objects: [2, 1] },
    );
    const deleted = await host.request("meter-too.localhost", "/unstore");
    assert.equal(await deleted.text(), "deleted");
    figures = await settle({ bytes: 3000, objects: 2 });
    assert.deepEqual([figures.meter!.bytes_stored, figures["meter-too"]!.bytes_stored], [1500, 1500]);
    assert.deepEqual([figures.meter!.objects_stored, figures["meter-too"]!.objects_stored], [1, 1]);
  });
});
