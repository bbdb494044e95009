// The durable event queue through a real host: a failing scheduled handler is
// retried with exponential back-off, then dead-lettered; `atoll dlq list`
// shows it, `replay` runs it again (and it succeeds once the cause is fixed),
// `purge` clears the list. noRetry(), `retries`, `max_event_age_s` and a 5xx
// answer to an async HTTP invocation take their own paths to the list.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { atoll, controlArgs } from "./support/cli.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

// Every attempt writes a KV key naming its tick and when it ran; it fails until the key "fixed" exists.
const FLAKY = `export default {
  async scheduled(controller, env) {
    await env.LOG.put("attempt:" + controller.scheduledTime + ":" + Date.now(), controller.cron);
    if ((await env.LOG.get("fixed")) === null) {
      if (controller.cron === "0 0 1 1 *") controller.noRetry();
      throw new Error("always fails until fixed: " + controller.cron);
    }
    console.log("fixed, at last");
  },
  async fetch() {
    return new Response("try later", { status: 503 });
  },
};`;

// These tests are about triggers, not CPU: a generous cpu_ms keeps a loaded CI machine from turning a busy cold start into a failed run.
const GENEROUS = { cpu_ms: 1000 };

const BASE_DELAY_MS = 300;

interface DeadLetter {
  id: number;
  kind: string;
  event: { cron?: string; scheduledTime?: number; method?: string };
  attempts: number;
  error: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

let host: TestHost;
before(async () => {
  host = await startTestHost({ triggers: { retryBaseDelayMs: BASE_DELAY_MS } });
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

async function deadLetters(script: string): Promise<DeadLetter[]> {
  const response = await host.control("GET", `/v1/scripts/${script}/dlq?limit=100`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { dead_letters: DeadLetter[] }).dead_letters;
}

async function attempts(namespace: string, tick: number): Promise<number[]> {
  const response = await host.control("GET", `/v1/kv/${namespace}/keys?prefix=attempt:${tick}:`);
  const { keys } = (await response.json()) as { keys: { name: string }[] };
  return keys.map((key) => Number(key.name.split(":")[2])).sort((a, b) => a - b);
}

function deployFlaky(name: string, namespace: string, triggers: Record<string, unknown>): Promise<unknown> {
  return host.deploy(name, FLAKY, { kv_namespaces: [{ binding: "LOG", id: namespace }], triggers, limits: GENEROUS });
}

test("a failing scheduled handler is retried with back-off, then dead-lettered; dlq list shows it, replay runs it again", async (t) => {
  await deployFlaky("flaky", "flaky-log", { crons: ["*/1 * * * * *"], retries: 2 });
  const [letter] = await poll("a dead letter", async () => {
    const letters = await deadLetters("flaky");
    return letters.length > 0 ? letters : undefined;
  });
  // The schedule goes; what is in the queue runs out.
  await deployFlaky("flaky", "flaky-log", { crons: [] });

  assert.equal(letter!.kind, "scheduled");
  assert.equal(letter!.attempts, 3, "the first attempt and two retries");
  assert.match(letter!.error, /^ATOLL_SCRIPT_THREW: always fails until fixed: \*\/1 \* \* \* \* \*/);
  const tick = letter!.event.scheduledTime!;
  const times = await attempts("flaky-log", tick);
  assert.equal(times.length, 3, `attempts of tick ${tick}: ${times.join(", ")}`);
  const gaps = [times[1]! - times[0]!, times[2]! - times[1]!];
  t.diagnostic(`gaps between attempts, ms: ${gaps.join(", ")} (back-off ${BASE_DELAY_MS}, ${BASE_DELAY_MS * 2})`);
  assert.ok(gaps[0]! >= BASE_DELAY_MS - 5, `first retry after ${gaps[0]} ms`);
  assert.ok(gaps[1]! >= BASE_DELAY_MS * 2 - 5, `second retry after ${gaps[1]} ms`);
  assert.ok(host.logs.some((line) => /flaky@v1 scheduled .* failed \(attempt 1 of 3\), retry in 300 ms: ATOLL_SCRIPT_THREW/.test(line)));
  assert.ok(host.logs.some((line) => /flaky@v1 scheduled .* failed \(attempt 3 of 3\), dead-lettered after 3 attempt\(s\)/.test(line)));

  const listed = await atoll(["dlq", "list", "flaky", ...controlArgs(host)]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^ID +EVENT +ATTEMPTS +FAILED +ERROR\n/);
  assert.match(listed.stdout, new RegExp(`\\n${letter!.id} +scheduled "\\*/1 \\* \\* \\* \\* \\*" ${new Date(tick).toISOString()} +3 +\\S+ +ATOLL_SCRIPT_THREW: always fails until fixed`));

  // Fix the cause, replay that one event: it runs again and succeeds.
  assert.equal((await host.control("PUT", "/v1/kv/flaky-log/values/fixed", "yes")).status, 200);
  const replayed = await atoll(["dlq", "replay", "flaky", String(letter!.id), ...controlArgs(host)]);
  assert.equal(replayed.code, 0, replayed.stderr);
  assert.equal(replayed.stdout, `Replayed 1 event(s) of flaky (#${letter!.id}): they are queued to run again\n`);
  await poll("the replayed run", async () => ((await attempts("flaky-log", tick)).length === 4 ? true : undefined));
  await poll("the replay to settle", async () => (host.logs.some((line) => line.includes(`#${letter!.id} ok`)) ? true : undefined));
  assert.ok(!(await deadLetters("flaky")).some((other) => other.id === letter!.id));

  const purged = await atoll(["dlq", "purge", "flaky", ...controlArgs(host)]);
  assert.equal(purged.code, 0, purged.stderr);
  assert.match(purged.stdout, /^Purged \d+ dead-lettered event\(s\) of flaky\n$/);
  assert.deepEqual(await deadLetters("flaky"), []);
  assert.equal((await atoll(["dlq", "list", "flaky", ...controlArgs(host)])).stdout, "No dead-lettered events for flaky\n");
});

test("noRetry() sends a failure straight to the dead-letter list", async () => {
  await deployFlaky("quitter", "quitter-log", {});
  const queued = await host.control("POST", "/v1/scripts/quitter/invoke", { kind: "scheduled", cron: "0 0 1 1 *", async: true });
  assert.equal(queued.status, 202);
  const { id } = (await queued.json()) as { id: number };
  const letter = await poll("the dead letter", async () => (await deadLetters("quitter")).find((other) => other.id === id));
  assert.equal(letter.attempts, 1);
  assert.match(letter.error, /always fails until fixed: 0 0 1 1 \* \(noRetry\(\) was called\)$/);
});

test("an event past max_event_age_s is dead-lettered instead of retried", async () => {
  await deployFlaky("aging", "aging-log", { retries: 10, max_event_age_s: 1 });
  const queued = await host.control("POST", "/v1/scripts/aging/invoke", { kind: "scheduled", cron: "0 3 * * *", async: true });
  const { id } = (await queued.json()) as { id: number };
  const letter = await poll("the dead letter", async () => (await deadLetters("aging")).find((other) => other.id === id));
  // 300 ms, then 600 ms, then 1200 ms would be past the second the event may live.
  assert.ok(letter.attempts >= 1 && letter.attempts <= 3, `attempts: ${letter.attempts}`);
  assert.match(letter.error, /its next retry would pass its age limit of 1 s \(max_event_age_s\)$/);
});

test("an async HTTP invocation answered with a 5xx fails; retries = 0 dead-letters it after one attempt", async () => {
  await deployFlaky("teapot", "teapot-log", { retries: 0 });
  const queued = await atoll(["invoke", "teapot", "--path", "/later", "--method", "POST", "--data", "x", "--async", ...controlArgs(host)]);
  assert.equal(queued.code, 0, queued.stderr);
  const id = Number(/invocation #(\d+) of teapot/.exec(queued.stdout)?.[1]);
  assert.ok(id > 0, queued.stdout);
  const letter = await poll("the dead letter", async () => (await deadLetters("teapot")).find((other) => other.id === id));
  assert.equal(letter.kind, "http");
  assert.equal(letter.event.method, "POST");
  assert.equal(letter.attempts, 1);
  assert.equal(letter.error, "ATOLL_SERVER_ERROR: the function answered 503");
});
