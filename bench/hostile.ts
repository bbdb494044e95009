// `npm run bench:hostile`: every hostile fixture against a real host, while a
// well-behaved function serves a steady stream of requests. For each case it
// prints what answered (status, error code), how long after its limit the
// host stopped it, the peak RSS of the front and workers during the case,
// and whether the well-behaved function answered every request meanwhile.
// Figures, never assertions: the tests assert the behaviour.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, fetch as undiciFetch } from "undici";
import { bundleProject } from "../bundler/bundle.js";
import { startHost } from "../host/main.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const agent = new Agent({
  connect: {
    lookup: (_hostname, options, callback) =>
      (options as { all?: boolean }).all ? (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: "127.0.0.1", family: 4 }]) : callback(null, "127.0.0.1", 4),
  },
});

const work = mkdtempSync(join(tmpdir(), "atoll-hostile-"));
// A redirect target on an allowed address (127.0.0.2) that points at loopback.
const redirector = createServer((request, response) => {
  if (request.url === "/ok") response.end("ok");
  else response.writeHead(302, { location: `http://127.0.0.1:${port()}/` }).end();
});
await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.2", resolve));
const redirectUrl = `http://127.0.0.2:${(redirector.address() as AddressInfo).port}/`;
const host = await startHost({
  dataDir: join(work, "data"),
  port: 0,
  hostname: "127.0.0.1",
  controlPort: 0,
  workers: 2,
  log: () => {},
  headersTimeoutMs: 1000,
  egress: { allow: ["127.0.0.2"] },
});
function port(): number {
  return Number(new URL(host.dataUrl).port);
}

async function deployFixture(dir: string): Promise<void> {
  const { config, code } = await bundleProject(join(ROOT, "fixtures", dir));
  const response = await fetch(`${host.controlUrl}/v1/scripts/${config.name}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${host.token}`, "content-type": "application/json" },
    body: JSON.stringify({ config, bundle: code }),
  });
  if (response.status !== 201) throw new Error(`deploy of ${dir}: ${response.status} ${await response.text()}`);
}

async function deployInline(name: string, bundle: string, limits: Record<string, number> = {}): Promise<void> {
  const response = await fetch(`${host.controlUrl}/v1/scripts/${name}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${host.token}`, "content-type": "application/json" },
    body: JSON.stringify({ config: { name, main: "x.ts", limits }, bundle }),
  });
  if (response.status !== 201) throw new Error(`deploy of ${name}: ${response.status} ${await response.text()}`);
}

function request(hostName: string, path: string, init: Record<string, unknown> = {}): Promise<Response> {
  return undiciFetch(`http://${hostName}:${port()}${path}`, { ...init, dispatcher: agent } as never) as unknown as Promise<Response>;
}

/** Resident set of the front and its workers, bytes. */
function rssBytes(): number {
  let total = 0;
  for (const pid of [process.pid, ...host.workerPids()]) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      total += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    } catch {
      // The worker died between listing and reading.
    }
  }
  return total;
}

interface Case {
  name: string;
  run(): Promise<string>;
  /** The limit in ms the "how fast" column is measured from, when time is the limit. */
  limitMs?: number;
}

const rows: string[] = [];
async function measure(entry: Case): Promise<void> {
  let peak = rssBytes();
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes())), 20);
  const statuses: number[] = [];
  const failures = new Set<string>();
  let steady = true;
  const traffic = (async () => {
    while (steady) {
      try {
        const response = await request("hello.localhost", "/");
        await response.arrayBuffer();
        statuses.push(response.status);
        if (response.status !== 200) failures.add(`${response.status} ${response.headers.get("x-atoll-error") ?? ""}`.trim());
      } catch {
        statuses.push(0);
      }
    }
  })();
  const started = performance.now();
  let outcome: string;
  try {
    outcome = await entry.run();
  } catch (error) {
    outcome = `client error: ${(error as Error).message}`;
  }
  const elapsed = performance.now() - started;
  steady = false;
  await traffic;
  clearInterval(sampler);
  const fast = entry.limitMs === undefined ? `${elapsed.toFixed(0)} ms` : `${(elapsed - entry.limitMs).toFixed(0)} ms after the limit`;
  const others = statuses.every((status) => status === 200)
    ? `all ${statuses.length} answered`
    : `${statuses.filter((s) => s !== 200).length} of ${statuses.length} failed (${[...failures].join(", ")})`;
  const row = `| ${entry.name} | ${outcome} | ${fast} | ${(peak / 1024 / 1024).toFixed(0)} MiB | ${others} |`;
  rows.push(row);
  console.log(row);
}

async function status(hostName: string, path: string, init: Record<string, unknown> = {}): Promise<string> {
  const response = await request(hostName, path, init);
  await response.arrayBuffer().catch(() => {});
  const code = response.headers.get("x-atoll-error");
  const termination = response.headers.get("x-atoll-termination");
  return `${response.status}${code ? ` ${code}` : ""}${termination ? ` (${termination})` : ""}`;
}

async function probe(url: string): Promise<string> {
  const response = await request("probe.localhost", `/?url=${encodeURIComponent(url)}`);
  const answer = (await response.json()) as { ok: boolean; message?: string };
  return answer.ok ? "fetched (not refused!)" : `refused: ${/is (a|an|the) ([^;]*);/.exec(answer.message ?? "")?.[2] ?? answer.message}`;
}

try {
  for (const dir of ["hello", "hostile/cpu-hog", "hostile/slow", "hostile/flood", "hostile/memory-hog", "hostile/escape"]) await deployFixture(dir);
  // Reading 100 MiB through the bridge takes more CPU than the default 50 ms: this case is about the body limit.
  await deployInline("reader", `export default { async fetch(request) { return new Response("read " + (await request.arrayBuffer()).byteLength); } };`, { cpu_ms: 5000 });
  await deployInline(
    "probe",
    `export default { async fetch(request) { try { await fetch(new URL(request.url).searchParams.get("url")); return Response.json({ ok: true }); } catch (error) { return Response.json({ ok: false, message: error.message }); } } };`,
  );
  console.log(`machine: ${(await import("node:os")).cpus().length} cores, node ${process.version}; 2 workers; a well-behaved function (hello) under steady load during each case\n`);
  console.log("| case | answer | how fast | peak RSS, front + 2 workers | hello meanwhile |");
  console.log("|---|---|---|---|---|");
  const cases: Case[] = [
    { name: "cpu-hog `/sync` (`for(;;){}`)", limitMs: 50, run: () => status("hostile-cpu-hog.localhost", "/sync") },
    { name: "cpu-hog `/after-microtask`", limitMs: 50, run: () => status("hostile-cpu-hog.localhost", "/after-microtask") },
    { name: "cpu-hog `/after-timer`", limitMs: 50, run: () => status("hostile-cpu-hog.localhost", "/after-timer") },
    { name: "flood `/timers` (a million setTimeouts)", limitMs: 50, run: () => status("hostile-flood.localhost", "/timers") },
    { name: "flood `/microtasks`", limitMs: 50, run: () => status("hostile-flood.localhost", "/microtasks") },
    { name: "flood `/redos`", limitMs: 50, run: () => status("hostile-flood.localhost", "/redos") },
    { name: "flood `/after-fetch`", limitMs: 50, run: () => status("hostile-flood.localhost", `/after-fetch?url=${encodeURIComponent(`${redirectUrl}ok`)}`) },
    { name: "flood `/logs` (2 MB of console.log)", run: () => status("hostile-flood.localhost", "/logs") },
    { name: "slow `/hang` (wall_ms 300)", limitMs: 300, run: () => status("hostile-slow.localhost", "/hang") },
    { name: "slow `/endless-body` (wall_ms 300)", limitMs: 300, run: () => status("hostile-slow.localhost", "/endless-body").catch(() => "200, body cut") },
    { name: "memory-hog `/array` (memory_mb 32)", run: () => status("hostile-memory-hog.localhost", "/array") },
    { name: "memory-hog `/string`", run: () => status("hostile-memory-hog.localhost", "/string") },
    { name: "memory-hog `/map`", run: () => status("hostile-memory-hog.localhost", "/map") },
    { name: "memory-hog `/typed-arrays`", run: () => status("hostile-memory-hog.localhost", "/typed-arrays") },
    { name: "memory-hog `/split` (fatal in V8)", run: () => status("hostile-memory-hog.localhost", "/split") },
    { name: "memory-hog `/wasm-grow` (`memory.grow` until -1, every page touched)", run: () => status("hostile-memory-hog.localhost", "/wasm-grow") },
    { name: "memory-hog `/wasm-instances` (instance after instance, each grown and touched)", run: () => status("hostile-memory-hog.localhost", "/wasm-instances") },
    { name: "escape (globals, prototypes, constructor.constructor, prepareStackTrace)", run: () => status("hostile-escape.localhost", "/") },
    {
      name: "10,000 request headers",
      run: () => {
        const headers: Record<string, string> = {};
        for (let i = 0; i < 10_000; i++) headers[`x-h${i}`] = "v";
        return status("hello.localhost", "/", { headers });
      },
    },
    {
      name: "1 GiB chunked request body (limit 100 MiB)",
      run: async () => {
        const piece = new Uint8Array(1024 * 1024);
        let sent = 0;
        const body = new ReadableStream({
          pull(controller) {
            if (sent++ < 1024) controller.enqueue(piece);
            else controller.close();
          },
        });
        const answer = await status("reader.localhost", "/", { method: "POST", body, duplex: "half" }).catch((error: Error) => `connection closed (${error.message})`);
        return `${answer} after ${sent} MiB sent`;
      },
    },
    {
      name: "200 slow-loris clients (headersTimeoutMs 1000)",
      limitMs: 1000,
      run: async () => {
        const closed = await Promise.all(
          Array.from(
            { length: 200 },
            () =>
              new Promise<string>((resolve) => {
                const socket = connect(port(), "127.0.0.1", () => socket.write("GET / HTTP/1.1\r\nHost: hello.localhost\r\nX-Slow: "));
                const timer = setInterval(() => socket.writable && socket.write("a"), 100);
                let first = "";
                socket.on("data", (data) => (first ||= data.toString("latin1").split("\r\n")[0]!));
                socket.on("close", () => {
                  clearInterval(timer);
                  resolve(first);
                });
                socket.on("error", () => {});
              }),
          ),
        );
        return `${closed.filter((line) => line.includes("408")).length} × 408, all closed`;
      },
    },
    { name: "fetch http://127.0.0.1/", run: () => probe(`http://127.0.0.1:${port()}/`) },
    { name: "fetch http://169.254.169.254/latest/meta-data/", run: () => probe("http://169.254.169.254/latest/meta-data/") },
    { name: "fetch http://localhost/ (DNS → loopback)", run: () => probe(`http://localhost:${port()}/`) },
    { name: "fetch a redirect to 127.0.0.1", run: () => probe(redirectUrl) },
  ];
  for (const entry of cases) await measure(entry);
} finally {
  await host.close();
  redirector.close();
  rmSync(work, { recursive: true, force: true });
}
