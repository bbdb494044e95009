// The meter of "pay per call": each script's requests, errors, CPU-ms,
// GB-seconds (wall time × memory_mb, as Lambda bills) and bytes, by hour,
// summed from the invocation records as they are written (and kept 400 days,
// whatever the records' own retention). Mounted at /v1/usage by ./app.ts.
//
//   GET /v1/usage?since=7d&until=…&script=NAME
//     → { since, until, scripts: [{ script, requests, errors, cpu_ms, gb_s, bytes_in, bytes_out,
//          kv_reads, kv_writes, kv_lists, bucket_class_a, bucket_class_b, hours: [{ hour, … }] }] }
import { Hono } from "hono";
import { BadRequestError } from "../errors.js";
import { parseSince } from "../observe/filter.js";
import type { Observer } from "../observe/observer.js";
import type { UsageRow } from "../observe/invocation-store.js";
import { scriptName } from "./params.js";

export function usageRoutes({ observer }: { observer: Observer }): Hono {
  const app = new Hono();
  app.get("/", (c) => {
    const store = observer.store;
    if (!store) throw new BadRequestError("this host keeps no invocation records (started with --no-invocation-records), so it has no usage to show");
    const now = Date.now();
    const since = parseSince(c.req.query("since") ?? "7d", now);
    const until = c.req.query("until") === undefined ? now : parseSince(c.req.query("until")!, now);
    const script = c.req.query("script");
    // Records still waiting for their batch count too.
    observer.flush();
    const rows = store.usage({ since, until, ...(script !== undefined ? { script: scriptName(script) } : {}) });
    const byScript = new Map<string, UsageRow[]>();
    for (const row of rows) byScript.set(row.script, [...(byScript.get(row.script) ?? []), row]);
    const scripts = [...byScript.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, hours]) => ({ script: name, ...figures(sum(hours)), hours: hours.map((hour) => ({ hour: new Date(hour.hour).toISOString(), ...figures(hour) })) }));
    return c.json({ since: new Date(since).toISOString(), until: new Date(until).toISOString(), scripts });
  });
  return app;
}

function sum(rows: UsageRow[]): Omit<UsageRow, "script" | "hour"> {
  const total = { requests: 0, errors: 0, cpuMs: 0, gbSeconds: 0, bytesIn: 0, bytesOut: 0, kvReads: 0, kvWrites: 0, kvLists: 0, bucketClassA: 0, bucketClassB: 0 };
  for (const row of rows) for (const field of Object.keys(total) as (keyof typeof total)[]) total[field] += row[field];
  return total;
}

function figures(row: Omit<UsageRow, "script" | "hour">): Record<string, number> {
  return {
    requests: row.requests,
    errors: row.errors,
    cpu_ms: round(row.cpuMs),
    gb_s: round(row.gbSeconds),
    bytes_in: row.bytesIn,
    bytes_out: row.bytesOut,
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
