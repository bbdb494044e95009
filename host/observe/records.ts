// What Atoll keeps of every invocation (HTTP request, cron tick, bucket event,
// direct invocation): the record a tail shows live and `atoll logs` reads back.
import type { LogLevel } from "../runtime/protocol.js";

/** What started an invocation. */
export type Trigger = "http" | "cron" | "storage" | "invoke";

/**
 * How it ended: ran to its end (`ok`, whatever the status), threw
 * (`exception`), was ended by a limit (`cpu`, `memory`, `wall`), lost with its
 * worker (`crashed`), or never ran its code (`rejected`: a body too large, a
 * loop, a quarantined version, no worker).
 */
export type Outcome = "ok" | "exception" | "cpu" | "memory" | "wall" | "crashed" | "rejected";

export const OUTCOMES: readonly Outcome[] = ["ok", "exception", "cpu", "memory", "wall", "crashed", "rejected"];
export const TRIGGERS: readonly Trigger[] = ["http", "cron", "storage", "invoke"];

export interface RecordedLogLine {
  level: LogLevel;
  message: string;
  /** ms since the epoch. */
  time: number;
}

export interface InvocationRecord {
  /** Increases with every record of this host (not across restarts: `time` orders those). */
  id: number;
  /** When it started, ms since the epoch. */
  time: number;
  script: string;
  version: number;
  trigger: Trigger;
  /** HTTP: the method and path (with the query); null for events. */
  method: string | null;
  path: string | null;
  /** Events: the cron expression, `put uploads/a.png`; null for HTTP. */
  event: string | null;
  /** The HTTP status sent (null for events). */
  status: number | null;
  outcome: Outcome;
  /** Start to end (the response's last byte, or the event's end), ms. */
  wallMs: number;
  /** CPU charged; null when it did not run to its end. */
  cpuMs: number | null;
  /** Outbound fetches and service calls it made; null as cpuMs. */
  subrequests: number | null;
  /** The version's memory_mb: what GB-seconds are billed by (wall time × memory, as Lambda does). */
  memoryMb: number | null;
  /** Request body bytes read in, response bytes sent out (HTTP). */
  bytesIn: number | null;
  bytesOut: number | null;
  /** Bytes its outbound fetches and service calls sent in request bodies and received in response bodies; null as cpuMs. */
  fetchBytesOut: number | null;
  fetchBytesIn: number | null;
  /**
   * The isolate's memory in use when the invocation ended (V8 heap, external
   * and WebAssembly memory), MiB: measured at its end, or, after an
   * invocation that ran under 1 ms of CPU, at most a second or eight
   * invocations before (a measurement costs 4 µs); null as cpuMs.
   */
  heapMb: number | null;
  /** Why it failed: an ATOLL_* code and its message. */
  error: string | null;
  logs: RecordedLogLine[];
  /** Console lines past what is kept of one invocation. */
  droppedLogs: number;
}

/** A record before the observer numbers it. */
export type NewInvocationRecord = Omit<InvocationRecord, "id">;
