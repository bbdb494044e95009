// WHATWG Streams (https://streams.spec.whatwg.org/) from web-streams-polyfill,
// plus what bodies need from them: streams over bytes already in memory (that
// can be taken back without reading them), whole-stream reads, byte chunks.
import { ReadableStream, type ReadableStreamDefaultReader } from "web-streams-polyfill";
import { Blob, blobBytes, blobStream } from "./blob.js";
import { utf8Encode } from "./encoding.js";

export {
  ByteLengthQueuingStrategy,
  CountQueuingStrategy,
  ReadableByteStreamController,
  ReadableStream,
  ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest,
  ReadableStreamDefaultController,
  ReadableStreamDefaultReader,
  TransformStream,
  TransformStreamDefaultController,
  WritableStream,
  WritableStreamDefaultController,
  WritableStreamDefaultWriter,
} from "web-streams-polyfill";

/** Text, bytes or a Blob held in memory: a body that was never turned into a stream. */
export type InlineBody = string | Uint8Array | Blob;

/** The bytes of an inline body; a Blob's are copied, since they go to user code. */
export function inlineBytes(source: InlineBody): Uint8Array {
  if (typeof source === "string") return utf8Encode(source);
  return source instanceof Blob ? blobBytes(source) : source;
}

/** Streams made by streamOfInline() whose content nobody has read yet. */
const inlineSources = new WeakMap<ReadableStream<Uint8Array>, InlineBody>();

/** Whether a stream was ever read from or cancelled (the polyfill keeps the flag). */
export function isDisturbed(stream: ReadableStream): boolean {
  return (stream as unknown as { _disturbed?: boolean })._disturbed === true;
}

/**
 * A stream over `source` (one chunk, or a Blob's own stream), which
 * takeInline() can take back while it is untouched.
 */
export function streamOfInline(source: InlineBody): ReadableStream<Uint8Array> {
  const stream =
    source instanceof Blob
      ? blobStream(source)
      : new ReadableStream<Uint8Array>({
          start(controller) {
            const bytes = inlineBytes(source);
            if (bytes.length > 0) controller.enqueue(bytes);
            controller.close();
          },
        });
  inlineSources.set(stream, source);
  return stream;
}

/**
 * The in-memory content of a stream made by streamOfInline(), when nobody has
 * read it or locked it: the stream is then locked and cancelled, its content
 * now belongs to the caller. null for any other stream.
 */
export function takeInline(stream: ReadableStream): InlineBody | null {
  const source = inlineSources.get(stream as ReadableStream<Uint8Array>);
  if (source === undefined || stream.locked || isDisturbed(stream)) return null;
  inlineSources.delete(stream as ReadableStream<Uint8Array>);
  stream.getReader().cancel().catch(() => {});
  return source;
}

/** A body chunk as a Uint8Array, or a TypeError for anything that is not bytes. */
export function chunkBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (typeof chunk === "string") return utf8Encode(chunk);
  const kind = chunk === null ? "null" : typeof chunk === "object" ? (chunk.constructor?.name ?? "object") : typeof chunk;
  throw new TypeError(`body stream chunks must be Uint8Array (or another ArrayBufferView, ArrayBuffer, string), got ${kind}`);
}

/** Reads a stream to its end and concatenates the chunks. */
export async function readAllBytes(stream: ReadableStream): Promise<Uint8Array> {
  const inline = takeInline(stream);
  if (inline !== null) return inlineBytes(inline);
  const reader: ReadableStreamDefaultReader<unknown> = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const bytes = chunkBytes(value);
      chunks.push(bytes);
      total += bytes.length;
    }
  } catch (error) {
    reader.cancel(error).catch(() => {});
    throw error;
  } finally {
    reader.releaseLock();
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks, total);
}

/** The chunks one after another in a new array (`total`: the sum of their lengths). */
export function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
