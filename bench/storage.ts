// `npm run bench`, storage part: KV and buckets as a function sees them, on a
// host run as `atoll start` (so that its processes' memory is its own), next
// to bare baselines measured in the same run: better-sqlite3 with the store's
// pragmas for KV, a file written and fsynced by Node for objects. The KV and
// bucket parts run on the embedded store and again on Redis + S3-compatible
// storage (redis-server and s3rver started here), with their ratios. Prints
// figures and ratios; it never passes or fails.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
// The same helper the crash test uses: `atoll start` as a child process, its pids, /proc readings.
import { cpuMs, peakRssBytes, resetPeakRss, rssBytes, startHostProcess, type HostProcess, type ProcessId } from "../test/support/host-process.js";
import { load } from "./load.js";
import { S3RVER_CREDENTIALS, sharedStoreSkip, startRedis, startS3, type ServerProcess } from "../test/support/shared-stores.js";

const DURATION_S = Number(process.env.BENCH_STORAGE_DURATION_S ?? 5);
/** Operations per request in the batched KV runs. */
const OPS_PER_REQUEST = Number(process.env.BENCH_KV_OPS_PER_REQUEST ?? 100);
/** Size of the large object, MiB; a tenth of it is measured too, to show memory does not grow with size. */
const OBJECT_MIB = Number(process.env.BENCH_OBJECT_MIB ?? 100);
/** Which parts to run: "kv", "buckets" or both (default). */
const PARTS = new Set((process.env.BENCH_STORAGE_PARTS ?? "kv,buckets,text").split(","));
/** Runs of each object operation. */
const OBJECT_RUNS = Number(process.env.BENCH_OBJECT_RUNS ?? 3);
const KV_KEYS = 1000;
const KV_VALUE = "v".repeat(100);
const MiB = 1024 * 1024;

/** One function for every storage figure: KV loops and a bucket object streamed in and out. */
const STORAGE_BUNDLE = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n") ?? 1);
    const key = () => "k" + Math.floor(Math.random() * ${KV_KEYS});
    switch (url.pathname) {
      case "/kv/get": {
        let found = 0;
        for (let i = 0; i < n; i++) if ((await env.KV.get(key())) !== null) found++;
        return new Response(String(found));
      }
      case "/kv/put": {
        for (let i = 0; i < n; i++) await env.KV.put(key(), ${JSON.stringify(KV_VALUE)});
        return new Response("ok");
      }
      case "/kv/put-parallel": {
        await Promise.all(Array.from({ length: n }, (_, i) => env.KV.put(url.searchParams.has("fill") ? "k" + i : key(), ${JSON.stringify(KV_VALUE)})));
        return new Response("ok");
      }
      case "/proxy":
        return fetch(url.searchParams.get("from"));
      case "/text": {
        // 8 MiB of one kind of text, decoded and encoded n times; performance.now() has ms resolution, hence the repeats.
        const bytes = new Uint8Array(8 * 1024 * 1024);
        const kind = url.searchParams.get("kind");
        for (let i = 0; i < bytes.length; i++) {
          if (kind === "ascii") bytes[i] = 97 + (i % 26);
          else if (kind === "latin") bytes[i] = i % 2 === 0 ? 0xc3 : 0xa9;
          else bytes[i] = i % 100 === 0 ? 0xc3 : i % 100 === 1 ? 0xa9 : 97 + (i % 26);
        }
        let text = "";
        const decodeStart = performance.now();
        for (let i = 0; i < n; i++) text = new TextDecoder().decode(bytes);
        const encodeStart = performance.now();
        let encoded = new Uint8Array(0);
        for (let i = 0; i < n; i++) encoded = new TextEncoder().encode(text);
        const end = performance.now();
        return Response.json({ decodeMs: (encodeStart - decodeStart) / n, encodeMs: (end - encodeStart) / n, same: encoded.length === bytes.length });
      }
      case "/object": {
        const name = url.searchParams.get("key");
        if (request.method === "PUT") {
          const object = await env.FILES.put(name, request.body);
          return Response.json({ size: object.size, etag: object.etag });
        }
        const object = await env.FILES.get(name);
        return object === null ? new Response("no such object", { status: 404 }) : new Response(object.body, { headers: { "content-length": String(object.size) } });
      }
    }
    return new Response("not found", { status: 404 });
  },
};`;


const work = mkdtempSync(join(tmpdir(), "atoll-bench-storage-"));
const say = (line: string) => console.log(line);

/** Which stores the KV and bucket parts run on: "sqlite" (the embedded default) and "redis" (Redis + S3-compatible objects: redis-server and s3rver started here). */
const STORES = (process.env.BENCH_STORAGE_STORES ?? "sqlite,redis").split(",");

const figures = new Map<string, { kv: Map<string, number>; buckets: Map<string, number> }>();
const servers: ServerProcess[] = [];
let host: HostProcess | undefined;
try {
  say(`\nstorage: ${cpus().length} cores, node ${process.version}; host: atoll start (default workers) as a child process; data dir on ${tmpdir()}`);
  for (const store of STORES) {
    let storeArgs: string[] = [];
    let env: NodeJS.ProcessEnv | undefined;
    if (store === "redis") {
      const skip = sharedStoreSkip();
      if (skip) {
        say(`\nstore redis: skipped: ${skip}`);
        continue;
      }
      const redis = await startRedis();
      const s3 = await startS3("atoll-bench");
      servers.push(redis, s3);
      storeArgs = ["--store", redis.url, "--objects", `s3://atoll-bench?endpoint=${s3.url}`];
      env = S3RVER_CREDENTIALS;
      say(`\nstore redis: redis-server ${redis.url} (appendonly, appendfsync always), objects on s3rver ${s3.url} (an S3-compatible server in Node, as a process)`);
    } else {
      say(`\nstore sqlite: the embedded store in the data directory`);
    }
    // Loopback is allowed for the pass-through figures' origin (in this process).
    host = await startHostProcess(join(work, `data-${store}`), { args: ["--egress-allow", "127.0.0.1/32", ...storeArgs], ...(env ? { extraEnv: env } : {}) });
    // Enough CPU for 100 KV calls in one request and for streaming a large object (measured below).
    await deploy(host, "storage", { cpu_ms: 60_000, wall_ms: 120_000 });
    const hostHeader = `storage.localhost:${new URL(host.dataUrl).port}`;
    const measured = { kv: new Map<string, number>(), buckets: new Map<string, number>() };
    figures.set(store, measured);
    if (PARTS.has("kv")) measured.kv = await kvFigures(host, hostHeader);
    if (PARTS.has("buckets")) measured.buckets = await bucketFigures(host, hostHeader, store === "sqlite");
    // What follows does not depend on the store.
    if (store === STORES[0]) {
      if (PARTS.has("buckets")) await passThroughFigures(host);
      if (PARTS.has("text")) await textFigures(host, hostHeader);
    }
    host.kill();
    await host.exited;
    host = undefined;
  }
  const sqlite = figures.get("sqlite");
  const redis = figures.get("redis");
  if (sqlite && redis) {
    say(`\nredis + s3 against sqlite, same run:`);
    for (const [path, rate] of redis.kv) if (sqlite.kv.has(path)) say(`  KV ${path.padEnd(22)} ${fmt(rate, 0).padStart(7)} ops/s vs ${fmt(sqlite.kv.get(path)!, 0).padStart(7)}: ${ratio(rate, sqlite.kv.get(path)!)}`);
    for (const [label, mbps] of redis.buckets) if (sqlite.buckets.has(label)) say(`  bucket ${label.padEnd(28)} ${fmt(mbps).padStart(7)} MB/s vs ${fmt(sqlite.buckets.get(label)!).padStart(7)}: ${ratio(mbps, sqlite.buckets.get(label)!)}`);
  }
} finally {
  host?.kill();
  for (const server of servers) await server.remove();
  rmSync(work, { recursive: true, force: true });
}

// ---- KV ---------------------------------------------------------------------

/**
 * One op per request: ops/s is autocannon's requests/s. N ops per request (one
 * after another, or all at once): ops/s is requests/s × N, and a request's
 * latency is that of N round trips (its p50 / N is the figure per op).
 */
async function kvFigures(host: HostProcess, hostHeader: string): Promise<Map<string, number>> {
  await get(host, hostHeader, `/kv/put-parallel?n=${KV_KEYS}&fill`);
  say(`KV from inside a function (${KV_KEYS} keys of ${KV_VALUE.length} B, random key per op, autocannon ${DURATION_S} s; latencies are per request):`);
  const kvRuns: { label: string; path: string; connections: number; ops: number }[] = [
    { label: "get, 1 per request      ", path: "/kv/get?n=1", connections: 50, ops: 1 },
    // One client: the latency of a get with nothing queued before it (the issue's "sequential" figure, target ≤ 0.15 ms).
    { label: `get, ${OPS_PER_REQUEST} sequential     `, path: `/kv/get?n=${OPS_PER_REQUEST}&alone`, connections: 1, ops: OPS_PER_REQUEST },
    { label: `get, ${OPS_PER_REQUEST} sequential     `, path: `/kv/get?n=${OPS_PER_REQUEST}`, connections: 10, ops: OPS_PER_REQUEST },
    { label: "put, 1 per request      ", path: "/kv/put?n=1", connections: 50, ops: 1 },
    { label: `put, ${OPS_PER_REQUEST} sequential     `, path: `/kv/put?n=${OPS_PER_REQUEST}`, connections: 10, ops: OPS_PER_REQUEST },
    { label: `put, ${OPS_PER_REQUEST} in parallel    `, path: `/kv/put-parallel?n=${OPS_PER_REQUEST}`, connections: 10, ops: OPS_PER_REQUEST },
  ];
  const opsPerSecond = new Map<string, number>();
  for (const run of kvRuns) {
    const result = await load(`${host.dataUrl}${run.path}`, { host: hostHeader }, { connections: run.connections, durationS: DURATION_S });
    const rate = result.requestsPerSecond * run.ops;
    opsPerSecond.set(run.path, rate);
    say(`  ${run.label} -c ${String(run.connections).padEnd(2)}: ${fmt(rate, 0).padStart(6)} ops/s; request p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms${run.ops > 1 ? ` (≈ ${(result.p50Ms / run.ops).toFixed(2)} ms per op)` : ""}; errors ${result.errors}, non-2xx ${result.non2xx}`);
  }
  const bare = bareSqlite(join(work, `bare-${randomBytes(4).toString("hex")}.db`));
  say(`  bare better-sqlite3 in one process (WAL, synchronous=FULL): get ${fmt(bare.getsPerSecond, 0)} ops/s; put ${fmt(bare.putsPerSecond, 0)} ops/s one per transaction, ${fmt(bare.batchedPutsPerSecond, 0)} ops/s ${OPS_PER_REQUEST} per transaction`);
  say(
    `  ratio atoll/bare: get ${ratio(opsPerSecond.get("/kv/get?n=1")!, bare.getsPerSecond)} (1 per request), ${ratio(opsPerSecond.get(`/kv/get?n=${OPS_PER_REQUEST}`)!, bare.getsPerSecond)} (${OPS_PER_REQUEST} per request); ` +
      `put ${ratio(opsPerSecond.get("/kv/put?n=1")!, bare.putsPerSecond)} of one-per-transaction (1 per request: concurrent requests share commits), ${ratio(opsPerSecond.get(`/kv/put-parallel?n=${OPS_PER_REQUEST}`)!, bare.batchedPutsPerSecond)} of batched (${OPS_PER_REQUEST} in parallel)`,
  );  return opsPerSecond;
}

// ---- Buckets ------------------------------------------------------------------

/** Each operation runs OBJECT_RUNS times: the median MB/s and CPU, the highest peak. */
/** Returns MB/s of the large object's operations, by label; `cpuSearch`: also find the smallest cpu_ms a large put fits in. */
async function bucketFigures(host: HostProcess, hostHeader: string, cpuSearch: boolean): Promise<Map<string, number>> {
  const rates = new Map<string, number>();
  say(
    `buckets: one object streamed in and out, ${OBJECT_RUNS} runs each (median MB/s, 10^6 bytes per second of client wall time; ` +
      `highest peak RSS over an operation, and its growth over the RSS before it; median CPU):`,
  );
  const bareRuns: { writeMBps: number; readMBps: number }[] = [];
  for (let i = 0; i < OBJECT_RUNS; i++) bareRuns.push(await bareFileWrite(join(work, "bare.bin"), OBJECT_MIB * MiB));
  const baseline = { writeMBps: median(bareRuns.map((run) => run.writeMBps)), readMBps: median(bareRuns.map((run) => run.readMBps)) };
  say(`  bare node: write ${OBJECT_MIB} MiB in 1 MiB writes + fsync ${fmt(baseline.writeMBps)} MB/s; read it back ${fmt(baseline.readMBps)} MB/s (page cache)`);
  const small = Math.max(1, Math.round(OBJECT_MIB / 10));
  const peaks: Record<string, number[]> = {};
  for (const mib of [small, OBJECT_MIB]) {
    const body = randomBytes(mib * MiB);
    const md5 = createHash("md5").update(body).digest("hex");
    const key = `bench/${mib}MiB.bin`;
    const objectPath = `/object?key=${encodeURIComponent(key)}`;
    const controlPath = `/v1/buckets/bench/objects/${encodeURIComponent(`control/${key}`)}`;
    const auth = { authorization: `Bearer ${host.token}` };
    const runs: { label: string; run: () => Promise<{ status: number; bytes: number; text: string }> }[] = [
      { label: "put via function   ", run: () => send(`${host.dataUrl}${objectPath}`, "PUT", { host: hostHeader }, body) },
      { label: "get via function   ", run: () => send(`${host.dataUrl}${objectPath}`, "GET", { host: hostHeader }) },
      { label: "put via control API", run: () => send(`${host.controlUrl}${controlPath}`, "PUT", auth, body) },
      { label: "get via control API", run: () => send(`${host.controlUrl}${controlPath}`, "GET", auth) },
    ];
    for (const { label, run } of runs) {
      const samples: Measured[] = [];
      let failure: string | undefined;
      for (let i = 0; i < OBJECT_RUNS && failure === undefined; i++) {
        const sample = await measure(host, run);
        const { status, bytes, text } = sample.result;
        const stored = label.startsWith("put") && status < 300 ? (JSON.parse(text) as { etag: string }).etag : undefined;
        if (status >= 300 || (label.startsWith("get") && bytes !== body.byteLength) || (stored !== undefined && stored !== md5)) {
          failure = `status ${status}, ${bytes} bytes${stored ? `, etag ${stored}` : ""}: ${text.slice(0, 200)}`;
        }
        samples.push(sample);
      }
      if (failure !== undefined) {
        say(`  ${mib} MiB ${label}: FAILED (${failure})`);
        continue;
      }
      const measured = {
        ms: median(samples.map((sample) => sample.ms)),
        frontPeak: Math.max(...samples.map((sample) => sample.frontPeak)),
        frontGrowth: Math.max(...samples.map((sample) => sample.frontGrowth)),
        workersPeak: Math.max(...samples.map((sample) => sample.workersPeak)),
        workersGrowth: Math.max(...samples.map((sample) => sample.workersGrowth)),
        frontCpuMs: median(samples.map((sample) => sample.frontCpuMs)),
        workersCpuMs: median(samples.map((sample) => sample.workersCpuMs)),
      };
      const mbps = body.byteLength / 1e6 / (measured.ms / 1000);
      if (mib === OBJECT_MIB) rates.set(`${mib} MiB ${label.trim()}`, mbps);
      (peaks[label] ??= []).push(Math.max(...samples.map((sample) => sample.frontGrowth + sample.workersGrowth)));
      say(
        `  ${String(mib).padStart(3)} MiB ${label}: ${fmt(mbps).padStart(6)} MB/s (${ratio(mbps, label.startsWith("put") ? baseline.writeMBps : baseline.readMBps)} of bare ${label.startsWith("put") ? "write+fsync" : "read"}); ` +
          `peak RSS front ${mb(measured.frontPeak)} (+${mb(measured.frontGrowth)}), workers ${mb(measured.workersPeak)} (+${mb(measured.workersGrowth)}); ` +
          `CPU front ${fmt(measured.frontCpuMs, 0)} ms, workers ${fmt(measured.workersCpuMs, 0)} ms`,
      );
    }
  }
  for (const [label, [atSmall, atLarge]] of Object.entries(peaks)) {
    if (atSmall === undefined || atLarge === undefined) continue;
    say(`  memory vs size, ${label.trim()}: peak RSS growth ${mb(atSmall)} at ${small} MiB, ${mb(atLarge)} at ${OBJECT_MIB} MiB (the object is ${OBJECT_MIB / small}x larger)`);
  }

  if (!cpuSearch) return rates;
  // The CPU the isolate spends streaming the large put: the smallest cpu_ms it fits in, doubling from the default.
  const body = randomBytes(OBJECT_MIB * MiB);
  const refused: string[] = [];
  let fits: number | undefined;
  for (let limit = 50; limit <= 12_800 && fits === undefined; limit *= 2) {
    await deploy(host, "storage-cpu", { cpu_ms: limit, wall_ms: 120_000 });
    const answer = await send(`${host.dataUrl}/object?key=cpu.bin`, "PUT", { host: `storage-cpu.localhost:${new URL(host.dataUrl).port}` }, body).catch((error: unknown) => ({
      status: 0,
      bytes: 0,
      text: (error as Error).message,
    }));
    if (answer.status === 200) fits = limit;
    else refused.push(`${limit} (${answer.status === 0 ? answer.text : /ATOLL_\w+|over its \w+ limit|CPU limit/.exec(answer.text)?.[0] ?? answer.status})`);
  }
  say(
    `  CPU of a ${OBJECT_MIB} MiB put inside the function: ${fits === undefined ? "more than 12800 ms" : `fits in cpu_ms ${fits}`}; refused with cpu_ms ${refused.join(", ") || "-"}` +
      ` (the figures above ran with cpu_ms 60000; the default is 50)`,
  );  return rates;
}

// ---- Measuring ---------------------------------------------------------------

interface Measured {
  result: { status: number; bytes: number; text: string };
  ms: number;
  /** Peak RSS over the operation, and how far it rose above the RSS before it, bytes (workers: summed). */
  frontPeak: number;
  frontGrowth: number;
  workersPeak: number;
  workersGrowth: number;
  frontCpuMs: number;
  workersCpuMs: number;
}

/** Runs `operation` with the host's peak RSS reset first; returns its wall time, peaks, growth and CPU. */
async function measure(host: HostProcess, operation: () => Promise<Measured["result"]>): Promise<Measured> {
  const workers = host.workers();
  const all = [host.front, ...workers];
  const canReset = all.every(resetPeakRss);
  const before = new Map(all.map((process) => [process.pid, rssBytes(process)]));
  const cpuBefore = new Map(all.map((process) => [process.pid, cpuMs(process)]));
  // Where the peak cannot be reset, sample RSS instead.
  const sampled = new Map(all.map((process) => [process.pid, 0]));
  const sampler = canReset ? undefined : setInterval(() => all.forEach((process) => sampled.set(process.pid, Math.max(sampled.get(process.pid)!, rssBytes(process)))), 10);
  const started = performance.now();
  const result = await operation();
  const ms = performance.now() - started;
  if (sampler) clearInterval(sampler);
  const peak = (process: ProcessId) => (canReset ? peakRssBytes(process) : sampled.get(process.pid)!);
  const growth = (process: ProcessId) => Math.max(0, peak(process) - before.get(process.pid)!);
  const cpu = (process: ProcessId) => cpuMs(process) - cpuBefore.get(process.pid)!;
  return {
    result,
    ms,
    frontPeak: peak(host.front),
    frontGrowth: growth(host.front),
    workersPeak: sum(workers.map(peak)),
    workersGrowth: sum(workers.map(growth)),
    frontCpuMs: cpu(host.front),
    workersCpuMs: sum(workers.map(cpu)),
  };
}

/** One request; a body is streamed in 1 MiB writes with backpressure. Counts the answer's bytes without keeping them. */
function send(url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; bytes: number; text: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const request = httpRequest(
      { hostname: target.hostname, port: target.port, path: target.pathname + target.search, method, headers: { ...headers, ...(body ? { "content-length": String(body.byteLength) } : {}) }, agent: false },
      (response) => {
        let bytes = 0;
        let text = "";
        response.on("data", (chunk: Buffer) => {
          bytes += chunk.byteLength;
          if (text.length < 4096) text += chunk.toString("utf8", 0, Math.min(chunk.byteLength, 4096));
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, bytes, text }));
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    if (!body) return void request.end();
    void (async () => {
      for (let at = 0; at < body.byteLength; at += MiB) {
        if (!request.write(body.subarray(at, at + MiB))) await new Promise((drained) => request.once("drain", drained));
      }
      request.end();
    })();
  });
}

async function get(host: HostProcess, hostHeader: string, path: string): Promise<void> {
  const answer = await send(`${host.dataUrl}${path}`, "GET", { host: hostHeader });
  if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${answer.text}`);
}

async function deploy(host: HostProcess, name: string, limits: Record<string, number>): Promise<void> {
  const response = await fetch(`${host.controlUrl}/v1/scripts/${name}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${host.token}`, "content-type": "application/json" },
    body: JSON.stringify({
      bundle: STORAGE_BUNDLE,
      config: { name, main: "src/index.ts", kv_namespaces: [{ binding: "KV", id: "bench" }], buckets: [{ binding: "FILES", bucket_name: "bench" }], limits },
    }),
  });
  if (response.status !== 201) throw new Error(`deploy of ${name}: ${response.status} ${await response.text()}`);
}


// ---- Bodies passed along -------------------------------------------------------

/**
 * Bodies a function only passes along never enter its isolate: the CPU it is
 * charged (from the host's log line) for `return fetch(url)` of a large body
 * and for `bucket.put(key, request.body)` is that of its JS, whatever the size,
 * with the default cpu_ms of 50.
 */
async function passThroughFigures(host: HostProcess): Promise<void> {
  await deploy(host, "pass", {});
  const hostHeader = `pass.localhost:${new URL(host.dataUrl).port}`;
  const body = randomBytes(OBJECT_MIB * MiB);
  const origin = createServer((_request, response) => response.end(body));
  await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
  try {
    const from = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/big`;
    say(`bodies passed along, ${OBJECT_MIB} MiB, the function deployed with the default limits (cpu_ms 50):`);
    for (const [label, path, method, payload] of [
      // Twice: the isolate's first fetch also compiles the runtime's fetch code.
      ["return fetch(url), first        ", `/proxy?from=${encodeURIComponent(from)}`, "GET", undefined],
      ["return fetch(url), second       ", `/proxy?from=${encodeURIComponent(from)}&again`, "GET", undefined],
      ["bucket.put(key, request.body)   ", "/object?key=pass.bin", "PUT", body],
      ["new Response(object.body)       ", "/object?key=pass.bin", "GET", undefined],
    ] as const) {
      const linesBefore = loggedCpuLines(host, method, path.split("?")[0]!).length;
      const started = performance.now();
      const answer = await send(`${host.dataUrl}${path}`, method, { host: hostHeader }, payload);
      const ms = performance.now() - started;
      if (answer.status !== 200 || (method === "GET" && answer.bytes !== body.byteLength)) {
        say(`  ${label}: FAILED (status ${answer.status}, ${answer.bytes} bytes: ${answer.text.slice(0, 200)})`);
        continue;
      }
      const cpu = await loggedCpuMs(host, method, path.split("?")[0]!, linesBefore);
      say(`  ${label}: ${fmt(body.byteLength / 1e6 / (ms / 1000)).padStart(6)} MB/s; function CPU ${cpu === null ? "?" : `${fmt(cpu, 2)} ms`}${path.startsWith("/proxy") ? " (target < 5 ms)" : ""}`);
    }
  } finally {
    origin.close();
  }
}

// ---- Text codecs ---------------------------------------------------------------

/**
 * TextDecoder and TextEncoder on 8 MiB in a function (large inputs are coded
 * by the host's native code, charged to the call), beside Node's own in this
 * process on the same bytes.
 */
async function textFigures(host: HostProcess, hostHeader: string): Promise<void> {
  const REPEATS = 10;
  say("text codecs, 8 MiB, per call (function / Node's TextDecoder and TextEncoder in this process):");
  for (const kind of ["ascii", "mixed", "latin"] as const) {
    const answer = await send(`${host.dataUrl}/text?kind=${kind}&n=${REPEATS}`, "GET", { host: hostHeader });
    if (answer.status !== 200) {
      say(`  ${kind}: FAILED (status ${answer.status}: ${answer.text.slice(0, 200)})`);
      continue;
    }
    const inFunction = JSON.parse(answer.text) as { decodeMs: number; encodeMs: number; same: boolean };
    const bytes = textBytes(kind);
    let text = "";
    const decodeStart = performance.now();
    for (let i = 0; i < REPEATS; i++) text = new TextDecoder().decode(bytes);
    const encodeStart = performance.now();
    for (let i = 0; i < REPEATS; i++) new TextEncoder().encode(text);
    const bare = { decodeMs: (encodeStart - decodeStart) / REPEATS, encodeMs: (performance.now() - encodeStart) / REPEATS };
    const label = { ascii: "ASCII           ", mixed: "1 % two-byte    ", latin: "all two-byte (é)" }[kind];
    say(
      `  ${label}: decode ${fmt(inFunction.decodeMs).padStart(5)} ms / ${fmt(bare.decodeMs).padStart(5)} ms (${ratio(inFunction.decodeMs, bare.decodeMs)}, target ≤ 10 ms), encode ${fmt(inFunction.encodeMs).padStart(5)} ms / ${fmt(bare.encodeMs).padStart(5)} ms${inFunction.same ? "" : " (ROUND TRIP DIFFERS)"}`,
    );
  }
}

function textBytes(kind: "ascii" | "mixed" | "latin"): Uint8Array {
  const bytes = new Uint8Array(8 * MiB);
  for (let i = 0; i < bytes.length; i++) {
    if (kind === "ascii") bytes[i] = 97 + (i % 26);
    else if (kind === "latin") bytes[i] = i % 2 === 0 ? 0xc3 : 0xa9;
    else bytes[i] = i % 100 === 0 ? 0xc3 : i % 100 === 1 ? 0xa9 : 97 + (i % 26);
  }
  return bytes;
}

/** The CPU figures of the host's log lines for `pass` invocations of `method path`, oldest first. */
function loggedCpuLines(host: HostProcess, method: string, path: string): number[] {
  const pattern = new RegExp(`pass@v\\d+ ${method} ${path}\\S* \\d+ \\w+ [\\d.]+ms \\(cpu ([\\d.]+)ms\\)`, "g");
  return [...host.output().matchAll(pattern)].map((match) => Number(match[1]));
}

/** The CPU of the next `pass` invocation of `method path` after the first `seen` (its log line follows its response). */
async function loggedCpuMs(host: HostProcess, method: string, path: string, seen: number): Promise<number | null> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const lines = loggedCpuLines(host, method, path);
    if (lines.length > seen) return lines[seen]!;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return null;
}

// ---- Baselines -----------------------------------------------------------------

/** better-sqlite3 with the store's pragmas and KV table shape, in this process: gets, and puts one or many per transaction. */
function bareSqlite(file: string): { getsPerSecond: number; putsPerSecond: number; batchedPutsPerSecond: number } {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(`CREATE TABLE kv (namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, metadata TEXT, expiration INTEGER, PRIMARY KEY (namespace, key)) WITHOUT ROWID`);
  const put = db.prepare(`INSERT INTO kv (namespace, key, value) VALUES ('bench', ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value`);
  const read = db.prepare(`SELECT value FROM kv WHERE namespace = 'bench' AND key = ? AND (expiration IS NULL OR expiration > ?)`);
  const value = Buffer.from(KV_VALUE);
  const key = () => `k${Math.floor(Math.random() * KV_KEYS)}`;
  db.transaction(() => {
    for (let i = 0; i < KV_KEYS; i++) put.run(`k${i}`, value);
  })();
  const rate = (run: () => number) => {
    const started = performance.now();
    let ops = 0;
    while (performance.now() - started < 2000) ops += run();
    return ops / ((performance.now() - started) / 1000);
  };
  const getsPerSecond = rate(() => {
    for (let i = 0; i < 1000; i++) read.get(key(), 0);
    return 1000;
  });
  const putsPerSecond = rate(() => {
    put.run(key(), value);
    return 1;
  });
  const batch = db.transaction(() => {
    for (let i = 0; i < OPS_PER_REQUEST; i++) put.run(key(), value);
  });
  const batchedPutsPerSecond = rate(() => {
    batch();
    return OPS_PER_REQUEST;
  });
  db.close();
  return { getsPerSecond, putsPerSecond, batchedPutsPerSecond };
}

/** Node writing `bytes` to a file in 1 MiB writes, then fsync: the floor of any durable put; then reading it back. */
async function bareFileWrite(file: string, bytes: number): Promise<{ writeMBps: number; readMBps: number }> {
  const chunk = randomBytes(MiB);
  const started = performance.now();
  const handle = await open(file, "w");
  for (let at = 0; at < bytes; at += MiB) await handle.write(chunk, 0, Math.min(MiB, bytes - at));
  await handle.sync();
  await handle.close();
  const writeMs = performance.now() - started;
  const readStarted = performance.now();
  const reader = await open(file, "r");
  const buffer = Buffer.alloc(MiB);
  while ((await reader.read(buffer, 0, MiB)).bytesRead > 0);
  await reader.close();
  const readMs = performance.now() - readStarted;
  return { writeMBps: bytes / 1e6 / (writeMs / 1000), readMBps: bytes / 1e6 / (readMs / 1000) };
}

// ---- Formatting ----------------------------------------------------------------

function fmt(value: number, digits = 1): string {
  return value.toFixed(digits);
}

function mb(bytes: number): string {
  return `${(bytes / MiB).toFixed(0)} MiB`;
}

function ratio(atoll: number, bare: number): string {
  return `${(atoll / Math.max(bare, 0.001)).toFixed(2)}x`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
