// A response whose head is out when a limit ends the function: the client must
// see a broken body (the connection cut, no last chunk), never a clean end of a
// short one, and the log line must say the limit, not the 200 of the head.
// And the same upload passed along untouched (`new Response(request.body)`) is
// piped by the host, so it never meets the CPU limit at all.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { startTestHost, type TestHost } from "./support/test-host.js";

let host: TestHost;

before(async () => {
  host = await startTestHost();
  await host.deploy(
    "streamer",
    `export default { fetch(request) {
      if (new URL(request.url).pathname === "/echo") return new Response(request.body);
      let n = 0;
      // Each chunk burns 5 ms of CPU: the 50 ms limit ends the stream after about ten.
      return new Response(new ReadableStream({ pull(c) { const end = Date.now() + 5; while (Date.now() < end) {} c.enqueue(new TextEncoder().encode("chunk " + ++n + "\\n")); } }));
    } };`,
    { limits: { cpu_ms: 50 } },
  );
});

after(async () => {
  await host.stop();
  host.cleanUp();
});

interface ClientView {
  status: number | undefined;
  bytes: number;
  ending: "clean end" | "aborted" | "error";
}

/** What a plain HTTP/1.1 client sees of the response: did the body end cleanly? */
function get(path: string): Promise<ClientView> {
  const port = Number(new URL(host.dataUrl).port);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: "127.0.0.1", port, path, headers: { host: "streamer.localhost" } }, (response) => {
      let bytes = 0;
      let settled = false;
      const settle = (ending: ClientView["ending"]) => {
        if (!settled) resolve({ status: response.statusCode, bytes, ending });
        settled = true;
      };
      response.on("data", (chunk: Buffer) => (bytes += chunk.byteLength));
      response.on("end", () => settle(response.complete ? "clean end" : "aborted"));
      response.on("aborted", () => settle("aborted"));
      response.on("error", () => settle("error"));
    });
    request.on("error", reject);
    request.end();
  });
}

test("a streamed body ended by the CPU limit is cut for the client and logged as the limit", async () => {
  const seen = await get("/");
  assert.equal(seen.status, 200, "the head went out before the limit");
  assert.notEqual(seen.ending, "clean end", `the client saw a clean end after ${seen.bytes} bytes`);
  assert.ok(seen.bytes > 0, "some chunks reached the client before the cut");
  const line = await host.waitForLog(/streamer@v1 GET \/ aborted/);
  assert.match(line, /^streamer@v1 GET \/ aborted \(cpu_ms\) after a 200 head and \d+ bytes [\d.]+ms.*: terminated \(cpu_ms\)/);
  assert.doesNotMatch(line, /GET \/ 200/);
});

test("new Response(request.body) of a 50 MB upload is piped by the host: complete under cpu_ms 50", async () => {
  const size = 50 * 1024 * 1024;
  const body = new Uint8Array(size);
  body[size - 1] = 7;
  const response = await host.request("streamer.localhost", "/echo", { method: "POST", body });
  assert.equal(response.status, 200);
  const echoed = new Uint8Array(await response.arrayBuffer());
  assert.equal(echoed.byteLength, size);
  assert.equal(echoed[size - 1], 7);
  const line = await host.waitForLog(/streamer@v1 POST \/echo /);
  assert.match(line, /POST \/echo 200 (cold|warm)/);
});
