// `npm run bench:observe`: what watching functions costs. Two hosts serve
// fixtures/hello under the same load: one that keeps no invocation records and
// one that records every invocation. Each cost is measured as pairs of runs
// back to back, the order swapped every round, so that the VM's drift (its
// speed moves by 2× within a minute on the dev VM) hits both sides of a pair
// alike and cancels over the rounds:
//
//   records            no records  ↔  records
//   1 tail             records     ↔  records with a live tail attached (read by this process, as `atoll tail` would)
//   1 tail, sample 0.1 records     ↔  records with a tail that samples a tenth
//
// A tail's pair runs on one host, the tail attached for one run and detached
// (the host's atoll_tail_clients back to 0) for the other. Prints the ratio of
// each pair's requests/s (target: ≥ 0.95) and its CPU per request, as medians
// and spreads over the rounds; then the front's CPU per record of the record
// path alone (a real Observer and invocation store in this process). Never
// passes or fails.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { deployProject } from "../bundler/deploy.js";
import { streamTail } from "../host/control/logs-routes.js";
import { HostMetrics } from "../host/metrics.js";
import { InvocationStore } from "../host/observe/invocation-store.js";
import { Observer } from "../host/observe/observer.js";
import type { NewInvocationRecord } from "../host/observe/records.js";
import { startAtollProcess, type AtollProcess } from "./atoll-process.js";
import { median, medianAndSpread } from "./stats.js";
import { measure, totalCpuUs, warmUp, type Sample, type Target } from "./throughput.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HELLO = join(ROOT, "fixtures", "hello");
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const DETACH_TIMEOUT_MS = 5000;

const work = mkdtempSync(join(tmpdir(), "atoll-bench-observe-"));
const say = (line: string) => console.log(line);
const hosts: AtollProcess[] = [];
let tailed = 0;

/** One side of a pair: a host, and what is attached to it for the run. */
interface Side {
  target: Target;
  host: AtollProcess;
  /** A tail's query string, or null for none. */
  tail: string | null;
}

interface Comparison {
  label: string;
  base: Side;
  watched: Side;
  ratios: number[];
  cpuDeltas: number[];
  frontDeltas: number[];
  baseCpu: number[];
}

try {
  say(`\nobserve: ${cpus().length} cores, node ${process.version}; fixtures/hello, ${CONNECTIONS} connections, pairs of ${DURATION_S} s runs, ${ROUNDS} rounds, the order in a pair swapped every round`);
  const plain = await startAtollProcess(join(work, "plain"), { invocationRecords: false });
  hosts.push(plain);
  const recorded = await startAtollProcess(join(work, "recorded"));
  hosts.push(recorded);
  for (const host of hosts) await deployProject(HELLO, { controlUrl: host.controlUrl, token: host.token });
  const target = (label: string, host: AtollProcess): Target => ({
    label,
    url: `${host.dataUrl}/`,
    headers: { host: "hello.localhost" },
    processes: () => ({ front: [host.front], workers: host.workers() }),
  });
  const plainSide: Side = { target: target("no records", plain), host: plain, tail: null };
  const recordedSide: Side = { target: target("records", recorded), host: recorded, tail: null };
  const comparison = (label: string, base: Side, watched: Side): Comparison => ({ label, base, watched, ratios: [], cpuDeltas: [], frontDeltas: [], baseCpu: [] });
  const comparisons = [
    comparison("records", plainSide, recordedSide),
    comparison("1 tail", recordedSide, { ...recordedSide, tail: "" }),
    comparison("1 tail, sample 0.1", recordedSide, { ...recordedSide, tail: "?sample=0.1" }),
  ];
  const settings = { connections: CONNECTIONS, durationS: DURATION_S };
  await warmUp([plainSide.target, recordedSide.target], { ...settings, durationS: 1 });
  for (let round = 0; round < ROUNDS; round++) {
    for (const pair of comparisons) {
      const order = round % 2 === 0 ? [pair.base, pair.watched] : [pair.watched, pair.base];
      const samples = new Map<Side, Sample>();
      for (const side of order) samples.set(side, await run(side, settings));
      const base = samples.get(pair.base)!;
      const watched = samples.get(pair.watched)!;
      pair.ratios.push(watched.load.requestsPerSecond / base.load.requestsPerSecond);
      pair.cpuDeltas.push(totalCpuUs(watched) - totalCpuUs(base));
      pair.frontDeltas.push(watched.cpuUsPerRequest["front"]! - base.cpuUsPerRequest["front"]!);
      pair.baseCpu.push(totalCpuUs(base));
    }
  }
  for (const pair of comparisons) {
    const signed = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(1)}`;
    say(
      `  ${pair.label.padEnd(19)} ${medianAndSpread(pair.ratios, (v) => v.toFixed(3), "×")} the requests/s of ${pair.base === plainSide ? "no records" : "records without a tail"} (target ≥ 0.95); ` +
        `CPU per request ${signed(median(pair.cpuDeltas))} µs (front ${signed(median(pair.frontDeltas))}) on ${median(pair.baseCpu).toFixed(0)} µs`,
    );
  }
  say(`  the tails received ${tailed} records`);
  recordPathCost();
  await tailPathCost();
} finally {
  for (const host of hosts) await host.stop();
  rmSync(work, { recursive: true, force: true });
}

/** One run of `side`, its tail attached for the run's length. */
async function run(side: Side, settings: { connections: number; durationS: number }): Promise<Sample> {
  if (side.tail === null) return measure(side.target, settings);
  const detach = await attachTail(side.host, side.tail);
  try {
    return await measure(side.target, settings);
  } finally {
    await detach();
  }
}

/**
 * Reads the host's live tail of hello until the returned function is called,
 * counting records; resolves once the tail is attached (its `ready` event).
 * The returned function resolves once the host has let the tail go.
 */
async function attachTail(host: AtollProcess, query: string): Promise<() => Promise<void>> {
  const controller = new AbortController();
  const response = await fetch(`${host.controlUrl}/v1/scripts/hello/logs${query}`, { headers: { authorization: `Bearer ${host.token}` }, signal: controller.signal });
  if (response.status !== 200) throw new Error(`the tail was refused: ${response.status} ${await response.text()}`);
  const reader = response.body!.getReader();
  // Counted in the bytes, not decoded: the figure is the host's cost of a tail, and this process shares its cores.
  const marker = Buffer.from("event: invocation");
  const ready = Buffer.from("event: ready");
  let attached!: () => void;
  const isAttached = new Promise<void>((resolve) => (attached = resolve));
  const reading = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        if (bytes.includes(ready)) attached();
        for (let at = bytes.indexOf(marker); at !== -1; at = bytes.indexOf(marker, at + marker.length)) tailed++;
      }
    } catch {
      // Aborted at the end of the run.
    } finally {
      attached();
    }
  })();
  await isAttached;
  return async () => {
    controller.abort();
    await reading;
    await tailClientsDropTo(host, 0);
  };
}

/** Waits until the host's atoll_tail_clients metric says `count` (its side of a closed tail is gone). */
async function tailClientsDropTo(host: AtollProcess, count: number): Promise<void> {
  const deadline = Date.now() + DETACH_TIMEOUT_MS;
  for (;;) {
    const text = await (await fetch(`${host.controlUrl}/metrics`)).text();
    const match = /^atoll_tail_clients (\d+)/m.exec(text);
    if (match && Number(match[1]) === count) return;
    if (Date.now() > deadline) throw new Error(`the host still counts ${match?.[1] ?? "?"} tail clients ${DETACH_TIMEOUT_MS} ms after the bench closed its tail`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The front's CPU per record of the record path alone, in this process: a
 * real Observer (with the per-script metrics, as the host wires it) and a real
 * invocation store in a file, records as hello's, written in the host's batches.
 */
function recordPathCost(): void {
  const RECORDS = 100_000;
  const BATCH = 500;
  const withStore = (store: InvocationStore | null): number => {
    const metrics = new HostMetrics();
    const observer = new Observer({ store, retention: { maxAgeMs: 7 * 24 * 3600 * 1000, maxRecords: 1_000_000 }, onRecord: (record) => metrics.countRecord(record), log: () => {} });
    const before = process.cpuUsage();
    for (let i = 0; i < RECORDS; i++) {
      observer.record(helloRecord());
      if (i % BATCH === BATCH - 1) observer.flush();
    }
    observer.flush();
    const used = process.cpuUsage(before);
    observer.close();
    return (used.user + used.system) / RECORDS;
  };
  const runs: { none: number; stored: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const none = withStore(null);
    const stored = withStore(new InvocationStore(join(work, `records-${i}.db`)));
    runs.push({ none, stored });
  }
  say(
    `  the record path alone, per record (this process, ${RECORDS} records, 3 runs): ${medianAndSpread(
      runs.map((r) => r.stored - r.none),
      (v) => v.toFixed(2),
      " µs",
    )} to keep one (batched into the store) over ${medianAndSpread(
      runs.map((r) => r.none),
      (v) => v.toFixed(2),
      " µs",
    )} to make it and count it in the metrics`,
  );
}

/**
 * The front's CPU per record of a live tail alone, in this process: a real
 * Observer and the control API's streamTail on a real HTTP response, read by
 * a client in a child process; records come as a busy host makes them (70
 * every 10 ms, ~7k/s), runs with the tail's script and with another script
 * alternating. Where the whole-host pairs above cannot resolve a few µs on a
 * noisy VM, this can.
 */
async function tailPathCost(): Promise<void> {
  const RECORDS = 20_000;
  const PER_TICK = 70;
  const observer = new Observer({ store: null, retention: { maxAgeMs: 1, maxRecords: 1 }, log: () => {} });
  const server = createServer((_incoming, outgoing) => void streamTail({ observer, log: () => {} }, "hello", () => undefined, outgoing));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const reader = spawn(process.execPath, ["-e", `const s = require("node:net").connect(${port}, "127.0.0.1"); s.write("GET / HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n"); s.resume(); s.on("close", () => process.exit(0));`], { stdio: "ignore" });
  try {
    while (observer.tailCount === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const perRecord = { tail: [] as number[], none: [] as number[] };
    for (const watched of [false, true, true, false, false, true, true, false, false, true]) {
      const before = process.cpuUsage();
      for (let made = 0; made < RECORDS; made += PER_TICK) {
        for (let i = 0; i < PER_TICK; i++) {
          const record = helloRecord();
          if (!watched) record.script = "other";
          observer.record(record);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const used = process.cpuUsage(before);
      perRecord[watched ? "tail" : "none"].push((used.user + used.system) / RECORDS);
    }
    const costs = perRecord.tail.map((tail, i) => tail - perRecord.none[i]!);
    say(`  a live tail alone, per record sent (this process, a reader in a child process, ${RECORDS} records a run, 5 pairs): ${medianAndSpread(costs, (v) => v.toFixed(2), " µs")}`);
  } finally {
    reader.kill();
    observer.close();
    server.closeAllConnections();
    server.close();
  }
}

/** A record as the front makes one for a hello request. */
function helloRecord(): NewInvocationRecord {
  return {
    time: Date.now(),
    script: "hello",
    version: 1,
    trigger: "http",
    method: "GET",
    path: "/",
    event: null,
    status: 200,
    outcome: "ok",
    wallMs: 0.53,
    cpuMs: 0.04,
    subrequests: 0,
    memoryMb: 128,
    bytesIn: 0,
    bytesOut: 12,
    fetchBytesOut: 0,
    fetchBytesIn: 0,
    heapMb: 1.23,
    error: null,
    logs: [],
    droppedLogs: 0,
  };
}
