// A worker process whose memory passes its ceiling is drained and replaced:
// a new worker takes new requests at once, the old one finishes what it has
// and exits, and no request fails on the way.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { bundleProject } from "../bundler/bundle.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
const CEILING_BYTES = 250 * 1024 * 1024;

let host: TestHost;
before(async () => {
  host = await startTestHost({ workers: 1, maxWorkerRssBytes: CEILING_BYTES });
  const hog = await bundleProject(fixture("hostile/memory-hog"));
  const config = hog.config as unknown as Record<string, unknown>;
  // A big isolate, so that the worker's ceiling comes before the isolate's own limit.
  await host.deploy("leaky", hog.code, { ...config, name: "leaky", limits: { memory_mb: 512 } });
  const hello = await bundleProject(fixture("hello"));
  await host.deploy("hello", hello.code, hello.config as unknown as Record<string, unknown>);
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

test("a worker over its RSS ceiling is drained and replaced without failing a request", async () => {
  const [original] = host.workerPids();
  const statuses: number[] = [];
  let requests = 0;
  while (host.workerPids()[0] === original && requests < 1500) {
    // 1 MiB retained per request in the leaky isolate; hello on the same worker all along.
    const [leak, hello] = await Promise.all([host.request("leaky.localhost", "/retain"), host.request("hello.localhost", "/")]);
    statuses.push(leak.status, hello.status);
    await Promise.all([leak.arrayBuffer(), hello.arrayBuffer()]);
    requests++;
  }
  assert.notEqual(host.workerPids()[0], original, `still the same worker after ${requests} requests`);
  for (let i = 0; i < 100 && !host.logs.some((line) => /worker 0 \(drained\) exited \(code 0\)/.test(line)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(host.logs.some((line) => /^worker 0 uses \d+ MiB, over its ceiling of 250 MiB: draining it; a replacement takes new requests$/.test(line)), host.logs.join("\n"));
  assert.ok(host.logs.some((line) => /worker 0 \(drained\) exited \(code 0\)/.test(line)), host.logs.join("\n"));
  assert.deepEqual([...new Set(statuses)], [200]);
  // The replacement starts from a fresh isolate.
  // The replacement runs a fresh isolate: a request or two may have reached it before the loop saw the new pid.
  const holding = Number(/ok, holding (\d+)/.exec(await (await host.request("leaky.localhost", "/")).text())?.[1]);
  assert.ok(holding < 10, `holding ${holding}`);
  assert.equal(host.workerPids().length, 1);
});
