// fetch(), per WHATWG Fetch (https://fetch.spec.whatwg.org/#fetch-method), made
// by the host with undici (ops `fetch`, `fetch-upload`, `fetch-read` in
// protocol.ts). The host decides where a function may connect, counts
// subrequests against the invocation's limit, and follows redirects; this side
// turns Requests into one op and the answer into a Response whose body streams
// in on demand.
import { onAbort } from "./abort.js";
import { takeBodyPayload } from "./body.js";
import { utf8Encode } from "./encoding.js";
import { currentInvocation, messageOf, releaseOp, startOp } from "./bridge.js";
import { claimHostStream, markHostStream } from "./host-stream.js";
import { headerList } from "./headers.js";
import type { OutboundRequest, OutboundResponse } from "./protocol.js";
import { Request, type RequestInfo, type RequestInit } from "./request.js";
import { type Response, responseFromHost } from "./response.js";
import { ReadableStream, type ReadableStreamDefaultController, chunkBytes } from "./streams.js";

/** One fetch from its op to the end of its response body. */
class OutboundFetch {
  /** The op that names this fetch on the host, once started. */
  op = 0;
  /** The response head arrived (or the fetch failed): the promise is settled. */
  settled = false;
  /** Aborted, failed or fully read: the host holds nothing more for it. */
  over = false;
  body: ReadableStreamDefaultController<Uint8Array> | null = null;

  constructor(
    private readonly resolve: (response: Response) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  fail(error: unknown): void {
    if (this.over) return;
    this.over = true;
    if (this.op !== 0) releaseOp(this.op);
    if (!this.settled) {
      this.settled = true;
      this.reject(error);
    } else if (this.body !== null) {
      try {
        this.body.error(error);
      } catch {
        // The stream was closed or errored already.
      }
    }
  }

  /** The host's answer to the `fetch` op. */
  answer(ok: boolean, value: unknown): void {
    if (this.settled) return;
    if (!ok) {
      this.over = true;
      this.settled = true;
      this.reject(new TypeError(String(value)));
      return;
    }
    const head = value as OutboundResponse;
    this.settled = true;
    if (head.body !== "stream") this.over = true;
    this.resolve(
      responseFromHost({
        status: head.status,
        statusText: head.statusText,
        headers: head.headers,
        url: head.url,
        redirected: head.redirected,
        body: head.body === "stream" ? () => this.responseBody() : head.body,
      }),
    );
  }

  /** The response body: each pull is one `fetch-read` op. */
  private responseBody(): ReadableStream<Uint8Array> {
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.body = controller;
        },
        pull: (controller) =>
          new Promise<void>((resolve, reject) => {
            if (this.over) return resolve();
            startOp({ name: "fetch-read", fetch: this.op }, (ok, value) => {
              if (this.over) return resolve();
              if (!ok) {
                this.over = true;
                reject(new TypeError(`reading the response body failed: ${String(value)}`));
              } else if (value === null || value === undefined) {
                this.over = true;
                controller.close();
                resolve();
              } else if (value instanceof Uint8Array) {
                controller.enqueue(value);
                resolve();
              } else reject(new TypeError("reading the response body failed: the host sent no bytes"));
            });
          }),
        cancel: () => {
          if (this.over) return;
          this.over = true;
          releaseOp(this.op);
        },
      },
      { highWaterMark: 0 },
    );
    return markHostStream(stream, { from: "fetch", fetch: this.op });
  }

  /** Sends a streamed request body, one `fetch-upload` op per chunk, each waiting for the host to take it. */
  async upload(stream: ReadableStream<unknown>): Promise<void> {
    const reader = stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (this.over) break;
        const data = done ? null : chunkBytes(value);
        await new Promise<void>((resolve, reject) => {
          startOp({ name: "fetch-upload", fetch: this.op, data }, (ok, answer) => (ok ? resolve() : reject(new TypeError(String(answer)))));
        });
        if (done) return;
      }
      reader.cancel().catch(() => {});
    } catch (error) {
      reader.cancel(error).catch(() => {});
      this.fail(error instanceof TypeError ? error : new TypeError(`the request body stream failed: ${messageOf(error)}`));
    }
  }
}

export function fetch(input: RequestInfo, init?: RequestInit): Promise<Response> {
  return startFetch(input, init, undefined);
}

/**
 * A service binding (`[[services]]`): env.AUTH.fetch() sends the request to
 * the script the binding names, straight through the host, whatever host the
 * URL names (as on Workers). It counts as a subrequest and a fetch hop.
 */
export class ServiceBinding {
  readonly #binding: string;
  constructor(binding: string) {
    this.#binding = binding;
  }

  fetch(input: RequestInfo, init?: RequestInit): Promise<Response> {
    return startFetch(input, init, this.#binding);
  }

  connect(): never {
    throw new TypeError(`env.${this.#binding}.connect(): TCP sockets are not supported by service bindings on Atoll; use fetch()`);
  }
}

function startFetch(input: RequestInfo, init: RequestInit | undefined, service: string | undefined): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const request = new Request(input, init);
    const signal = request.signal;
    if (signal.aborted) throw signal.reason;
    const scheme = request.url.slice(0, request.url.indexOf(":") + 1);
    if (scheme !== "http:" && scheme !== "https:") throw new TypeError(`fetch: only http: and https: URLs can be fetched, not ${scheme} (${request.url})`);
    const payload = takeBodyPayload(request);
    const pipe = payload instanceof ReadableStream ? claimHostStream(payload) : null;
    const outbound: OutboundRequest = {
      method: request.method,
      url: request.url,
      headers: headerList(request.headers),
      body: pipe !== null ? { pipe } : payload instanceof ReadableStream ? "stream" : typeof payload === "string" ? utf8Encode(payload) : payload,
      redirect: request.redirect as OutboundRequest["redirect"],
    };
    if (service !== undefined) outbound.service = service;
    const pending = new OutboundFetch(resolve, reject);
    pending.op = startOp({ name: "fetch", id: currentInvocation(), request: outbound }, (ok, value) => pending.answer(ok, value));
    onAbort(signal, (reason) => pending.fail(reason));
    if (payload instanceof ReadableStream && pipe === null) void pending.upload(payload);
  });
}
