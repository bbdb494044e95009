// Bodies a function only passes along (runtime/protocol.ts HostStreamRef):
// the runtime hands over a ref instead of pumping the bytes, and the worker
// moves them itself, with backpressure (one read in flight per source), never
// through the isolate, so the function is charged only for the JS it runs.
import type { HostStreamRef } from "../runtime/protocol.js";

/** Bytes the worker reads on behalf of a function: a request body, a fetch response, a bucket object. */
export interface HostSource {
  /** The next chunk, or null at the end. */
  read(): Promise<Uint8Array | null>;
  /** Nobody wants the rest. */
  cancel(reason: string): void;
}

/** A ref a function sent that names nothing it may pass on. */
export class BadPipeError extends Error {
  override name = "TypeError";
}

export function isHostStreamRef(value: unknown): value is HostStreamRef {
  if (typeof value !== "object" || value === null) return false;
  const ref = value as Record<string, unknown>;
  switch (ref.from) {
    case "request":
      return Number.isSafeInteger(ref.id);
    case "fetch":
      return Number.isSafeInteger(ref.fetch);
    case "object":
      return typeof ref.binding === "string" && ref.binding.length <= 64 && Number.isSafeInteger(ref.read);
    default:
      return false;
  }
}

/** What the worker can read for a function, wired to the front and to the isolate's fetches. */
export interface SourceAccess {
  /** The next chunk of invocation `id`'s request body (asked of the front), null at its end. */
  readRequestBody(id: number): Promise<Uint8Array | null>;
  /** Whether `id` is a live invocation of the isolate that sent the ref. */
  ownsInvocation(id: number): boolean;
  /** Takes over the response body of fetch `op` of that isolate, or null when it has none (any more). */
  takeFetchBody(op: number): HostSource | null;
  /** Calls a bucket binding's method on the front, as the function could. */
  callBinding(binding: string, method: string, args: unknown[]): Promise<unknown>;
}

/** Opens the source `ref` names; throws BadPipeError when it names nothing this function may read. */
export function openHostSource(ref: HostStreamRef, access: SourceAccess): HostSource {
  switch (ref.from) {
    case "request": {
      if (!access.ownsInvocation(ref.id)) throw new BadPipeError("that request body belongs to an invocation that is over");
      let over = false;
      return {
        read: async () => {
          if (over) return null;
          const chunk = await access.readRequestBody(ref.id);
          if (chunk === null) over = true;
          return chunk;
        },
        cancel: () => {
          over = true;
        },
      };
    }
    case "fetch": {
      const source = access.takeFetchBody(ref.fetch);
      if (source === null) throw new BadPipeError("that fetch response body is no longer available (the fetch is over)");
      return source;
    }
    case "object": {
      let over = false;
      return {
        read: async () => {
          if (over) return null;
          const chunk = (await access.callBinding(ref.binding, "read", [ref.read])) as Uint8Array | null;
          if (chunk === null) over = true;
          else if (!(chunk instanceof Uint8Array)) throw new Error("reading the object failed: the host sent no bytes");
          return chunk;
        },
        cancel: () => {
          if (over) return;
          over = true;
          access.callBinding(ref.binding, "cancel", [ref.read]).catch(() => {});
        },
      };
    }
  }
}

/** Bucket uploads go to the front in chunks of about this size (as the runtime's own puts do). */
const PUT_CHUNK_BYTES = 1 << 20;

/**
 * Stores all of `source` as object `key` of bucket binding `binding`
 * (`bucket.put(key, stream)` with a host stream): beginPut, a putChunk per
 * ~1 MiB, commitPut. Resolves with what commitPut answers; on failure the
 * upload is cancelled and nothing is stored.
 */
export async function putFromSource(source: HostSource, binding: string, key: unknown, settings: unknown, callBinding: SourceAccess["callBinding"]): Promise<unknown> {
  const handle = await callBinding(binding, "beginPut", []);
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const chunk = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await callBinding(binding, "putChunk", [handle, chunk]);
  };
  try {
    for (;;) {
      const chunk = await source.read();
      if (chunk === null) break;
      pending.push(chunk);
      pendingBytes += chunk.byteLength;
      if (pendingBytes >= PUT_CHUNK_BYTES) await flush();
    }
    await flush();
    return await callBinding(binding, "commitPut", [handle, key, settings ?? {}]);
  } catch (error) {
    source.cancel("the upload failed");
    callBinding(binding, "cancel", [handle]).catch(() => {});
    throw error;
  }
}

/** `source` as a web stream (an outbound fetch's body for undici), one read per pull. */
export function webStreamOf(source: HostSource): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = await source.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel(reason) {
        source.cancel(String(reason));
      },
    },
    { highWaterMark: 0 },
  );
}
