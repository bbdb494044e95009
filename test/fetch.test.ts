// Outbound fetch through a real host: functions fetch a real origin server on
// loopback (the host allows private addresses for this), stream bodies both
// ways, follow or refuse redirects, abort, hit the subrequest limit, and a
// function that fetches itself is stopped by the loop check.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { bundleProject } from "../bundler/bundle.js";
import { BIG_BYTES, startOrigin, type Origin } from "./support/origin.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

const PROXY = `export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname.replace(/^\\/proxy/, "");
    return fetch(env.ORIGIN + path);
  },
};`;

const PROBE = `export default {
  async fetch(request, env) {
    const { searchParams } = new URL(request.url);
    const target = searchParams.get("url");
    const init = {};
    if (searchParams.has("redirect")) init.redirect = searchParams.get("redirect");
    if (searchParams.has("timeout")) init.signal = AbortSignal.timeout(Number(searchParams.get("timeout")));
    try {
      const response = await fetch(target, init);
      return Response.json({
        ok: true,
        status: response.status,
        url: response.url,
        redirected: response.redirected,
        location: response.headers.get("location"),
        cookies: response.headers.getSetCookie(),
        text: await response.text(),
      });
    } catch (error) {
      return Response.json({ ok: false, name: error.name, message: error.message });
    }
  },
};`;

let host: TestHost;
let origin: Origin;

before(async () => {
  origin = await startOrigin();
  host = await startTestHost({ egress: { allowPrivate: true } });
  await host.deploy("proxy", PROXY, { vars: { ORIGIN: origin.url } });
  await host.deploy("probe", PROBE, { limits: { cpu_ms: 1000 } });
});
after(async () => {
  await host.stop();
  host.cleanUp();
  origin.server.close();
});

async function probe(query: Record<string, string>): Promise<Record<string, unknown>> {
  const response = await host.request("probe.localhost", `/?${new URLSearchParams(query)}`);
  assert.equal(response.status, 200);
  return (await response.json()) as Record<string, unknown>;
}

test("a function returns a fetched response as it is, headers included", async () => {
  const response = await host.request("proxy.localhost", "/proxy/text");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-origin"), "yes");
  assert.equal(await response.text(), "hello from the origin");
});

test("a 3 MiB response streams from the origin through the function to the client", async () => {
  const response = await host.request("proxy.localhost", "/proxy/big");
  assert.equal(response.status, 200);
  const body = Buffer.from(await response.arrayBuffer());
  assert.equal(body.length, BIG_BYTES);
  assert.ok(body.every((byte) => byte === 7));
});

test("a gzip response is decoded for the function, and its head no longer claims gzip", async () => {
  const response = await host.request("proxy.localhost", "/proxy/gzip");
  assert.equal(response.headers.get("content-encoding"), null);
  assert.equal(await response.text(), "unzipped by the host");
});

test("a streamed request body goes to the origin, 3 MiB, intact", async () => {
  await host.deploy(
    "uploader",
    `export default {
      async fetch(request, env) {
        const response = await fetch(env.ORIGIN + "/echo", { method: "POST", body: request.body, duplex: "half", headers: { "x-from": "function" } });
        return new Response(response.body, response);
      },
    };`,
    { vars: { ORIGIN: origin.url } },
  );
  const payload = Buffer.alloc(BIG_BYTES);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) % 251;
  const chunks = [payload.subarray(0, 1_000_000), payload.subarray(1_000_000)];
  const stream = new ReadableStream({
    pull(controller) {
      const next = chunks.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
  const response = await host.request("uploader.localhost", "/", { method: "POST", body: stream });
  assert.equal(response.status, 200);
  const echoed = (await response.json()) as { method: string; bytes: number; sha256: string; headers: Record<string, string> };
  assert.equal(echoed.method, "POST");
  assert.equal(echoed.bytes, BIG_BYTES);
  assert.equal(echoed.sha256, createHash("sha256").update(payload).digest("hex"));
  assert.equal(echoed.headers["x-from"], "function");
  assert.equal(echoed.headers["x-atoll-fetch-depth"], "1");
});

test("redirects: followed by default, returned with redirect: manual, an error with redirect: error", async () => {
  const to = `${origin.url}/redirect?to=${encodeURIComponent("/text")}`;
  const followed = await probe({ url: to });
  assert.deepEqual([followed.ok, followed.status, followed.redirected, followed.url, followed.text], [true, 200, true, `${origin.url}/text`, "hello from the origin"]);
  const manual = await probe({ url: to, redirect: "manual" });
  assert.deepEqual([manual.ok, manual.status, manual.location, manual.redirected], [true, 302, "/text", false]);
  const refused = await probe({ url: to, redirect: "error" });
  assert.equal(refused.ok, false);
  assert.equal(refused.name, "TypeError");
});

test("several Set-Cookie headers stay separate", async () => {
  const answer = await probe({ url: `${origin.url}/cookies` });
  assert.deepEqual(answer.cookies, ["a=1", "b=2"]);
});

test("AbortSignal.timeout stops a fetch whose body never ends", async () => {
  const started = Date.now();
  const answer = await probe({ url: `${origin.url}/slow`, timeout: "300" });
  assert.equal(answer.ok, false);
  assert.equal(answer.name, "TimeoutError");
  assert.ok(Date.now() - started < 5000);
});

test("a connection refused is a TypeError that says so", async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const { port } = closed.address() as AddressInfo;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const answer = await probe({ url: `http://127.0.0.1:${port}/` });
  assert.equal(answer.ok, false);
  assert.equal(answer.name, "TypeError");
  assert.match(String(answer.message), /ECONNREFUSED/);
});

test("fetching a URL that is not http(s) is a TypeError", async () => {
  const answer = await probe({ url: "file:///etc/passwd" });
  assert.equal(answer.ok, false);
  assert.match(String(answer.message), /only http: and https: URLs can be fetched/);
});

test("an invocation may make at most limits.subrequests fetches", async () => {
  await host.deploy(
    "greedy",
    `export default {
      async fetch(request, env) {
        const results = [];
        for (let i = 0; i < 5; i++) {
          try { await (await fetch(env.ORIGIN + "/text")).text(); results.push("ok"); }
          catch (error) { results.push(error.message); }
        }
        return Response.json(results);
      },
    };`,
    { vars: { ORIGIN: origin.url }, limits: { subrequests: 3 } },
  );
  for (let round = 0; round < 2; round++) {
    const results = (await (await host.request("greedy.localhost", "/")).json()) as string[];
    assert.deepEqual(results.slice(0, 3), ["ok", "ok", "ok"]);
    assert.match(results[3]!, /too many subrequests: one invocation may make at most 3/);
    assert.equal(results.length, 5);
  }
});

test("a function that fetches its own URL is stopped with 508 instead of looping", async () => {
  await host.deploy(
    "loop",
    `export default {
      async fetch(request) {
        const response = await fetch(request.url);
        const text = await response.text();
        return new Response(response.status === 508 ? "stopped: " + text : text, { headers: { "x-depth-seen": String(request.headers.get("x-atoll-fetch-depth")) } });
      },
    };`,
    { routes: ["/loop"] },
  );
  const response = await host.request("127.0.0.1", "/loop");
  assert.equal(response.status, 200);
  assert.match(await response.text(), /^stopped: this request is 17 fetches deep/);
  // Functions never see the depth header.
  assert.equal(response.headers.get("x-depth-seen"), "null");
  assert.ok(host.logs.some((line) => /loop@v1 GET \/loop 508 ATOLL_LOOP_DETECTED depth 17/.test(line)), host.logs.join("\n"));
});

test("fetch outside a request (at the module's top level) is refused with a clear error", async () => {
  await host.deploy(
    "early",
    `const early = fetch("http://127.0.0.1:9/").then(() => "fetched", (error) => error.message);
    export default { async fetch() { return new Response(await early); } };`,
  );
  assert.match(await (await host.request("early.localhost", "/")).text(), /fetch\(\) was called outside of a request/);
});

test("fixtures/fetch-transform streams an origin's page back upper-cased through a TransformStream", async () => {
  const { code, config } = await bundleProject(fileURLToPath(new URL("../../fixtures/fetch-transform", import.meta.url)));
  // Decoding, upper-casing and re-encoding 3 MiB costs ~100 ms of CPU in the isolate's JS codecs: over the default 50 ms.
  await host.deploy("fetch-transform", code, { ...config, vars: { ...config.vars, ORIGIN: origin.url }, limits: { cpu_ms: 2000 } });
  const response = await host.request("fetch-transform.localhost", "/text");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-upstream-status"), "200");
  assert.equal(await response.text(), "HELLO FROM THE ORIGIN");
  const big = await host.request("fetch-transform.localhost", "/big");
  assert.equal((await big.arrayBuffer()).byteLength, BIG_BYTES);
});
