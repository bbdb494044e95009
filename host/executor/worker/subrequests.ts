// The host side of a function's outbound fetches (ops `fetch`, `fetch-upload`,
// `fetch-read` of runtime/protocol.ts), made with undici through the egress
// policy's Agent. One instance per isolate: it holds each fetch from its op
// until the response body is read to the end, released by the runtime, or the
// invocations that made it are over.
import { fetch as undiciFetch, type Dispatcher } from "undici";
import type { HeaderList, OutboundRequest, OutboundResponse } from "../../runtime/protocol.js";
import { FETCH_DEPTH_HEADER, SERVICE_MISSING_HEADER, SERVICE_SCRIPT_HEADER, SERVICE_TOKEN_HEADER, SERVICE_URL_HEADER } from "../ipc.js";
import { EgressRefusedError } from "./egress.js";
import { type HostSource, webStreamOf } from "../pass-through.js";

/** Where service-binding calls go: the front's service socket (front/service-socket.ts) and its token. */
export interface ServiceCalls {
  dispatcher: Dispatcher;
  token: string;
}

/** Body bytes one invocation's fetches sent and received (usage: fetch_bytes_out and _in). */
export interface FetchMeter {
  sent: number;
  received: number;
}

/** Answers an op of the isolate. */
export type AnswerOp = (op: number, ok: boolean, value: unknown) => void;

/** Response bodies with a Content-Length up to this many bytes are read at once and sent inline. */
const INLINE_RESPONSE_BYTES = 64 * 1024;
/** Request-body bytes the host buffers ahead of undici before it stops acknowledging chunks. */
const UPLOAD_BUFFER_BYTES = 64 * 1024;
/** Content codings undici's fetch decodes: the body the function sees is no longer encoded. */
const DECODED_CODINGS = new Set(["gzip", "x-gzip", "deflate", "br", "zstd"]);

interface OpenFetch {
  /** Invocations the fetch belongs to; when all are over, it is aborted. */
  owners: Set<number>;
  abort: AbortController;
  upload: UploadChannel | null;
  reader: ReadableStreamDefaultReader<Uint8Array> | null;
  /** Where its bytes are counted. */
  meter: FetchMeter;
}

export class Subrequests {
  private readonly open = new Map<number, OpenFetch>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly answer: AnswerOp,
    private readonly services: ServiceCalls | null = null,
  ) {}

  /**
   * Starts fetch `op` for `owners`, its bytes counted on `meter`, `depth` hops away from a client request;
   * `piped`: the body, when it is one the host holds (request.body is then
   * `{ pipe }`); `service`: the script a service binding calls, reached
   * through the front's service socket instead of the network.
   */
  start(op: number, request: OutboundRequest, owners: number[], meter: FetchMeter, depth: number, piped: HostSource | null = null, service?: string): void {
    if (service !== undefined && !this.services) return this.answer(op, false, `env.${request.service}.fetch: service bindings are not available in this worker`);
    const abort = new AbortController();
    const upload = request.body === "stream" ? new UploadChannel() : null;
    const entry: OpenFetch = { owners: new Set(owners), abort, upload, reader: null, meter };
    if (request.body instanceof Uint8Array) meter.sent += request.body.byteLength;
    this.open.set(op, entry);
    const headers: HeaderList = request.headers.filter(([name]) => name !== FETCH_DEPTH_HEADER && !name.startsWith("x-atoll-service"));
    headers.push([FETCH_DEPTH_HEADER, String(depth)]);
    if (service !== undefined) headers.push([SERVICE_TOKEN_HEADER, this.services!.token], [SERVICE_SCRIPT_HEADER, service], [SERVICE_URL_HEADER, request.url]);
    // The service socket speaks plain HTTP whatever the scheme; the callee gets the URL as given (SERVICE_URL_HEADER).
    undiciFetch(service !== undefined ? request.url.replace(/^https:/, "http:") : request.url, {
      method: request.method,
      headers,
      body: upload ? upload.stream : piped ? webStreamOf(countedSource(piped, meter)) : (request.body as Uint8Array | null),
      // A redirect from the script called is its answer to the caller, as on Workers: following it would call the service socket again.
      redirect: service !== undefined ? "manual" : request.redirect,
      signal: abort.signal,
      dispatcher: service !== undefined ? this.services!.dispatcher : this.dispatcher,
      duplex: "half",
    }).then(
      (response) => {
        if (service !== undefined && response.headers.has(SERVICE_MISSING_HEADER)) {
          response.body?.cancel().catch(() => {});
          if (this.open.get(op) !== entry) return;
          this.close(op);
          return this.answer(op, false, `env.${request.service}.fetch: script "${service}" is not deployed on this host: deploy it (atoll deploy), or fix \`service\` in [[services]]`);
        }
        return this.receive(op, entry, response);
      },
      (error: unknown) => {
        if (this.open.get(op) !== entry) return;
        this.close(op);
        this.answer(op, false, `fetch ${request.method} ${request.url} failed: ${describe(error)}`);
      },
    );
  }

  /** One chunk of a streamed request body (null: the end), acknowledged once taken. */
  upload(op: number, fetchOp: number, data: Uint8Array | null): void {
    const entry = this.open.get(fetchOp);
    const upload = entry?.upload;
    if (!entry || !upload) return this.answer(op, false, "the fetch this request body belongs to is over");
    if (data !== null) entry.meter.sent += data.byteLength;
    upload.push(data, () => this.answer(op, true, undefined));
  }

  /** The next chunk of a response body, or null at its end. */
  read(op: number, fetchOp: number): void {
    const entry = this.open.get(fetchOp);
    if (!entry?.reader) return this.answer(op, false, "the response body is no longer available (the fetch is over)");
    entry.reader.read().then(
      ({ done, value }) => {
        if (this.open.get(fetchOp) !== entry) return;
        if (done) this.close(fetchOp);
        else entry.meter.received += value.byteLength;
        this.answer(op, true, done ? null : value);
      },
      (error: unknown) => {
        if (this.open.get(fetchOp) !== entry) return;
        this.close(fetchOp);
        this.answer(op, false, describe(error));
      },
    );
  }

  /**
   * Hands fetch `op`'s response body over to the worker, which sends it on by
   * itself (runtime/protocol.ts HostStreamRef): from now on it outlives the
   * invocations that made the fetch and this isolate. Null when the fetch has
   * no streamed body (any more).
   */
  takeBody(op: number): HostSource | null {
    const entry = this.open.get(op);
    if (!entry?.reader) return null;
    this.open.delete(op);
    const reader = entry.reader;
    let over = false;
    return {
      read: async () => {
        if (over) return null;
        try {
          const { done, value } = await reader.read();
          if (done) over = true;
          else entry.meter.received += value.byteLength;
          return done ? null : value;
        } catch (error) {
          over = true;
          throw new Error(`reading the response body failed: ${describe(error)}`);
        }
      },
      cancel: () => {
        if (over) return;
        over = true;
        entry.abort.abort();
        reader.cancel().catch(() => {});
      },
    };
  }

  /** The runtime is done with fetch `op`: abort whatever is still in flight. */
  release(op: number): void {
    this.close(op);
  }

  /** Invocation `id` is over: its fetches that no other invocation shares are aborted. */
  invocationEnded(id: number): void {
    for (const [op, entry] of this.open) {
      if (entry.owners.delete(id) && entry.owners.size === 0) this.close(op);
    }
  }

  /** Open fetches, for tests and metrics. */
  get size(): number {
    return this.open.size;
  }

  dispose(): void {
    for (const op of [...this.open.keys()]) this.close(op);
  }

  private async receive(op: number, entry: OpenFetch, response: globalThis.Response | import("undici").Response): Promise<void> {
    if (this.open.get(op) !== entry) {
      await response.body?.cancel().catch(() => {});
      return;
    }
    const encoding = response.headers.get("content-encoding")?.trim().toLowerCase();
    // undici decoded the body: the head must no longer claim an encoding or the encoded length.
    const decoded = encoding !== undefined && encoding.split(",").every((coding) => DECODED_CODINGS.has(coding.trim()));
    const headers: HeaderList = [];
    for (const [name, value] of response.headers) {
      if (decoded && (name === "content-encoding" || name === "content-length")) continue;
      headers.push([name, value]);
    }
    const head: OutboundResponse = {
      status: response.status,
      statusText: response.statusText,
      headers,
      url: response.url,
      redirected: response.redirected,
      body: null,
    };
    if (response.body !== null) {
      const length = Number(response.headers.get("content-length") ?? NaN);
      if (!decoded && length <= INLINE_RESPONSE_BYTES) {
        try {
          head.body = new Uint8Array(await response.arrayBuffer());
          entry.meter.received += head.body.byteLength;
        } catch (error) {
          if (this.open.get(op) !== entry) return;
          this.close(op);
          return this.answer(op, false, `reading the response of ${response.url} failed: ${describe(error)}`);
        }
        if (this.open.get(op) !== entry) return;
      } else {
        head.body = "stream";
        entry.reader = response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
      }
    }
    // Kept open while the runtime reads the body or still uploads the request's.
    if (head.body !== "stream" && !entry.upload) this.close(op);
    this.answer(op, true, head);
  }

  private close(op: number): void {
    const entry = this.open.get(op);
    if (!entry) return;
    this.open.delete(op);
    entry.abort.abort();
    entry.upload?.fail();
    entry.reader?.cancel().catch(() => {});
  }
}

/**
 * A request body fed chunk by chunk from the isolate. A chunk is acknowledged
 * (and the runtime sends the next) only while undici keeps up: backpressure
 * across the bridge.
 */
class UploadChannel {
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private waitingAck: (() => void) | null = null;
  private closed = false;

  constructor() {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => {
          const ack = this.waitingAck;
          this.waitingAck = null;
          ack?.();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: UPLOAD_BUFFER_BYTES }),
    );
  }

  push(data: Uint8Array | null, ack: () => void): void {
    if (this.closed) return ack();
    if (data === null) {
      this.closed = true;
      this.controller.close();
      return ack();
    }
    this.controller.enqueue(data);
    if ((this.controller.desiredSize ?? 0) > 0) ack();
    else this.waitingAck = ack;
  }

  fail(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.controller.error(new Error("the fetch was aborted"));
    } catch {
      // Already errored.
    }
    this.waitingAck?.();
    this.waitingAck = null;
  }
}

/** `source`, its chunks counted as sent on `meter`. */
function countedSource(source: HostSource, meter: FetchMeter): HostSource {
  return {
    read: async () => {
      const chunk = await source.read();
      if (chunk !== null) meter.sent += chunk.byteLength;
      return chunk;
    },
    cancel: (reason) => source.cancel(reason),
  };
}

/** A fetch failure as the function should read it: undici's cause, without host stacks. */
function describe(error: unknown): string {
  let current: unknown = error;
  // undici wraps network errors: TypeError("fetch failed", { cause }).
  while (current instanceof Error && current.message === "fetch failed" && current.cause !== undefined) current = current.cause;
  if (current instanceof EgressRefusedError) return current.message;
  if (current instanceof Error) {
    const code = (current as { code?: unknown }).code;
    return typeof code === "string" && !current.message.includes(code) ? `${current.message} (${code})` : current.message;
  }
  return String(current);
}
