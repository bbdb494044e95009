// TextEncoder and TextDecoder, per the Encoding Standard
// (https://encoding.spec.whatwg.org/): UTF-8 both ways, and decoding of
// UTF-16LE/BE and windows-1252 (latin1, ascii). Also the UTF-8 helpers the
// body code uses directly.

import { type HostTextCodec, TEXT_ON_HOST_BYTES } from "./protocol.js";

// ---- the host's native UTF-8 -------------------------------------------------

/** Large inputs are coded by the host in native code (~15 ms of JS per MiB otherwise). */
let hostText: HostTextCodec | null = null;

/** Takes `__atoll_text` (protocol.ts); without it (some tests), everything is coded here. */
export function useHostText(codec: unknown): void {
  if (typeof codec === "function") hostText = codec as HostTextCodec;
}

/** The host's UTF-8 decoding of `bytes` (null: not valid UTF-8, when `fatal`), or undefined when it could not. */
function decodeOnHost(bytes: Uint8Array, fatal: boolean): string | null | undefined {
  try {
    // A whole ArrayBuffer crosses faster than a view of it (8 MiB: ~4 ms against ~5.5).
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
    const text = hostText!(fatal ? "decode-fatal" : "decode", whole ? (bytes.buffer as ArrayBuffer) : bytes);
    if (typeof text === "string" || (fatal && text === null)) return text;
  } catch {
    // Out of memory on the host side, or the like: the JS path gives the same answer.
  }
  return undefined;
}

/**
 * Where a stream's chunk may be cut so that the rest (at most 3 bytes) holds
 * only an unfinished sequence: just before a lead byte whose sequence runs
 * past the end. Decoding both parts one after the other is decoding the whole.
 */
function completeLength(bytes: Uint8Array): number {
  const length = bytes.length;
  for (let back = 1; back <= 3 && back <= length; back++) {
    const byte = bytes[length - back]!;
    if (byte < 0x80) return length;
    if (byte >= 0xc0) return (byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2) > back ? length - back : length;
  }
  return length;
}

// ---- UTF-8 encoding --------------------------------------------------------

/** UTF-8 bytes of `input`; lone surrogates become U+FFFD. */
export function utf8Encode(input: string): Uint8Array {
  const length = input.length;
  if (length >= TEXT_ON_HOST_BYTES && hostText !== null) {
    try {
      const bytes = hostText("encode", input);
      if (bytes instanceof Uint8Array) return bytes;
    } catch {
      // As for decoding: the JS below gives the same answer.
    }
  }
  let i = 0;
  while (i < length && input.charCodeAt(i) < 0x80) i++;
  if (i === length) {
    const out = new Uint8Array(length);
    for (let j = 0; j < length; j++) out[j] = input.charCodeAt(j);
    return out;
  }
  let size = i;
  for (let j = i; j < length; j++) {
    const unit = input.charCodeAt(j);
    if (unit < 0x80) size += 1;
    else if (unit < 0x800) size += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && j + 1 < length && isLowSurrogate(input.charCodeAt(j + 1))) {
      size += 4;
      j++;
    } else size += 3;
  }
  const out = new Uint8Array(size);
  for (let j = 0; j < i; j++) out[j] = input.charCodeAt(j);
  encodeFrom(input, i, out, i);
  return out;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** Encodes input[from..] into out[at..], stopping before a character that does not fit. */
function encodeFrom(input: string, from: number, out: Uint8Array, at: number): { read: number; written: number } {
  const length = input.length;
  const capacity = out.length;
  let read = from;
  let written = at;
  while (read < length) {
    let point = input.charCodeAt(read);
    let units = 1;
    if (point >= 0xd800 && point <= 0xdfff) {
      const next = read + 1 < length ? input.charCodeAt(read + 1) : 0;
      if (point <= 0xdbff && isLowSurrogate(next)) {
        point = 0x10000 + ((point - 0xd800) << 10) + (next - 0xdc00);
        units = 2;
      } else point = 0xfffd;
    }
    if (point < 0x80) {
      if (written + 1 > capacity) break;
      out[written++] = point;
    } else if (point < 0x800) {
      if (written + 2 > capacity) break;
      out[written++] = 0xc0 | (point >> 6);
      out[written++] = 0x80 | (point & 0x3f);
    } else if (point < 0x10000) {
      if (written + 3 > capacity) break;
      out[written++] = 0xe0 | (point >> 12);
      out[written++] = 0x80 | ((point >> 6) & 0x3f);
      out[written++] = 0x80 | (point & 0x3f);
    } else {
      if (written + 4 > capacity) break;
      out[written++] = 0xf0 | (point >> 18);
      out[written++] = 0x80 | ((point >> 12) & 0x3f);
      out[written++] = 0x80 | ((point >> 6) & 0x3f);
      out[written++] = 0x80 | (point & 0x3f);
    }
    read += units;
  }
  return { read: read - from, written: written - at };
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** WebIDL's USVString conversion: String(value) with lone surrogates replaced by U+FFFD. */
export function toUSVString(value: unknown): string {
  return String(value).replace(LONE_SURROGATE, "\ufffd");
}

// ---- UTF-8 decoding --------------------------------------------------------

const CHUNK = 0x2000;

/** String from UTF-16 code units, in slices small enough for fromCharCode.apply. */
function unitsToString(units: ArrayLike<number> & { subarray?: unknown }, count: number): string {
  const view = units as Uint16Array | Uint8Array;
  if (count <= CHUNK) return String.fromCharCode.apply(null, view.subarray(0, count) as unknown as number[]);
  let out = "";
  for (let i = 0; i < count; i += CHUNK) {
    out += String.fromCharCode.apply(null, view.subarray(i, Math.min(i + CHUNK, count)) as unknown as number[]);
  }
  return out;
}

/** The Encoding Standard's UTF-8 decoder, resumable across chunks. */
class Utf8Decoder {
  private needed = 0;
  private seen = 0;
  private point = 0;
  private lower = 0x80;
  private upper = 0xbf;

  get pending(): boolean {
    return this.needed !== 0;
  }

  reset(): void {
    this.needed = 0;
    this.seen = 0;
    this.point = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }

  /** Decodes `bytes`; with `flush`, an unfinished sequence at the end is an error. Returns null on error when fatal. */
  decode(bytes: Uint8Array, flush: boolean, fatal: boolean): string | null {
    const length = bytes.length;
    if (length >= TEXT_ON_HOST_BYTES && this.needed === 0 && hostText !== null) {
      const cut = flush ? length : completeLength(bytes);
      const head = decodeOnHost(cut === length ? bytes : bytes.subarray(0, cut), fatal);
      if (head === null) return null;
      if (head !== undefined) {
        if (cut === length) return head;
        const tail = this.decode(bytes.subarray(cut), flush, fatal);
        return tail === null ? null : head + tail;
      }
    }
    // ASCII fast path when nothing is pending.
    if (this.needed === 0) {
      let ascii = 0;
      while (ascii < length && bytes[ascii]! < 0x80) ascii++;
      if (ascii === length) return unitsToString(bytes, length);
    }
    // Each byte gives at most one unit, plus up to 3 pending bytes finishing a pair or failing.
    const out = new Uint16Array(length + 4);
    let count = 0;
    let i = 0;
    while (i < length) {
      const byte = bytes[i]!;
      if (this.needed === 0) {
        i++;
        if (byte < 0x80) out[count++] = byte;
        else if (byte >= 0xc2 && byte <= 0xdf) {
          this.needed = 1;
          this.point = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) this.lower = 0xa0;
          if (byte === 0xed) this.upper = 0x9f;
          this.needed = 2;
          this.point = byte & 0xf;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) this.lower = 0x90;
          if (byte === 0xf4) this.upper = 0x8f;
          this.needed = 3;
          this.point = byte & 0x7;
        } else {
          if (fatal) return null;
          out[count++] = 0xfffd;
        }
        continue;
      }
      if (byte < this.lower || byte > this.upper) {
        // Error: the byte is not consumed, it starts over.
        this.reset();
        if (fatal) return null;
        out[count++] = 0xfffd;
        continue;
      }
      i++;
      this.lower = 0x80;
      this.upper = 0xbf;
      this.point = (this.point << 6) | (byte & 0x3f);
      if (++this.seen !== this.needed) continue;
      const point = this.point;
      this.reset();
      if (point < 0x10000) out[count++] = point;
      else {
        const offset = point - 0x10000;
        out[count++] = 0xd800 + (offset >> 10);
        out[count++] = 0xdc00 + (offset & 0x3ff);
      }
    }
    if (flush && this.needed !== 0) {
      this.reset();
      if (fatal) return null;
      out[count++] = 0xfffd;
    }
    return unitsToString(out, count);
  }
}

/** UTF-8 decode of a whole byte sequence, replacing errors and dropping a BOM (Fetch's "UTF-8 decode"). */
export function utf8Decode(bytes: Uint8Array): string {
  const start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return new Utf8Decoder().decode(start === 0 ? bytes : bytes.subarray(start), true, false)!;
}

/** UTF-8 decode of a whole byte sequence, replacing errors and keeping a BOM as U+FEFF (Encoding's "UTF-8 decode without BOM": form fields, urlencoded bodies). */
export function utf8DecodeWithoutBOM(bytes: Uint8Array): string {
  return new Utf8Decoder().decode(bytes, true, false)!;
}

// ---- other decoders --------------------------------------------------------

interface ByteDecoder {
  decode(bytes: Uint8Array, flush: boolean, fatal: boolean): string | null;
  reset(): void;
}

class Utf16Decoder implements ByteDecoder {
  private leftover = -1;
  private highSurrogate = -1;
  constructor(private readonly bigEndian: boolean) {}

  reset(): void {
    this.leftover = -1;
    this.highSurrogate = -1;
  }

  decode(bytes: Uint8Array, flush: boolean, fatal: boolean): string | null {
    let out = "";
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      if (this.leftover < 0) {
        this.leftover = byte;
        continue;
      }
      const unit = this.bigEndian ? (this.leftover << 8) | byte : (byte << 8) | this.leftover;
      this.leftover = -1;
      if (this.highSurrogate >= 0) {
        const high = this.highSurrogate;
        this.highSurrogate = -1;
        if (isLowSurrogate(unit)) {
          out += String.fromCharCode(high, unit);
          continue;
        }
        if (fatal) return null;
        out += "\ufffd";
      }
      if (unit >= 0xd800 && unit <= 0xdbff) this.highSurrogate = unit;
      else if (isLowSurrogate(unit)) {
        if (fatal) return null;
        out += "\ufffd";
      } else out += String.fromCharCode(unit);
    }
    if (flush && (this.leftover >= 0 || this.highSurrogate >= 0)) {
      this.reset();
      if (fatal) return null;
      out += "\ufffd";
    }
    return out;
  }
}

// windows-1252 bytes 0x80..0x9F; every other byte is its own code point.
const WINDOWS_1252 = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

class Windows1252Decoder implements ByteDecoder {
  reset(): void {}
  decode(bytes: Uint8Array): string {
    const out = new Uint16Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      out[i] = byte >= 0x80 && byte <= 0x9f ? WINDOWS_1252[byte - 0x80]! : byte;
    }
    return unitsToString(out, bytes.length);
  }
}

const LABELS: Record<string, string> = {};
for (const [name, labels] of [
  ["utf-8", "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8"],
  ["utf-16le", "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le"],
  ["utf-16be", "unicodefffe utf-16be"],
  [
    "windows-1252",
    "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252",
  ],
] as const) {
  for (const label of labels.split(" ")) LABELS[label] = name;
}

function toBytes(input: unknown, what: string): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  throw new TypeError(`${what}: the input must be an ArrayBuffer or an ArrayBufferView`);
}

// ---- the Web API -----------------------------------------------------------

export class TextEncoder {
  get encoding(): string {
    return "utf-8";
  }

  encode(input: unknown = ""): Uint8Array {
    return utf8Encode(String(input));
  }

  encodeInto(source: unknown, destination: Uint8Array): { read: number; written: number } {
    if (!(destination instanceof Uint8Array)) throw new TypeError("TextEncoder.encodeInto: the destination must be a Uint8Array");
    return encodeFrom(String(source), 0, destination, 0);
  }
}

Object.defineProperty(TextEncoder.prototype, Symbol.toStringTag, { value: "TextEncoder", configurable: true });

export interface TextDecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}

export class TextDecoder {
  #encoding: string;
  #fatal: boolean;
  #ignoreBOM: boolean;
  #decoder: ByteDecoder;
  /** Whether the start of the stream (where a BOM may sit) is behind us. */
  #started = false;

  constructor(label: unknown = "utf-8", options: TextDecoderOptions = {}) {
    const encoding = LABELS[String(label).trim().toLowerCase()];
    if (encoding === undefined) throw new RangeError(`TextDecoder: the encoding "${String(label)}" is not supported`);
    this.#encoding = encoding;
    this.#fatal = Boolean(options?.fatal);
    this.#ignoreBOM = Boolean(options?.ignoreBOM);
    this.#decoder =
      encoding === "utf-8" ? new Utf8Decoder() : encoding === "windows-1252" ? new Windows1252Decoder() : new Utf16Decoder(encoding === "utf-16be");
  }

  get encoding(): string {
    return this.#encoding;
  }
  get fatal(): boolean {
    return this.#fatal;
  }
  get ignoreBOM(): boolean {
    return this.#ignoreBOM;
  }

  decode(input?: unknown, options?: { stream?: boolean }): string {
    const bytes = input === undefined || input === null ? new Uint8Array(0) : toBytes(input, "TextDecoder.decode");
    const stream = Boolean(options?.stream);
    let text = this.#decoder.decode(bytes, !stream, this.#fatal);
    if (text === null) {
      this.#decoder.reset();
      this.#started = false;
      throw new TypeError(`TextDecoder.decode: the encoded data is not valid ${this.#encoding}`);
    }
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff && this.#encoding !== "windows-1252") text = text.slice(1);
    }
    if (!stream) this.#started = false;
    return text;
  }
}

Object.defineProperty(TextDecoder.prototype, Symbol.toStringTag, { value: "TextDecoder", configurable: true });
