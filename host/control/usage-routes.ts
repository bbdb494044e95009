// The meter of "pay per call": each script's requests, errors, CPU-ms,
// GB-seconds (wall time × memory_mb, as Lambda bills) and bytes, by hour,
// summed from the invocation records as they are written (and kept 400 days,
// whatever the records' own retention). Mounted at /v1/usage by ./app.ts.
//
//   GET /v1/usage?since=7d&until=…&script=NAME
//     → { since, until, scripts: [{ script, requests, errors, cpu_ms, gb_s, bytes_in, bytes_out,
//          fetch_bytes_out, fetch_bytes_in, peak_heap_mb, bytes_stored, objects_stored, kv_reads, kv_writes, kv_lists, bucket_class_a, bucket_class_b, hours: [{ hour, … }] }] }
import { Hono } from "hono";
import { BadRequestError } from "../errors.js";
import { parseSince } from "../observe/filter.js";
import type { Observer } from "../observe/observer.js";
import { sumUsage, type UsageRow } from "../observe/invocation-store.js";
import { scriptName } from "./params.js";

export function usageRoutes({ observer }: { observer: Observer }): Hono {
  const app = new Hono();
  app.get("/", (c) => {
    const { since, until, byScript } = usageByScript(observer, (key) => c.req.query(key));
    const scripts = [...byScript.entries()].map(([name, hours]) => ({
      script: name,
      ...figures(sumUsage(name, hours)),
      hours: hours.map((hour) => ({ hour: new Date(hour.hour).toISOString(), ...figures(hour) })),
    }));
    return c.json({ since: new Date(since).toISOString(), until: new Date(until).toISOString(), scripts });
  });
  return app;
}

/**
 * The hourly usage `query` asks for (`since`, default 7d; `until`, default
 * now; `script`), by script (sorted by name), each script's hours oldest
 * first: what GET /v1/usage and the dashboard's usage charts show.
 */
export function usageByScript(observer: Observer, query: (key: string) => string | undefined, defaultSince = "7d"): { since: number; until: number; byScript: Map<string, UsageRow[]> } {
  const store = observer.store;
  if (!store) throw new BadRequestError("this host keeps no invocation records (started with --no-invocation-records), so it has no usage to show");
  const now = Date.now();
  const since = parseSince(query("since") ?? defaultSince, now);
  const untilText = query("until");
  const until = untilText === undefined ? now : parseSince(untilText, now);
  const script = query("script");
  // Records still waiting for their batch count too.
  observer.flush();
  const rows = store.usage({ since, until, ...(script !== undefined ? { script: scriptName(script) } : {}) });
  const byScript = new Map<string, UsageRow[]>();
  for (const row of [...rows].sort((a, b) => a.script.localeCompare(b.script) || a.hour - b.hour)) {
    let hours = byScript.get(row.script);
    if (!hours) byScript.set(row.script, (hours = []));
    hours.push(row);
  }
  return { since, until, byScript };
}

function figures(row: UsageRow): Record<string, number> {
  return {
    requests: row.requests,
    errors: row.errors,
    cpu_ms: round(row.cpuMs),
    gb_s: round(row.gbSeconds),
    bytes_in: row.bytesIn,
    bytes_out: row.bytesOut,
    fetch_bytes_out: row.fetchBytesOut,
    fetch_bytes_in: row.fetchBytesIn,
    peak_heap_mb: round(row.peakHeapMb),
    bytes_stored: row.bytesStored,
    objects_stored: row.objectsStored,
    kv_reads: row.kvReads,
    kv_writes: row.kvWrites,
    kv_lists: row.kvLists,
    bucket_class_a: row.bucketClassA,
    bucket_class_b: row.bucketClassB,
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
