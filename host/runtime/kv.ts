// KVNamespace: the Workers KV surface over the `binding` op. Values cross as
// bytes; conversions (text, json, arrayBuffer, stream) happen here. The host
// checks keys, sizes and options again and owns the namespace's data.
import { currentInvocation, type OpSettle, startOp } from "./bridge.js";
import { utf8Decode, utf8Encode } from "./encoding.js";
import { ReadableStream, readAllBytes, streamOfInline } from "./streams.js";
import { KV_LIMITS } from "./protocol.js";

type GetType = "text" | "json" | "arrayBuffer" | "stream";
const GET_TYPES: readonly string[] = ["text", "json", "arrayBuffer", "stream"];

export interface KVListKey {
  name: string;
  expiration?: number;
  metadata?: unknown;
}

export interface KVListResult {
  keys: KVListKey[];
  list_complete: boolean;
  cursor?: string;
}

/** Sends one call for the binding; rejects with the host's error as a TypeError or Error. */
export function bindingCall(binding: string, method: string, args: unknown[]): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    const settle: OpSettle = (ok, value) => (ok ? resolve(value) : reject(bindingError(value)));
    startOp({ name: "binding", id: currentInvocation(), binding, method, args }, settle);
  });
}

/** An error the host sent back: { name, message }, or a message. */
export function bindingError(value: unknown): Error {
  const failure = typeof value === "object" && value !== null ? (value as { name?: unknown; message?: unknown }) : { message: value };
  const message = typeof failure.message === "string" ? failure.message : String(failure.message);
  return failure.name === "TypeError" ? new TypeError(message) : new Error(message);
}

function typeOf(typeOrOptions: unknown): GetType {
  const type = typeof typeOrOptions === "object" && typeOrOptions !== null ? (typeOrOptions as { type?: unknown }).type : typeOrOptions;
  if (type === undefined || type === null) return "text";
  if (typeof type !== "string" || !GET_TYPES.includes(type)) {
    throw new TypeError(`KV get: type must be one of ${GET_TYPES.join(", ")} (got ${String(type)})`);
  }
  return type as GetType;
}

function checkKey(method: string, key: unknown): string {
  if (typeof key !== "string") throw new TypeError(`KV ${method}: the key must be a string`);
  return key;
}

function convert(bytes: Uint8Array, type: GetType): unknown {
  switch (type) {
    case "text":
      return utf8Decode(bytes);
    case "json":
      return JSON.parse(utf8Decode(bytes));
    case "arrayBuffer":
      return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
    case "stream":
      return streamOfInline(bytes);
  }
}

function tooLarge(bytes: number, atLeast: string): TypeError {
  return new TypeError(`KV put: the value is ${atLeast}${bytes} bytes, over the limit of ${KV_LIMITS.valueBytes} bytes (25 MiB)`);
}

function parseMetadata(text: string | null | undefined): unknown {
  return typeof text === "string" ? JSON.parse(text) : null;
}

async function valueBytes(value: unknown): Promise<Uint8Array> {
  if (typeof value === "string") {
    // UTF-8 takes at least a byte per UTF-16 unit: refuse before spending CPU on encoding.
    if (value.length > KV_LIMITS.valueBytes) throw tooLarge(value.length, "at least ");
    return utf8Encode(value);
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  if (value instanceof ReadableStream) return readAllBytes(value);
  throw new TypeError("KV put: the value must be a string, ArrayBuffer, ArrayBufferView or ReadableStream");
}

export class KVNamespace {
  readonly #binding: string;

  constructor(binding: string) {
    this.#binding = binding;
  }

  async get(key: string, typeOrOptions?: GetType | { type?: GetType; cacheTtl?: number }): Promise<unknown> {
    const type = typeOf(typeOrOptions);
    const found = (await bindingCall(this.#binding, "get", [checkKey("get", key), false])) as { value: Uint8Array } | null;
    return found === null ? null : convert(found.value, type);
  }

  async getWithMetadata(key: string, typeOrOptions?: GetType | { type?: GetType; cacheTtl?: number }): Promise<{ value: unknown; metadata: unknown }> {
    const type = typeOf(typeOrOptions);
    const found = (await bindingCall(this.#binding, "get", [checkKey("getWithMetadata", key), true])) as { value: Uint8Array; metadata: string | null } | null;
    return found === null ? { value: null, metadata: null } : { value: convert(found.value, type), metadata: parseMetadata(found.metadata) };
  }

  async put(key: string, value: unknown, options?: { expiration?: number; expirationTtl?: number; metadata?: unknown }): Promise<void> {
    checkKey("put", key);
    const bytes = await valueBytes(value);
    if (bytes.byteLength > KV_LIMITS.valueBytes) throw tooLarge(bytes.byteLength, "");
    const given = options ?? {};
    if (typeof given !== "object") throw new TypeError("KV put: options must be an object");
    const settings: { expiration?: number; expirationTtl?: number; metadata?: string } = {};
    if (given.expiration !== undefined) settings.expiration = Number(given.expiration);
    if (given.expirationTtl !== undefined) settings.expirationTtl = Number(given.expirationTtl);
    if (given.metadata !== undefined) {
      const metadata = JSON.stringify(given.metadata);
      if (metadata === undefined) throw new TypeError("KV put: metadata must be JSON-serializable");
      settings.metadata = metadata;
    }
    await bindingCall(this.#binding, "put", [key, bytes, settings]);
  }

  async delete(key: string): Promise<void> {
    await bindingCall(this.#binding, "delete", [checkKey("delete", key)]);
  }

  async list(options?: { prefix?: string | null; limit?: number; cursor?: string | null }): Promise<KVListResult> {
    const given = options ?? {};
    const query: { prefix?: string; limit?: number; cursor?: string } = {};
    if (given.prefix !== undefined && given.prefix !== null) query.prefix = String(given.prefix);
    if (given.limit !== undefined) query.limit = Number(given.limit);
    if (given.cursor !== undefined && given.cursor !== null && given.cursor !== "") query.cursor = String(given.cursor);
    const result = (await bindingCall(this.#binding, "list", [query])) as { keys: { name: string; expiration?: number; metadata?: string }[]; list_complete: boolean; cursor?: string };
    const keys = result.keys.map((entry) => {
      const key: KVListKey = { name: entry.name };
      if (entry.expiration !== undefined) key.expiration = entry.expiration;
      if (entry.metadata !== undefined) key.metadata = parseMetadata(entry.metadata);
      return key;
    });
    return result.list_complete ? { keys, list_complete: true } : { keys, list_complete: false, cursor: result.cursor! };
  }
}

Object.defineProperty(KVNamespace.prototype, Symbol.toStringTag, { value: "KVNamespace", configurable: true });
