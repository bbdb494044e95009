// `npm run bench:observe`: what watching functions costs. Three hosts serve
// fixtures/hello under the same load, interleaved round by round: one that
// keeps no invocation records, one that records every invocation, and one
// that records and has a live tail attached (read by this process, as
// `atoll tail` would), and one whose tail samples a tenth. Prints requests/s, CPU per request and the ratios to
// the unrecorded host (targets: ≥ 0.95 each). Never passes or fails.
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { deployProject } from "../bundler/deploy.js";
import { startAtollProcess, type AtollProcess } from "./atoll-process.js";
import { median, medianAndSpread } from "./stats.js";
import { runRounds, totalCpuUs, warmUp, type Target } from "./throughput.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HELLO = join(ROOT, "fixtures", "hello");
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const work = mkdtempSync(join(tmpdir(), "atoll-bench-observe-"));
const say = (line: string) => console.log(line);
const hosts: AtollProcess[] = [];
const tail = new AbortController();
let tailed = 0;

try {
  say(`\nobserve: ${cpus().length} cores, node ${process.version}; fixtures/hello, ${CONNECTIONS} connections, ${DURATION_S} s runs, ${ROUNDS} rounds`);
  const plain = await startAtollProcess(join(work, "plain"), { invocationRecords: false });
  hosts.push(plain);
  const recorded = await startAtollProcess(join(work, "recorded"));
  hosts.push(recorded);
  const watched = await startAtollProcess(join(work, "watched"));
  hosts.push(watched);
  const sampled = await startAtollProcess(join(work, "sampled"));
  hosts.push(sampled);
  for (const host of hosts) await deployProject(HELLO, { controlUrl: host.controlUrl, token: host.token });
  await attachTail(watched, "");
  await attachTail(sampled, "?sample=0.1");
  const target = (label: string, host: AtollProcess): Target => ({
    label,
    url: `${host.dataUrl}/`,
    headers: { host: "hello.localhost" },
    processes: () => ({ front: [host.front], workers: host.workers() }),
  });
  const targets = [target("no records", plain), target("records", recorded), target("records + 1 tail", watched), target("+ tail, sample 0.1", sampled)];
  const settings = { connections: CONNECTIONS, durationS: DURATION_S };
  await warmUp(targets, { ...settings, durationS: 1 });
  const samples = await runRounds(targets, ROUNDS, settings);
  const rates = samples.map((runs) => runs.map((run) => run.load.requestsPerSecond));
  const base = median(rates[0]!);
  for (const [index, t] of targets.entries()) {
    const runs = samples[index]!;
    const ratio = index === 0 ? "" : `  ${medianAndSpread(rates[index]!.map((rate) => rate / base), (v) => v.toFixed(3), "×")} of no records (target ≥ 0.95)`;
    say(
      `  ${t.label.padEnd(18)} ${medianAndSpread(rates[index]!, (v) => v.toFixed(0), " req/s")}, p99 ${median(runs.map((run) => run.load.p99Ms)).toFixed(1)} ms, CPU ${median(runs.map(totalCpuUs)).toFixed(0)} µs/request (front ${median(runs.map((run) => run.cpuUsPerRequest["front"]!)).toFixed(0)}, workers ${median(runs.map((run) => run.cpuUsPerRequest["workers"]!)).toFixed(0)})${ratio}`,
    );
  }
  say(`  the tails received ${tailed} records`);
} finally {
  tail.abort();
  for (const host of hosts) await host.stop();
  rmSync(work, { recursive: true, force: true });
}

/** Reads the host's live tail of hello for the rest of the bench, counting records. */
async function attachTail(host: AtollProcess, query: string): Promise<void> {
  const response = await fetch(`${host.controlUrl}/v1/scripts/hello/logs${query}`, { headers: { authorization: `Bearer ${host.token}` }, signal: tail.signal });
  if (response.status !== 200) throw new Error(`the tail was refused: ${response.status} ${await response.text()}`);
  const reader = response.body!.getReader();
  // Counted in the bytes, not decoded: the figure is the host's cost of a tail, and this process shares its cores.
  const marker = Buffer.from("event: invocation");
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        for (let at = bytes.indexOf(marker); at !== -1; at = bytes.indexOf(marker, at + marker.length)) tailed++;
      }
    } catch {
      // Aborted at the end.
    }
  })();
}
