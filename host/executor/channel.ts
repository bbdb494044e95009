// The framed message channel between the front and a worker process, over the
// socketpair the front creates when it spawns the worker (the worker's fd 3).
// Node's own IPC channel serialises every message with v8.serialize, which
// costs ~6 µs per small message on each side; a request crosses twice. Here a
// message is JSON with its bytes (bodies, chunks, code caches) and long texts
// (a request's event, which the worker hands on without reading) carried
// beside it, not inside it, and everything sent in one turn of the event loop
// leaves in one write. Messages whose payload is arbitrary data (binding calls and
// their results may hold bytes anywhere) use v8.serialize.
//
// Frame: u32 length of what follows | u8 format | body
//   format 0 (JSON): u8 mask of the attachments present | u32 length of each
//                    | the JSON text (UTF-8) | the attachments' bytes
//   format 1 (V8):   v8.serialize(message)
import type { Socket } from "node:net";
import { deserialize, serialize } from "node:v8";

/**
 * Where a message type keeps what travels beside its JSON: property paths, at
 * most 8, each holding a Uint8Array or a string (sent as UTF-8), or neither
 * (then nothing is attached). It arrives as a Buffer, or with `text` as a
 * string. A message type absent from the table has none.
 */
export type BinaryFields = Readonly<Record<string, readonly { readonly path: readonly string[]; readonly text?: true }[]>>;

export interface ChannelCodec {
  /** The byte fields of each JSON-encoded message type. */
  binaryFields: BinaryFields;
  /** Message types sent with v8.serialize. */
  serialized: ReadonlySet<string>;
}

const FORMAT_JSON = 0;
const FORMAT_V8 = 1;
/** Attachments up to this size are copied into their frame; larger ones are written as they are. */
const COPY_ATTACHMENT_BYTES = 16 * 1024;
/** A frame larger than this is refused: nothing on the channel should be (bundles are at most 10 MiB, chunks about 1 MiB). */
const MAX_FRAME_BYTES = 256 * 1024 * 1024;

export class ChannelProtocolError extends Error {
  constructor(message: string) {
    super(`worker channel: ${message}`);
    this.name = "ChannelProtocolError";
  }
}

/** One side of the channel: sends messages of type `Out`, receives messages of type `In`. */
export class FrameChannel<In extends { t: string }, Out extends { t: string }> {
  private pending: Buffer[] = [];
  private flushScheduled = false;
  /** Bytes received that do not yet make a whole frame. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Length of the frame being assembled (header included), once known. */
  private needed = 0;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly codec: ChannelCodec,
    private readonly onMessage: (message: In) => void,
    /** The other side closed the channel, or broke it (a protocol error). */
    private readonly onClose: (error?: Error) => void,
  ) {
    socket.setNoDelay?.(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", () => {}); // "close" follows
    socket.on("close", () => this.closedByPeer());
  }

  send(message: Out): void {
    if (this.closed) return;
    encodeInto(message, this.codec, this.pending);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes what is queued now instead of at the end of the turn. */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.pending.length === 0) return;
    const frames = this.pending;
    this.pending = [];
    if (frames.length === 1) {
      this.socket.write(frames[0]!);
      return;
    }
    // One writev for the whole turn.
    this.socket.cork();
    for (const frame of frames) this.socket.write(frame);
    this.socket.uncork();
  }

  /** Flushes, then ends the channel (the worker sees its end and exits). */
  end(): void {
    this.flush();
    this.closed = true;
    this.pending = [];
    this.socket.end();
  }

  /** Drops what was not sent yet and closes at once. */
  destroy(): void {
    this.closed = true;
    this.pending = [];
    this.socket.destroy();
  }

  private closedByPeer(error?: Error): void {
    const wasOpen = !this.closed;
    this.closed = true;
    this.pending = [];
    if (wasOpen || error) this.onClose(error);
  }

  private receive(chunk: Buffer): void {
    let buffer = chunk;
    if (this.partialBytes > 0) {
      this.partial.push(chunk);
      this.partialBytes += chunk.byteLength;
      // Large frames arrive in many reads: join them only once the frame is whole.
      if (this.needed > 0 && this.partialBytes < this.needed) return;
      buffer = Buffer.concat(this.partial, this.partialBytes);
      this.partial = [];
      this.partialBytes = 0;
    }
    let offset = 0;
    while (buffer.byteLength - offset >= 4) {
      const length = buffer.readUInt32LE(offset);
      if (length > MAX_FRAME_BYTES || length < 1) return this.fail(`a frame of ${length} bytes`);
      if (buffer.byteLength - offset < 4 + length) {
        this.needed = 4 + length;
        break;
      }
      this.needed = 0;
      let message: In;
      try {
        message = decode(buffer.subarray(offset + 4, offset + 4 + length), this.codec) as In;
      } catch (error) {
        return this.fail(error instanceof Error ? error.message : String(error));
      }
      offset += 4 + length;
      this.onMessage(message);
      if (this.closed) return;
    }
    if (offset < buffer.byteLength) {
      const rest = buffer.subarray(offset);
      this.partial = [rest];
      this.partialBytes = rest.byteLength;
    } else this.needed = 0;
  }

  private fail(reason: string): void {
    const error = new ChannelProtocolError(reason);
    this.socket.destroy();
    this.closedByPeer(error);
  }
}

/** Appends the frame of `message` to `out`, in one buffer or (with large attachments, not copied) several. */
function encodeInto(message: { t: string }, codec: ChannelCodec, out: Buffer[]): void {
  if (codec.serialized.has(message.t)) {
    const body = serialize(message);
    if (body.byteLength + 1 > MAX_FRAME_BYTES) throw new ChannelProtocolError(`a ${message.t} message of ${body.byteLength} bytes is too large to send`);
    const head = Buffer.allocUnsafe(5);
    head.writeUInt32LE(body.byteLength + 1, 0);
    head[4] = FORMAT_V8;
    out.push(head, body);
    return;
  }
  const paths = codec.binaryFields[message.t];
  let json: Buffer;
  let mask = 0;
  const attachments: Uint8Array[] = [];
  if (paths === undefined) json = Buffer.from(JSON.stringify(message));
  else {
    const fields = message as unknown as Record<string, unknown>;
    let stripped = fields;
    /** Top-level fields set to null for the JSON and put back after (no copy of the message). */
    let restore: [string, unknown][] | null = null;
    for (let i = 0; i < paths.length; i++) {
      const { path } = paths[i]!;
      const value = valueAt(message, path);
      if (typeof value === "string") attachments.push(Buffer.from(value));
      else if (value instanceof Uint8Array) attachments.push(value);
      else continue;
      mask |= 1 << i;
      if (path.length === 1) {
        (restore ??= []).push([path[0]!, value]);
        stripped[path[0]!] = null;
      } else stripped = withNullAt(stripped, path, 0);
    }
    try {
      json = Buffer.from(JSON.stringify(stripped));
    } finally {
      if (restore !== null) for (const [key, value] of restore) fields[key] = value;
    }
  }
  let copied = 0;
  let large = false;
  for (const attachment of attachments) {
    if (attachment.byteLength > COPY_ATTACHMENT_BYTES) large = true;
    copied += attachment.byteLength;
  }
  const headerBytes = 4 + 1 + 1 + 4 * attachments.length;
  const frameBytes = headerBytes + json.byteLength + copied;
  if (frameBytes - 4 > MAX_FRAME_BYTES) throw new ChannelProtocolError(`a ${message.t} message of ${frameBytes} bytes is too large to send`);
  const head = Buffer.allocUnsafe(large ? headerBytes + json.byteLength : frameBytes);
  head.writeUInt32LE(frameBytes - 4, 0);
  head[4] = FORMAT_JSON;
  head[5] = mask;
  let offset = 6;
  for (const attachment of attachments) offset = head.writeUInt32LE(attachment.byteLength, offset);
  offset += json.copy(head, offset);
  if (!large) {
    for (const attachment of attachments) {
      head.set(attachment, offset);
      offset += attachment.byteLength;
    }
    out.push(head);
    return;
  }
  out.push(head);
  for (const attachment of attachments) out.push(Buffer.from(attachment.buffer, attachment.byteOffset, attachment.byteLength));
}

function decode(body: Buffer, codec: ChannelCodec): unknown {
  if (body[0] === FORMAT_V8) return deserialize(body.subarray(1));
  if (body[0] !== FORMAT_JSON) throw new Error(`unknown frame format ${body[0]}`);
  const mask = body[1]!;
  let count = 0;
  for (let bits = mask; bits !== 0; bits >>= 1) count += bits & 1;
  let offset = 2;
  const lengths: number[] = [];
  let attached = 0;
  for (let i = 0; i < count; i++) {
    const length = body.readUInt32LE(offset);
    lengths.push(length);
    attached += length;
    offset += 4;
  }
  const jsonEnd = body.byteLength - attached;
  if (jsonEnd < offset) throw new Error("attachments longer than their frame");
  const message = JSON.parse(body.toString("utf8", offset, jsonEnd)) as Record<string, unknown>;
  if (mask === 0) return message;
  const paths = codec.binaryFields[message.t as string];
  if (paths === undefined) throw new Error(`a ${String(message.t)} message with attachments`);
  let at = jsonEnd;
  let index = 0;
  for (let i = 0; i < paths.length; i++) {
    if ((mask & (1 << i)) === 0) continue;
    const length = lengths[index++]!;
    const { path, text } = paths[i]!;
    setAt(message, path, text ? body.toString("utf8", at, at + length) : body.subarray(at, at + length));
    at += length;
  }
  return message;
}

function valueAt(message: object, path: readonly string[]): unknown {
  let value: unknown = message;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A copy of `object` with null at `path` (copies along the path only). */
function withNullAt(object: Record<string, unknown>, path: readonly string[], depth: number): Record<string, unknown> {
  const key = path[depth]!;
  const copy = { ...object };
  copy[key] = depth === path.length - 1 ? null : withNullAt(object[key] as Record<string, unknown>, path, depth + 1);
  return copy;
}

function setAt(message: Record<string, unknown>, path: readonly string[], value: Uint8Array | string): void {
  let target = message;
  for (let i = 0; i < path.length - 1; i++) {
    const next = target[path[i]!];
    if (next === null || typeof next !== "object") throw new Error(`no ${path.join(".")} in a ${String(message.t)} message`);
    target = next as Record<string, unknown>;
  }
  target[path[path.length - 1]!] = value;
}
