// The meter of "pay per call": each script's requests, errors, CPU-ms,
// GB-seconds (wall time × memory_mb, as Lambda bills) and bytes, by hour,
// summed from the invocation records as they are written (and kept 400 days,
// whatever the records' own retention). With a price table ([billing] of the
// host config), what each script and hour costs (../observe/billing.ts).
// Mounted at /v1/usage by ./app.ts.
//
//   GET /v1/usage?since=7d&until=…&script=NAME
//     → { since, until, scripts: [{ script, requests, errors, cpu_ms, gb_s, bytes_in, bytes_out,
//          fetch_bytes_out, fetch_bytes_in, peak_heap_mb, bytes_stored, objects_stored, kv_reads, kv_writes, kv_lists, bucket_class_a, bucket_class_b,
//          cost?, hours: [{ hour, …, cost? }] }], total_cost? }
//     cost: { currency, total, requests, cpu, duration, egress, fetch, kv, buckets, storage }, only with [billing]
import { Hono } from "hono";
import type { PriceTable } from "../config/host-config.js";
import { BadRequestError } from "../errors.js";
import { cost, roundedCost, sumCosts, type Cost } from "../observe/billing.js";
import { parseSince } from "../observe/filter.js";
import type { Observer } from "../observe/observer.js";
import { sumUsage, type UsageRow } from "../observe/invocation-store.js";
import { scriptName } from "./params.js";

export function usageRoutes({ observer, billing }: { observer: Observer; billing: PriceTable | null }): Hono {
  const app = new Hono();
  app.get("/", (c) => {
    const { since, until, byScript } = usageByScript(observer, (key) => c.req.query(key));
    const scriptCosts: Cost[] = [];
    const scripts = [...byScript.entries()].map(([name, hours]) => {
      const usage = { script: name, ...figures(sumUsage(name, hours)) };
      const hourOf = (hour: UsageRow) => ({ hour: new Date(hour.hour).toISOString(), ...figures(hour) });
      if (!billing) return { ...usage, hours: hours.map(hourOf) };
      // A period costs the sum of its hours' costs (storage is billed hour by hour).
      const hourCosts = hours.map((hour) => cost(hour, billing));
      const scriptCost = sumCosts(hourCosts);
      scriptCosts.push(scriptCost);
      return { ...usage, cost: costFigures(scriptCost, billing), hours: hours.map((hour, i) => ({ ...hourOf(hour), cost: costFigures(hourCosts[i]!, billing) })) };
    });
    return c.json({
      since: new Date(since).toISOString(),
      until: new Date(until).toISOString(),
      scripts,
      ...(billing ? { total_cost: costFigures(sumCosts(scriptCosts), billing) } : {}),
    });
  });
  return app;
}

/** A cost as the answer carries it: its currency first, rounded (roundedCost). */
function costFigures(value: Cost, billing: PriceTable): { currency: string } & Cost {
  return { currency: billing.currency, ...roundedCost(value) };
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
