// A script whose code kills its worker process again and again (a V8 fatal
// error no limit can catch) is quarantined: its requests get 503 at once and
// no more workers die, other scripts never notice, and deploying a new version
// lifts it. The front learns who was executing from the execution marker the
// dead worker left behind.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { bundleProject } from "../bundler/bundle.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));

let host: TestHost;
let crasher: { code: string; config: Record<string, unknown> };

before(async () => {
  host = await startTestHost({ workers: 2 });
  const hog = await bundleProject(fixture("hostile/memory-hog"));
  crasher = { code: hog.code, config: { ...(hog.config as unknown as Record<string, unknown>), name: "crasher" } };
  await host.deploy("crasher", crasher.code, crasher.config);
  const hello = await bundleProject(fixture("hello"));
  await host.deploy("hello", hello.code, hello.config as unknown as Record<string, unknown>);
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

test("three worker deaths while a version executes quarantine it; a new version lifts it", async () => {
  for (let crash = 1; crash <= 3; crash++) {
    const response = await host.request("crasher.localhost", "/split");
    assert.equal(response.status, 503, `crash ${crash}`);
    assert.equal(response.headers.get("x-atoll-error"), "ATOLL_WORKER_CRASHED", `crash ${crash}`);
    await response.arrayBuffer();
    assert.equal(await (await host.request("hello.localhost", "/")).text(), "Hello from Atoll\n");
  }
  assert.equal(host.logs.filter((line) => /worker \d exited .* while executing crasher@1;/.test(line)).length, 3, host.logs.join("\n"));
  assert.ok(host.logs.some((line) => line.startsWith("quarantined crasher@1: it was executing when its worker process died 3 times")), host.logs.join("\n"));

  const pids = host.workerPids();
  for (const path of ["/split", "/"]) {
    const refused = await host.request("crasher.localhost", path);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("x-atoll-error"), "ATOLL_QUARANTINED");
    assert.match(await refused.text(), /crasher version 1 is quarantined: .* Deploy a fixed version \(or roll back\) to lift it/);
  }
  assert.deepEqual(host.workerPids(), pids, "a quarantined script kills no more workers");

  // A new version lifts it: "fixed" here by a changed bundle (the same one again would be `unchanged`, no version).
  const { version } = await host.deploy("crasher", `${crasher.code}\n// fixed`, crasher.config);
  assert.equal(version, 2);
  const lifted = await host.request("crasher.localhost", "/");
  assert.equal(lifted.status, 200);
  assert.match(await lifted.text(), /^ok, holding 0/);
});

test("a script that is not executing when a worker dies is not blamed", async () => {
  // hello served requests on both workers above; it was never executing at a death.
  assert.ok(!host.logs.some((line) => /while executing hello@/.test(line)), host.logs.join("\n"));
  assert.equal((await host.request("hello.localhost", "/")).status, 200);
});
