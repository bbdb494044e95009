// Reads a client's request body for the function: small bodies whole, larger
// ones chunk by chunk as the function pulls them (backpressure all the way to
// the client's socket: nothing is read that the function has not asked for).
import type { IncomingMessage } from "node:http";
import type { RequestBodySource } from "../executor/executor.js";
import { RequestBodyTooLargeError } from "../errors.js";

/** Bodies of at most this many bytes, with a Content-Length, are read whole and sent inline. */
export const INLINE_BODY_MAX_BYTES = 64 * 1024;

export type RequestBody = { kind: "none" } | { kind: "inline"; bytes: Uint8Array } | { kind: "stream"; source: IncomingBodySource };

/**
 * Throws RequestBodyTooLargeError when the declared length is over `maxBytes`;
 * a chunked body that grows past it fails the function's next read instead
 * (and `source.overflowed` tells the data plane to answer 413).
 */
export async function takeRequestBody(
  incoming: IncomingMessage,
  maxBytes: number,
  tooLarge: () => RequestBodyTooLargeError = () => new RequestBodyTooLargeError(maxBytes),
): Promise<RequestBody> {
  const method = incoming.method ?? "GET";
  if (method === "GET" || method === "HEAD") return { kind: "none" };
  const length = incoming.headers["content-length"];
  const chunked = incoming.headers["transfer-encoding"] !== undefined;
  if (!chunked && (length === undefined || length === "0")) return { kind: "none" };
  if (!chunked && Number(length) > maxBytes) throw tooLarge();
  const source = new IncomingBodySource(incoming, maxBytes, tooLarge);
  if (!chunked && Number(length) <= INLINE_BODY_MAX_BYTES) {
    const chunks: Uint8Array[] = [];
    for (let chunk = await source.read(); chunk; chunk = await source.read()) chunks.push(chunk);
    return { kind: "inline", bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) };
  }
  return { kind: "stream", source };
}

export class IncomingBodySource implements RequestBodySource {
  private bytesRead = 0;
  /** True once the body went over the limit. */
  overflowed = false;

  constructor(
    private readonly stream: IncomingMessage,
    private readonly maxBytes: number,
    private readonly tooLarge: () => RequestBodyTooLargeError = () => new RequestBodyTooLargeError(maxBytes),
  ) {}

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.overflowed) throw this.tooLarge();
      const chunk = this.stream.read() as Buffer | null;
      if (chunk !== null) {
        this.bytesRead += chunk.byteLength;
        if (this.bytesRead > this.maxBytes) {
          this.overflowed = true;
          throw this.tooLarge();
        }
        return chunk;
      }
      if (this.stream.readableEnded) return null;
      if (this.stream.destroyed) throw new Error("the client closed the connection before the body ended");
      await nextEvent(this.stream);
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
