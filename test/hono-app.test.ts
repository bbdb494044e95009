// fixtures/hono-app through a real host: Hono's cors, secureHeaders, etag and
// jwt middleware, and server-sent events that reach the client one by one.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { bundleProject } from "../bundler/bundle.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

const APP_HOST = "api.example.test";
let host: TestHost;

before(async () => {
  host = await startTestHost();
  const { code, config } = await bundleProject(fileURLToPath(new URL("../../fixtures/hono-app", import.meta.url)));
  await host.deploy("hono-app", code, config);
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

test("server-sent events leave as they are written: the first arrives long before the stream ends", async () => {
  const delayMs = 400;
  const started = performance.now();
  const response = await host.request(APP_HOST, `/events?n=3&delay_ms=${delayMs}`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let firstEventMs = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
    if (firstEventMs === 0 && text.includes("\n\n")) firstEventMs = performance.now() - started;
  }
  const totalMs = performance.now() - started;
  const events = text.trim().split("\n\n");
  assert.equal(events.length, 3);
  assert.equal(events[0], `event: tick\ndata: {"tick":1,"of":3}\nid: 1`);
  // The function sleeps 2 × 400 ms after the first event: a buffered response would deliver it at the end.
  assert.ok(totalMs - firstEventMs >= 1.5 * delayMs, `first event at ${firstEventMs.toFixed(0)} ms, end at ${totalMs.toFixed(0)} ms`);
  console.log(`SSE: first event after ${firstEventMs.toFixed(1)} ms, stream over after ${totalMs.toFixed(1)} ms`);
});

test("cors answers a preflight and marks responses", async () => {
  const preflight = await host.request(APP_HOST, "/hello/x", {
    method: "OPTIONS",
    headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
  assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
  assert.equal(preflight.headers.get("access-control-max-age"), "600");
  const simple = await host.request(APP_HOST, "/hello/x", { headers: { origin: "https://app.example" } });
  assert.equal(simple.headers.get("access-control-allow-origin"), "*");
  assert.deepEqual(await simple.json(), { hello: "x" });
});

test("secureHeaders sets its headers on every response", async () => {
  const response = await host.request(APP_HOST, "/hello/x");
  assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  assert.equal(response.headers.get("x-frame-options"), "SAMEORIGIN");
  assert.match(response.headers.get("strict-transport-security") ?? "", /max-age=/);
});

test("jwt: /token signs an HS256 token that /private/me accepts; a forged one gets 401", async () => {
  const issued = await host.request(APP_HOST, "/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sub: "ada" }) });
  assert.equal(issued.status, 200);
  const { token } = (await issued.json()) as { token: string };
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  const me = await host.request(APP_HOST, "/private/me", { headers: { authorization: `Bearer ${token}` } });
  assert.equal(me.status, 200);
  assert.deepEqual(await me.json(), { sub: "ada" });
  const [head, payload] = token.split(".");
  const forged = `${head}.${payload}.${"A".repeat(43)}`;
  assert.equal((await host.request(APP_HOST, "/private/me", { headers: { authorization: `Bearer ${forged}` } })).status, 401);
  assert.equal((await host.request(APP_HOST, "/private/me")).status, 401);
});

test("etag: a cached route answers If-None-Match with 304", async () => {
  const first = await host.request(APP_HOST, "/cached/info");
  const tag = first.headers.get("etag");
  assert.ok(tag, "an ETag header");
  await first.arrayBuffer();
  const again = await host.request(APP_HOST, "/cached/info", { headers: { "if-none-match": tag } });
  assert.equal(again.status, 304);
});
