// The Body mixin of WHATWG Fetch (https://fetch.spec.whatwg.org/#body-mixin),
// shared by Request and Response. A body made from a string, bytes, a Blob or
// a FormData stays in memory until someone asks for `.body`; only then does a
// stream exist.
import { Blob, blobContent, blobFromParts, blobParts, normalizeType } from "./blob.js";
import { utf8Decode, utf8Encode } from "./encoding.js";
import { FormData } from "./form-data.js";
import { extractMimeType, serializeMimeType } from "./mime-type.js";
import { parseFormDataBody, serializeFormData } from "./multipart.js";
import type { HeaderList } from "./protocol.js";
import { URLSearchParams } from "./url.js";
import { type InlineBody, ReadableStream, inlineBytes, isDisturbed, readAllBytes, streamOfInline, takeInline } from "./streams.js";

export type BodyInit = string | ArrayBuffer | ArrayBufferView | Blob | FormData | URLSearchParams | ReadableStream<Uint8Array> | null;

/**
 * What dispatch sends for a body: nothing, the whole of it (text stays text:
 * the host encodes it, natively, as UTF-8), or a stream to pull.
 */
export type BodyPayload = null | Uint8Array | string | ReadableStream;

/** A body produced on demand (a request body the host streams in). */
export type LazyStream = () => ReadableStream<Uint8Array>;

export interface ExtractedBody {
  inline: InlineBody | null;
  stream: ReadableStream | null;
  /** Content-Type the body implies, when the caller did not set one. */
  contentType: string | null;
}

const NO_BODY: ExtractedBody = { inline: null, stream: null, contentType: null };

/**
 * Request and Response implement it: their Content-Type, read from their own
 * header list rather than through the `headers` getter, which may be overridden.
 */
export const CONTENT_TYPE: unique symbol = Symbol("content-type");

/** The value of `content-type` in `list`, several combined as Headers.get() does. */
export function contentTypeOf(list: HeaderList): string | null {
  let found: string | null = null;
  for (const [name, value] of list) {
    if (name === "content-type") found = found === null ? value : `${found}, ${value}`;
  }
  return found;
}

/** A body the caller may not keep a reference to: bytes are copied, strings and Blobs never change. */
function copyInline(inline: InlineBody): InlineBody {
  return inline instanceof Uint8Array ? inline.slice() : inline;
}

/** Fetch's "extract a body": copies bytes, keeps text as text, keeps streams. */
export function extractBody(init: unknown): ExtractedBody {
  if (init === null || init === undefined) return NO_BODY;
  if (typeof init === "string") return { inline: init, stream: null, contentType: "text/plain;charset=UTF-8" };
  // A Blob never changes, so it is kept as it is: no copy until the body is read or sent.
  if (init instanceof Blob) return { inline: init, stream: null, contentType: init.type !== "" ? init.type : null };
  if (init instanceof ArrayBuffer) return { inline: new Uint8Array(init.slice(0)), stream: null, contentType: null };
  if (ArrayBuffer.isView(init)) {
    const bytes = new Uint8Array(init.byteLength);
    bytes.set(new Uint8Array(init.buffer, init.byteOffset, init.byteLength));
    return { inline: bytes, stream: null, contentType: null };
  }
  if (init instanceof FormData) {
    const { body, contentType } = serializeFormData(init);
    return { inline: body, stream: null, contentType };
  }
  if (init instanceof URLSearchParams) {
    return { inline: init.toString(), stream: null, contentType: "application/x-www-form-urlencoded;charset=UTF-8" };
  }
  if (init instanceof ReadableStream) {
    if (init.locked || isDisturbed(init)) throw new TypeError("the body stream is locked or has already been read");
    const inline = takeInline(init);
    return inline !== null ? { inline, stream: null, contentType: null } : { inline: null, stream: init, contentType: null };
  }
  // Anything else is a string, as in WebIDL.
  return { inline: String(init), stream: null, contentType: "text/plain;charset=UTF-8" };
}

function bodyUsedError(): TypeError {
  return new TypeError("body already used: a Request or Response body can be read only once (clone() it before reading it twice)");
}

/** Internals for Request, Response and dispatch. */
export let setBody: (target: Body, body: ExtractedBody | null, lazy?: LazyStream | null) => void;
export let cloneBody: (source: Body, target: Body) => void;
export let takeBodyPayload: (source: Body) => BodyPayload;
export let hasBody: (source: Body) => boolean;
/** Takes the body out of `source` for a new Request made from it (source becomes used). */
export let transferBody: (source: Body) => ExtractedBody | LazyStream | null;

export abstract class Body {
  abstract [CONTENT_TYPE](): string | null;

  #inline: InlineBody | null = null;
  #stream: ReadableStream | null = null;
  #lazy: LazyStream | null = null;
  /** Read through text()/json()/... while still in memory. */
  #consumed = false;

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#stream !== null) return this.#stream as ReadableStream<Uint8Array>;
    if (this.#lazy !== null) {
      this.#stream = this.#lazy();
      this.#lazy = null;
    } else if (this.#inline !== null) {
      this.#stream = streamOfInline(this.#inline);
      this.#inline = null;
    } else if (this.#consumed) {
      const used = new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
      used.getReader().read().catch(() => {});
      this.#stream = used;
    }
    return this.#stream as ReadableStream<Uint8Array> | null;
  }

  get bodyUsed(): boolean {
    if (this.#consumed) return true;
    return this.#stream !== null && isDisturbed(this.#stream);
  }

  async text(): Promise<string> {
    const content = this.#take();
    if (typeof content === "string") return content;
    if (content instanceof Blob) return utf8Decode(blobContent(content));
    return utf8Decode(content instanceof Uint8Array ? content : await content);
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.#bytes();
    if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes.buffer as ArrayBuffer;
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    const bytes = await this.#bytes();
    return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
  }

  /** A Blob of the body, typed by the Content-Type; a Blob body's bytes are shared, not copied. */
  async blob(): Promise<Blob> {
    const content = this.#take();
    let parts: readonly Uint8Array[];
    if (content instanceof Blob) parts = blobParts(content);
    else if (typeof content === "string") parts = [utf8Encode(content)];
    else parts = [content instanceof Uint8Array ? content : await content];
    const mime = extractMimeType(this[CONTENT_TYPE]());
    return blobFromParts(parts, mime === null ? "" : normalizeType(serializeMimeType(mime)));
  }

  /** The body parsed as multipart/form-data or application/x-www-form-urlencoded, by its Content-Type. */
  async formData(): Promise<FormData> {
    const content = this.#take();
    let bytes: Uint8Array;
    if (content instanceof Blob) bytes = blobContent(content);
    else if (typeof content === "string") bytes = utf8Encode(content);
    else bytes = content instanceof Uint8Array ? content : await content;
    // The class name is minified in the bundle; the tag says Request or Response.
    const what = `${(this as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] ?? "Body"}.formData`;
    return parseFormDataBody(bytes, this[CONTENT_TYPE](), what);
  }

  async #bytes(): Promise<Uint8Array> {
    const content = this.#take();
    if (typeof content === "string" || content instanceof Blob) return inlineBytes(content);
    return content instanceof Uint8Array ? content : await content;
  }

  /** Marks the body used and hands over its content. Throws when already used. */
  #take(): InlineBody | Promise<Uint8Array> {
    if (this.bodyUsed) throw bodyUsedError();
    if (this.#inline !== null) {
      const inline = this.#inline;
      this.#inline = null;
      this.#consumed = true;
      return inline;
    }
    const stream = this.body;
    if (stream === null) {
      // A null body reads as empty, any number of times.
      return new Uint8Array(0);
    }
    if (stream.locked) throw new TypeError("the body stream is locked by a reader");
    return readAllBytes(stream);
  }

  static {
    setBody = (target, body, lazy = null) => {
      target.#inline = body?.inline ?? null;
      target.#stream = body?.stream ?? null;
      target.#lazy = lazy;
      target.#consumed = false;
    };
    hasBody = (source) => source.#inline !== null || source.#stream !== null || source.#lazy !== null || source.#consumed;
    cloneBody = (source, target) => {
      if (source.bodyUsed) throw bodyUsedError();
      if (source.#inline !== null) {
        target.#inline = copyInline(source.#inline);
        return;
      }
      const stream = source.body;
      if (stream === null) return;
      const inline = takeInline(stream);
      if (inline !== null) {
        source.#stream = null;
        source.#inline = inline;
        target.#inline = copyInline(inline);
        return;
      }
      const [one, two] = stream.tee();
      source.#stream = one;
      target.#stream = two;
    };
    takeBodyPayload = (source) => {
      if (source.bodyUsed) throw bodyUsedError();
      let inline = source.#inline;
      if (inline === null && source.#stream !== null) inline = takeInline(source.#stream);
      if (inline !== null) {
        source.#inline = null;
        source.#stream = null;
        source.#consumed = true;
        // A Blob's own storage can go: the host copies it and nothing changes it.
        return inline instanceof Blob ? blobContent(inline) : inline;
      }
      const stream = source.body;
      if (stream !== null && stream.locked) throw new TypeError("the body stream is locked by a reader");
      return stream;
    };
    transferBody = (source) => {
      if (source.bodyUsed) throw bodyUsedError();
      if (source.#lazy !== null) {
        const lazy = source.#lazy;
        source.#lazy = null;
        source.#consumed = true;
        return lazy;
      }
      if (source.#inline === null && source.#stream === null) return null;
      const body: ExtractedBody = { inline: source.#inline, stream: source.#stream, contentType: null };
      if (body.stream !== null) {
        const inline = takeInline(body.stream);
        if (inline !== null) {
          body.inline = inline;
          body.stream = null;
        } else if (body.stream.locked) throw new TypeError("the body stream is locked by a reader");
      }
      source.#inline = null;
      source.#stream = null;
      source.#consumed = true;
      return body;
    };
  }
}

