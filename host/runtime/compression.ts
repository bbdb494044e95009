// CompressionStream and DecompressionStream, per the Compression Standard
// (https://compression.spec.whatwg.org/): "gzip" (RFC 1952), "deflate" (the
// zlib format, RFC 1950) and "deflate-raw" (RFC 1951). fflate does DEFLATE
// itself; the gzip and zlib wrappers of decompressed data are checked here
// (headers, checksums, lengths), since fflate's streaming classes skip that.
import type * as Fflate from "./fflate-streams.js";
import { type ReadableStream, TransformStream, type WritableStream } from "./streams.js";

type Format = "gzip" | "deflate" | "deflate-raw";

const FORMATS: readonly string[] = ["gzip", "deflate", "deflate-raw"];
const EMPTY = new Uint8Array(0);
/** Compressed bytes given to the inflater at a time, so that one call makes at most ~16 MiB (DEFLATE expands ≤ 1032×). */
const INFLATE_SLICE_BYTES = 16 * 1024;
/** A gzip header holds a file name and a comment of any length; past this it is taken for garbage. */
const MAX_GZIP_HEADER_BYTES = 1024 * 1024;
const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/**
 * fflate builds its Huffman tables when it loads, which takes tens of
 * milliseconds in a fresh isolate: it loads when a script first uses a
 * (de)compression stream, not at every boot. esbuild turns this import() into
 * a lazily run module of the bundle.
 */
let fflate: Promise<typeof Fflate> | null = null;
function loadFflate(): Promise<typeof Fflate> {
  return (fflate ??= import("./fflate-streams.js"));
}

function toFormat(format: unknown, what: string): Format {
  const text = String(format);
  if (!FORMATS.includes(text)) throw new TypeError(`${what}: the format must be "gzip", "deflate" or "deflate-raw", got "${text}"`);
  return text as Format;
}

/** A BufferSource chunk as a Uint8Array view, or a TypeError. */
function bufferSource(chunk: unknown, what: string): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  const kind = chunk === null ? "null" : typeof chunk === "object" ? (chunk.constructor?.name ?? "object") : typeof chunk;
  throw new TypeError(`${what}: chunks must be an ArrayBuffer or an ArrayBufferView such as Uint8Array, got ${kind}`);
}

// ---- checksums -------------------------------------------------------------

let crcTable: Int32Array | null = null;

function crc32(crc: number, bytes: Uint8Array): number {
  let table = crcTable;
  if (table === null) {
    table = crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function adler32(adler: number, bytes: Uint8Array): number {
  let a = adler & 0xffff;
  let b = adler >>> 16;
  // 5552 bytes is the most that can be summed before b may overflow 2^32.
  for (let start = 0; start < bytes.length; start += 5552) {
    const end = Math.min(start + 5552, bytes.length);
    for (let i = start; i < end; i++) {
      a += bytes[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

// ---- wrappers ----------------------------------------------------------------

/** The length of the gzip header at the start of `bytes`, -1 when more bytes are needed; throws when it is not gzip. */
function gzipHeaderLength(bytes: Uint8Array): number {
  if (bytes.length >= 1 && bytes[0] !== 0x1f) throw corrupt("gzip", "it does not start with the gzip magic bytes");
  if (bytes.length >= 2 && bytes[1] !== 0x8b) throw corrupt("gzip", "it does not start with the gzip magic bytes");
  if (bytes.length >= 3 && bytes[2] !== 8) throw corrupt("gzip", "its compression method is not DEFLATE");
  if (bytes.length < 10) return -1;
  const flags = bytes[3]!;
  if (flags & 0xe0) throw corrupt("gzip", "its header has reserved flags set");
  let length = 10;
  if (flags & 4) {
    if (bytes.length < 12) return -1;
    length += 2 + (bytes[10]! | (bytes[11]! << 8));
  }
  // FNAME then FCOMMENT: zero-terminated strings.
  for (const flag of [8, 16]) {
    if (!(flags & flag)) continue;
    const zero = bytes.indexOf(0, length);
    if (zero === -1) return -1;
    length = zero + 1;
  }
  if (flags & 2) length += 2;
  return length <= bytes.length ? length : -1;
}

function checkZlibHeader(bytes: Uint8Array): void {
  const cmf = bytes[0]!;
  const flg = bytes[1]!;
  if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0) throw corrupt("deflate", "its zlib header is invalid");
  if (flg & 0x20) throw corrupt("deflate", "it needs a preset dictionary, which DecompressionStream cannot supply");
}

function readUint32LE(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

function readUint32BE(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function corrupt(format: Format, detail: string): TypeError {
  return new TypeError(`DecompressionStream: the ${format} data is corrupt: ${detail}`);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// ---- decompressing -----------------------------------------------------------

/**
 * fflate's Inflate keeps its state in these (minified) fields: `s.f` is set
 * once the final block began, `s.l` holds a block's tables while it is
 * unfinished, and the unread input is `p` from bit `s.p`. Nothing public says
 * where the DEFLATE data ends, and a wrapper's trailer starts there.
 */
interface InflateInternals {
  s: { f?: number; l?: unknown; p?: number };
  p: Uint8Array;
}

/** Where a Decompressor is in its input: header, DEFLATE data, trailer, past the end. */
type Stage = "header" | "deflate" | "trailer" | "done";

/** Decompresses one stream: wrapper header, DEFLATE data, wrapper trailer, then nothing more. */
class Decompressor {
  readonly #format: Format;
  readonly #emit: (bytes: Uint8Array) => void;
  #stage: Stage = "header";
  /** Header or trailer bytes collected so far. */
  #held: Uint8Array = EMPTY;
  #inflate: Fflate.Inflate;
  #check = 0;
  #size = 0;

  constructor(format: Format, Inflate: typeof Fflate.Inflate, emit: (bytes: Uint8Array) => void) {
    this.#format = format;
    this.#emit = emit;
    this.#check = format === "deflate" ? 1 : 0;
    if (format === "deflate-raw") this.#stage = "deflate";
    this.#inflate = new Inflate((data) => {
      if (data.length === 0) return;
      if (this.#format === "gzip") this.#check = crc32(this.#check, data);
      else if (this.#format === "deflate") this.#check = adler32(this.#check, data);
      this.#size = (this.#size + data.length) >>> 0;
      this.#emit(data);
    });
  }

  push(input: Uint8Array): void {
    while (input.length > 0) {
      switch (this.#stage) {
        case "header":
          input = this.#readHeader(input);
          break;
        case "deflate":
          input = this.#inflateSome(input);
          break;
        case "trailer":
          input = this.#readTrailer(input);
          break;
        case "done":
          throw new TypeError(`DecompressionStream: there is data after the end of the ${this.#format} stream`);
      }
    }
  }

  finish(): void {
    if (this.#stage !== "done") throw new TypeError(`DecompressionStream: the ${this.#format} data is truncated: it ends before the end of the compressed stream`);
  }

  #readHeader(input: Uint8Array): Uint8Array {
    const held = concat(this.#held, input);
    const length = this.#format === "gzip" ? gzipHeaderLength(held) : held.length >= 2 ? 2 : -1;
    if (length === -1) {
      if (held.length > MAX_GZIP_HEADER_BYTES) throw corrupt("gzip", `its header is longer than ${MAX_GZIP_HEADER_BYTES} bytes`);
      this.#held = held;
      return EMPTY;
    }
    if (this.#format === "deflate") checkZlibHeader(held);
    else if (held[3]! & 2 && (crc32(0, held.subarray(0, length - 2)) & 0xffff) !== (held[length - 2]! | (held[length - 1]! << 8))) {
      throw corrupt("gzip", "its header CRC does not match");
    }
    this.#held = EMPTY;
    this.#stage = "deflate";
    return held.subarray(length);
  }

  /** Inflates a slice of `input`; returns what is left of it, which is past the DEFLATE data once that ended. */
  #inflateSome(input: Uint8Array): Uint8Array {
    const slice = input.subarray(0, INFLATE_SLICE_BYTES);
    try {
      this.#inflate.push(slice, false);
    } catch (error) {
      throw corrupt(this.#format, error instanceof Error ? error.message : String(error));
    }
    const state = this.#inflate as unknown as InflateInternals;
    if (!state.s.f || state.s.l) return input.subarray(slice.length);
    // The final block ended: the rest of the unread input, from the next whole byte, follows it.
    const unread = state.p.subarray(((state.s.p ?? 0) + 7) >> 3);
    this.#stage = this.#format === "deflate-raw" ? "done" : "trailer";
    return concat(unread, input.subarray(slice.length));
  }

  #readTrailer(input: Uint8Array): Uint8Array {
    const length = this.#format === "gzip" ? 8 : 4;
    const held = concat(this.#held, input);
    if (held.length < length) {
      this.#held = held;
      return EMPTY;
    }
    this.#held = EMPTY;
    if (this.#format === "gzip") {
      if (readUint32LE(held, 0) !== this.#check) throw corrupt("gzip", "its CRC-32 does not match the data");
      if (readUint32LE(held, 4) !== this.#size) throw corrupt("gzip", "its length field does not match the data");
    } else if (readUint32BE(held, 0) !== this.#check) throw corrupt("deflate", "its Adler-32 does not match the data");
    this.#stage = "done";
    return held.subarray(length);
  }
}

// ---- the Web API ---------------------------------------------------------------

export class CompressionStream {
  #transform: TransformStream<BufferSource, Uint8Array>;
  #format: Format;

  constructor(format: "gzip" | "deflate" | "deflate-raw") {
    if (arguments.length === 0) throw new TypeError("CompressionStream: 1 argument required, but only 0 present.");
    const name = toFormat(format, "CompressionStream");
    this.#format = name;
    let deflater: Fflate.Deflate | Fflate.Gzip | Fflate.Zlib;
    this.#transform = new TransformStream<BufferSource, Uint8Array>({
      async start(controller) {
        const { Deflate, Gzip, Zlib } = await loadFflate();
        deflater = name === "gzip" ? new Gzip() : name === "deflate" ? new Zlib() : new Deflate();
        deflater.ondata = (data) => {
          if (data.length > 0) controller.enqueue(data);
        };
      },
      transform(chunk) {
        const bytes = bufferSource(chunk, "CompressionStream");
        if (bytes.length > 0) deflater.push(bytes, false);
      },
      flush() {
        deflater.push(EMPTY, true);
      },
    });
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.#transform.readable;
  }

  get writable(): WritableStream<BufferSource> {
    return this.#transform.writable;
  }

  [INSPECT](): string {
    return `CompressionStream { format: ${JSON.stringify(this.#format)} }`;
  }
}

Object.defineProperty(CompressionStream.prototype, Symbol.toStringTag, { value: "CompressionStream", configurable: true });

export class DecompressionStream {
  #transform: TransformStream<BufferSource, Uint8Array>;
  #format: Format;

  constructor(format: "gzip" | "deflate" | "deflate-raw") {
    if (arguments.length === 0) throw new TypeError("DecompressionStream: 1 argument required, but only 0 present.");
    const name = toFormat(format, "DecompressionStream");
    this.#format = name;
    let decompressor: Decompressor;
    this.#transform = new TransformStream<BufferSource, Uint8Array>({
      async start(controller) {
        const { Inflate } = await loadFflate();
        decompressor = new Decompressor(name, Inflate, (bytes) => controller.enqueue(bytes));
      },
      transform(chunk) {
        decompressor.push(bufferSource(chunk, "DecompressionStream"));
      },
      flush() {
        decompressor.finish();
      },
    });
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.#transform.readable;
  }

  get writable(): WritableStream<BufferSource> {
    return this.#transform.writable;
  }

  [INSPECT](): string {
    return `DecompressionStream { format: ${JSON.stringify(this.#format)} }`;
  }
}

Object.defineProperty(DecompressionStream.prototype, Symbol.toStringTag, { value: "DecompressionStream", configurable: true });

type BufferSource = ArrayBuffer | ArrayBufferView;
