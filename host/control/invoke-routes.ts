// Control API route for direct invocation: run one HTTP request, cron tick or
// bucket event through a script's active version now and answer with the
// response or outcome and the invocation's logs, or (`async: true`) queue it
// durably and answer at once. Mounted under /v1/scripts by ./app.ts.
//
//   POST /v1/scripts/:name/invoke
//     { "kind": "http", "method": "POST", "path": "/x?y=1", "headers": { "k": "v" }, "body": "…", "encoding": "text" | "base64" }
//     { "kind": "scheduled", "cron": "*/5 * * * *" }
//     { "kind": "storage", "action": "put", "bucket": "uploads", "key": "a.png" }
//     + "async": true to queue it instead (202 { id })
import { Hono } from "hono";
import type { Observer } from "../observe/observer.js";
import { parseCronExpression } from "../config/cron-schedule.js";
import { triggersOf } from "../config/script-config.js";
import { BadCronError, BadRequestError, InvokeTooLargeError, NotFoundError } from "../errors.js";
import type { Executor } from "../executor/executor.js";
import type { Deployments } from "../front/deployments.js";
import type { HeaderList } from "../runtime/protocol.js";
import type { ObjectStore } from "../store/objects.js";
import type { QueuedInvocation } from "../store/queue.js";
import type { Triggers } from "../triggers/index.js";
import { invoke, type InvocationResult } from "../triggers/invoke.js";
import { scriptName } from "./params.js";

export interface InvokeRoutesOptions {
  deployments: Deployments;
  executor: Executor;
  triggers: Triggers;
  /** A storage invocation of an object that exists gets its size and etag. */
  objects: Pick<ObjectStore, "head">;
  /** Largest body an invocation may carry, bytes. */
  maxBodyBytes: number;
  log(line: string): void;
  observer?: Observer;
}

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$/;
const BUCKET = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const MAX_PATH_CHARS = 16 * 1024;
const MAX_HEADERS = 100;
const USAGE =
  'the body must be JSON: { "kind": "http", "method", "path", "headers", "body", "encoding": "text" | "base64" }, { "kind": "scheduled", "cron" } or { "kind": "storage", "action": "put" | "delete", "bucket", "key" }, with "async": true to queue it';

export function invokeRoutes({ deployments, executor, triggers, objects, maxBodyBytes, log, observer }: InvokeRoutesOptions): Hono {
  const app = new Hono();

  app.post("/:name/invoke", async (c) => {
    const name = scriptName(c.req.param("name"));
    const text = await c.req.text();
    // JSON and base64 grow a body by at most 4/3 and a little.
    if (text.length > maxBodyBytes * 2 + 64 * 1024) throw new InvokeTooLargeError(undefined, maxBodyBytes);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new BadRequestError(USAGE);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new BadRequestError(USAGE);
    const request = body as Record<string, unknown>;
    const active = deployments.get(name);
    if (!active) throw new NotFoundError(`script "${name}"`);
    const invocation = parseInvocation(request, triggersOf(active.config), maxBodyBytes);
    if (invocation.kind === "storage" && invocation.action === "put" && request["size"] === undefined && request["etag"] === undefined) {
      // The event a real put of that object would have carried.
      const record = await objects.head(invocation.bucket, invocation.key);
      if (record) Object.assign(invocation, { size: record.size, etag: record.etag, time: new Date(record.uploaded).toISOString() });
    }
    if (request["async"] !== undefined && typeof request["async"] !== "boolean") throw new BadRequestError('"async" must be true or false');

    if (request["async"] === true) {
      const queued = await triggers.enqueue(name, invocation);
      log(`[triggers] ${name}: queued ${invocation.kind} invocation #${queued.id} (async)`);
      return c.json({ name, kind: invocation.kind, queued: true, id: queued.id, enqueued_at: new Date(queued.enqueuedAt).toISOString() }, 202);
    }

    const result = await invoke(executor, active.key, invocation, { ...(invocation.kind === "storage" ? { chain: invocation.depth } : {}), ...(observer ? { observer, trigger: "invoke" as const, memoryMb: active.config.limits.memory_mb } : {}) });
    const cpu = result.cpuMs === null ? "" : ` (cpu ${result.cpuMs.toFixed(2)}ms)`;
    log(`${name}@v${result.version} invoked ${invocation.kind} ${result.ok ? "ok" : `failed: ${result.error?.code}`} ${result.durationMs}ms${cpu}`);
    return c.json(answer(name, invocation, result));
  });

  return app;
}

function parseInvocation(request: Record<string, unknown>, triggers: ReturnType<typeof triggersOf>, maxBodyBytes: number): QueuedInvocation {
  switch (request["kind"]) {
    case "http":
      return parseHttp(request, maxBodyBytes);
    case "scheduled": {
      const cron = request["cron"] ?? triggers.crons[0] ?? "";
      if (typeof cron !== "string") throw new BadRequestError('"cron" must be a cron expression string, such as "*/5 * * * *"');
      if (cron !== "") {
        const parsed = parseCronExpression(cron, triggers.timezone);
        if (parsed.problem) throw new BadCronError(cron, parsed.problem);
      }
      return { kind: "scheduled", cron, scheduledTime: Date.now() };
    }
    case "storage": {
      const { action = "put", bucket, key, size = 0, etag = "" } = request as Record<string, unknown>;
      if (action !== "put" && action !== "delete") throw new BadRequestError(`"action" must be "put" or "delete", got ${JSON.stringify(action)}`);
      if (typeof bucket !== "string" || !BUCKET.test(bucket)) throw new BadRequestError(`"bucket" must be a bucket name (lower-case letters, digits, - and _), got ${JSON.stringify(bucket)}`);
      if (typeof key !== "string" || key === "" || Buffer.byteLength(key) > 1024) throw new BadRequestError(`"key" must be an object key of 1 to 1024 bytes, got ${JSON.stringify(key)}`);
      if (!Number.isSafeInteger(size) || (size as number) < 0) throw new BadRequestError(`"size" must be a byte count, got ${JSON.stringify(size)}`);
      if (typeof etag !== "string" || etag.length > 128) throw new BadRequestError(`"etag" must be a string, got ${JSON.stringify(etag)}`);
      return { kind: "storage", bucket, key, action, size: size as number, etag, time: new Date().toISOString(), depth: 1 };
    }
    default:
      throw new BadRequestError(`"kind" must be "http", "scheduled" or "storage", got ${JSON.stringify(request["kind"]) ?? "nothing"}: ${USAGE}`);
  }
}

function parseHttp(request: Record<string, unknown>, maxBodyBytes: number): QueuedInvocation {
  const { path = "/", headers = {}, body = null, encoding = "text" } = request;
  if (typeof path !== "string" || !path.startsWith("/") || path.length > MAX_PATH_CHARS || /[\s#]/.test(path)) {
    throw new BadRequestError(`"path" must be a path and query starting with "/" (no spaces or #), got ${JSON.stringify(path)?.slice(0, 80)}`);
  }
  const method = request["method"] ?? (body === null ? "GET" : "POST");
  if (typeof method !== "string" || !METHOD.test(method)) throw new BadRequestError(`"method" must be an HTTP method such as "GET" or "POST", got ${JSON.stringify(method)}`);
  const list: HeaderList = [];
  const pairs = Array.isArray(headers) ? headers : typeof headers === "object" && headers !== null ? Object.entries(headers) : null;
  if (pairs === null || pairs.length > MAX_HEADERS) throw new BadRequestError(`"headers" must be an object of names and values (at most ${MAX_HEADERS})`);
  for (const pair of pairs) {
    const [headerName, value] = Array.isArray(pair) ? pair : [];
    if (typeof headerName !== "string" || !HEADER_NAME.test(headerName) || typeof value !== "string" || /[\r\n\0]/.test(value)) {
      throw new BadRequestError(`"headers" must map header names to string values, got ${JSON.stringify(pair)?.slice(0, 80)}`);
    }
    list.push([headerName.toLowerCase(), value]);
  }
  if (encoding !== "text" && encoding !== "base64") throw new BadRequestError(`"encoding" must be "text" or "base64", got ${JSON.stringify(encoding)}`);
  let bytes: Buffer | null = null;
  if (body !== null) {
    if (typeof body !== "string") throw new BadRequestError(`"body" must be a string (text, or base64 with "encoding": "base64")`);
    if (encoding === "base64" && !/^[A-Za-z0-9+/]*={0,2}$/.test(body.replace(/\s/g, ""))) throw new BadRequestError(`"body" is not base64`);
    bytes = Buffer.from(body, encoding === "base64" ? "base64" : "utf8");
    if (bytes.byteLength > maxBodyBytes) throw new InvokeTooLargeError(bytes.byteLength, maxBodyBytes);
  }
  if (bytes !== null && !list.some(([headerName]) => headerName === "content-length")) list.push(["content-length", String(bytes.byteLength)]);
  return { kind: "http", method: method.toUpperCase(), path, headers: list, body: bytes === null ? null : bytes.toString("base64") };
}

function answer(name: string, invocation: QueuedInvocation, result: InvocationResult): Record<string, unknown> {
  let response: Record<string, unknown> | null = null;
  if (result.response) {
    const { status, statusText, headers, body, truncated } = result.response;
    const text = utf8(body);
    response = {
      status,
      status_text: statusText,
      headers,
      body: text ?? Buffer.from(body).toString("base64"),
      body_encoding: text === undefined ? "base64" : "text",
      truncated,
    };
  }
  return {
    name,
    version: result.version,
    kind: invocation.kind,
    /** What ran (an HTTP request without its body). */
    event: invocation.kind === "http" ? { ...invocation, body: undefined } : invocation,
    outcome: result.ok ? "ok" : "error",
    duration_ms: result.durationMs,
    cpu_ms: result.cpuMs,
    cold: result.cold,
    no_retry: result.noRetry,
    error: result.error,
    response,
    logs: result.logs.map((line) => ({ level: line.level, message: line.message, time: new Date(line.time).toISOString() })),
    dropped_logs: result.droppedLogs,
  };
}

function utf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
