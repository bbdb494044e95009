// Service bindings through a real host: fixtures/gateway calls
// fixtures/auth-service with env.AUTH.fetch(), straight through the host's
// service socket: no route, no egress rule, the loop limit kept.
import { strict as assert } from "node:assert";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deployProject } from "../bundler/deploy.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

const FIXTURES = join(import.meta.dirname, "..", "..", "fixtures");
let host: TestHost;

before(async () => {
  host = await startTestHost({ workers: 2 });
  for (const name of ["auth-service", "gateway"]) await deployProject(join(FIXTURES, name), { controlUrl: host.controlUrl, token: host.token });
});

after(async () => {
  await host?.stop();
  host?.cleanUp();
});

const gateway = (path: string, init?: RequestInit) => host.request("gateway.localhost", path, init);

describe("service bindings", () => {
  it("call the other script through the host, with the headers the caller gave", async () => {
    const ok = await gateway("/", { headers: { authorization: "Bearer secret-ada" } });
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), "hello, ada\n");
    const denied = await gateway("/", { headers: { authorization: "Bearer wrong" } });
    assert.equal(denied.status, 401);
    await denied.text();
    // Both invocations are logged, the callee's as its own request.
    await host.waitForLog(/auth-service@v1 GET \/verify 200/);
  });

  it("keep the caller's URL (any host, even a private address the egress policy refuses) and none of Atoll's service headers", async () => {
    const response = await gateway("/whoami");
    assert.equal(response.status, 200);
    const seen = (await response.json()) as { url: string; method: string; headers: Record<string, string> };
    assert.equal(seen.url, "http://127.0.0.1/whoami?from=gateway");
    assert.equal(seen.headers["x-from"], "gateway");
    assert.deepEqual(
      Object.keys(seen.headers).filter((name) => name.startsWith("x-atoll")),
      [],
      "the callee never sees the token, the script header, the URL header or the depth header",
    );
    const direct = await gateway("/direct");
    assert.equal(direct.status, 502);
    assert.match(await direct.text(), /127\.0\.0\.1.*(private|not allowed|refused)/i);
  });

  it("stream a body through both functions untouched", async () => {
    const bytes = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
    const response = await gateway("/echo", { method: "POST", body: bytes, headers: { "content-type": "application/x-test" } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/x-test");
    const echoed = new Uint8Array(await response.arrayBuffer());
    assert.equal(echoed.length, bytes.length);
    assert.ok(echoed.every((value, i) => value === bytes[i]));
  });

  it("hand back what the callee answered: its failure as a 500, its redirect unfollowed", async () => {
    const thrown = await gateway("/throw");
    assert.equal(thrown.status, 500);
    assert.match(await thrown.text(), /ATOLL_SCRIPT_THREW|threw/);
    const redirect = await gateway("/redirect", { redirect: "manual" });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get("location"), "https://example.com/elsewhere");
    await redirect.text();
  });

  it("keep the loop limit: a script that calls itself ends in 508", async () => {
    const response = await gateway("/loop");
    assert.equal(response.status, 508);
    assert.match(await response.text(), /ATOLL_LOOP_DETECTED|fetches deep/);
  });

  it("fail the fetch with what to do when the script called is not deployed", async () => {
    const response = await gateway("/nobody");
    assert.equal(response.status, 502);
    assert.equal(
      await response.text(),
      'TypeError: env.NOBODY.fetch: script "not-deployed-anywhere" is not deployed on this host: deploy it (atoll deploy), or fix `service` in [[services]]\n',
    );
  });

  it("refuse a call on the service socket without the host's token, and ignore service headers on the public port", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const call = httpRequest({ socketPath: host.serviceSocketPath, path: "/whoami", headers: { "x-atoll-service": "auth-service", "x-atoll-service-token": "guess" } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      call.on("error", reject);
      call.end();
    });
    assert.equal(status, 403);
    // On the public port the header routes nothing: the request still goes to the gateway by its Host.
    const response = await gateway("/nothing-here", { headers: { "x-atoll-service": "auth-service", "x-atoll-service-token": "guess" } });
    assert.equal(response.status, 404);
    assert.match(await response.text(), /^gateway:/);
  });
});
