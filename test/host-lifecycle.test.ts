// What survives: deployments across a host restart, and the front across a
// worker process that dies; and the order a host starts in (data plane last).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { get as httpGet } from "node:http";
import { connect, createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHost } from "../host/main.js";
import { startTestHost } from "./support/test-host.js";
import { freePort } from "./support/ports.js";

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


/** Whether something accepts TCP connections on the loopback port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

test("the data plane listens only once what the host starts with is deployed; a failed start-up leaves no port open", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "atoll-startup-"));
  try {
    const port = await freePort();
    const seen: { controlUrl?: string; dataPortOpen?: boolean } = {};
    const host = await startHost({
      dataDir,
      port,
      hostname: "127.0.0.1",
      controlPort: 0,
      workers: 1,
      log: () => {},
      beforeDataPlane: async ({ controlUrl, token }) => {
        seen.controlUrl = controlUrl;
        const upload = await fetch(`${controlUrl}/v1/scripts/early`, {
          method: "PUT",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ bundle: `export default { fetch: () => new Response("ready") };`, config: { name: "early", main: "index.js" } }),
        });
        assert.equal(upload.status, 201, await upload.text());
        seen.dataPortOpen = await accepts(port);
      },
    });
    try {
      assert.equal(seen.controlUrl, host.controlUrl);
      assert.equal(seen.dataPortOpen, false, "the data plane must not accept connections before the start-up deploys are done");
      assert.equal(host.dataUrl, `http://127.0.0.1:${port}`);
      const answer = await new Promise<string>((resolve, reject) =>
        httpGet({ port, path: "/", headers: { host: "early.localhost" } }, (response) => {
          let text = "";
          response.setEncoding("utf8").on("data", (chunk: string) => (text += chunk)).on("end", () => resolve(text));
        }).on("error", reject),
      );
      assert.equal(answer, "ready");
    } finally {
      await host.close();
    }

    let controlPort = 0;
    await assert.rejects(
      startHost({
        dataDir,
        port,
        hostname: "127.0.0.1",
        controlPort: 0,
        workers: 1,
        log: () => {},
        beforeDataPlane: async ({ controlUrl }) => {
          controlPort = Number(new URL(controlUrl).port);
          throw new Error("a start-up deploy failed");
        },
      }),
      /a start-up deploy failed/,
    );
    assert.ok(controlPort > 0);
    assert.equal(await accepts(controlPort), false, "the control API is closed again");
    assert.equal(await accepts(port), false, "the data plane never opened");

    // The control port taken: the start-up fails with the reason, and its worker processes go too (else this file would never exit).
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const takenPort = (taken.address() as AddressInfo).port;
      await assert.rejects(startHost({ dataDir, port, hostname: "127.0.0.1", controlPort: takenPort, workers: 1, log: () => {} }), /EADDRINUSE/);
    } finally {
      taken.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
