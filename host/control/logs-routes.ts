// Control API routes for what a script's invocations did: a live tail as
// server-sent events, and the stored records. Mounted under /v1/scripts by ./app.ts.
//
//   GET /v1/scripts/:name/logs?status=5xx,404&outcome=exception&method=POST&trigger=http&search=text&sample=0.1
//     text/event-stream: `event: ready`, then `event: invocation` (data: a record as JSON) for each
//     invocation that matches, as it ends; a `: ping` comment every 15 s.
//   GET /v1/scripts/:name/invocations?since=1h&until=…&(the filters above)&limit=100&before=<seq>
//     → { name, invocations: [records, newest first], next_before }
import { Hono } from "hono";
import type { ServerResponse } from "node:http";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { BadRequestError, NotFoundError } from "../errors.js";
import type { Deployments } from "../front/deployments.js";
import { parseFilter, parseSampleRate, parseSince } from "../observe/filter.js";
import type { Observer } from "../observe/observer.js";
import type { InvocationStore, StoredRecord } from "../observe/invocation-store.js";
import type { InvocationRecord } from "../observe/records.js";
import { scriptName, versionNumber } from "./params.js";

export interface LogsRoutesOptions {
  deployments: Deployments;
  observer: Observer;
  /** Null: records are not kept (only live tails). */
  store: InvocationStore | null;
  log(line: string): void;
}

/** A tail whose client has not taken this much is dropped: it never holds up functions or the host's memory. */
export const MAX_TAIL_BUFFER_BYTES = 4 * 1024 * 1024;
const PING_MS = 15_000;
/**
 * A tail's records go out together: a record waits this long for others, ms
 * (one write per record cost a busy host more than the records themselves).
 */
const TAIL_FLUSH_MS = 10;
/**
 * …and a tail writes at most once in this long, ms. A write costs the front
 * ~0.3 ms of CPU on the dev VM whatever it holds (the kernel's loopback and
 * the reader's wake-up, more than the bytes), so that a busy tail written
 * every 10 ms cost ~5 µs per record, and every 50 ms ~1 µs. A quiet tail's
 * record still goes out 10 ms after its invocation; a busy tail's within
 * 50 ms, inside "shown within 100 ms".
 */
const TAIL_WRITE_INTERVAL_MS = 50;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

export function logsRoutes({ deployments, observer, store, log }: LogsRoutesOptions): Hono {
  const app = new Hono();

  const existing = (raw: string | undefined): string => {
    const name = scriptName(raw ?? "");
    if (!deployments.get(name)) throw new NotFoundError(`script "${name}"`);
    return name;
  };

  app.get("/:name/logs", (c) => {
    const name = existing(c.req.param("name"));
    // Written straight to Node's response: web streams per event cost more than the records' JSON,
    // and its buffered bytes tell when the client stopped reading.
    return streamTail({ observer, log }, name, (key) => c.req.query(key), (c.env as { outgoing: ServerResponse }).outgoing);
  });

  app.get("/:name/invocations", (c) => {
    const name = existing(c.req.param("name"));
    const { records, limit } = queryInvocations({ observer, store }, name, (key) => c.req.query(key));
    return c.json({ name, invocations: records.map(recordJson), next_before: records.length === limit ? records[records.length - 1]!.seq : null });
  });

  return app;
}

/**
 * Answers with a live tail of `name` as server-sent events, on Node's
 * response itself, with the filters and sample rate of `query` (BadRequestError
 * before anything is written when one is bad): `event: ready`, then
 * `event: invocation` per matching record, a ping every 15 s; a client that
 * stops reading is dropped. The control API's `…/logs` and the dashboard's
 * live tail both answer with it.
 */
export function streamTail(
  { observer, log }: Pick<LogsRoutesOptions, "observer" | "log">,
  name: string,
  query: (key: string) => string | undefined,
  outgoing: ServerResponse,
): typeof RESPONSE_ALREADY_SENT {
  const filter = parseFilter(query);
  const sample = parseSampleRate(query("sample"));
  outgoing.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" });
  outgoing.write(`event: ready\ndata: ${JSON.stringify({ name, sample })}\n\n`);
  const tail = new TailStream(outgoing, () => log(`tail of ${name} dropped: its client took no events while ${MAX_TAIL_BUFFER_BYTES} bytes of them waited`));
  const unsubscribe = observer.subscribe({ script: name, filter, sample, send: (record) => tail.send(record) });
  const ping = setInterval(() => tail.ping(), PING_MS);
  outgoing.once("close", () => {
    clearInterval(ping);
    unsubscribe();
  });
  return RESPONSE_ALREADY_SENT;
}

/**
 * The stored records of `name` that `query` asks for (since, until, before,
 * limit and the filters), newest first, with the limit applied; what
 * `…/invocations` and the dashboard's search read. BadRequestError for a bad
 * parameter, or when the host keeps no records.
 */
export function queryInvocations(
  { observer, store }: Pick<LogsRoutesOptions, "observer" | "store">,
  name: string,
  query: (key: string) => string | undefined,
): { records: StoredRecord[]; limit: number } {
  if (!store) throw new BadRequestError("this host keeps no invocation records (started with --no-invocation-records): use `atoll tail` for live ones");
  const filter = parseFilter(query);
  const since = query("since");
  const until = query("until");
  const before = query("before");
  const limitText = query("limit");
  const limit = limitText === undefined ? DEFAULT_PAGE : versionNumber(limitText, "`limit`");
  if (limit > MAX_PAGE) throw new BadRequestError(`\`limit\` must be at most ${MAX_PAGE}, got ${limit}`);
  // Records still waiting for their batch are written first: a query sees every invocation that is over.
  observer.flush();
  const records = store.query({
    script: name,
    filter,
    limit,
    ...(since !== undefined ? { since: parseSince(since) } : {}),
    ...(until !== undefined ? { until: parseSince(until) } : {}),
    ...(before !== undefined ? { before: versionNumber(before, "`before`") } : {}),
  });
  return { records, limit };
}

/** A record as the API shows it (snake_case, ISO times). */
export function recordJson(record: InvocationRecord | StoredRecord): Record<string, unknown> {
  return {
    ...("seq" in record ? { seq: record.seq } : { id: record.id }),
    time: new Date(record.time).toISOString(),
    script: record.script,
    version: record.version,
    trigger: record.trigger,
    method: record.method,
    path: record.path,
    event: record.event,
    status: record.status,
    outcome: record.outcome,
    wall_ms: record.wallMs,
    cpu_ms: record.cpuMs,
    subrequests: record.subrequests,
    memory_mb: record.memoryMb,
    bytes_in: record.bytesIn,
    bytes_out: record.bytesOut,
    fetch_bytes_out: record.fetchBytesOut,
    fetch_bytes_in: record.fetchBytesIn,
    heap_mb: record.heapMb,
    error: record.error,
    logs: record.logs.map((line) => ({ level: line.level, message: line.message, time: new Date(line.time).toISOString() })),
    dropped_logs: record.droppedLogs,
  };
}

/**
 * recordJson(record) as JSON text, written out by hand: a tail sends one per
 * invocation, and building the object to stringify it cost more than the rest
 * of the tail (a test checks both give the same JSON).
 */
/** The last time formatted, and its text: records come many to a millisecond under load. */
let lastTime = NaN;
let lastIso = "";
function isoTime(time: number): string {
  if (time !== lastTime) [lastTime, lastIso] = [time, new Date(time).toISOString()];
  return lastIso;
}

export function recordLine(record: InvocationRecord): string {
  const text = (value: string | null) => (value === null ? "null" : JSON.stringify(value));
  const number = (value: number | null) => (value === null ? "null" : String(value));
  let logs = "";
  for (const line of record.logs) {
    logs += `${logs === "" ? "" : ","}{"level":"${line.level}","message":${JSON.stringify(line.message)},"time":"${new Date(line.time).toISOString()}"}`;
  }
  return (
    `{"id":${record.id},"time":"${isoTime(record.time)}","script":"${record.script}","version":${record.version},"trigger":"${record.trigger}",` +
    `"method":${text(record.method)},"path":${text(record.path)},"event":${text(record.event)},"status":${number(record.status)},"outcome":"${record.outcome}",` +
    `"wall_ms":${record.wallMs},"cpu_ms":${number(record.cpuMs)},"subrequests":${number(record.subrequests)},"memory_mb":${number(record.memoryMb)},"bytes_in":${number(record.bytesIn)},"bytes_out":${number(record.bytesOut)},` +
    `"fetch_bytes_out":${number(record.fetchBytesOut)},"fetch_bytes_in":${number(record.fetchBytesIn)},"heap_mb":${number(record.heapMb)},` +
    `"error":${text(record.error)},"logs":[${logs}],"dropped_logs":${record.droppedLogs}}`
  );
}

/** One tail's events on their way to its client, many in one write (TAIL_FLUSH_MS, TAIL_WRITE_INTERVAL_MS); too far behind, it is dropped. */
class TailStream {
  private queue: string[] = [];
  private scheduled = false;
  private over = false;
  /** When the last write went out (performance.now()). */
  private lastWrite = -Infinity;

  constructor(
    private readonly outgoing: ServerResponse,
    private readonly onDropped: () => void,
  ) {
    outgoing.once("close", () => (this.over = true));
  }

  send(record: InvocationRecord): void {
    if (this.over) return;
    this.queue.push(recordLine(record));
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = Math.max(TAIL_FLUSH_MS, this.lastWrite + TAIL_WRITE_INTERVAL_MS - performance.now());
    setTimeout(() => this.flush(), wait).unref();
  }

  ping(): void {
    if (!this.over) this.outgoing.write(": ping\n\n");
  }

  private flush(): void {
    this.scheduled = false;
    if (this.over) return;
    let text = "";
    // JSON never holds a raw newline, so each record is one `data:` line.
    for (const data of this.queue) text += `event: invocation\ndata: ${data}\n\n`;
    this.queue = [];
    this.lastWrite = performance.now();
    this.outgoing.write(text);
    if (this.outgoing.writableLength > MAX_TAIL_BUFFER_BYTES) {
      this.over = true;
      this.onDropped();
      this.outgoing.destroy();
    }
  }
}
