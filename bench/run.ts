// `npm run bench`: Atoll against bare Hono on @hono/node-server (the ceiling),
// serving the same Hono app, measured in one run on this machine. Prints
// figures and ratios; it never passes or fails.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { parse as parseToml } from "smol-toml";
import { startHost } from "../host/main.js";
import { deployProject } from "../bundler/deploy.js";
import { load, type LoadResult } from "./load.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HONO_FIXTURE = join(ROOT, "fixtures", "hono-app");
const LOAD_PATH = process.env.BENCH_PATH ?? "/users/42/posts/7";
/** A plain fetch handler too: Node's own Response is slow, which flatters Atoll against bare Hono apps that re-wrap responses. */
const HELLO_FIXTURE = join(ROOT, "fixtures", "hello");
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const COLD_STARTS = Number(process.env.BENCH_COLD_STARTS ?? 30);
const WARM_ISOLATES = Number(process.env.BENCH_WARM_ISOLATES ?? 100);


const work = mkdtempSync(join(tmpdir(), "atoll-bench-"));
const figures: string[] = [];
const say = (line: string) => {
  figures.push(line);
  console.log(line);
};

try {
  say(`machine: ${(await import("node:os")).cpus().length} cores, node ${process.version}; load: autocannon -c ${CONNECTIONS} -d ${DURATION_S} GET ${LOAD_PATH}`);

  // 1. The ceiling: the same apps bundled for Node and served by @hono/node-server.
  const bare = await startBareHono(HONO_FIXTURE);
  const bareLoad = await load(`http://127.0.0.1:${bare.port}${LOAD_PATH}`, {}, { connections: CONNECTIONS, durationS: DURATION_S });
  bare.child.kill();
  say(`hono-app, bare @hono/node-server: ${fmtLoad(bareLoad)}`);
  const bareHello = await startBareHono(HELLO_FIXTURE);
  const bareHelloLoad = await load(`http://127.0.0.1:${bareHello.port}/`, {}, { connections: CONNECTIONS, durationS: DURATION_S });
  bareHello.child.kill();
  say(`hello,    bare @hono/node-server: ${fmtLoad(bareHelloLoad)}`);

  // 2. Atoll serving the same app: front + worker processes + isolate.
  const host = await startHost({ dataDir: join(work, "data"), port: 0, hostname: "127.0.0.1", controlPort: 0, log: () => {} });
  try {
    const port = Number(new URL(host.dataUrl).port);
    const deployed = await deployProject(HONO_FIXTURE, { controlUrl: host.controlUrl, token: host.token });
    const name = deployed.name;
    const atollLoad = await load(`http://127.0.0.1:${port}${LOAD_PATH}`, { host: `${name}.localhost:${port}` }, { connections: CONNECTIONS, durationS: DURATION_S });
    say(`hono-app, atoll:                  ${fmtLoad(atollLoad)}`);
    say(`  ratio atoll/bare: throughput ${ratio(atollLoad.requestsPerSecond, bareLoad.requestsPerSecond)} (target ≥ 0.35); p50 ${ratio(atollLoad.p50Ms, bareLoad.p50Ms)}, p99 ${ratio(atollLoad.p99Ms, bareLoad.p99Ms)}`);
    const hello = await deployProject(HELLO_FIXTURE, { controlUrl: host.controlUrl, token: host.token });
    const atollHelloLoad = await load(`http://127.0.0.1:${port}/`, { host: `${hello.name}.localhost:${port}` }, { connections: CONNECTIONS, durationS: DURATION_S });
    say(`hello,    atoll:                  ${fmtLoad(atollHelloLoad)}`);
    say(`  ratio atoll/bare: throughput ${ratio(atollHelloLoad.requestsPerSecond, bareHelloLoad.requestsPerSecond)}; p50 ${ratio(atollHelloLoad.p50Ms, bareHelloLoad.p50Ms)}, p99 ${ratio(atollHelloLoad.p99Ms, bareHelloLoad.p99Ms)}`);

    // 3. Cold start: a new version, then its first request (client-side and server-side time).
    const client: number[] = [];
    const server: number[] = [];
    for (let i = 0; i < COLD_STARTS; i++) {
      await deployProject(HONO_FIXTURE, { controlUrl: host.controlUrl, token: host.token, message: `cold start ${i}` });
      await new Promise((resolve) => setTimeout(resolve, 20)); // let the worker boot its next spare, as between real deploys
      const viaHost = await timedRequest(port, `${name}.localhost:${port}`, LOAD_PATH);
      client.push(viaHost.clientMs);
      if (!/desc="cold"/.test(viaHost.serverTiming)) throw new Error(`expected a cold start, got ${viaHost.serverTiming}`);
      server.push(Number(/dur=([\d.]+)/.exec(viaHost.serverTiming)?.[1]));
    }
    say(`cold start (new version, first request, n=${COLD_STARTS}): server p50 ${pct(server, 50).toFixed(2)} ms, p99 ${pct(server, 99).toFixed(2)} ms; client p50 ${pct(client, 50).toFixed(2)} ms (target p50 < 10 ms)`);
    const warm: number[] = [];
    for (let i = 0; i < 30; i++) warm.push(Number(/dur=([\d.]+)/.exec((await timedRequest(port, `${name}.localhost:${port}`, LOAD_PATH)).serverTiming)?.[1]));
    say(`warm request, server time p50 ${pct(warm, 50).toFixed(3)} ms (cold/warm ${(pct(server, 50) / pct(warm, 50)).toFixed(1)}x)`);

    // 4. Memory: RSS of the worker processes before and after warming many small functions.
    const helloBundle = `export default { fetch: (r) => new Response("hi " + new URL(r.url).pathname) };`;
    const rssBefore = workerRss(host.workerPids());
    for (let i = 0; i < WARM_ISOLATES; i++) {
      const script = `warm-${i}`;
      await putScript(host.controlUrl, host.token, script, helloBundle);
      await timedRequest(port, `${script}.localhost:${port}`, "/");
    }
    const honoBefore = workerRss(host.workerPids());
    for (let i = 0; i < WARM_ISOLATES; i++) await timedRequest(port, `warm-${i}.localhost:${port}`, "/again");
    const rssAfter = workerRss(host.workerPids());
    say(`RSS per warm isolate (small fetch handler, ${WARM_ISOLATES} isolates): ${((honoBefore - rssBefore) / WARM_ISOLATES / 1024 / 1024).toFixed(2)} MiB (workers ${(rssBefore / 1048576).toFixed(0)} → ${(rssAfter / 1048576).toFixed(0)} MiB)`);
  } finally {
    await host.close();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** The fixture bundled for Node and served by @hono/node-server in its own process. */
async function startBareHono(fixture: string): Promise<{ child: ChildProcess; port: number }> {
  const config = parseToml(readFileSync(join(fixture, "atoll.toml"), "utf8")) as { name: string; main: string; vars?: Record<string, unknown> };
  const appFile = join(work, `bare-${config.name}.mjs`);
  await build({ entryPoints: [join(fixture, config.main)], bundle: true, format: "esm", platform: "node", outfile: appFile, logLevel: "warning" });
  const serverFile = join(work, `bare-${config.name}-server.mjs`);
  writeFileSync(
    serverFile,
    `import { serve } from ${JSON.stringify(join(ROOT, "node_modules/@hono/node-server/dist/index.mjs"))};
     import app from ${JSON.stringify(appFile)};
     const env = ${JSON.stringify(config.vars ?? {})}; const s = serve({ fetch: (req) => app.fetch(req, env, { waitUntil() {}, passThroughOnException() {} }), port: 0, hostname: "127.0.0.1" }, (info) => process.send(info.port));`,
  );
  const child = spawn(process.execPath, [serverFile], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const port = await new Promise<number>((resolve) => child.once("message", (port) => resolve(Number(port))));
  return { child, port };
}


function fmtLoad(r: LoadResult): string {
  return `${r.requestsPerSecond.toFixed(0)} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, errors ${r.errors}, non-2xx ${r.non2xx}`;
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

function workerRss(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    total += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  }
  return total;
}

function ratio(atoll: number, bare: number): string {
  return `${(atoll / Math.max(bare, 0.001)).toFixed(2)}x`;
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
