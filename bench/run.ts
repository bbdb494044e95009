// `npm run bench`: Atoll against workerd (Cloudflare's runtime, when it is
// installed) and bare Hono on @hono/node-server (the ceiling), serving the
// same functions, measured in one run on this machine; then Atoll's cold
// start and memory per warm isolate. Prints figures and ratios; it never
// passes or fails.
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { deployProject, uploadBundle } from "../bundler/deploy.js";
import { bundleProject } from "../bundler/bundle.js";
import { startAtollProcess, type AtollProcess } from "./atoll-process.js";
import { startBareHono } from "./bare-hono.js";
import { rssBytes, type ProcessId } from "./proc.js";
import { median, medianAndSpread, medianBy } from "./stats.js";
import { runRounds, totalCpuUs, warmUp, type LoadSettings, type Sample, type Target } from "./throughput.js";
import { findWorkerd, startWorkerd, type WorkerdLookup } from "./workerd.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HONO_FIXTURE = join(ROOT, "fixtures", "hono-app");
/** A plain fetch handler too: Node's own Response is slow, which flatters Atoll against bare Hono apps that re-wrap responses. */
const HELLO_FIXTURE = join(ROOT, "fixtures", "hello");
const LOAD_PATH = process.env.BENCH_PATH ?? "/users/42/posts/7";
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** One unrecorded run of each target before the rounds, seconds (0: none). */
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 1);
const COLD_STARTS = Number(process.env.BENCH_COLD_STARTS ?? 30);
const WARM_ISOLATES = Number(process.env.BENCH_WARM_ISOLATES ?? 100);
/** What Atoll's whole hello request (front + workers) should cost at most. */
const HELLO_CPU_TARGET_US = 80;

interface BenchFunction {
  name: string;
  fixture: string;
  path: string;
  /** Printed after the atoll/bare-hono ratio. */
  bareRatioTarget?: string;
  /** The issue's target for the server-side cold start p50, ms. */
  coldTargetMs: number;
}

const FUNCTIONS: BenchFunction[] = [
  { name: "hello", fixture: HELLO_FIXTURE, path: "/", coldTargetMs: 2 },
  { name: "hono-app", fixture: HONO_FIXTURE, path: LOAD_PATH, bareRatioTarget: "target ≥ 0.35", coldTargetMs: 5 },
];

const work = mkdtempSync(join(tmpdir(), "atoll-bench-"));
const say = (line: string) => console.log(line);

let atoll: AtollProcess | undefined;
try {
  say(
    `machine: ${cpus().length} cores, node ${process.version}; load: autocannon -c ${CONNECTIONS} -d ${DURATION_S}, ${ROUNDS} round${ROUNDS === 1 ? "" : "s"}, interleaved` +
      `${WARMUP_S > 0 ? ` (after a ${WARMUP_S} s warm-up of each)` : " (no warm-up)"}; atoll: a host in a child process, a worker per core, request log off`,
  );
  const workerd = findWorkerd(ROOT);
  say(workerd.found ? `workerd: ${workerd.version} (${workerd.bin}), one process` : `workerd: ${workerd.reason} (skipped)`);
  atoll = await startAtollProcess(join(work, "data"));

  // 1. Throughput: the same function on workerd, bare @hono/node-server and Atoll.
  for (const fn of FUNCTIONS) await compareThroughput(fn, atoll, workerd);

  // 1b. A static file the front answers (fixtures/static-site's [assets]) against the same site's function.
  if (process.env.BENCH_STATIC !== "0") await staticAssets(atoll);

  // 2. The first request after a deploy (the version preloaded), then true
  // cold starts on a host that does not preload, and 3. memory per warm isolate: Atoll alone.
  await firstAfterDeploy(atoll);
  const coldHost = await startAtollProcess(join(work, "cold-data"), { preload: false });
  try {
    await coldStart(coldHost, FUNCTIONS[1]!);
    await coldStart(coldHost, FUNCTIONS[0]!);
  } finally {
    await coldHost.stop();
  }
  await memoryPerIsolate(atoll);
} finally {
  await atoll?.stop();
  rmSync(work, { recursive: true, force: true });
}

// ---- Throughput -----------------------------------------------------------------

async function compareThroughput(fn: BenchFunction, atoll: AtollProcess, workerd: WorkerdLookup): Promise<void> {
  const deployed = await deployProject(fn.fixture, { controlUrl: atoll.controlUrl, token: atoll.token });
  const stops: (() => Promise<void>)[] = [];
  try {
    const targets: Target[] = [];
    if (workerd.found) {
      const server = await startWorkerd(workerd.bin, fn.fixture, join(work, `workerd-${fn.name}`)).catch((error: unknown) => {
        say(`workerd: could not serve ${fn.name}: ${error instanceof Error ? error.message : String(error)} (skipped)`);
        return undefined;
      });
      if (server) {
        stops.push(server.stop);
        targets.push({ label: "workerd", url: `${server.url}${fn.path}`, headers: {}, processes: () => ({ workerd: server.processes() }) });
      }
    }
    const bare = await startBareHono(ROOT, fn.fixture, work);
    stops.push(bare.stop);
    targets.push({ label: "bare-hono", url: `${bare.url}${fn.path}`, headers: {}, processes: () => ({ node: [bare.process] }) });
    const port = new URL(atoll.dataUrl).port;
    targets.push({
      label: "atoll",
      url: `${atoll.dataUrl}${fn.path}`,
      headers: { host: `${deployed.name}.localhost:${port}` },
      processes: () => ({ front: [atoll.front], workers: atoll.workers() }),
    });

    const settings: LoadSettings = { connections: CONNECTIONS, durationS: DURATION_S };
    await warmUp(targets, { ...settings, durationS: WARMUP_S });
    const samples = await runRounds(targets, ROUNDS, settings);
    reportThroughput(fn, targets, samples);
  } finally {
    for (const stop of stops) await stop();
  }
}

function reportThroughput(fn: BenchFunction, targets: Target[], samples: Sample[][]): void {
  say(`${fn.name}: GET ${fn.path}, ${ROUNDS} × ${DURATION_S} s each (median (min–max) over the rounds; latencies: medians of each round's p50 and p99; CPU: the server's processes, per response)`);
  const byLabel = new Map(targets.map((target, index) => [target.label, samples[index]!]));
  for (const target of targets) say(`  ${target.label.padEnd(9)}  ${targetLine(byLabel.get(target.label)!)}`);
  const atollSamples = byLabel.get("atoll")!;
  for (const baseline of ["workerd", "bare-hono"]) {
    const baselineSamples = byLabel.get(baseline);
    if (!baselineSamples) continue;
    const target = baseline === "bare-hono" && fn.bareRatioTarget ? ` (${fn.bareRatioTarget})` : "";
    say(`  ratio atoll/${baseline}: ${ratioLine(atollSamples, baselineSamples)}${target}`);
  }
  say(`  CPU per ${fn.name} request: ${atollCpuLine(atollSamples)}${fn.name === "hello" ? ` (target ≤ ${HELLO_CPU_TARGET_US} µs)` : ""}`);
  const workerdSamples = byLabel.get("workerd");
  if (workerdSamples) say(`  CPU per ${fn.name} request, workerd: ${medianAndSpread(workerdSamples.map(totalCpuUs), whole, " µs")}`);
}

/** GET /style.css (a static asset, answered by the front) and GET /api/hello (the site's function) on one host, interleaved. */
async function staticAssets(atoll: AtollProcess): Promise<void> {
  await deployProject(join(ROOT, "fixtures", "static-site"), { controlUrl: atoll.controlUrl, token: atoll.token });
  const port = new URL(atoll.dataUrl).port;
  const target = (label: string, path: string): Target => ({
    label,
    url: `${atoll.dataUrl}${path}`,
    headers: { host: `static-site.localhost:${port}` },
    processes: () => ({ front: [atoll.front], workers: atoll.workers() }),
  });
  const targets = [target("asset", "/style.css"), target("function", "/api/hello")];
  const settings: LoadSettings = { connections: CONNECTIONS, durationS: DURATION_S };
  await warmUp(targets, { ...settings, durationS: WARMUP_S });
  const [asset, fn] = await runRounds(targets, ROUNDS, settings);
  say(`static-site: a static file (GET /style.css, from the front) and the site's function (GET /api/hello), ${ROUNDS} × ${DURATION_S} s each`);
  say(`  asset      ${targetLine(asset!)}`);
  say(`  function   ${targetLine(fn!)}`);
  say(`  ratio asset/function: ${ratioLine(asset!, fn!)}`);
}

function targetLine(samples: Sample[]): string {
  const loads = samples.map((sample) => sample.load);
  const errors = loads.reduce((sum, load) => sum + load.errors, 0);
  const non2xx = loads.reduce((sum, load) => sum + load.non2xx, 0);
  return (
    `${medianAndSpread(loads.map((load) => load.requestsPerSecond), whole, " req/s")}, ` +
    `p50 ${median(loads.map((load) => load.p50Ms))} ms, p99 ${median(loads.map((load) => load.p99Ms))} ms, ` +
    `CPU ${medianAndSpread(samples.map(totalCpuUs), whole, " µs/request")}, errors ${errors}, non-2xx ${non2xx}`
  );
}

/** Atoll's figure over another's, round by round (each round's runs are close in time). */
function ratioLine(atoll: Sample[], baseline: Sample[]): string {
  const perRound = (figure: (sample: Sample) => number) => atoll.map((sample, round) => figure(sample) / Math.max(figure(baseline[round]!), 0.001));
  const twoPlaces = (value: number) => value.toFixed(2);
  return (
    `throughput ${medianAndSpread(perRound((sample) => sample.load.requestsPerSecond), twoPlaces, "x")}; ` +
    `p50 ${twoPlaces(median(perRound((sample) => sample.load.p50Ms)))}x, p99 ${twoPlaces(median(perRound((sample) => sample.load.p99Ms)))}x`
  );
}

/** The front and the workers in the median round (so that they add up), then the spread of the total. */
function atollCpuLine(samples: Sample[]): string {
  const middle = medianBy(samples, totalCpuUs)!;
  const totals = samples.map(totalCpuUs);
  const spread = samples.length > 1 ? ` (rounds: ${whole(Math.min(...totals))}–${whole(Math.max(...totals))})` : "";
  return `front ${us(middle.cpuUsPerRequest.front!)} + workers ${us(middle.cpuUsPerRequest.workers!)} = ${us(totalCpuUs(middle))}${spread}`;
}

function us(value: number): string {
  return `${whole(value)} µs`;
}

function whole(value: number): string {
  return value.toFixed(0);
}

// ---- Cold start and memory ----------------------------------------------------------

/** A new version on the default host, then its first request once the preload had time to finish (a deploy, then traffic). */
async function firstAfterDeploy(atoll: AtollProcess): Promise<void> {
  const port = Number(new URL(atoll.dataUrl).port);
  const server: number[] = [];
  let warm = 0;
  for (let i = 0; i < COLD_STARTS; i++) {
    const { name } = await deployNewVersion(atoll, HONO_FIXTURE, `first after deploy ${i}`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the preload runs right after the deploy answers
    const timed = await timedRequest(port, `${name}.localhost:${port}`, LOAD_PATH);
    if (/desc="warm"/.test(timed.serverTiming)) warm++;
    server.push(Number(/dur=([\d.]+)/.exec(timed.serverTiming)?.[1]));
  }
  say(`first request after a deploy (hono-app, preloaded on deploy, n=${COLD_STARTS}): server p50 ${pct(server, 50).toFixed(2)} ms, p99 ${pct(server, 99).toFixed(2)} ms; ${warm} of ${COLD_STARTS} found it preloaded`);
}

/**
 * A new version of the fixture, as a changed bundle would make: an upload
 * equal to the active version makes none, and a bundle the host has a code
 * cache for would not start cold.
 */
async function deployNewVersion(atoll: AtollProcess, fixture: string, message: string): Promise<{ name: string }> {
  const built = await bundleProject(fixture);
  return uploadBundle({ ...built, code: `${built.code}\n// ${message}\n` }, { controlUrl: atoll.controlUrl, token: atoll.token, message });
}

/** On a host that does not preload: a new version, then its first request (client-side and server-side time); then warm requests for comparison. */
async function coldStart(atoll: AtollProcess, fn: BenchFunction): Promise<void> {
  const port = Number(new URL(atoll.dataUrl).port);
  const client: number[] = [];
  const server: number[] = [];
  let name = "";
  for (let i = 0; i < COLD_STARTS; i++) {
    name = (await deployNewVersion(atoll, fn.fixture, `cold start ${i}`)).name;
    await new Promise((resolve) => setTimeout(resolve, 20)); // let the worker boot its next spare, as between real deploys
    const viaHost = await timedRequest(port, `${name}.localhost:${port}`, fn.path);
    client.push(viaHost.clientMs);
    if (!/desc="cold"/.test(viaHost.serverTiming)) throw new Error(`expected a cold start, got ${viaHost.serverTiming}`);
    server.push(Number(/dur=([\d.]+)/.exec(viaHost.serverTiming)?.[1]));
  }
  say(`cold start (new ${fn.name} version, host with preloading off, first request, n=${COLD_STARTS}): server p50 ${pct(server, 50).toFixed(2)} ms, p99 ${pct(server, 99).toFixed(2)} ms; client p50 ${pct(client, 50).toFixed(2)} ms (target server p50 ≤ ${fn.coldTargetMs} ms)`);
  const warm: number[] = [];
  for (let i = 0; i < 30; i++) warm.push(Number(/dur=([\d.]+)/.exec((await timedRequest(port, `${name}.localhost:${port}`, fn.path)).serverTiming)?.[1]));
  say(`warm request, server time p50 ${pct(warm, 50).toFixed(3)} ms (cold/warm ${(pct(server, 50) / pct(warm, 50)).toFixed(1)}x)`);
}

/** RSS of the worker processes before and after warming many small functions. */
async function memoryPerIsolate(atoll: AtollProcess): Promise<void> {
  const port = Number(new URL(atoll.dataUrl).port);
  const helloBundle = `export default { fetch: (r) => new Response("hi " + new URL(r.url).pathname) };`;
  const rssBefore = workerRss(atoll.workers());
  for (let i = 0; i < WARM_ISOLATES; i++) {
    const script = `warm-${i}`;
    await putScript(atoll.controlUrl, atoll.token, script, helloBundle);
    await timedRequest(port, `${script}.localhost:${port}`, "/");
  }
  const warmed = workerRss(atoll.workers());
  for (let i = 0; i < WARM_ISOLATES; i++) await timedRequest(port, `warm-${i}.localhost:${port}`, "/again");
  const rssAfter = workerRss(atoll.workers());
  say(`RSS per warm isolate (small fetch handler, ${WARM_ISOLATES} isolates): ${((warmed - rssBefore) / WARM_ISOLATES / 1024 / 1024).toFixed(2)} MiB (workers ${(rssBefore / 1048576).toFixed(0)} → ${(rssAfter / 1048576).toFixed(0)} MiB)`);
}

async function timedRequest(port: number, hostHeader: string, path: string): Promise<{ clientMs: number; serverTiming: string }> {
  const http = await import("node:http");
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, path, headers: { host: hostHeader }, agent: false }, (response) => {
      response.resume();
      response.on("end", () => resolve({ clientMs: performance.now() - started, serverTiming: String(response.headers["server-timing"] ?? "") }));
    });
    request.on("error", reject);
    request.end();
  });
}

async function putScript(controlUrl: string, token: string, name: string, bundle: string): Promise<void> {
  const response = await fetch(`${controlUrl}/v1/scripts/${name}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ bundle, config: { name, main: "index.js" } }),
  });
  if (response.status !== 201) throw new Error(`upload of ${name}: ${response.status} ${await response.text()}`);
}

function workerRss(workers: ProcessId[]): number {
  return workers.reduce((total, worker) => total + rssBytes(worker), 0);
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
