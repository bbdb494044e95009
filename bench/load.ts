// One load run with autocannon (in a child process, so it does not share the
// event loop with the host under test): requests per second and latencies.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface LoadResult {
  requestsPerSecond: number;
  /** Responses received over the whole run. */
  requests: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

export async function load(url: string, headers: Record<string, string>, { connections, durationS }: { connections: number; durationS: number }): Promise<LoadResult> {
  const args = [join(ROOT, "node_modules/autocannon/autocannon.js"), "-c", String(connections), "-d", String(durationS), "-j", "-w", "2"];
  for (const [name, value] of Object.entries(headers)) args.push("-H", `${name}=${value}`);
  args.push(url);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk));
  await new Promise((resolve) => child.once("exit", resolve));
  const result = JSON.parse(out) as { requests: { average: number; total: number }; latency: { p50: number; p99: number }; errors: number; non2xx: number };
  return { requestsPerSecond: result.requests.average, requests: result.requests.total, p50Ms: result.latency.p50, p99Ms: result.latency.p99, errors: result.errors, non2xx: result.non2xx };
}
