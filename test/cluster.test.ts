// Several hosts, one state: a real redis-server, a real S3-compatible server
// (s3rver) and three `atoll start` processes on loopback ports sharing them.
// A deploy, a rollback or a secret on one host is served by the others within
// a second; KV and bucket writes on one are read on another; a one-second cron
// fires once per tick across the three; SIGKILL of a host during a write
// stream loses nothing it acknowledged; Redis stopped mid-traffic gives 503s
// with the reason to functions that need it while the others keep serving,
// and the hosts reconnect by themselves when it is back.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetch } from "undici";
import { startHostProcess, type HostProcess } from "./support/host-process.js";
import { loopbackAgent } from "./support/test-host.js";
import { S3RVER_CREDENTIALS, sharedStoreSkip, startRedis, startS3, type ServerProcess } from "./support/shared-stores.js";

const skip = sharedStoreSkip();
const S3_BUCKET = "atoll-cluster";

const APP = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const key = url.searchParams.get("k");
    if (url.pathname === "/kv" && request.method === "PUT") { await env.KV.put(key, await request.text()); return new Response("stored"); }
    if (url.pathname === "/kv") { const value = await env.KV.get(key); return value === null ? new Response("missing", { status: 404 }) : new Response(value); }
    if (url.pathname === "/file" && request.method === "PUT") { await env.FILES.put(key, request.body); return new Response("stored"); }
    if (url.pathname === "/file") { const object = await env.FILES.get(key); return object === null ? new Response("missing", { status: 404 }) : new Response(object.body); }
    if (url.pathname === "/secret") return new Response(env.TOKEN ?? "none");
    return new Response("app v" + env.V);
  },
};`;

const TICKER = `
export default {
  async fetch(request, env) {
    const listed = await env.KV.list({ prefix: "tick:" });
    return Response.json(listed.keys.map((key) => key.name));
  },
  async scheduled(controller, env) { await env.KV.put("tick:" + controller.scheduledTime + ":" + crypto.randomUUID(), "1"); },
};`;

const WATCHER = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method === "PUT") { await env.UPLOADS.put(url.searchParams.get("k"), "x"); return new Response("stored"); }
    const listed = await env.KV.list({ prefix: "seen:" });
    return Response.json(listed.keys.map((key) => key.name));
  },
  async storage(event, env) { await env.KV.put("seen:" + event.key + ":" + crypto.randomUUID(), "1"); },
};`;

const PLAIN = `export default { fetch() { return new Response("plain"); } };`;

/** Queued (invoke --async), it records each attempt and takes 3 s: long enough to kill the host running it. */
const SLOW = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/attempts") return Response.json((await env.KV.list({ prefix: "attempt:" })).keys.map((key) => key.name));
    if (url.pathname === "/done") return (await env.KV.get("done")) === null ? new Response("not yet", { status: 404 }) : new Response("done");
    await env.KV.put("attempt:" + Date.now() + ":" + crypto.randomUUID(), "started");
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await env.KV.put("done", "yes");
    return new Response("slow done");
  },
};`;

let redis: ServerProcess | undefined;
let s3: ServerProcess | undefined;
const hosts: HostProcess[] = [];
const dirs: string[] = [];

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "atoll-cluster-"));
  dirs.push(dir);
  return dir;
}

async function startClusterHost(dir: string): Promise<HostProcess> {
  const host = await startHostProcess(dir, {
    workers: 1,
    // A short lease, so that the test sees a dead host's claimed event taken over (the default is 30 s).
    args: ["--store", redis!.url, "--objects", `s3://${S3_BUCKET}?endpoint=${s3!.url}`, "--queue-lease", "3s"],
    extraEnv: S3RVER_CREDENTIALS,
  });
  hosts.push(host);
  return host;
}

async function control(host: HostProcess, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${host.controlUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${host.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

async function deploy(host: HostProcess, name: string, bundle: string, config: Record<string, unknown>): Promise<number> {
  const { status, json } = await control(host, "PUT", `/v1/scripts/${name}`, { bundle, config: { name, main: "src/index.ts", routes: [`${name}.localhost/*`], ...config } });
  assert.ok(status === 201 || status === 200, `deploy of ${name}: ${status} ${JSON.stringify(json)}`);
  return json.version as number;
}

async function call(host: HostProcess, script: string, path: string, init: { method?: string; body?: string } = {}): Promise<{ status: number; text: string }> {
  return (await callWithError(host, script, path, init)).answer;
}

/** The answer and the host's error code (x-atoll-error), if it gave one. */
async function callWithError(host: HostProcess, script: string, path: string, init: { method?: string; body?: string } = {}): Promise<{ answer: { status: number; text: string }; error: string | null }> {
  const port = new URL(host.dataUrl).port;
  const response = await fetch(`http://${script}.localhost:${port}${path}`, { ...init, dispatcher: loopbackAgent });
  return { answer: { status: response.status, text: await response.text() }, error: response.headers.get("x-atoll-error") };
}

/** Polls until `check` holds; returns how long it took, ms. */
async function within(timeoutMs: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("three hosts sharing Redis and S3-compatible storage", { skip, timeout: 240_000 }, () => {
  let a: HostProcess;
  let b: HostProcess;
  let c: HostProcess;

  before(async () => {
    redis = await startRedis();
    s3 = await startS3(S3_BUCKET);
    const dirA = dataDir();
    a = await startClusterHost(dirA);
    // Every host of a cluster shares the secrets key: the first host made it, the others get a copy.
    const dirB = dataDir();
    const dirC = dataDir();
    copyFileSync(join(dirA, "secrets.key"), join(dirB, "secrets.key"));
    copyFileSync(join(dirA, "secrets.key"), join(dirC, "secrets.key"));
    [b, c] = await Promise.all([startClusterHost(dirB), startClusterHost(dirC)]);
  });

  after(async () => {
    for (const host of hosts) host.kill();
    await Promise.all(hosts.map((host) => host.exited));
    await redis?.remove();
    await s3?.remove();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("a deploy, a rollback and a secret on host A are served by B and C within a second", async (t) => {
    const config = { vars: { V: "1" }, kv_namespaces: [{ binding: "KV", id: "shared" }], buckets: [{ binding: "FILES", bucket_name: "files" }] };
    const took: number[] = [];
    await deploy(a, "app", APP, config);
    for (const host of [b, c]) took.push(await within(1000, "v1 on another host", async () => (await call(host, "app", "/")).text === "app v1"));
    await deploy(a, "app", APP, { ...config, vars: { V: "2" } });
    for (const host of [b, c]) took.push(await within(1000, "v2 on another host", async () => (await call(host, "app", "/")).text === "app v2"));
    const rolledBack = await control(a, "POST", "/v1/scripts/app/rollback");
    assert.equal(rolledBack.status, 200, JSON.stringify(rolledBack.json));
    for (const host of [b, c]) took.push(await within(1000, "the rollback on another host", async () => (await call(host, "app", "/")).text === "app v1"));
    const secret = await control(a, "PUT", "/v1/scripts/app/secrets/TOKEN", { value: "s3cret" });
    assert.ok(secret.status === 200 || secret.status === 201, JSON.stringify(secret.json));
    for (const host of [b, c]) took.push(await within(1000, "the secret on another host", async () => (await call(host, "app", "/secret")).text === "s3cret"));
    t.diagnostic(`seen on the other hosts after (ms, polled every 20 ms): ${took.join(", ")}`);
  });

  it("KV and bucket writes on A are read on C", async () => {
    assert.equal((await call(a, "app", "/kv?k=greeting", { method: "PUT", body: "hello from A" })).status, 200);
    assert.deepEqual(await call(c, "app", "/kv?k=greeting"), { status: 200, text: "hello from A" });
    const big = "0123456789abcdef".repeat(64 * 1024);
    assert.equal((await call(a, "app", "/file?k=dir/big.txt", { method: "PUT", body: big })).status, 200);
    const read = await call(c, "app", "/file?k=dir/big.txt");
    assert.equal(read.status, 200);
    assert.equal(read.text.length, big.length);
    assert.equal(read.text, big);
  });

  it("each bucket write on any host runs the watching function once, on some host", async () => {
    await deploy(a, "watcher", WATCHER, { kv_namespaces: [{ binding: "KV", id: "watch" }], buckets: [{ binding: "UPLOADS", bucket_name: "uploads" }], triggers: { storage: [{ bucket: "uploads", events: ["put"] }] } });
    await within(1000, "the watcher on every host", async () => (await call(c, "watcher", "/")).status === 200 && (await call(b, "watcher", "/")).status === 200);
    const writers = [a, b, c];
    for (let index = 0; index < 12; index++) assert.equal((await call(writers[index % 3]!, "watcher", `/?k=upload-${index}`, { method: "PUT" })).text, "stored");
    await within(10_000, "every write's event ran", async () => (JSON.parse((await call(a, "watcher", "/")).text) as string[]).length >= 12);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const seen = (JSON.parse((await call(b, "watcher", "/")).text) as string[]).map((name) => name.split(":")[1]!).sort();
    assert.deepEqual(seen, Array.from({ length: 12 }, (_, index) => `upload-${index}`).sort(), "each write ran once");
  });

  it("a one-second cron across the hosts, one more starting and stopping meanwhile, fires once per tick: 10 ± 1 times in 10 s", async (t) => {
    await deploy(a, "ticker", TICKER, { kv_namespaces: [{ binding: "KV", id: "ticks" }], triggers: { crons: ["* * * * * *"] } });
    await within(3000, "every host follows the schedule", async () => {
      const ticks = JSON.parse((await call(b, "ticker", "/")).text) as string[];
      return ticks.length > 0;
    });
    const start = JSON.parse((await call(b, "ticker", "/")).text) as string[];
    const windowEnds = Date.now() + 10_000;
    // A fourth host joins two seconds in and stops four seconds later: its timers fire the same ticks, which stay queued once.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const dirD = dataDir();
    copyFileSync(join(a.dataDir, "secrets.key"), join(dirD, "secrets.key"));
    const d = await startClusterHost(dirD);
    await within(2000, "the ticker on the fourth host", async () => (await call(d, "ticker", "/")).status === 200);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    await d.stop();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, windowEnds - Date.now())));
    const end = JSON.parse((await call(c, "ticker", "/")).text) as string[];
    const fired = end.length - start.length;
    t.diagnostic(`the cron fired ${fired} times in the 10 s window`);
    assert.ok(fired >= 9 && fired <= 11, `the cron fired ${fired} times in 10 s across three hosts (each tick once: ${end.slice(-12).join(", ")})`);
    // Each tick ran once (a run writes a key of its own, so a second run of a tick would show), on whole seconds.
    const times = end.map((key) => Number(key.split(":")[1])).sort((x, y) => x - y);
    assert.equal(new Set(times).size, times.length, `a tick ran twice: ${times.join(", ")}`);
    for (const time of times) assert.equal(time % 1000, 0);
    const removed = await control(a, "DELETE", "/v1/scripts/ticker");
    assert.equal(removed.status, 200);
  });

  it("SIGKILL of host B during a write stream loses nothing B acknowledged", async () => {
    const acknowledged: string[] = [];
    let stop = false;
    const stream = (async () => {
      for (let index = 0; !stop; index++) {
        const key = `stream-${index}`;
        try {
          const answer = await call(b, "app", `/kv?k=${key}`, { method: "PUT", body: `value ${index}` });
          if (answer.status === 200) acknowledged.push(key);
        } catch {
          return; // B is gone.
        }
      }
    })();
    await within(10_000, "some writes acknowledged", async () => acknowledged.length >= 50);
    await b.crash();
    stop = true;
    await stream;
    assert.ok(acknowledged.length >= 50);
    for (const key of acknowledged) {
      const index = key.slice("stream-".length);
      assert.deepEqual(await call(a, "app", `/kv?k=${key}`), { status: 200, text: `value ${index}` }, `${key} was acknowledged by B`);
    }
  });

  it("Redis stopped mid-traffic: 503 with the reason for functions that need it, the others keep serving; back by itself when Redis is", async () => {
    await deploy(a, "plain", PLAIN, {});
    await within(1000, "plain on C", async () => (await call(c, "plain", "/")).text === "plain");
    await call(c, "app", "/"); // warm
    // Traffic on C throughout: a function without bindings and one reading KV.
    const plainStatuses: number[] = [];
    const kvAnswers: { status: number; error: string | null }[] = [];
    let traffic = true;
    const loop = (async () => {
      while (traffic) {
        plainStatuses.push((await call(c, "plain", "/")).status);
        const kv = await callWithError(c, "app", "/kv?k=greeting");
        kvAnswers.push({ status: kv.answer.status, error: kv.error });
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await redis!.stop();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const down = await callWithError(c, "app", "/kv?k=greeting");
    assert.equal(down.answer.status, 503);
    assert.equal(down.error, "ATOLL_STORE_UNAVAILABLE");
    assert.match(down.answer.text, /the shared store that app's bindings need is unreachable \(.+\): the host reconnects by itself; retry in a moment/);
    for (let index = 0; index < 20; index++) assert.deepEqual(await call(c, "plain", "/"), { status: 200, text: "plain" }, "a function without bindings keeps being served");
    redis = await startRedis({ port: redis!.port, dir: redis!.dir });
    await within(10_000, "KV back on C", async () => (await call(c, "app", "/kv?k=greeting")).text === "hello from A");
    await new Promise((resolve) => setTimeout(resolve, 300));
    traffic = false;
    await loop;
    assert.ok(plainStatuses.length > 20 && plainStatuses.every((status) => status === 200), `the function without bindings answered 200 throughout: ${[...new Set(plainStatuses)].join(", ")}`);
    // A request that reached the function just as Redis went away sees the binding throw (500, the function's own uncaught error); the others are refused with 503.
    const kvStatuses = new Set(kvAnswers.map(({ status }) => status));
    assert.ok([...kvStatuses].every((status) => status === 200 || status === 503 || status === 500), `KV requests: ${[...kvStatuses].join(", ")}`);
    assert.ok(kvAnswers.some(({ status, error }) => status === 503 && error === "ATOLL_STORE_UNAVAILABLE"), "some were refused while Redis was down");
    assert.equal(kvAnswers.at(-1)?.status, 200, "and answered again once it was back");
    await within(10_000, "KV back on A", async () => (await call(a, "app", "/kv?k=stream-0")).status === 200);
    // A deploy after the outage still reaches the other host.
    await deploy(a, "plain", PLAIN.replace('"plain"', '"plain 2"'), {});
    await within(1000, "a deploy after the outage", async () => (await call(c, "plain", "/")).text === "plain 2");
  });

  it("an event claimed by a host that is killed mid-run is run again by another host once its lease ends", async (t) => {
    await deploy(a, "slow", SLOW, { kv_namespaces: [{ binding: "KV", id: "slow" }], limits: { wall_ms: 10_000 } });
    await within(1000, "slow on C", async () => (await call(c, "slow", "/attempts")).status === 200);
    const queued = await control(c, "POST", "/v1/scripts/slow/invoke", { kind: "http", method: "POST", path: "/run", async: true });
    assert.ok(queued.status === 202, JSON.stringify(queued.json));
    await within(5000, "the first attempt started", async () => (JSON.parse((await call(a, "slow", "/attempts")).text) as string[]).length === 1);
    // Whichever of A and C claimed it dies now, mid-run; so does the other. A new host takes the event over after the lease.
    await Promise.all([a.crash(), c.crash()]);
    const dirE = dataDir();
    copyFileSync(join(a.dataDir, "secrets.key"), join(dirE, "secrets.key"));
    const e = await startClusterHost(dirE);
    const took = await within(15_000, "the event run again on the new host", async () => (await call(e, "slow", "/attempts")).status === 200 && (await call(e, "slow", "/done")).status === 200);
    const attempts = JSON.parse((await call(e, "slow", "/attempts")).text) as string[];
    assert.equal(attempts.length, 2, `two attempts: the one that died and the one that finished (${attempts.join(", ")})`);
    t.diagnostic(`taken over and finished ${took} ms after the kill`);
  });
});
