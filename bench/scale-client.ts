// What `npm run bench:scale` does to a host from outside: uploads through the
// control API, requests with their server-side time, and the resident memory
// of processes it only knows by pid.
import { request as httpRequest } from "node:http";
import { readFileSync } from "node:fs";

/** The smallest useful function, as bench/run.ts's memory section deploys it. */
export const HELLO_BUNDLE = `export default { fetch: (r) => new Response("hi " + new URL(r.url).pathname) };`;

export interface Timed {
  status: number;
  clientMs: number;
  /** From the host's Server-Timing header: time to the response head. */
  serverMs: number;
  start: "cold" | "warm" | "unknown";
}

export function timedRequest(port: number, hostHeader: string, path: string): Promise<Timed> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: "127.0.0.1", port, path, headers: { host: hostHeader }, agent: false }, (response) => {
      response.resume();
      response.on("end", () => {
        const timing = String(response.headers["server-timing"] ?? "");
        const start = /desc="(cold|warm)"/.exec(timing)?.[1] as "cold" | "warm" | undefined;
        resolve({ status: response.statusCode ?? 0, clientMs: performance.now() - started, serverMs: Number(/dur=([\d.]+)/.exec(timing)?.[1] ?? NaN), start: start ?? "unknown" });
      });
    });
    request.on("error", reject);
    request.end();
  });
}

export async function putScript(control: { controlUrl: string; token: string }, name: string, routes: string[]): Promise<void> {
  const response = await fetch(`${control.controlUrl}/v1/scripts/${name}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${control.token}`, "content-type": "application/json" },
    body: JSON.stringify({ bundle: HELLO_BUNDLE, config: { name, main: "index.js", routes } }),
  });
  if (response.status !== 201) throw new Error(`upload of ${name}: ${response.status} ${await response.text()}`);
}

/** Runs `task(0 … count-1)` with at most `concurrency` at a time; `onDone` after each. */
export async function inParallel(count: number, concurrency: number, task: (index: number) => Promise<void>, onDone: (done: number) => void = () => {}): Promise<void> {
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < count) {
      await task(next++);
      onDone(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

/** VmRSS of each pid summed, bytes (a pid gone in between counts 0). */
export function rssOfPids(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
    } catch {
      // Gone.
    }
  }
  return total;
}

/** Requests each script a few times, so that the workers' own code is warm (as on a host that has been serving). */
export async function warmUp(dataUrl: string, scripts: readonly string[]): Promise<void> {
  const port = Number(new URL(dataUrl).port);
  for (let round = 0; round < 3; round++) {
    for (const name of scripts) {
      const timed = await timedRequest(port, `${name}.localhost:${port}`, "/");
      if (timed.status !== 200) throw new Error(`warm-up request to ${name}: ${timed.status}`);
    }
  }
}

export interface Memory {
  rss: number;
  heapUsed: number;
}

/** The process's memory after a full GC when the GC is exposed (--expose-gc). */
export function processMemory(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
