// The host end to end: uploads through the control API, requests through the
// data plane, real worker processes and isolates.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTestHost, type TestHost } from "./support/test-host.js";

const HELLO = `export default { async fetch(request, env) { return new Response(env.GREETING + " from " + new URL(request.url).pathname); } };`;

let host: TestHost;
before(async () => {
  // First requests here are cold starts: preloads are tested in test/preload.test.ts.
  host = await startTestHost({ preloadOnDeploy: false });
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

test("a deployed function answers at <name>.localhost, cold then warm", async () => {
  const { version, urls } = await host.deploy("hello", HELLO, { vars: { GREETING: "Hello" } });
  assert.equal(version, 1);
  assert.ok(urls.some((url) => url.startsWith("http://hello.localhost:")), urls.join(" "));
  const first = await host.request("hello.localhost", "/there");
  assert.equal(first.status, 200);
  assert.equal(await first.text(), "Hello from /there");
  assert.match(first.headers.get("server-timing") ?? "", /^atoll;desc="cold";dur=[\d.]+$/);
  assert.equal(first.headers.get("content-type"), "text/plain;charset=UTF-8");
  const second = await host.request("hello.localhost", "/again");
  assert.equal(await second.text(), "Hello from /again");
  assert.match(second.headers.get("server-timing") ?? "", /desc="warm"/);
  await host.waitForLog(/^hello@v1 GET \/again 200 warm [\d.]+ms \(cpu [\d.]+ms\)$/);
});

test("a request no route matches gets a clear 404: no script of that name, or no route, with the port to use", async () => {
  const port = new URL(host.dataUrl).port;
  const byName = await host.request("nobody.localhost", "/x");
  assert.equal(byName.status, 404);
  assert.equal(byName.headers.get("x-atoll-error"), "ATOLL_NO_ROUTE");
  assert.equal(await byName.text(), `no script is named "nobody" on this host, so nothing answers at nobody.localhost:${port}/x: deploy one of that name (\`atoll deploy\`), or see which scripts there are (\`atoll list\`)\n`);
  const byRoute = await host.request("elsewhere.test", "/y");
  assert.equal(byRoute.status, 404);
  assert.equal(
    await byRoute.text(),
    `no function is routed at elsewhere.test:${port}/y: deploy one with a route that matches, or reach a script by its name at http://<name>.localhost:${port}/ (\`atoll list\` shows the names)\n`,
  );
});

test("routes with a host and with any host reach their script; the most specific wins", async () => {
  await host.deploy("api", `export default { fetch: (r) => new Response("api " + new URL(r.url).pathname) };`, { routes: ["example.test/api/*"] });
  await host.deploy("statics", `export default { fetch: (r) => new Response("static " + new URL(r.url).host) };`, { routes: ["/static/*"] });
  await host.deploy("exact", `export default { fetch: () => new Response("exact") };`, { routes: ["example.test/static/special"] });
  assert.equal(await (await host.request("example.test", "/api/users/1")).text(), "api /api/users/1");
  assert.equal((await host.request("example.test", "/apiary")).status, 404);
  const port = new URL(host.dataUrl).port;
  assert.equal(await (await host.request("anything.test", "/static/a.css")).text(), `static anything.test:${port}`);
  assert.equal(await (await host.request("example.test", "/static/special")).text(), "exact");
  assert.equal(await (await host.request("example.test", "/static/other")).text(), `static example.test:${port}`);
});

test("two scripts claiming one route: 409 naming both", async () => {
  const response = await host.control("PUT", "/v1/scripts/thief", { bundle: HELLO, config: { name: "thief", main: "x.ts", routes: ["example.test/api/*"] } });
  assert.equal(response.status, 409);
  const { error } = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(error.code, "ATOLL_ROUTE_CONFLICT");
  assert.match(error.message, /"api"/);
  assert.match(error.message, /"thief"/);
});

test("the control API refuses a missing or wrong token with 401", async () => {
  for (const token of [null, "wrong", `${host.token}x`]) {
    const response = await host.control("GET", "/v1/scripts", undefined, token);
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, "ATOLL_UNAUTHORIZED");
  }
});

test("script names outside [a-z0-9-]{1,63} are refused", async () => {
  for (const name of ["Hello", "a_b", "x".repeat(64), "caf%C3%A9"]) {
    const response = await host.control("PUT", `/v1/scripts/${name}`, { bundle: HELLO, config: { name, main: "x.ts" } });
    assert.equal(response.status, 400, name);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, "ATOLL_BAD_NAME");
  }
});

test("a bundle that does not parse: 400 with the line", async () => {
  const response = await host.control("PUT", "/v1/scripts/broken", { bundle: "const a = 1;\nexport default {\n  fetch() { return new Response( }\n};", config: { name: "broken", main: "x.ts" } });
  assert.equal(response.status, 400);
  const { error } = (await response.json()) as { error: { code: string; message: string; line?: number } };
  assert.equal(error.code, "ATOLL_BUNDLE_PARSE");
  assert.equal(error.line, 3);
  assert.match(error.message, /line 3/);
});

test("a bundle without a usable default export: 400", async () => {
  for (const bundle of ["export const handler = 1;", "export default 42;", "export default { notAHandler() {} };"]) {
    const response = await host.control("PUT", "/v1/scripts/nodefault", { bundle, config: { name: "nodefault", main: "x.ts" } });
    assert.equal(response.status, 400, bundle);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, "ATOLL_BUNDLE_NO_DEFAULT_EXPORT", bundle);
  }
});

test("a bundle that throws at the top level or imports a module: 400", async () => {
  for (const bundle of ['throw new Error("boom at start");\nexport default {};', 'import fs from "node:fs";\nexport default { fetch() { return new Response(fs) } };']) {
    const response = await host.control("PUT", "/v1/scripts/toplevel", { bundle, config: { name: "toplevel", main: "x.ts" } });
    assert.equal(response.status, 400, bundle);
    const { error } = (await response.json()) as { error: { message: string } };
    assert.match(error.message, /boom at start|self-contained/);
  }
});

test("a bundle whose top level loops is refused with the start-up budget and the time it took", async () => {
  const response = await host.control("PUT", "/v1/scripts/slowstart", { bundle: "for (;;) {}\nexport default { fetch() { return new Response('never'); } };", config: { name: "slowstart", main: "x.ts" } });
  assert.equal(response.status, 400);
  const { error } = (await response.json()) as { error: { code: string; message: string } };
  assert.match(error.message, /top-level code used more than the start-up CPU budget of 1000 ms \(stopped after \d+ ms\): move that work into a handler/);
  assert.equal((await host.request("slowstart.localhost", "/")).status, 404, "nothing was deployed");
});

test("an unknown config key is refused with its name", async () => {
  const response = await host.control("PUT", "/v1/scripts/badconfig", { bundle: HELLO, config: { name: "badconfig", main: "x.ts", rouets: [] } });
  assert.equal(response.status, 400);
  const { error } = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(error.code, "ATOLL_BAD_CONFIG");
  assert.match(error.message, /rouets/);
});

test("malformed uploads get a clear 400 or 413", async () => {
  const notJson = await fetch(`${host.controlUrl}/v1/scripts/x`, { method: "PUT", headers: { authorization: `Bearer ${host.token}`, "content-type": "application/json" }, body: "{not json" });
  assert.equal(notJson.status, 400);
  assert.match(((await notJson.json()) as { error: { message: string } }).error.message, /must be JSON/);
  const noBundle = await host.control("PUT", "/v1/scripts/x", { config: { name: "x", main: "x.ts" } });
  assert.equal(noBundle.status, 400);
  assert.match(((await noBundle.json()) as { error: { message: string } }).error.message, /"bundle" is missing/);
  const otherName = await host.control("PUT", "/v1/scripts/x", { bundle: HELLO, config: { name: "y", main: "x.ts" } });
  assert.equal(otherName.status, 400);
  assert.match(((await otherName.json()) as { error: { message: string } }).error.message, /"y" does not match/);
  // 11 MiB of bundle: over the 10 MiB limit.
  const huge = `export default { fetch: () => new Response("x") };\n//${"a".repeat(11 * 1024 * 1024)}`;
  const tooLarge = await host.control("PUT", "/v1/scripts/x", { bundle: huge, config: { name: "x", main: "x.ts" } });
  assert.equal(tooLarge.status, 413);
  const { error } = (await tooLarge.json()) as { error: { code: string; message: string } };
  assert.equal(error.code, "ATOLL_BUNDLE_TOO_LARGE");
  assert.match(error.message, /limit of 10485760 bytes/);
  assert.equal((await host.control("GET", "/v1/scripts/x")).status, 404);
});

test("a function that throws: 500 with a generic body, its stack in the host's log", async () => {
  await host.deploy("thrower", `export default { fetch() { throw new Error("secret detail 42"); } };`);
  const response = await host.request("thrower.localhost", "/");
  assert.equal(response.status, 500);
  const body = await response.text();
  assert.doesNotMatch(body, /secret detail/);
  assert.match(body, /Internal Server Error/);
  await host.waitForLog(/thrower@v1[\s\S]*secret detail 42/);
});

test("console output of a function reaches the host's log", async () => {
  await host.deploy("talker", `export default { fetch() { console.log("hello", { a: 1 }); console.error("bad thing"); return new Response("ok"); } };`);
  assert.equal(await (await host.request("talker.localhost", "/")).text(), "ok");
  await waitFor(() => host.logs.some((line) => line.includes("[talker@v1] error: bad thing")));
  assert.ok(host.logs.some((line) => line.includes("[talker@v1] log: hello") && line.includes("a: 1")), host.logs.join("\n"));
});

test("an unhandled promise rejection reaches the function's listeners, then the host's log unless canceled", async () => {
  await host.deploy(
    "rejecter",
    `addEventListener("unhandledrejection", (event) => { if (event.reason.message === "quiet 41") event.preventDefault(); });
    export default { fetch(request) { Promise.reject(new Error(request.url.endsWith("/quiet") ? "quiet 41" : "loud 43")); return new Response("ok"); } };`,
  );
  assert.equal(await (await host.request("rejecter.localhost", "/quiet")).text(), "ok");
  assert.equal(await (await host.request("rejecter.localhost", "/loud")).text(), "ok");
  await waitFor(() => host.logs.some((line) => line.includes("rejecter@v1") && line.includes("Uncaught Error: loud 43")));
  assert.ok(!host.logs.some((line) => line.includes("quiet 41")), host.logs.join("\n"));
});

test("a redeploy makes a new immutable version active", async () => {
  await host.deploy("versioned", `export default { fetch: () => new Response("one") };`);
  assert.equal(await (await host.request("versioned.localhost", "/")).text(), "one");
  const { version } = await host.deploy("versioned", `export default { fetch: () => new Response("two") };`);
  assert.equal(version, 2);
  assert.equal(await (await host.request("versioned.localhost", "/")).text(), "two");
  const info = (await (await host.control("GET", "/v1/scripts/versioned")).json()) as { active_version: number; versions: number };
  assert.equal(info.active_version, 2);
  assert.equal(info.versions, 2);
  const list = (await (await host.control("GET", "/v1/scripts")).json()) as { scripts: { name: string }[] };
  assert.ok(list.scripts.some((s) => s.name === "versioned"));
});

test("a deleted script stops answering", async () => {
  await host.deploy("doomed", HELLO, { vars: { GREETING: "hi" } });
  assert.equal((await host.request("doomed.localhost", "/")).status, 200);
  const response = await host.control("DELETE", "/v1/scripts/doomed");
  assert.equal(response.status, 200);
  assert.equal((await host.request("doomed.localhost", "/")).status, 404);
  assert.equal((await host.control("DELETE", "/v1/scripts/doomed")).status, 404);
});

test("request and response bodies stream through the function", async () => {
  await host.deploy(
    "echo",
    `export default { async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === "/chunks") {
        let i = 0;
        const n = Number(url.searchParams.get("n"));
        return new Response(new ReadableStream({ pull(c) { if (i < n) c.enqueue(new TextEncoder().encode("chunk" + i++ + ";")); else c.close(); } }));
      }
      return new Response(request.body, { headers: { "content-type": request.headers.get("content-type") ?? "x" } });
    } };`,
  );
  const chunks = await host.request("echo.localhost", "/chunks?n=5");
  assert.equal(await chunks.text(), "chunk0;chunk1;chunk2;chunk3;chunk4;");
  // 3 MiB in 48 pieces, sent chunked: far over the inline size, so it streams both ways.
  const piece = new Uint8Array(64 * 1024).map((_, i) => i % 251);
  let sent = 0;
  const upload = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < 48) controller.enqueue(piece);
      else controller.close();
    },
  });
  const echoed = await host.request("echo.localhost", "/echo", { method: "POST", body: upload, headers: { "content-type": "application/octet-stream" } });
  assert.equal(echoed.status, 200);
  const bytes = new Uint8Array(await echoed.arrayBuffer());
  assert.equal(bytes.byteLength, 48 * piece.byteLength);
  assert.deepEqual(bytes.subarray(0, 1000), piece.subarray(0, 1000));
  assert.deepEqual(bytes.subarray(bytes.byteLength - 1000), piece.subarray(piece.byteLength - 1000));
  // A small JSON body arrives whole.
  const small = await host.request("echo.localhost", "/", { method: "PUT", body: JSON.stringify({ a: 1 }), headers: { "content-type": "application/json" } });
  assert.deepEqual(await small.json(), { a: 1 });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("GET /metrics on the control port counts invocations and terminations", async () => {
  await host.deploy("metered", `export default { async fetch(request) { if (new URL(request.url).pathname === "/spin") for (;;) {} return new Response("ok"); } };`);
  assert.equal((await host.request("metered.localhost", "/")).status, 200);
  assert.equal((await host.request("metered.localhost", "/")).status, 200);
  assert.equal((await host.request("metered.localhost", "/spin")).status, 503);
  const response = await fetch(`${host.controlUrl}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
  const text = await response.text();
  assert.match(text, /atoll_invocations_total\{script="metered",status="200",start="cold"\} 1/);
  assert.match(text, /atoll_invocations_total\{script="metered",status="200",start="warm"\} 1/);
  assert.match(text, /atoll_invocations_total\{script="metered",status="503",start="none"\} 1/);
  assert.match(text, /atoll_terminations_total\{script="metered",limit="cpu_ms"\} 1/);
  assert.match(text, /atoll_invocation_head_seconds_bucket\{le="0\.05",script="metered",start="warm"\} 1/);
  assert.match(text, /atoll_front_process_resident_memory_bytes \d+/);
});
