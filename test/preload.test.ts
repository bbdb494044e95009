// A version is loaded into an isolate on its worker right after it becomes
// active (deploy, rollback), so its first request starts warm; with
// preloadOnDeploy off the first request is a cold start, as before. A preload
// never serves stale code or stale secrets, and a broken version's preload
// changes nothing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { startTestHost, type TestHost } from "./support/test-host.js";

const SCRIPT = (tag: string) => `export default { fetch: (request, env) => new Response("${tag} " + (env.TOKEN ?? "-")) };`;
/** Far longer than a preload takes (a few ms with a spare isolate), for a loaded CI machine. */
const SETTLE_MS = 1500;

let preloading: TestHost;
let notPreloading: TestHost;

before(async () => {
  [preloading, notPreloading] = await Promise.all([startTestHost(), startTestHost({ preloadOnDeploy: false })]);
});

after(async () => {
  await Promise.all([preloading.stop(), notPreloading.stop()]);
  preloading.cleanUp();
  notPreloading.cleanUp();
});

const startOf = (response: Response) => /desc="(cold|warm)"/.exec(response.headers.get("server-timing") ?? "")?.[1];

test("the first request after a deploy finds the version warm", async () => {
  await preloading.deploy("early", SCRIPT("v1"));
  await sleep(SETTLE_MS);
  const first = await preloading.request("early.localhost", "/");
  assert.equal(await first.text(), "v1 -");
  assert.equal(startOf(first), "warm");
  await preloading.waitForLog(/^early@v1 GET \/ 200 warm /);
});

test("a redeploy and a rollback preload the version that became active", async () => {
  await preloading.deploy("early", SCRIPT("v2"));
  await sleep(SETTLE_MS);
  const second = await preloading.request("early.localhost", "/");
  assert.equal(await second.text(), "v2 -");
  assert.equal(startOf(second), "warm");
  const rollback = await preloading.control("POST", "/v1/scripts/early/rollback", {});
  assert.ok(rollback.ok, await rollback.text());
  await sleep(SETTLE_MS);
  const rolledBack = await preloading.request("early.localhost", "/");
  assert.equal(await rolledBack.text(), "v1 -");
  assert.equal(startOf(rolledBack), "warm");
});

test("a secret set after the preload is seen by the next request", async () => {
  const put = await preloading.control("PUT", "/v1/scripts/early/secrets/TOKEN", { value: "s3cret" });
  assert.ok(put.ok, await put.text());
  const after = await preloading.request("early.localhost", "/");
  assert.equal(await after.text(), "v1 s3cret");
});

test("without preloadOnDeploy the first request is a cold start", async () => {
  await notPreloading.deploy("late", SCRIPT("v1"));
  await sleep(SETTLE_MS);
  const first = await notPreloading.request("late.localhost", "/");
  assert.equal(await first.text(), "v1 -");
  assert.equal(startOf(first), "cold");
  const second = await notPreloading.request("late.localhost", "/");
  assert.equal(startOf(second), "warm");
});

test("a burst of deploys keeps the newest preloads warm, not all of them", async () => {
  // Past 8 preloaded versions no request has used, the oldest make room (isolate-pool.ts MAX_UNUSED_PRELOADS).
  const names = Array.from({ length: 12 }, (_, i) => `burst-${i}`);
  for (const name of names) {
    await preloading.deploy(name, SCRIPT(name));
    await sleep(250); // one preload at a time: each finishes before the next deploy
  }
  await sleep(SETTLE_MS);
  const oldest = await preloading.request("burst-0.localhost", "/");
  assert.equal(await oldest.text(), "burst-0 -");
  assert.equal(startOf(oldest), "cold", "the oldest preload made room for newer ones");
  const newest = await preloading.request("burst-11.localhost", "/");
  assert.equal(await newest.text(), "burst-11 -");
  assert.equal(startOf(newest), "warm");
});
