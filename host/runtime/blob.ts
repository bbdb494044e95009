// Blob and File, per the File API (https://w3c.github.io/FileAPI/). A Blob
// holds byte arrays that nothing ever changes or hands out: slices and Files
// made from it share them, and bytes are copied only when someone reads them.
// ReadableStream comes from the polyfill itself: streams.ts imports this module.
import { ReadableStream } from "web-streams-polyfill";
import { toUSVString, utf8Decode, utf8Encode } from "./encoding.js";
import { concatBytes } from "./streams.js";

export type BlobPart = ArrayBuffer | ArrayBufferView | Blob | string;

export interface BlobPropertyBag {
  type?: string;
  /** "native" turns every line break of string parts into "\n". Default "transparent". */
  endings?: "transparent" | "native";
}

export interface FilePropertyBag extends BlobPropertyBag {
  /** Milliseconds since the epoch. Default: now. */
  lastModified?: number;
}

/** Size of the chunks of Blob.stream(). */
const STREAM_CHUNK_BYTES = 64 * 1024;
const INSPECT = Symbol.for("nodejs.util.inspect.custom");
const NOT_PRINTABLE_ASCII = /[^\x20-\x7e]/;
const LINE_BREAK = /\r\n|\r|\n/g;

/** The File API's rule for `type`: printable ASCII, lower-cased, else "". */
export function normalizeType(type: unknown): string {
  if (type === undefined) return "";
  const text = String(type);
  return NOT_PRINTABLE_ASCII.test(text) ? "" : text.toLowerCase();
}

function dictionary(options: unknown, what: string): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object" && typeof options !== "function") throw new TypeError(`${what}: options must be an object`);
  return options as Record<string, unknown>;
}

/** WebIDL `[Clamp] long long`. */
function clampInteger(value: unknown): number {
  const number = Number(value);
  if (Number.isNaN(number)) return 0;
  const clamped = Math.min(Math.max(number, -Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  // Round half to even, as [Clamp] does.
  return fraction > 0.5 || (fraction === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
}

/** WebIDL `long long` (the common range of it). */
function toLongLong(value: unknown): number {
  const number = Number(value);
  return Number.isFinite(number) ? Math.trunc(number) + 0 : 0;
}

/** Each part's bytes, copied from the caller's buffers (they may change them later). */
function partsOf(input: unknown, options: Record<string, unknown>, what: string): Uint8Array[] {
  if (input === undefined) return [];
  if (input === null || typeof input !== "object" || typeof (input as Iterable<unknown>)[Symbol.iterator] !== "function") {
    throw new TypeError(`${what}: the parts must be an iterable (an array of strings, buffers and Blobs)`);
  }
  const converted: (readonly Uint8Array[] | Uint8Array | string)[] = [];
  for (const part of input as Iterable<unknown>) {
    if (part instanceof Blob) converted.push(blobParts(part));
    else if (part instanceof ArrayBuffer) converted.push(new Uint8Array(part.slice(0)));
    else if (ArrayBuffer.isView(part)) converted.push(new Uint8Array(part.buffer, part.byteOffset, part.byteLength).slice());
    else converted.push(String(part));
  }
  let native = false;
  if (options.endings !== undefined) {
    const endings = String(options.endings);
    if (endings !== "transparent" && endings !== "native") throw new TypeError(`${what}: endings must be "transparent" or "native", got "${endings}"`);
    native = endings === "native";
  }
  // Runs of the Blob's own copies are joined into one array; other Blobs' arrays are shared.
  const parts: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let runSize = 0;
  const endRun = () => {
    if (run.length > 0) parts.push(run.length === 1 ? run[0]! : concatBytes(run, runSize));
    run = [];
    runSize = 0;
  };
  for (const part of converted) {
    const bytes = typeof part === "string" ? utf8Encode(native ? part.replace(LINE_BREAK, "\n") : part) : part;
    if (bytes instanceof Uint8Array) {
      if (bytes.length === 0) continue;
      run.push(bytes);
      runSize += bytes.length;
    } else {
      endRun();
      for (const shared of bytes) parts.push(shared);
    }
  }
  endRun();
  return parts;
}

function sizeOf(parts: readonly Uint8Array[]): number {
  let size = 0;
  for (const part of parts) size += part.length;
  return size;
}


/** A byte stream (BYOB readers work) over `parts`, copied out chunk by chunk. */
function streamOfParts(parts: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let index = 0;
  let offset = 0;
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: STREAM_CHUNK_BYTES,
    pull(controller) {
      const request = controller.byobRequest;
      if (index < parts.length && request !== null && request.view !== null) {
        const view = request.view;
        const target = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
        let written = 0;
        while (written < target.length && index < parts.length) {
          const part = parts[index]!;
          const count = Math.min(part.length - offset, target.length - written);
          target.set(part.subarray(offset, offset + count), written);
          written += count;
          offset += count;
          if (offset === part.length) {
            index++;
            offset = 0;
          }
        }
        request.respond(written);
      }
      if (index === parts.length) controller.close();
    },
  }) as unknown as ReadableStream<Uint8Array>;
}

/** Internals for FormData, multipart, streams and Body in this folder. */
/** A Blob over `parts`, which it keeps: nobody may change them afterwards. */
export let blobFromParts: (parts: readonly Uint8Array[], type: string) => Blob;
export let fileFromParts: (parts: readonly Uint8Array[], name: string, type: string, lastModified: number) => File;
/** The arrays a Blob's bytes live in: never change them. */
export let blobParts: (blob: Blob) => readonly Uint8Array[];
/** The whole content in one array; may be the Blob's own storage, so only for reading (or sending to the host). */
export let blobContent: (blob: Blob) => Uint8Array;
/** A new copy of the content, for handing to user code. */
export let blobBytes: (blob: Blob) => Uint8Array;
/** What blob.stream() returns, without going through a method user code could replace. */
export let blobStream: (blob: Blob) => ReadableStream<Uint8Array>;

export class Blob {
  #parts: readonly Uint8Array[];
  #size: number;
  #type: string;

  constructor(blobParts?: Iterable<BlobPart>, options?: BlobPropertyBag) {
    const bag = dictionary(options, "Blob");
    this.#parts = partsOf(blobParts, bag, "Blob");
    this.#size = sizeOf(this.#parts);
    this.#type = normalizeType(bag.type);
  }

  get size(): number {
    return this.#size;
  }

  get type(): string {
    return this.#type;
  }

  slice(start?: number, end?: number, contentType?: string): Blob {
    const size = this.#size;
    const from = start === undefined ? 0 : clampInteger(start);
    const to = end === undefined ? size : clampInteger(end);
    const first = from < 0 ? Math.max(size + from, 0) : Math.min(from, size);
    const last = to < 0 ? Math.max(size + to, 0) : Math.min(to, size);
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const part of this.#parts) {
      const partEnd = offset + part.length;
      if (partEnd > first && offset < last) {
        parts.push(part.subarray(Math.max(first - offset, 0), Math.min(last, partEnd) - offset));
      }
      offset = partEnd;
      if (offset >= last) break;
    }
    return blobFromParts(parts, normalizeType(contentType));
  }

  /** A byte stream of the content, in chunks of up to 64 KiB. */
  stream(): ReadableStream<Uint8Array> {
    return streamOfParts(this.#parts);
  }

  async text(): Promise<string> {
    return utf8Decode(blobContent(this));
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return blobBytes(this).buffer as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    return blobBytes(this);
  }

  [INSPECT](): string {
    return `Blob { size: ${this.#size}, type: ${JSON.stringify(this.#type)} }`;
  }

  static {
    blobFromParts = (parts, type) => {
      const blob = new Blob();
      blob.#parts = parts;
      blob.#size = sizeOf(parts);
      blob.#type = type;
      return blob;
    };
    fileFromParts = (parts, name, type, lastModified) => {
      const file = new File([], name, { lastModified });
      file.#parts = parts;
      file.#size = sizeOf(parts);
      file.#type = type;
      return file;
    };
    blobParts = (blob) => blob.#parts;
    blobContent = (blob) => {
      const parts = blob.#parts;
      if (parts.length === 1 && parts[0]!.byteOffset === 0 && parts[0]!.byteLength === parts[0]!.buffer.byteLength) return parts[0]!;
      return concatBytes(parts, blob.#size);
    };
    blobBytes = (blob) => concatBytes(blob.#parts, blob.#size);
    blobStream = (blob) => streamOfParts(blob.#parts);
  }
}

Object.defineProperty(Blob.prototype, Symbol.toStringTag, { value: "Blob", configurable: true });

export class File extends Blob {
  #name: string;
  #lastModified: number;

  constructor(fileBits: Iterable<BlobPart>, fileName: string, options?: FilePropertyBag) {
    if (arguments.length < 2) throw new TypeError(`File: 2 arguments required, but only ${arguments.length} present.`);
    super(fileBits, options);
    const bag = dictionary(options, "File");
    this.#name = toUSVString(fileName);
    this.#lastModified = bag.lastModified === undefined ? Date.now() : toLongLong(bag.lastModified);
  }

  get name(): string {
    return this.#name;
  }

  get lastModified(): number {
    return this.#lastModified;
  }

  override [INSPECT](): string {
    return `File { name: ${JSON.stringify(this.#name)}, size: ${this.size}, type: ${JSON.stringify(this.type)}, lastModified: ${this.#lastModified} }`;
  }
}

Object.defineProperty(File.prototype, Symbol.toStringTag, { value: "File", configurable: true });
