// Escape attempts from inside an isolate, through the real host path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { bundleProject } from "../bundler/bundle.js";
import { startTestHost } from "./support/test-host.js";

test("a function finds no host object, Node global, host frame or host path from inside its isolate", async () => {
  const host = await startTestHost();
  try {
    const { config, code } = await bundleProject(fileURLToPath(new URL("../../fixtures/hostile/escape", import.meta.url)));
    await host.deploy(config.name, code, config as unknown as Record<string, unknown>);
    const response = await host.request("hostile-escape.localhost", "/");
    assert.equal(response.status, 200);
    const { found, visited } = (await response.json()) as { found: string[]; visited: number };
    assert.deepEqual(found, []);
    assert.ok(visited > 200, `walked only ${visited} objects`);
  } finally {
    await host.stop();
    host.cleanUp();
  }
});

test("10,000 request headers are refused by the front with 431, before any function runs", async () => {
  const host = await startTestHost();
  try {
    await host.deploy("plain", `export default { fetch: () => new Response("ok") };`);
    const headers: Record<string, string> = {};
    for (let i = 0; i < 10_000; i++) headers[`x-h${i}`] = "v";
    const response = await host.request("plain.localhost", "/", { headers });
    assert.equal(response.status, 431);
    assert.equal(await (await host.request("plain.localhost", "/")).text(), "ok");
  } finally {
    await host.stop();
    host.cleanUp();
  }
});
