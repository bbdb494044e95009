// Gradual deploys through a real host: `percent` on an upload makes it a
// canary serving that share of clients, chosen by a stable hash of the
// client's key so each client stays on its side; promote completes it, a
// rollback cancels it, and it survives a restart.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTestHost, type TestHost } from "./support/test-host.js";
import { atoll, controlArgs } from "./support/cli.js";

const answering = (text: string) => `export default { fetch: () => new Response(${JSON.stringify(text)}) };`;

interface ErrorAnswer {
  error: { code: string; message: string };
}

let host: TestHost;
before(async () => {
  host = await startTestHost();
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

async function upload(name: string, bundle: string, extra: { percent?: number; routes?: string[]; vars?: Record<string, unknown> } = {}): Promise<Response> {
  return host.control("PUT", `/v1/scripts/${name}`, {
    bundle,
    config: { name, main: "src/index.ts", routes: extra.routes ?? [], vars: extra.vars ?? {} },
    ...(extra.percent !== undefined ? { percent: extra.percent } : {}),
  });
}

/** The version (x-atoll-version) and body a client with this key gets. */
async function visit(name: string, clientKey?: string): Promise<{ version: string; text: string }> {
  const response = await host.request(`${name}.localhost`, "/", clientKey === undefined ? {} : { headers: { "x-atoll-client-key": clientKey } });
  return { version: response.headers.get("x-atoll-version") ?? "none", text: await response.text() };
}

test("a canary at 30% serves roughly 30% of clients, each client always on the same side", async () => {
  assert.equal((await upload("gradual", answering("stable"))).status, 201);
  const response = await upload("gradual", answering("canary"), { percent: 30 });
  assert.equal(response.status, 201);
  const deployed = (await response.json()) as { version: number; active_version: number; canary: unknown };
  assert.deepEqual([deployed.version, deployed.active_version, deployed.canary], [2, 1, { version: 2, percent: 30 }]);
  const info = (await (await host.control("GET", "/v1/scripts/gradual")).json()) as { active_version: number; canary: unknown };
  assert.deepEqual([info.active_version, info.canary], [1, { version: 2, percent: 30 }]);
  assert.ok(host.logs.some((line) => /^deployed gradual@v2 \(\d+ bytes\) as a canary for 30% of clients$/.test(line)), host.logs.join("\n"));

  const clients = 400;
  const sides = new Map<string, string>();
  for (let i = 0; i < clients; i++) {
    const key = `client-${i}`;
    const { version, text } = await visit("gradual", key);
    assert.equal(text, version === "2" ? "canary" : "stable", `the body comes from the version the header names (${key})`);
    sides.set(key, version);
  }
  const share = [...sides.values()].filter((version) => version === "2").length / clients;
  assert.ok(share >= 0.15 && share <= 0.45, `canary share ${share}`);
  assert.ok([...sides.values()].every((version) => version === "1" || version === "2"));

  // Sticky: the same key lands on the same side every time.
  for (let i = 0; i < 60; i++) {
    const key = `client-${i}`;
    assert.equal((await visit("gradual", key)).version, sides.get(key), key);
  }
  // Without the header the client's address is the key: one client, one side.
  const byAddress = new Set<string>();
  for (let i = 0; i < 10; i++) byAddress.add((await visit("gradual")).version);
  assert.equal(byAddress.size, 1);
  // The logs name the version that answered.
  await host.waitForLog(/^gradual@v2 GET \/ 200 /);
  await host.waitForLog(/^gradual@v1 GET \/ 200 /);

  // Promote: everyone gets version 2.
  const promoted = await host.control("POST", "/v1/scripts/gradual/promote");
  assert.equal(promoted.status, 200);
  const change = (await promoted.json()) as { kind: string; active_version: number; previous_version: number; ended_canary: unknown };
  assert.deepEqual([change.kind, change.active_version, change.previous_version, change.ended_canary], ["promote", 2, 1, { version: 2, percent: 30 }]);
  for (let i = 0; i < 30; i++) assert.deepEqual(await visit("gradual", `client-${i}`), { version: "2", text: "canary" });
  const after = (await (await host.control("GET", "/v1/scripts/gradual")).json()) as { active_version: number; canary: unknown };
  assert.deepEqual([after.active_version, after.canary], [2, null]);
  // And the promotion is an activation: a rollback goes back to version 1.
  const rolled = (await (await host.control("POST", "/v1/scripts/gradual/rollback")).json()) as { active_version: number };
  assert.equal(rolled.active_version, 1);
});

test("a rollback while a canary is live cancels it; a full deploy replaces it", async () => {
  await upload("cancelled", answering("stable"));
  await upload("cancelled", answering("canary"), { percent: 50 });
  const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
  const seen = new Set<string>();
  for (const key of keys) seen.add((await visit("cancelled", key)).version);
  assert.deepEqual([...seen].sort(), ["1", "2"]);

  const response = await host.control("POST", "/v1/scripts/cancelled/rollback");
  assert.equal(response.status, 200);
  const change = (await response.json()) as { kind: string; active_version: number; ended_canary: unknown };
  assert.deepEqual([change.kind, change.active_version, change.ended_canary], ["cancel-canary", 1, { version: 2, percent: 50 }]);
  for (const key of keys) assert.equal((await visit("cancelled", key)).version, "1");
  assert.ok(host.logs.includes("cancelled the canary cancelled@v2; cancelled@v1 serves every request"));
  // No canary any more: promote has nothing to do.
  const promote = await host.control("POST", "/v1/scripts/cancelled/promote");
  assert.equal(promote.status, 409);
  assert.equal(((await promote.json()) as ErrorAnswer).error.code, "ATOLL_NO_CANARY");

  // A new canary draws its own sample; a plain deploy then replaces both.
  await upload("cancelled", answering("canary again"), { percent: 50 });
  assert.equal((await upload("cancelled", answering("everyone"))).status, 201);
  for (const key of keys) assert.deepEqual(await visit("cancelled", key), { version: "4", text: "everyone" });
  const info = (await (await host.control("GET", "/v1/scripts/cancelled")).json()) as { canary: unknown };
  assert.equal(info.canary, null);
});

test("a canary must serve the routes of the active version, and needs one: clear 409s", async () => {
  await upload("routed", answering("stable"), { routes: ["canary.test/*", "/assets/*"] });
  const differs = await upload("routed", answering("canary"), { percent: 10, routes: ["canary.test/*"] });
  assert.equal(differs.status, 409);
  const { error } = (await differs.json()) as ErrorAnswer;
  assert.equal(error.code, "ATOLL_CANARY_ROUTES_DIFFER");
  assert.match(error.message, /must serve the same routes/);
  assert.match(error.message, /serves "canary\.test\/\*", "\/assets\/\*", the upload serves "canary\.test\/\*"/);
  assert.match(error.message, /Deploy a route change without --percent/);
  // The same routes in another order are the same routes.
  assert.equal((await upload("routed", answering("canary"), { percent: 10, routes: ["/assets/*", "canary.test/*"] })).status, 201);

  const first = await upload("brand-new", answering("x"), { percent: 10 });
  assert.equal(first.status, 409);
  assert.equal(((await first.json()) as ErrorAnswer).error.code, "ATOLL_NO_STABLE_VERSION");
  assert.equal((await host.control("GET", "/v1/scripts/brand-new")).status, 404);

  for (const percent of [0, 100, 12.5, "10"]) {
    const bad = await upload("routed", answering("x"), { percent: percent as number });
    assert.equal(bad.status, 400, String(percent));
    assert.match(((await bad.json()) as ErrorAnswer).error.message, /"percent" must be a whole number from 1 to 99/);
  }
});

test("every response names the version that answered, also an error the function caused", async () => {
  await upload("failing", `export default { fetch() { throw new Error("nope"); } };`);
  const response = await host.request("failing.localhost", "/");
  assert.equal(response.status, 500);
  assert.equal(response.headers.get("x-atoll-version"), "1");
  await upload("spoofer", `export default { fetch: () => new Response("x", { headers: { "x-atoll-version": "999" } }) };`);
  const spoofed = await host.request("spoofer.localhost", "/");
  assert.equal(spoofed.headers.get("x-atoll-version"), "1");
  assert.equal((await host.request("nobody.localhost", "/")).headers.get("x-atoll-version"), null);
});

test("`atoll deploy --percent` and `atoll promote` through the CLI", async () => {
  const args = controlArgs(host);
  assert.equal((await atoll(["deploy", "fixtures/hello", ...args])).code, 0);
  const canary = await atoll(["deploy", "fixtures/hello", "--percent", "20", "-m", "try it", ...args]);
  assert.equal(canary.code, 0, canary.stderr);
  assert.match(canary.stdout, /^Deployed hello version 2 as a canary for 20% of clients \(version 1 serves the rest\) {2}\d+ B/);
  assert.match(canary.stdout, /Complete it with `atoll promote hello`, or cancel it with `atoll rollback hello`\.\n$/);
  const listed = await atoll(["versions", "hello", ...args]);
  assert.match(listed.stdout, /\n2 +canary 20% +.* try it\n1 +active /);
  assert.match(listed.stdout, /Version 2 is a canary serving 20% of clients/);
  const badPercent = await atoll(["deploy", "fixtures/hello", "--percent", "100", ...args]);
  assert.equal(badPercent.code, 1);
  assert.match(badPercent.stderr, /expected a whole number from 1 to 99/);

  const promoted = await atoll(["promote", "hello", ...args]);
  assert.equal(promoted.code, 0, promoted.stderr);
  assert.equal(promoted.stdout, "Promoted hello version 2: it serves every request (was version 1)\n");
  const again = await atoll(["promote", "hello", ...args]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: script "hello" has no canary to promote/);

  await atoll(["deploy", "fixtures/hello", "--percent", "5", ...args]);
  const cancelled = await atoll(["rollback", "hello", ...args]);
  assert.equal(cancelled.stdout, "Cancelled the canary of hello (version 3): version 2 serves every request\n");
});

test("a canary survives a host restart", async () => {
  const first = await startTestHost();
  try {
    await first.deploy("lasting", answering("stable"));
    const response = await first.control("PUT", "/v1/scripts/lasting", { bundle: answering("canary"), config: { name: "lasting", main: "x.ts" }, percent: 40 });
    assert.equal(response.status, 201);
    const before = new Map<string, string>();
    for (let i = 0; i < 50; i++) {
      const answer = await first.request("lasting.localhost", "/", { headers: { "x-atoll-client-key": `user-${i}` } });
      before.set(`user-${i}`, answer.headers.get("x-atoll-version")!);
    }
    await first.stop();
    const second = await startTestHost({ dataDir: first.dataDir });
    try {
      const info = (await (await second.control("GET", "/v1/scripts/lasting")).json()) as { active_version: number; canary: unknown };
      assert.deepEqual([info.active_version, info.canary], [1, { version: 2, percent: 40 }]);
      for (const [key, version] of before) {
        const answer = await second.request("lasting.localhost", "/", { headers: { "x-atoll-client-key": key } });
        assert.equal(answer.headers.get("x-atoll-version"), version, key);
      }
      assert.equal((await second.control("POST", "/v1/scripts/lasting/promote")).status, 200);
    } finally {
      await second.stop();
    }
  } finally {
    first.cleanUp();
  }
});
