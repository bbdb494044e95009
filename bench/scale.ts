// `npm run bench:scale`: does a host with many deployed scripts (BENCH_SCRIPTS,
// default 10 000) serve as one with ten? Hosts run in this process (so the
// front's memory is this process's), each script a small fetch handler with
// its own route. Measured: how long the deploys take (and whether the last
// ones are slower than the first), the front's and the workers' memory per
// deployed, never-invoked script, cold starts of never-invoked scripts
// against the same on a host with ten scripts, warm requests, and
// RouteTable.match alone. Prints figures; it never passes or fails.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { startHost, type RunningHost } from "../host/main.js";
import { timeRouteMatch } from "./route-match.js";
import type { FreshHostMemory } from "./scale-front.js";
import { inParallel, percentile, processMemory, putScript, rssOfPids, timedRequest, warmUp, type Memory } from "./scale-client.js";

const SCRIPTS = Number(process.env.BENCH_SCRIPTS ?? 10_000);
const BASELINE_SCRIPTS = 10;
const COLD_STARTS = Number(process.env.BENCH_COLD_STARTS ?? 30);
const DEPLOY_CONCURRENCY = Number(process.env.BENCH_DEPLOY_CONCURRENCY ?? 8);
/** Scripts invoked after each start, before anything is measured: the workers' own code warm, as on a host that has been serving. */
const WARMUP_SCRIPTS = Array.from({ length: 4 }, (_, i) => `warm-${i}`);
const WARM_REQUESTS = 30;
const FRESH_HOST_SCRIPT = fileURLToPath(new URL("./scale-front.js", import.meta.url));

interface HostFigures {
  scripts: number;
  deployMs: number;
  /** Deploys per second over the first and the last tenth of the deploys. */
  firstTenthRate: number;
  lastTenthRate: number;
  /** In this process, before and just after the deploys. */
  front: { before: Memory; deployed: Memory };
  workers: { before: number; deployed: number };
  /** A host started on the store in a process of its own. */
  fresh: FreshHostMemory;
  /** startHost with every script already in the store. */
  restartMs: number;
  coldMs: number[];
  warmMs: number[];
}

const work = mkdtempSync(join(tmpdir(), "atoll-bench-scale-"));
const say = (line: string) => console.log(line);
let open: RunningHost | undefined;

try {
  const gcNote = (globalThis as { gc?: unknown }).gc ? "memory after a full GC" : "no --expose-gc: memory without a GC first (noisier)";
  say(`machine: ${cpus().length} cores, node ${process.version}; hosts in this process, a worker per core; ${gcNote}`);
  reportRouteMatch();
  const baseline = await measureHost("baseline", BASELINE_SCRIPTS);
  const many = await measureHost("many", SCRIPTS);
  report(baseline, many);
} finally {
  await open?.close();
  rmSync(work, { recursive: true, force: true });
}

function reportRouteMatch(): void {
  const few = timeRouteMatch(BASELINE_SCRIPTS);
  const lots = timeRouteMatch(SCRIPTS);
  say(`route match (RouteTable.match, mean over 0.3 s of each kind): ${BASELINE_SCRIPTS} scripts → ${SCRIPTS} scripts (each with an exact-host route; 1 in 100 also a wildcard-host and an any-host one)`);
  for (const [index, { label, ns }] of lots.entries()) {
    const small = few[index]!.ns;
    say(`  ${label.padEnd(17)} ${small.toFixed(0).padStart(5)} ns → ${ns.toFixed(0).padStart(5)} ns (${(ns / small).toFixed(2)}x)`);
  }
}

async function measureHost(label: string, scripts: number): Promise<HostFigures> {
  const dataDir = join(work, label);
  const names = Array.from({ length: scripts }, (_, i) => `s-${i}`);

  let host = await start(dataDir);
  for (const name of WARMUP_SCRIPTS) await putScript(host, name, []);
  await warmUp(host.dataUrl, WARMUP_SCRIPTS);
  const before = { front: processMemory(), workers: rssOfPids(host.workerPids()) };

  say(`${label}: deploying ${scripts} scripts, ${DEPLOY_CONCURRENCY} uploads at a time…`);
  const tenth = Math.max(1, Math.floor(scripts / 10));
  const marks: number[] = [];
  const deployStarted = performance.now();
  await inParallel(
    scripts,
    DEPLOY_CONCURRENCY,
    (i) => putScript(host, names[i]!, [`${names[i]}.scale.test/*`]),
    (done) => {
      if (done % tenth === 0 || done === scripts) marks.push(performance.now());
    },
  );
  const deployMs = performance.now() - deployStarted;
  const rate = (from: number, to: number) => (tenth * 1000) / (to - from);
  const firstTenthRate = rate(deployStarted, marks[0]!);
  const lastTenthRate = marks.length >= 2 ? rate(marks[marks.length - 2]!, marks[marks.length - 1]!) : firstTenthRate;
  await sleep(500);
  const deployed = { front: processMemory(), workers: rssOfPids(host.workerPids()) };
  await close(host);
  const fresh = await freshHostMemory(dataDir);

  // Cold starts on fresh hosts over the same store: nothing of any script is in
  // the front's code cache or a worker, as for scripts deployed long ago. A
  // host with fewer scripts than probes is restarted until it has given enough.
  const probes = spread(names, Math.min(COLD_STARTS, scripts));
  const coldMs: number[] = [];
  let warmMs: number[] = [];
  let restartMs = 0;
  while (coldMs.length < COLD_STARTS) {
    const started = performance.now();
    host = await start(dataDir);
    restartMs ||= performance.now() - started;
    await warmUp(host.dataUrl, WARMUP_SCRIPTS);
    const port = Number(new URL(host.dataUrl).port);
    for (const name of probes.slice(0, COLD_STARTS - coldMs.length)) {
      await sleep(20); // the worker boots its next spare isolate, as between requests that are not a burst
      const timed = await timedRequest(port, `${name}.scale.test:${port}`, "/");
      if (timed.status !== 200 || timed.start !== "cold") throw new Error(`${label}: first request to ${name}: ${timed.status} ${timed.start}, expected a cold 200`);
      coldMs.push(timed.serverMs);
    }
    warmMs = [];
    for (let i = 0; i < WARM_REQUESTS; i++) warmMs.push((await timedRequest(port, `${probes[0]}.scale.test:${port}`, "/again")).serverMs);
    await close(host);
  }
  return { scripts, deployMs, firstTenthRate, lastTenthRate, front: { before: before.front, deployed: deployed.front }, workers: { before: before.workers, deployed: deployed.workers }, fresh, restartMs, coldMs, warmMs };
}

function report(baseline: HostFigures, many: HostFigures): void {
  for (const figures of [baseline, many]) {
    say(
      `${figures.scripts} scripts: deployed in ${(figures.deployMs / 1000).toFixed(1)} s (${((figures.scripts * 1000) / figures.deployMs).toFixed(0)}/s; ` +
        `first tenth ${figures.firstTenthRate.toFixed(0)}/s, last tenth ${figures.lastTenthRate.toFixed(0)}/s); host start with them in the store ${figures.restartMs.toFixed(0)} ms`,
    );
    say(
      `  cold start (first request to ${figures.coldMs.length} never-invoked scripts, server time): p50 ${percentile(figures.coldMs, 50).toFixed(2)} ms, p99 ${percentile(figures.coldMs, 99).toFixed(2)} ms; ` +
        `warm p50 ${percentile(figures.warmMs, 50).toFixed(3)} ms`,
    );
  }
  const ratio = (p: number) => (percentile(many.coldMs, p) / percentile(baseline.coldMs, p)).toFixed(2);
  say(`cold start ${many.scripts} vs ${baseline.scripts} scripts: p50 ${ratio(50)}x (target ≤ 1.2x), p99 ${ratio(99)}x; warm p50 ${(percentile(many.warmMs, 50) / percentile(baseline.warmMs, 50)).toFixed(2)}x`);

  const added = many.scripts - baseline.scripts;
  const perScript = (delta: number, count = many.scripts) => `${(delta / count).toFixed(0)} B/script`;
  const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
  const { front, workers } = many;
  say(`memory per deployed, never-invoked script (target ~0):`);
  say(
    `  front, a host started on each store in a process of its own: RSS ${mib(baseline.fresh.front.rss)} (${baseline.scripts} scripts) → ${mib(many.fresh.front.rss)} (${many.scripts}): ` +
      `${perScript(many.fresh.front.rss - baseline.fresh.front.rss, added)}; JS heap ${mib(baseline.fresh.front.heapUsed)} → ${mib(many.fresh.front.heapUsed)}: ${perScript(many.fresh.front.heapUsed - baseline.fresh.front.heapUsed, added)}`,
  );
  say(
    `  front, this process, before and just after the ${many.scripts} deploys: RSS ${mib(front.before.rss)} → ${mib(front.deployed.rss)} (${perScript(front.deployed.rss - front.before.rss)}), ` +
      `JS heap ${mib(front.before.heapUsed)} → ${mib(front.deployed.heapUsed)} (${perScript(front.deployed.heapUsed - front.before.heapUsed)})`,
  );
  say(
    `  workers: ${mib(workers.before)} → ${mib(workers.deployed)} just after the deploys (${perScript(workers.deployed - workers.before)}; each upload is validated in a throwaway isolate there); ` +
      `fresh workers ${mib(baseline.fresh.workers)} (${baseline.scripts} scripts) → ${mib(many.fresh.workers)} (${many.scripts}): ${perScript(many.fresh.workers - baseline.fresh.workers, added)}`,
  );
}

async function start(dataDir: string): Promise<RunningHost> {
  open = await startHost({ dataDir, port: 0, hostname: "127.0.0.1", controlPort: 0, log: () => {} });
  return open;
}

async function close(host: RunningHost): Promise<void> {
  await host.close();
  if (open === host) open = undefined;
}

async function freshHostMemory(dataDir: string): Promise<FreshHostMemory> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--no-node-snapshot", "--expose-gc", FRESH_HOST_SCRIPT, dataDir, ...WARMUP_SCRIPTS], { timeout: 120_000 });
  return JSON.parse(stdout.trim().split("\n").pop()!) as FreshHostMemory;
}

/** `count` items evenly spread over `items`. */
function spread<T>(items: readonly T[], count: number): T[] {
  return Array.from({ length: count }, (_, k) => items[Math.floor(((k + 0.5) * items.length) / count)]!);
}
