// What survives: deployments across a host restart, and the front across a
// worker process that dies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestHost } from "./support/test-host.js";

test("deployments and the admin token survive a host restart", async () => {
  const first = await startTestHost();
  try {
    await first.deploy("keeper", `export default { fetch: () => new Response("still here") };`, { routes: ["/keep/*"] });
    await first.stop();
    const second = await startTestHost({ dataDir: first.dataDir });
    try {
      assert.equal(second.token, first.token);
      assert.equal(await (await second.request("keeper.localhost", "/")).text(), "still here");
      assert.equal(await (await second.request("elsewhere.test", "/keep/x")).text(), "still here");
      const { version } = await second.deploy("keeper", `export default { fetch: () => new Response("v2") };`);
      assert.equal(version, 2);
    } finally {
      await second.stop();
    }
  } finally {
    first.cleanUp();
  }
});

test("a worker that dies fails its in-flight unsafe requests with 503, runs its safe ones again, and is replaced", async () => {
  const host = await startTestHost({ workers: 2 });
  try {
    await host.deploy("slow", `export default { async fetch() { await new Promise((r) => setTimeout(r, 1000)); return new Response("late"); } };`);
    await host.deploy("quick", `export default { fetch: () => new Response("quick") };`);
    const pidsBefore = host.workerPids();
    assert.equal(pidsBefore.length, 2);
    const unsafe = host.request("slow.localhost", "/", { method: "POST", body: "x" });
    const safe = host.request("slow.localhost", "/");
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const pid of pidsBefore) process.kill(pid, "SIGKILL");
    const failed = await unsafe;
    assert.equal(failed.status, 503);
    assert.equal(failed.headers.get("x-atoll-error"), "ATOLL_WORKER_CRASHED");
    // A GET may run twice without harm: it is retried on the replacement.
    const retried = await safe;
    assert.equal(retried.status, 200);
    assert.equal(await retried.text(), "late");
    // Replacements start at once; requests wait for them.
    const again = await host.request("quick.localhost", "/");
    assert.equal(await again.text(), "quick");
    const pidsAfter = host.workerPids();
    assert.equal(pidsAfter.length, 2);
    assert.ok(pidsAfter.every((pid) => !pidsBefore.includes(pid)));
    assert.ok(host.logs.some((line) => /worker \d exited \(SIGKILL\); restarting/.test(line)), host.logs.join("\n"));
  } finally {
    await host.stop();
    host.cleanUp();
  }
});
