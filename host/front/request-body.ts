// Reads a client's request body for the function: small bodies whole, larger
// ones chunk by chunk as the function pulls them. Once the function has asked
// for the body, the host reads ahead of it by at most READ_AHEAD_BYTES, so that
// the socket keeps flowing while a chunk crosses to the worker and chunks cross
// in large pieces (each crossing is a round trip); past that, backpressure
// reaches the client's socket. A body the function never reads is never read.
import type { IncomingMessage } from "node:http";
import type { RequestBodySource } from "../executor/executor.js";
import { RequestBodyTooLargeError } from "../errors.js";

/** Bodies of at most this many bytes, with a Content-Length, are read whole and sent inline. */
export const INLINE_BODY_MAX_BYTES = 64 * 1024;

/** How far the host reads a streamed body ahead of the function, bytes, give or take one socket read (also about the largest chunk a read returns). */
export const READ_AHEAD_BYTES = 1024 * 1024;

export type RequestBody = { kind: "none" } | { kind: "inline"; bytes: Uint8Array } | { kind: "stream"; source: IncomingBodySource };

/**
 * Throws RequestBodyTooLargeError when the declared length is over `maxBytes`;
 * a chunked body that grows past it fails the function's next read instead
 * (and `source.overflowed` tells the data plane to answer 413). Synchronous
 * unless a small body has to be read whole first.
 */
export function takeRequestBody(
  incoming: IncomingMessage,
  maxBytes: number,
  tooLarge: () => RequestBodyTooLargeError = () => new RequestBodyTooLargeError(maxBytes),
): RequestBody | Promise<RequestBody> {
  const method = incoming.method ?? "GET";
  if (method === "GET" || method === "HEAD") return NO_BODY;
  const length = incoming.headers["content-length"];
  const chunked = incoming.headers["transfer-encoding"] !== undefined;
  if (!chunked && (length === undefined || length === "0")) return NO_BODY;
  if (!chunked && Number(length) > maxBytes) throw tooLarge();
  const source = new IncomingBodySource(incoming, maxBytes, tooLarge);
  if (!chunked && Number(length) <= INLINE_BODY_MAX_BYTES) return readWhole(source);
  return { kind: "stream", source };
}

const NO_BODY: RequestBody = Object.freeze({ kind: "none" });

async function readWhole(source: IncomingBodySource): Promise<RequestBody> {
  const chunks: Uint8Array[] = [];
  for (let chunk = await source.read(); chunk; chunk = await source.read()) chunks.push(chunk);
  return { kind: "inline", bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) };
}

export class IncomingBodySource implements RequestBodySource {
  private bytesRead = 0;
  /** Bytes taken off the client's stream so far. */
  get bytesReceived(): number {
    return this.bytesRead;
  }
  /** True once the body went over the limit. */
  overflowed = false;
  /** Bytes taken off the stream that the function has not read yet (at most READ_AHEAD_BYTES). */
  private ahead: Buffer[] = [];
  private aheadBytes = 0;
  private readingAhead = false;

  constructor(
    private readonly stream: IncomingMessage,
    private readonly maxBytes: number,
    private readonly tooLarge: () => RequestBodyTooLargeError = () => new RequestBodyTooLargeError(maxBytes),
  ) {}

  /** What arrived since the last read (up to READ_AHEAD_BYTES), waiting for something if nothing did; null at the end. */
  async read(): Promise<Uint8Array | null> {
    if (!this.readingAhead) {
      // From the first read on: until then the body stays on the socket (a function may never read it).
      this.readingAhead = true;
      this.stream.on("readable", () => this.takeBuffered());
    }
    for (;;) {
      if (this.overflowed) throw this.tooLarge();
      this.takeBuffered();
      if (this.aheadBytes > 0) {
        const chunk = this.ahead.length === 1 ? this.ahead[0]! : Buffer.concat(this.ahead, this.aheadBytes);
        this.ahead = [];
        this.aheadBytes = 0;
        // Refill while this chunk crosses to the function.
        this.takeBuffered();
        return chunk;
      }
      if (this.stream.readableEnded) return null;
      if (this.stream.destroyed) throw new Error("the client closed the connection before the body ended");
      await nextEvent(this.stream);
    }
  }

  /** Moves what the stream holds into `ahead`, up to READ_AHEAD_BYTES, which lets the stream read more from the socket. */
  private takeBuffered(): void {
    while (!this.overflowed && this.aheadBytes < READ_AHEAD_BYTES) {
      const chunk = this.stream.read() as Buffer | null;
      if (chunk === null) return;
      this.bytesRead += chunk.byteLength;
      if (this.bytesRead > this.maxBytes) {
        this.overflowed = true;
        return;
      }
      this.ahead.push(chunk);
      this.aheadBytes += chunk.byteLength;
    }
  }
}

function nextEvent(stream: IncomingMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      stream.off("readable", onReadable);
      stream.off("end", onReadable);
      stream.off("close", onReadable);
      stream.off("error", done);
      if (error) reject(error);
      else resolve();
    };
    const onReadable = () => done();
    stream.once("readable", onReadable);
    stream.once("end", onReadable);
    stream.once("close", onReadable);
    stream.once("error", done);
  });
}
