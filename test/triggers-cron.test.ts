// Cron schedules through a real host, in real time: a schedule with a seconds
// field fires on time, tick after tick; a slow run is never overlapped by the
// next tick (the ticks that came due meanwhile merge into one run); a deploy
// that changes the schedules takes effect at once; ticks missed while the
// host was down run once on start-up, not once each.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTestHost, type TestHost } from "./support/test-host.js";

// Each run writes one KV key naming its tick, when it started and when it ended.
const RECORDER = `export default {
  async scheduled(controller, env) {
    const start = Date.now();
    if (env.SLEEP_MS) await new Promise((resolve) => setTimeout(resolve, env.SLEEP_MS));
    await env.RUNS.put(env.PREFIX + controller.scheduledTime + ":" + start + ":" + Date.now(), controller.cron);
  },
};`;

// These tests are about triggers, not CPU: a generous cpu_ms keeps a loaded CI machine from turning a busy cold start into a failed run.
const GENEROUS = { cpu_ms: 1000 };

interface Run {
  scheduledTime: number;
  start: number;
  end: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function deployRecorder(host: TestHost, name: string, crons: string[], vars: Record<string, unknown> = {}): Promise<void> {
  await host.deploy(name, RECORDER, { vars: { PREFIX: `${name}:`, ...vars }, kv_namespaces: [{ binding: "RUNS", id: "runs" }], triggers: { crons }, limits: GENEROUS });
}

async function runsOf(host: TestHost, name: string): Promise<Run[]> {
  const response = await host.control("GET", `/v1/kv/runs/keys?prefix=${encodeURIComponent(`${name}:`)}&limit=1000`);
  assert.equal(response.status, 200);
  const { keys } = (await response.json()) as { keys: { name: string }[] };
  return keys
    .map(({ name: key }) => {
      const [, scheduledTime, start, end] = key.split(":").map(Number);
      return { scheduledTime: scheduledTime!, start: start!, end: end! };
    })
    .sort((a, b) => a.start - b.start);
}

let host: TestHost;
before(async () => {
  host = await startTestHost();
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

test("a schedule with a seconds field fires on time, every second; removing it stops it at once", async (t) => {
  await deployRecorder(host, "ticker", ["*/1 * * * * *"]);
  const details = (await (await host.control("GET", "/v1/scripts/ticker")).json()) as { schedules: { cron: string; timezone: string; next_run: string }[] };
  assert.deepEqual(details.schedules.map(({ cron, timezone }) => ({ cron, timezone })), [{ cron: "*/1 * * * * *", timezone: "UTC" }]);
  assert.ok(Date.parse(details.schedules[0]!.next_run) - Date.now() <= 1000);
  await sleep(5200);
  const runs = await runsOf(host, "ticker");
  assert.ok(runs.length >= 4, `expected at least 4 runs in 5.2 s, got ${runs.length}: ${JSON.stringify(runs)}`);
  const ticks = runs.map((run) => run.scheduledTime);
  assert.equal(new Set(ticks).size, ticks.length, "each tick runs once");
  for (const tick of ticks) assert.equal(tick % 1000, 0, "ticks fall on whole seconds");
  for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i]! - ticks[i - 1]!, 1000, `consecutive ticks: ${ticks.join(", ")}`);
  const delays = runs.map((run) => run.start - run.scheduledTime);
  for (const delay of delays) {
    assert.ok(delay >= 0, `a run started before its tick (${delay} ms)`);
    assert.ok(delay < 500, `a run started ${delay} ms after its tick`);
  }
  t.diagnostic(`start delays after the tick, ms: ${delays.join(", ")}`);

  // A deploy without the schedule takes effect before it is acknowledged.
  await deployRecorder(host, "ticker", []);
  const deployedAt = Date.now();
  assert.ok(host.logs.some((line) => line.includes('ticker: schedule "*/1 * * * * *" removed')));
  await sleep(2500);
  const later = (await runsOf(host, "ticker")).filter((run) => run.start > deployedAt);
  assert.deepEqual(later, [], "no run after the schedule was removed");

  // A deploy that adds it back starts it again.
  await deployRecorder(host, "ticker", ["*/1 * * * * *"]);
  const readdedAt = Date.now();
  await sleep(2300);
  assert.ok((await runsOf(host, "ticker")).filter((run) => run.start > readdedAt).length >= 1);
  await host.control("DELETE", "/v1/scripts/ticker");
});

test("a run slower than the schedule is never overlapped: the ticks it spans merge into one run after it", async () => {
  await deployRecorder(host, "slowpoke", ["*/1 * * * * *"], { SLEEP_MS: 2500 });
  await sleep(9000);
  await host.control("DELETE", "/v1/scripts/slowpoke");
  const runs = (await runsOf(host, "slowpoke")).filter((run) => run.end > 0);
  assert.ok(runs.length >= 2, `expected at least two runs, got ${JSON.stringify(runs)}`);
  for (let i = 1; i < runs.length; i++) {
    assert.ok(runs[i]!.start >= runs[i - 1]!.end, `run ${i} started at ${runs[i]!.start}, before run ${i - 1} ended at ${runs[i - 1]!.end}`);
  }
  // Nine ticks came due; each 2.5 s run spans two or three of them, which merge: far fewer runs than ticks.
  assert.ok(runs.length <= 4, `expected merged ticks, got ${runs.length} runs`);
  const ticks = runs.map((run) => run.scheduledTime);
  assert.equal(new Set(ticks).size, ticks.length);
  for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i]! - ticks[i - 1]! >= 2000, `a merged tick is the latest one due: ${ticks.join(", ")}`);
  assert.ok(host.logs.some((line) => line.includes('slowpoke: schedule "*/1 * * * * *" is still running its previous tick')));
});

test("ticks missed while the host was down run once on start-up, not once each", async () => {
  const first = await startTestHost();
  const dataDir = first.dataDir;
  let second: TestHost | undefined;
  try {
    await deployRecorder(first, "catcher", ["*/1 * * * * *"]);
    await sleep(2200);
    const stoppedAt = Date.now();
    await first.stop();
    // About four ticks come due while no host runs.
    await sleep(4000);
    second = await startTestHost({ dataDir });
    await sleep(2600);
    const runs = await runsOf(second, "catcher");
    const missedLine = second.logs.find((line) => line.includes('catcher: schedule "*/1 * * * * *" missed its tick at'));
    assert.ok(missedLine, `no catch-up in the log:\n${second.logs.join("\n")}`);
    assert.equal(second.logs.filter((line) => line.includes("missed its tick")).length, 1);
    const caughtUp = Date.parse(/missed its tick at (\S+)/.exec(missedLine)![1]!);
    assert.ok(caughtUp > stoppedAt + 3000, "the tick caught up is the latest one missed");
    const afterStop = runs.filter((run) => run.scheduledTime > stoppedAt);
    // The ticks in between never run; the latest missed one runs exactly once; then the schedule carries on.
    assert.deepEqual(afterStop.filter((run) => run.scheduledTime < caughtUp), [], `runs for skipped ticks: ${JSON.stringify(afterStop)}`);
    assert.equal(afterStop.filter((run) => run.scheduledTime === caughtUp).length, 1);
    assert.ok(afterStop.some((run) => run.scheduledTime > caughtUp), "regular ticks follow");
  } finally {
    await first.stop();
    await second?.stop();
    first.cleanUp();
  }
});
