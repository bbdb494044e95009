// Queued events survive a crash: `atoll start` runs as a child process, slow
// async invocations are queued with `atoll invoke --async` (each acknowledged
// only once durable), the host is killed with SIGKILL by its pid while they
// wait or run, and a new host on the same data directory runs every one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { atoll, repoRoot } from "./support/cli.js";

const SLOW_JOB = `export default {
  async fetch(request, env) {
    const id = new URL(request.url).pathname.slice(1);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    await env.DONE.put("ran:" + id + ":" + Date.now(), "yes");
    return new Response("done " + id);
  },
};`;

const EVENTS = 12;

interface RunningHost {
  child: ChildProcess;
  controlUrl: string;
  exited: Promise<number | null>;
  output(): string;
}

async function startAtoll(dataDir: string): Promise<RunningHost> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ATOLL_")) env[key] = value;
  const child = spawn(process.execPath, ["--no-node-snapshot", join(repoRoot, "bin", "atoll.js"), "start", "--port", "0", "--control-port", "0", "--data-dir", dataDir, "--workers", "1"], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`atoll start did not get ready:\n${stdout}\n${stderr}`)), 60_000);
    const check = () => {
      if (!stdout.includes("Press Ctrl+C to stop.")) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout!.on("data", check);
    void exited.then((code) => reject(new Error(`atoll start exited with ${code}:\n${stdout}\n${stderr}`)));
  });
  const controlUrl = /control API: +(http:\/\/\S+)/.exec(stdout)?.[1];
  assert.ok(controlUrl, stdout);
  return { child, controlUrl, exited, output: () => `${stdout}\n${stderr}` };
}

test("kill -9 with events queued loses none: a new host on the same data directory runs every one", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "atoll-kill-"));
  let first: RunningHost | undefined;
  let second: RunningHost | undefined;
  try {
    first = await startAtoll(dataDir);
    const token = (await readFile(join(dataDir, "admin-token"), "utf8")).trim();
    const control = (url: string, method: string, path: string, body?: unknown) =>
      fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const deployed = await control(first.controlUrl, "PUT", "/v1/scripts/slow-job", {
      bundle: SLOW_JOB,
      config: { name: "slow-job", main: "src/index.ts", kv_namespaces: [{ binding: "DONE", id: "done" }], limits: { cpu_ms: 1000 } },
    });
    assert.equal(deployed.status, 201, await deployed.text());

    const args = ["--control-url", first.controlUrl, "--token", token];
    const queuedIds: number[] = [];
    for (let batch = 0; batch < EVENTS; batch += 4) {
      const runs = await Promise.all(
        [0, 1, 2, 3].map((i) => atoll(["invoke", "slow-job", "--path", `/job-${batch + i}`, "--method", "POST", "--async", ...args])),
      );
      for (const run of runs) {
        assert.equal(run.code, 0, run.stderr);
        queuedIds.push(Number(/invocation #(\d+)/.exec(run.stdout)![1]));
      }
    }
    // Every enqueue was acknowledged: now the host dies, with no chance to clean up.
    assert.ok(first.child.pid);
    process.kill(first.child.pid, "SIGKILL");
    assert.equal(await first.exited, null);

    // What the crash left: events still in the queue, not all jobs done.
    const db = new Database(join(dataDir, "atoll.db"));
    const waiting = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM event_queue WHERE script = 'slow-job'").get()!.n;
    const running = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM event_queue WHERE script = 'slow-job' AND claimed_until IS NOT NULL").get()!.n;
    const doneBefore = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM kv WHERE namespace = 'done'").get()!.n;
    db.close();
    t.diagnostic(`at the kill: ${waiting} of ${EVENTS} events still queued (${running} of them running), ${doneBefore} done`);
    assert.equal(queuedIds.length, EVENTS);
    assert.ok(waiting > 0, "the kill found events in the queue");
    assert.equal(waiting + doneBefore >= EVENTS, true, "every event was either done or still queued");

    second = await startAtoll(dataDir);
    const deadline = Date.now() + 30_000;
    let ran = new Set<string>();
    while (Date.now() < deadline) {
      const response = await control(second.controlUrl, "GET", "/v1/kv/done/keys?prefix=ran:&limit=1000");
      const { keys } = (await response.json()) as { keys: { name: string }[] };
      ran = new Set(keys.map((key) => key.name.split(":")[1]!));
      if (ran.size === EVENTS) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.deepEqual([...ran].sort(), Array.from({ length: EVENTS }, (_, i) => `job-${i}`).sort(), second.output());
    // The last runs settle right after their KV writes.
    let queue: { events: unknown[] } = { events: [null] };
    for (let i = 0; i < 40 && queue.events.length > 0; i++) {
      queue = (await (await control(second.controlUrl, "GET", "/v1/scripts/slow-job/queue")).json()) as { events: unknown[] };
      if (queue.events.length > 0) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.deepEqual(queue.events, []);
    second.child.kill("SIGTERM");
    assert.equal(await second.exited, 0);
  } finally {
    first?.child.kill("SIGKILL");
    second?.child.kill("SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
  }
});
