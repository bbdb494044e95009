// The throughput rounds of `npm run bench`: several servers of the same
// function under the same load (autocannon, bench/load.ts), one after another
// within a round and round after round, so that drift on the machine hits
// them all alike. Around each run, the CPU time of the server's processes
// (/proc), per response.
import { load, type LoadResult } from "./load.js";
import { cpuMs, type ProcessId } from "./proc.js";

export interface Target {
  label: string;
  /** Where the load goes, path included. */
  url: string;
  headers: Record<string, string>;
  /** The processes that serve the target's requests, by group ("front", "workers", …); read just before each run. */
  processes(): Record<string, ProcessId[]>;
}

export interface LoadSettings {
  connections: number;
  durationS: number;
}

export interface Sample {
  load: LoadResult;
  /** CPU time of each process group over the run, µs per response. */
  cpuUsPerRequest: Record<string, number>;
}

/** One short unrecorded run per target: JIT, caches and the isolate's cold start out of the way. */
export async function warmUp(targets: Target[], settings: LoadSettings): Promise<void> {
  if (settings.durationS <= 0) return;
  for (const target of targets) await load(target.url, target.headers, settings);
}

/** `rounds` runs of each target, interleaved: samples[i] are those of targets[i], in round order. */
export async function runRounds(targets: Target[], rounds: number, settings: LoadSettings): Promise<Sample[][]> {
  const samples: Sample[][] = targets.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [index, target] of targets.entries()) samples[index]!.push(await measure(target, settings));
  }
  return samples;
}

/** Total CPU per response over a sample's groups, µs. */
export function totalCpuUs(sample: Sample): number {
  return Object.values(sample.cpuUsPerRequest).reduce((sum, us) => sum + us, 0);
}

/** One run of `target` under `settings`, with its processes' CPU per response. */
export async function measure(target: Target, settings: LoadSettings): Promise<Sample> {
  const groups = Object.entries(target.processes());
  const before = groups.map(([, processes]) => processes.map(cpuMs));
  const result = await load(target.url, target.headers, settings);
  const cpuUsPerRequest: Record<string, number> = {};
  groups.forEach(([group, processes], index) => {
    const usedMs = processes.reduce((sum, process, i) => sum + cpuDeltaMs(before[index]![i], cpuMs(process)), 0);
    cpuUsPerRequest[group] = result.requests > 0 ? (usedMs * 1000) / result.requests : NaN;
  });
  return { load: result, cpuUsPerRequest };
}

/** CPU used between two readings; 0 for a process that was not there at one of them. */
function cpuDeltaMs(before: number | undefined, after: number | undefined): number {
  return before === undefined || after === undefined ? 0 : after - before;
}
