// Streams whose bytes the host holds (protocol.ts HostStreamRef). Such a
// stream is an ordinary ReadableStream the function may read; only when it is
// handed on untouched does the host take it over and move its bytes itself.
import type { HostStreamRef } from "./protocol.js";
import { type ReadableStream, isDisturbed } from "./streams.js";

const refs = new WeakMap<ReadableStream, HostStreamRef>();

/** Marks `stream` as fed by the host from `ref`. */
export function markHostStream<T extends ReadableStream>(stream: T, ref: HostStreamRef): T {
  refs.set(stream, ref);
  return stream;
}

/**
 * If `stream` is a host stream nobody has read from, takes it over: the
 * stream is locked for good (the function can no longer read it, as after
 * handing any stream to a sink) and its ref returned for the host. Otherwise null.
 */
export function claimHostStream(stream: ReadableStream): HostStreamRef | null {
  const ref = refs.get(stream);
  if (ref === undefined || stream.locked || isDisturbed(stream)) return null;
  refs.delete(stream);
  stream.getReader();
  return ref;
}
