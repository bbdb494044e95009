// Bodies a function only passes along move host-side (runtime/protocol.ts
// HostStreamRef): request bodies into buckets, fetches and responses, fetched
// bodies into responses and buckets, objects into responses. With the default
// cpu_ms of 50 each of these carries tens of MiB, which pumping the bytes
// through the isolate could not, and the function's CPU stays small.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startTestHost, type TestHost } from "./support/test-host.js";

const MIB = 1024 * 1024;
const SIZE = 40 * MIB;

/** Deterministic bytes that are not all alike. */
function payload(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) bytes.writeUInt32LE((i * 2654435761) >>> 0, i);
  return bytes;
}
const BYTES = payload(SIZE);
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const BYTES_SHA = sha(BYTES);

/** GET /big: the payload; POST /sink: the sha-256 and length of what was sent. */
function startOrigin(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/big") {
      res.writeHead(200, { "content-type": "application/octet-stream", "x-origin": "yes" });
      res.end(BYTES);
      return;
    }
    if (req.method === "POST" && req.url === "/sink") {
      const hash = createHash("sha256");
      let length = 0;
      req.on("data", (chunk: Buffer) => {
        hash.update(chunk);
        length += chunk.length;
      });
      req.on("end", () => res.end(JSON.stringify({ sha: hash.digest("hex"), length })));
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

const PASS = `export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    switch (pathname) {
      case "/echo":
        return new Response(request.body, { headers: { "content-type": "application/octet-stream" } });
      case "/store": {
        const object = await env.FILES.put("upload", request.body);
        return Response.json({ size: object.size });
      }
      case "/object": {
        const object = await env.FILES.get("upload");
        return new Response(object.body, { headers: { etag: object.httpEtag } });
      }
      case "/proxy":
        return fetch(env.ORIGIN + "/big");
      case "/mirror": {
        const fetched = await fetch(env.ORIGIN + "/big");
        const object = await env.FILES.put("mirror", fetched.body);
        return Response.json({ size: object.size });
      }
      case "/forward":
        return fetch(env.ORIGIN + "/sink", { method: "POST", body: request.body });
    }
    return new Response("no such path", { status: 404 });
  },
};`;

let host: TestHost;
let origin: { server: Server; url: string };

before(async () => {
  origin = await startOrigin();
  host = await startTestHost({ egress: { allowPrivate: true }, maxRequestBodyBytes: 200 * MIB });
  // The default limits: cpu_ms = 50.
  await host.deploy("pass", PASS, { vars: { ORIGIN: origin.url }, buckets: [{ binding: "FILES", bucket_name: "files" }] });
});
after(async () => {
  await host.stop();
  host.cleanUp();
  origin.server.close();
});

/** The CPU the invocation of `path` was charged, from its log line. */
async function cpuOf(path: string): Promise<number> {
  const line = await host.waitForLog(new RegExp(`^pass@v\\d+ \\w+ ${path} .*\\(cpu [\\d.]+ms\\)`));
  host.logs.splice(host.logs.indexOf(line), 1);
  return Number(/\(cpu ([\d.]+)ms\)/.exec(line)![1]);
}

/** Pumping 40 MiB through the isolate costs far more than the 50 ms limit; passing it on, a few ms of JS. */
function assertSmall(cpuMs: number): void {
  assert.ok(cpuMs < 15, `the function is charged for its JS only, got ${cpuMs} ms of CPU`);
}

function upload(path: string): Promise<Response> {
  return host.request("pass.localhost", path, { method: "POST", body: BYTES, headers: { "content-type": "application/octet-stream" } });
}

test("new Response(request.body) echoes 40 MiB under cpu_ms 50", async () => {
  const response = await upload("/echo");
  assert.equal(response.status, 200);
  const body = new Uint8Array(await response.arrayBuffer());
  assert.equal(body.length, SIZE);
  assert.equal(sha(body), BYTES_SHA);
  assertSmall(await cpuOf("/echo"));
});

test("bucket.put(key, request.body) stores 40 MiB under cpu_ms 50, and new Response(object.body) serves it back", async () => {
  const stored = await upload("/store");
  assert.equal(stored.status, 200);
  assert.deepEqual(await stored.json(), { size: SIZE });
  assertSmall(await cpuOf("/store"));
  const viaControl = await host.control("GET", "/v1/buckets/files/objects/upload");
  assert.equal(sha(new Uint8Array(await viaControl.arrayBuffer())), BYTES_SHA);

  const served = await host.request("pass.localhost", "/object");
  assert.equal(served.status, 200);
  assert.match(served.headers.get("etag") ?? "", /^"/);
  assert.equal(sha(new Uint8Array(await served.arrayBuffer())), BYTES_SHA);
  assertSmall(await cpuOf("/object"));
});

test("return fetch(url) proxies 40 MiB, headers kept, under cpu_ms 50", async () => {
  const cpu: number[] = [];
  for (let i = 0; i < 2; i++) {
    const response = await host.request("pass.localhost", "/proxy");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-origin"), "yes");
    assert.equal(sha(new Uint8Array(await response.arrayBuffer())), BYTES_SHA);
    cpu.push(await cpuOf("/proxy"));
  }
  // The first fetch of an isolate also compiles the runtime's fetch code (bench/storage.ts prints the figure).
  assertSmall(cpu[1]!);
});

test("bucket.put(key, fetched.body) mirrors 40 MiB from an origin", async () => {
  const response = await host.request("pass.localhost", "/mirror");
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { size: SIZE });
  const viaControl = await host.control("GET", "/v1/buckets/files/objects/mirror");
  assert.equal(sha(new Uint8Array(await viaControl.arrayBuffer())), BYTES_SHA);
});

test("fetch(url, { body: request.body }) forwards 40 MiB to an origin", async () => {
  const response = await upload("/forward");
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { sha: BYTES_SHA, length: SIZE });
  assertSmall(await cpuOf("/forward"));
});

test("a client that goes away mid-echo leaves nothing behind: the next request is served", async () => {
  const response = await upload("/echo");
  const reader = response.body!.getReader();
  await reader.read();
  await reader.cancel();
  const again = await host.request("pass.localhost", "/object");
  assert.equal(again.status, 200);
  assert.equal(sha(new Uint8Array(await again.arrayBuffer())), BYTES_SHA);
});
