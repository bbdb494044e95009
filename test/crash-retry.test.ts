// When a function kills its worker process (a V8 fatal error), other
// functions' safe requests in flight on that worker are run again on the
// replacement: the well-behaved function answers every request.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { bundleProject } from "../bundler/bundle.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

let host: TestHost;
before(async () => {
  // One slot: the worker's death names exactly the function that was executing.
  host = await startTestHost({ workers: 1 });
  const hog = await bundleProject(fileURLToPath(new URL("../../fixtures/hostile/memory-hog", import.meta.url)));
  await host.deploy(hog.config.name, hog.code, hog.config as unknown as Record<string, unknown>);
  // Slow enough that several requests are in flight when the worker dies.
  await host.deploy("patient", `export default { async fetch() { await new Promise((resolve) => setTimeout(resolve, 30)); return new Response("patient"); } };`);
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

test("GET requests of other functions in flight on a crashing worker are retried and answered", async () => {
  const statuses: number[] = [];
  const failures: string[] = [];
  let running = true;
  const clients = Array.from({ length: 8 }, async () => {
    while (running) {
      const response = await host.request("patient.localhost", "/");
      const text = await response.text();
      statuses.push(response.status);
      if (response.status !== 200) failures.push(`${response.status} ${response.headers.get("x-atoll-error")} ${text.trim()}`);
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const crash = await host.request("hostile-memory-hog.localhost", "/split");
  assert.equal(crash.status, 503);
  assert.equal(crash.headers.get("x-atoll-error"), "ATOLL_WORKER_CRASHED");
  await new Promise((resolve) => setTimeout(resolve, 500));
  running = false;
  await Promise.all(clients);
  assert.deepEqual(failures, []);
  assert.deepEqual([...new Set(statuses)], [200]);
  assert.ok(host.logs.some((line) => /^patient@v1 GET \/ retried: its worker died while hostile-memory-hog@1 was executing$/.test(line)), host.logs.join("\n"));
});
