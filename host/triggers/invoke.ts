// Runs one invocation of any kind (an HTTP request, a cron tick, a bucket
// change) against a version and reports how it went, with its log lines:
// what a direct invocation answers and what the event dispatcher decides on.
import { InvocationRecorder, type Executor, type InvocationLogLine } from "../executor/executor.js";
import type { VersionKey } from "../executor/ipc.js";
import type { FetchEvent, HeaderList, TriggerEvent } from "../runtime/protocol.js";
import type { QueuedInvocation } from "../store/queue.js";
import type { Observer } from "../observe/observer.js";
import type { NewInvocationRecord, Outcome, Trigger } from "../observe/records.js";
import { describeFailure, failureText, outcomeOfCode } from "../observe/outcome.js";

/** What an invocation ended with. */
export interface InvocationResult {
  ok: boolean;
  /** The version that ran. */
  version: number;
  durationMs: number;
  /** CPU time charged to the invocation, ms; null when it did not run to its end (its worker died, it never started). */
  cpuMs: number | null;
  /** Outbound fetches it made; null as cpuMs. */
  subrequests: number | null;
  /** Bytes its fetches sent and received, and its isolate's memory at its end, MiB; null as cpuMs. */
  fetchBytesOut: number | null;
  fetchBytesIn: number | null;
  heapMb: number | null;
  cold: boolean;
  /** The handler called noRetry(): a failure is final. */
  noRetry: boolean;
  /** Why it failed: an ATOLL_* code and a message (with the function's stack when it threw). */
  error: { code: string; message: string; stack?: string } | null;
  /** An HTTP invocation's response; the body read up to `maxResponseBytes`. */
  response: { status: number; statusText: string; headers: HeaderList; body: Uint8Array; truncated: boolean } | null;
  logs: InvocationLogLine[];
  /** Log lines past the recorder's limit, not kept. */
  droppedLogs: number;
}

export interface InvokeOptions {
  /** Storage-trigger chain depth of a storage event (what writes it makes carry on). */
  chain?: number;
  /** The response body beyond this is not kept (HTTP), bytes. */
  maxResponseBytes?: number;
  /** Whether an HTTP response with a 5xx status counts as a failure (queued events: yes). */
  failOnServerError?: boolean;
  /** Where the invocation's record goes, and what started it. */
  observer?: Observer;
  trigger?: Trigger;
  /** The version's memory_mb, for the record's GB-seconds. */
  memoryMb?: number;
}

/** Default cap of a response body kept for a direct invocation (1 MiB). */
export const MAX_INVOKE_RESPONSE_BYTES = 1024 * 1024;

/** Runs `invocation` against `key`; never rejects for the function's failures. */
export async function invoke(executor: Executor, key: VersionKey, invocation: QueuedInvocation, options: InvokeOptions = {}): Promise<InvocationResult> {
  const startedAt = Date.now();
  const result = await run(executor, key, invocation, options);
  options.observer?.record(recordOf(key, invocation, result, startedAt, options.memoryMb ?? null, options.trigger ?? (invocation.kind === "scheduled" ? "cron" : invocation.kind === "storage" ? "storage" : "invoke")));
  return result;
}

function recordOf(key: VersionKey, invocation: QueuedInvocation, result: InvocationResult, time: number, memoryMb: number | null, trigger: Trigger): NewInvocationRecord {
  const failure = result.error;
  const outcome: Outcome = failure ? outcomeOfCode(failure.code) : "ok";
  return {
    time,
    script: key.script,
    version: result.version,
    trigger,
    method: invocation.kind === "http" ? invocation.method : null,
    path: invocation.kind === "http" ? invocation.path : null,
    event: invocation.kind === "scheduled" ? invocation.cron : invocation.kind === "storage" ? `${invocation.action} ${invocation.bucket}/${invocation.key}` : null,
    status: result.response?.status ?? null,
    outcome,
    wallMs: result.durationMs,
    cpuMs: result.cpuMs,
    subrequests: result.subrequests,
    memoryMb,
    fetchBytesOut: result.fetchBytesOut,
    fetchBytesIn: result.fetchBytesIn,
    heapMb: result.heapMb,
    bytesIn: invocation.kind === "http" ? (invocation.body === null ? 0 : Buffer.byteLength(invocation.body, "base64")) : null,
    bytesOut: result.response ? result.response.body.byteLength : null,
    error: failure && failure.code !== "ATOLL_SERVER_ERROR" ? failureText(failure) : null,
    logs: result.logs,
    droppedLogs: result.droppedLogs,
  };
}

async function run(executor: Executor, key: VersionKey, invocation: QueuedInvocation, options: InvokeOptions): Promise<InvocationResult> {
  const recorder = new InvocationRecorder();
  const started = performance.now();
  const result = (partial: Partial<InvocationResult> & Pick<InvocationResult, "ok">): InvocationResult => ({
    version: key.version,
    durationMs: Math.round((performance.now() - started) * 100) / 100,
    cold: false,
    noRetry: false,
    error: null,
    response: null,
    cpuMs: recorder.cpuMs,
    subrequests: recorder.subrequests,
    fetchBytesOut: recorder.fetchBytesOut,
    fetchBytesIn: recorder.fetchBytesIn,
    heapMb: recorder.heapMb,
    logs: recorder.logs,
    droppedLogs: recorder.dropped,
    ...partial,
  });

  if (invocation.kind === "http") {
    const event: FetchEvent = {
      type: "fetch",
      method: invocation.method,
      url: `http://${key.script}.localhost${invocation.path}`,
      headers: invocation.headers,
      body: invocation.body === null ? null : new Uint8Array(Buffer.from(invocation.body, "base64")),
    };
    try {
      const response = await executor.fetch(key, event, null, undefined, 0, recorder);
      const { body, truncated } = await readBody(response.body, options.maxResponseBytes ?? MAX_INVOKE_RESPONSE_BYTES);
      await recorder.over;
      const failed = options.failOnServerError === true && response.status >= 500;
      return result({
        ok: !failed,
        cold: response.cold,
        response: { status: response.status, statusText: response.statusText, headers: response.headers, body, truncated },
        error: failed ? { code: "ATOLL_SERVER_ERROR", message: `the function answered ${response.status}` } : null,
      });
    } catch (error) {
      await recorder.over;
      return result({ ok: false, error: describeFailure(error) });
    }
  }

  const event: TriggerEvent =
    invocation.kind === "scheduled"
      ? { type: "scheduled", cron: invocation.cron, scheduledTime: invocation.scheduledTime }
      : { type: "storage", bucket: invocation.bucket, key: invocation.key, action: invocation.action, size: invocation.size, etag: invocation.etag, time: invocation.time };
  const outcome = await executor.run(key, event, { recorder, ...(options.chain ? { chain: options.chain } : {}) });
  await recorder.over;
  if (outcome.ok) return result({ ok: true, cold: outcome.cold, noRetry: outcome.noRetry });
  return result({ ok: false, noRetry: outcome.noRetry, error: describeFailure(outcome.error) });
}

async function readBody(
  body: null | Uint8Array | { read(): Promise<Uint8Array | null>; cancel(reason: string): void },
  maxBytes: number,
): Promise<{ body: Uint8Array; truncated: boolean }> {
  if (body === null) return { body: new Uint8Array(0), truncated: false };
  if (body instanceof Uint8Array) return body.byteLength > maxBytes ? { body: body.subarray(0, maxBytes), truncated: true } : { body, truncated: false };
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (let chunk = await body.read(); chunk; chunk = await body.read()) {
    if (bytes + chunk.byteLength > maxBytes) {
      chunks.push(chunk.subarray(0, maxBytes - bytes));
      body.cancel("the invocation's response is over the size kept for it");
      return { body: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(chunk);
    bytes += chunk.byteLength;
  }
  return { body: Buffer.concat(chunks), truncated: false };
}
