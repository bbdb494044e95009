// Request bodies over the host's limit: refused up front when declared, cut
// off and answered with 413 when they grow past it while streaming.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { startTestHost, type TestHost } from "./support/test-host.js";

const LIMIT = 1024 * 1024;
let host: TestHost;

before(async () => {
  host = await startTestHost({ maxRequestBodyBytes: LIMIT });
  await host.deploy("reader", `export default { async fetch(request) { const bytes = await request.arrayBuffer(); return new Response("read " + bytes.byteLength); } };`);
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

function chunkedUpload(pieces: number, pieceBytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  const piece = new Uint8Array(pieceBytes).fill(7);
  return new ReadableStream({
    pull(controller) {
      if (sent++ < pieces) controller.enqueue(piece);
      else controller.close();
    },
  });
}

test("a body under the limit reaches the function, streamed", async () => {
  const response = await host.request("reader.localhost", "/", { method: "POST", body: chunkedUpload(15, 64 * 1024) });
  assert.equal(await response.text(), `read ${15 * 64 * 1024}`);
});

test("a declared Content-Length over the limit gets 413 before the function runs", async () => {
  const port = Number(new URL(host.dataUrl).port);
  // The previous test's invocation is logged once it is over, which may be just after its response: wait for it.
  for (let i = 0; i < 100 && !host.logs.some((line) => line.startsWith("reader@v1 POST / 200")); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  const invocationsBefore = host.logs.filter((line) => line.startsWith("reader@v1 POST / 200")).length;
  // Claims 1 GB and sends a few bytes: the answer must not wait for the rest.
  const { status, code, connection } = await new Promise<{ status: number; code: string; connection: string }>((resolve, reject) => {
    const request = httpRequest({ host: "127.0.0.1", port, method: "POST", path: "/", headers: { host: "reader.localhost", "content-length": String(1024 ** 3) } }, (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0, code: String(response.headers["x-atoll-error"]), connection: String(response.headers.connection) });
      request.destroy();
    });
    request.on("error", reject);
    request.write("just a little");
  });
  assert.equal(status, 413);
  assert.equal(code, "ATOLL_BODY_TOO_LARGE");
  assert.equal(connection, "close");
  assert.equal(host.logs.filter((line) => line.startsWith("reader@v1 POST / 200")).length, invocationsBefore);
  assert.ok(host.logs.some((line) => /^reader@v1 POST \/ 413 [\d.]+ms( \(cpu [\d.]+ms\))? ATOLL_BODY_TOO_LARGE/.test(line)), host.logs.join("\n"));
});

test("a chunked body that grows past the limit gets 413 and the connection is closed", async () => {
  const response = await host.request("reader.localhost", "/", { method: "POST", body: chunkedUpload(64, 64 * 1024) });
  assert.equal(response.status, 413);
  assert.equal(response.headers.get("x-atoll-error"), "ATOLL_BODY_TOO_LARGE");
  assert.match(await response.text(), /over the host's limit of 1048576 bytes/);
  // The function still answers afterwards.
  const small = await host.request("reader.localhost", "/", { method: "POST", body: "hello" });
  assert.equal(await small.text(), "read 5");
});

test("a function's own limits.request_body_mb, under the host's, gets 413 naming the function's limit", async () => {
  const bigHost = await startTestHost({ maxRequestBodyBytes: 8 * LIMIT });
  try {
    await bigHost.deploy("small-bodies", `export default { async fetch(request) { return new Response("read " + (await request.arrayBuffer()).byteLength); } };`, { limits: { request_body_mb: 1 } });
    const ok = await bigHost.request("small-bodies.localhost", "/", { method: "POST", body: new Uint8Array(LIMIT) });
    assert.equal(await ok.text(), `read ${LIMIT}`);
    const declared = await bigHost.request("small-bodies.localhost", "/", { method: "POST", body: new Uint8Array(LIMIT + 1) });
    assert.equal(declared.status, 413);
    assert.match(await declared.text(), /over this function's limit of 1048576 bytes \(limits\.request_body_mb\)/);
    const streamed = await bigHost.request("small-bodies.localhost", "/", { method: "POST", body: chunkedUpload(40, 64 * 1024) });
    assert.equal(streamed.status, 413);
  } finally {
    await bigHost.stop();
    bigHost.cleanUp();
  }
});

test("a response over limits.response_body_mb: 500 when inline, cut off when streamed", async () => {
  await host.deploy(
    "big-answers",
    `export default { fetch(request) {
      const size = 2 * 1024 * 1024;
      if (new URL(request.url).pathname === "/inline") return new Response(new Uint8Array(size));
      let sent = 0;
      return new Response(new ReadableStream({ pull(c) { if (sent >= size) return c.close(); sent += 65536; c.enqueue(new Uint8Array(65536)); } }));
    } };`,
    { limits: { response_body_mb: 1 } },
  );
  const inline = await host.request("big-answers.localhost", "/inline");
  assert.equal(inline.status, 500);
  assert.equal(inline.headers.get("x-atoll-error"), "ATOLL_RESPONSE_TOO_LARGE");
  assert.equal(inline.headers.get("x-atoll-termination"), "response_body_mb");
  assert.match(await inline.text(), /over its limit of 1048576 bytes \(limits\.response_body_mb\)/);
  const streamed = await host.request("big-answers.localhost", "/streamed");
  assert.equal(streamed.status, 200);
  await assert.rejects(streamed.arrayBuffer());
  // Written once the invocation is over, which may be just after the client saw the cut.
  await host.waitForLog(/big-answers@v1 GET \/streamed aborted \(response_body_mb\) after a 200 head and \d+ bytes [\d.]+ms.*: ATOLL_RESPONSE_TOO_LARGE: .*over its limit of 1048576 bytes/);
});
