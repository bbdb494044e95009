// A real Hono app, bundled the way `atoll build` would, runs unchanged in the runtime.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { RuntimeHarness } from "./support/runtime-harness.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

const APP = `
import { Hono } from "hono";
import { cors } from "hono/cors";
import { etag } from "hono/etag";

const app = new Hono();
app.use("*", async (c, next) => {
  const started = Date.now();
  await next();
  c.res.headers.set("x-took", String(Date.now() - started));
});
app.use("/api/*", cors());
app.use("/etag/*", etag());
// Middleware that re-wraps the response, as many do.
app.use("/wrapped/*", async (c, next) => {
  await next();
  c.res = new Response(c.res.body, c.res);
  c.res.headers.set("x-wrapped", "yes");
});

app.get("/", (c) => c.text("Hello Hono!"));
app.get("/users/:id", (c) => c.json({ id: c.req.param("id"), q: c.req.query("q") ?? null }));
app.post("/api/echo", async (c) => {
  const body = await c.req.json();
  return c.json({ received: body, agent: c.req.header("user-agent") ?? null }, 201);
});
app.get("/etag/thing", (c) => c.text("stable content"));
app.get("/wrapped/page", (c) => c.html("<h1>hi</h1>"));
app.get("/env", (c) => c.text(c.env.GREETING));
app.get("/throws", () => { throw new Error("route failed"); });
app.get("/redirect", (c) => c.redirect("/"));
app.get("/stream", (c) => c.body(new ReadableStream({ start(ctl) { ctl.enqueue(new TextEncoder().encode("a")); ctl.enqueue(new TextEncoder().encode("b")); ctl.close(); } })));
app.onError((err, c) => c.json({ error: err.message }, 500));

export default app;
`;

async function bundleApp(): Promise<string> {
  const result = await build({
    stdin: { contents: APP, resolveDir: REPO_ROOT, loader: "ts", sourcefile: "app.ts" },
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

test("a Hono app: routes, params, query, JSON bodies, middleware, env, errors, redirects, streams", async () => {
  const harness = await RuntimeHarness.boot(await bundleApp(), { env: { GREETING: "hi from env" } });
  try {
    assert.deepEqual(harness.handlers, { fetch: true, scheduled: false, storage: false });

    const home = await harness.fetch({ url: "https://app.example/" });
    assert.equal(home.status, 200);
    assert.equal(home.text, "Hello Hono!");
    assert.equal(home.bodyKind, "inline");
    assert.match(home.header("content-type") ?? "", /^text\/plain/);
    assert.match(home.header("x-took") ?? "", /^\d+$/);

    const user = await harness.fetch({ url: "https://app.example/users/42?q=search" });
    assert.deepEqual(user.json(), { id: "42", q: "search" });
    assert.equal(user.header("content-type"), "application/json");

    const echo = await harness.fetch({
      method: "POST",
      url: "https://app.example/api/echo",
      headers: { "content-type": "application/json", "user-agent": "test-agent", origin: "https://other.example" },
      body: JSON.stringify({ hello: "world", list: [1, 2] }),
    });
    assert.equal(echo.status, 201);
    assert.deepEqual(echo.json(), { received: { hello: "world", list: [1, 2] }, agent: "test-agent" });
    assert.equal(echo.header("access-control-allow-origin"), "*");

    const streamedEcho = await harness.fetch({
      method: "POST",
      url: "https://app.example/api/echo",
      headers: { "content-type": "application/json" },
      bodyChunks: ['{"hel', 'lo":', '"streamed"}'],
    });
    assert.deepEqual(streamedEcho.json(), { received: { hello: "streamed" }, agent: null });

    const tagged = await harness.fetch({ url: "https://app.example/etag/thing" });
    const etagValue = tagged.header("etag");
    assert.ok(etagValue, "etag middleware set an ETag");
    const notModified = await harness.fetch({ url: "https://app.example/etag/thing", headers: { "if-none-match": etagValue } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.bodyKind, "none");

    const wrapped = await harness.fetch({ url: "https://app.example/wrapped/page" });
    assert.equal(wrapped.text, "<h1>hi</h1>");
    assert.equal(wrapped.header("x-wrapped"), "yes");
    assert.equal(wrapped.bodyKind, "inline");

    assert.equal((await harness.fetch({ url: "https://app.example/env" })).text, "hi from env");

    const failed = await harness.fetch({ url: "https://app.example/throws" });
    assert.equal(failed.status, 500);
    assert.deepEqual(failed.json(), { error: "route failed" });

    const redirect = await harness.fetch({ url: "https://app.example/redirect" });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.header("location"), "/");

    const stream = await harness.fetch({ url: "https://app.example/stream" });
    assert.equal(stream.bodyKind, "stream");
    assert.equal(stream.text, "ab");

    const missing = await harness.fetch({ url: "https://app.example/nope" });
    assert.equal(missing.status, 404);

    assert.deepEqual(harness.callErrors, []);
    assert.deepEqual(harness.uncaught, []);
  } finally {
    harness.dispose();
  }
});
