// crypto.subtle, CryptoKey and SubtleCrypto, per Web Crypto
// (https://w3c.github.io/webcrypto/#subtlecrypto-interface). This side does the
// WebIDL part: arguments converted, BufferSources copied at call time, formats
// and key usages checked, CryptoKey objects. The host (executor/worker/
// subtle-host.ts) keeps the key material behind handles, normalizes algorithms
// and runs each call as one `subtle` op.
import { emit, startOp } from "./bridge.js";
import { DOMException } from "./dom-exception.js";
import type { JsonWebKeyData, KeyDescriptor, KeyFormat, KeyHandle, KeyUsage, SubtleAlgorithm, SubtleArgs, SubtleMethod } from "./protocol.js";
import { MAX_RELEASED_KEYS_PER_MESSAGE, MAX_SUBTLE_INPUT_BYTES } from "./protocol.js";

// Captured at boot: user code replacing the global Promise must not reach in here.
const NativePromise = Promise;
const settled = NativePromise.resolve();
const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** In the order of the KeyUsage enum: a key's usages are listed in this order, once each. */
const KEY_USAGES: readonly string[] = ["encrypt", "decrypt", "sign", "verify", "deriveKey", "deriveBits", "wrapKey", "unwrapKey"];
const KEY_FORMATS: readonly string[] = ["raw", "spki", "pkcs8", "jwk"];
const KEY_TYPES: readonly string[] = ["secret", "public", "private"];
/** DOMException names the host may answer with; anything else becomes an OperationError. */
const ERROR_NAMES: readonly string[] = ["NotSupportedError", "InvalidAccessError", "DataError", "OperationError", "SyntaxError", "QuotaExceededError", "InvalidStateError"];

type MemberKind = "string" | "number" | "bytes" | "hash" | "key";
/**
 * Every member of every algorithm dictionary Web Crypto defines, in the order
 * WebIDL reads them (the inherited `name` first, then the rest sorted). Which
 * of them an algorithm uses is the host's business (it normalizes).
 */
const ALGORITHM_MEMBERS: readonly [string, MemberKind][] = [
  ["name", "string"],
  ["additionalData", "bytes"],
  ["counter", "bytes"],
  ["hash", "hash"],
  ["info", "bytes"],
  ["iterations", "number"],
  ["iv", "bytes"],
  ["label", "bytes"],
  ["length", "number"],
  ["modulusLength", "number"],
  ["namedCurve", "string"],
  ["public", "key"],
  ["publicExponent", "bytes"],
  ["salt", "bytes"],
  ["saltLength", "number"],
  ["tagLength", "number"],
];
/** JsonWebKey's members, sorted as WebIDL reads them. */
const JWK_MEMBERS: readonly [string, "string" | "boolean" | "strings" | "primes"][] = [
  ["alg", "string"],
  ["crv", "string"],
  ["d", "string"],
  ["dp", "string"],
  ["dq", "string"],
  ["e", "string"],
  ["ext", "boolean"],
  ["k", "string"],
  ["key_ops", "strings"],
  ["kty", "string"],
  ["n", "string"],
  ["oth", "primes"],
  ["p", "string"],
  ["q", "string"],
  ["qi", "string"],
  ["use", "string"],
  ["x", "string"],
  ["y", "string"],
];

/** One call's conversion: the keys it uses (kept alive until the host answers) and the bytes it hands over. */
interface Conversion {
  held: CryptoKey[];
  bytes: number;
}

// ---- CryptoKey ---------------------------------------------------------------

/** The descriptor the next `new CryptoKey()` takes; null makes the constructor illegal, as for user code. */
let minting: KeyDescriptor | null = null;
let handleOf: (value: unknown) => KeyHandle | undefined;

/** Host keys whose CryptoKey was garbage-collected, waiting to be reported in one message. */
let collected: KeyHandle[] | null = null;
const keyRegistry = new FinalizationRegistry<KeyHandle>((handle) => {
  if (collected === null) {
    collected = [];
    void settled.then(reportCollected);
  }
  collected.push(handle);
});

function reportCollected(): void {
  const handles = collected ?? [];
  collected = null;
  for (let i = 0; i < handles.length; i += MAX_RELEASED_KEYS_PER_MESSAGE) {
    emit({ t: "release-keys", handles: handles.slice(i, i + MAX_RELEASED_KEYS_PER_MESSAGE) });
  }
}

export class CryptoKey {
  #handle: KeyHandle;
  #type: KeyDescriptor["type"];
  #extractable: boolean;
  // One object and one array per key, as browsers hand out.
  #algorithm: KeyDescriptor["algorithm"];
  #usages: KeyUsage[];

  constructor() {
    const descriptor = minting;
    minting = null;
    if (descriptor === null) throw new TypeError("Illegal constructor: CryptoKeys come from crypto.subtle (generateKey, importKey, deriveKey, unwrapKey)");
    this.#handle = descriptor.handle;
    this.#type = descriptor.type;
    this.#extractable = descriptor.extractable;
    this.#algorithm = descriptor.algorithm;
    this.#usages = descriptor.usages;
    keyRegistry.register(this, descriptor.handle);
  }

  get type(): KeyDescriptor["type"] {
    return this.#type;
  }

  get extractable(): boolean {
    return this.#extractable;
  }

  get algorithm(): KeyDescriptor["algorithm"] {
    return this.#algorithm;
  }

  get usages(): KeyUsage[] {
    return this.#usages;
  }

  [INSPECT](_depth: number, options: unknown, inspect: (value: unknown, options: unknown) => string): string {
    return `CryptoKey ${inspect({ type: this.#type, extractable: this.#extractable, algorithm: this.#algorithm, usages: this.#usages }, options)}`;
  }

  static {
    handleOf = (value) => (typeof value === "object" && value !== null && #handle in value ? value.#handle : undefined);
  }
}
Object.defineProperty(CryptoKey.prototype, Symbol.toStringTag, { value: "CryptoKey", configurable: true });

/** A CryptoKey for a key the host just made. */
function keyFrom(value: unknown): CryptoKey {
  const d = value as KeyDescriptor;
  if (
    typeof value !== "object" || value === null ||
    !Number.isSafeInteger(d.handle) || !KEY_TYPES.includes(d.type) || typeof d.extractable !== "boolean" ||
    typeof d.algorithm !== "object" || d.algorithm === null || !Array.isArray(d.usages)
  ) {
    throw new DOMException("crypto.subtle: the host answered with no key", "OperationError");
  }
  minting = d;
  return new CryptoKey();
}

function keyOrPairFrom(value: unknown): CryptoKey | { publicKey: CryptoKey; privateKey: CryptoKey } {
  if (typeof value === "object" && value !== null && "privateKey" in value && "publicKey" in value) {
    return { publicKey: keyFrom(value.publicKey), privateKey: keyFrom(value.privateKey) };
  }
  return keyFrom(value);
}

// ---- argument conversion (WebIDL) ---------------------------------------------

function domString(value: unknown, what: string): string {
  if (typeof value === "symbol") throw new TypeError(`${what}: a Symbol cannot be converted to a string`);
  return String(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

function isBufferSource(value: unknown): value is ArrayBuffer | ArrayBufferView {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}

/** A copy, taken now, of the bytes of a BufferSource: the op leaves at the end of this turn, and the caller may reuse its buffer. */
function bytesOf(value: unknown, what: string, call: Conversion): Uint8Array {
  if (!isBufferSource(value)) throw new TypeError(`${what} is not a BufferSource (an ArrayBuffer, a typed array or a DataView)`);
  const view = ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value);
  call.bytes += view.byteLength;
  if (call.bytes > MAX_SUBTLE_INPUT_BYTES) {
    throw new DOMException(`crypto.subtle: a call takes at most ${MAX_SUBTLE_INPUT_BYTES} bytes of input on this host`, "QuotaExceededError");
  }
  return new Uint8Array(view);
}

function keyArgument(value: unknown, what: string, call: Conversion): KeyHandle {
  const handle = handleOf(value);
  if (handle === undefined) throw new TypeError(`${what} is not a CryptoKey`);
  call.held.push(value as CryptoKey);
  return handle;
}

/** AlgorithmIdentifier: a name, or a dictionary whose members are read and converted here, once. */
function algorithmOf(value: unknown, call: Conversion): SubtleAlgorithm {
  if (!isObject(value)) return domString(value, "algorithm");
  const algorithm: Exclude<SubtleAlgorithm, string> = {};
  for (const [member, kind] of ALGORITHM_MEMBERS) {
    const raw = value[member];
    if (raw === undefined) continue;
    switch (kind) {
      case "string":
        algorithm[member] = domString(raw, member);
        break;
      case "number":
        algorithm[member] = +(raw as number); // ToNumber; range checks are the host's, per algorithm
        break;
      case "bytes":
        // A member that is no BufferSource crosses as null: it is an error only
        // if the algorithm has that member, which the host knows.
        algorithm[member] = isBufferSource(raw) ? bytesOf(raw, member, call) : null;
        break;
      case "hash":
        if (isObject(raw)) algorithm[member] = raw.name === undefined ? {} : { name: domString(raw.name, "hash.name") };
        else algorithm[member] = domString(raw, "hash");
        break;
      case "key": {
        const handle = handleOf(raw);
        if (handle !== undefined) call.held.push(raw as CryptoKey);
        algorithm[member] = handle ?? null;
        break;
      }
    }
  }
  return algorithm;
}

function formatOf(value: unknown): KeyFormat {
  const format = domString(value, "format");
  if (!KEY_FORMATS.includes(format)) throw new TypeError(`'${format}' is not a valid KeyFormat: use "raw", "spki", "pkcs8" or "jwk"`);
  return format as KeyFormat;
}

/** A WebIDL sequence: any iterable object, read to the end now. */
function sequenceOf(value: unknown, what: string): unknown[] {
  const iterate = isObject(value) ? (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] : undefined;
  if (typeof iterate !== "function") throw new TypeError(`${what} must be a sequence (an array)`);
  const items: unknown[] = [];
  for (const item of value as unknown as Iterable<unknown>) items.push(item);
  return items;
}

/** sequence<KeyUsage>, listed in the enum's order, each once (the spec's "usage intersection"). */
function usagesOf(value: unknown): KeyUsage[] {
  const seen: string[] = [];
  for (const item of sequenceOf(value, "keyUsages")) {
    const usage = domString(item, "key usage");
    if (!KEY_USAGES.includes(usage)) throw new TypeError(`'${usage}' is not a valid KeyUsage (${KEY_USAGES.join(", ")})`);
    seen.push(usage);
  }
  return KEY_USAGES.filter((usage) => seen.includes(usage)) as KeyUsage[];
}

function counted(text: string, call: Conversion): string {
  call.bytes += text.length;
  if (call.bytes > MAX_SUBTLE_INPUT_BYTES) {
    throw new DOMException(`crypto.subtle: a call takes at most ${MAX_SUBTLE_INPUT_BYTES} bytes of input on this host`, "QuotaExceededError");
  }
  return text;
}

/** The JsonWebKey dictionary. */
function jwkOf(value: unknown, call: Conversion): JsonWebKeyData {
  const jwk: JsonWebKeyData = {};
  if (value === undefined || value === null) return jwk;
  if (!isObject(value)) throw new TypeError("keyData must be a JsonWebKey object for the \"jwk\" format");
  for (const [member, kind] of JWK_MEMBERS) {
    const raw = value[member];
    if (raw === undefined) continue;
    if (kind === "string") jwk[member] = counted(domString(raw, member), call);
    else if (kind === "boolean") jwk[member] = Boolean(raw);
    else if (kind === "strings") jwk[member] = sequenceOf(raw, member).map((item) => counted(domString(item, member), call));
    else {
      const primes: { [member: string]: string }[] = [];
      for (const info of sequenceOf(raw, member)) {
        if (!isObject(info)) throw new TypeError("oth must be a sequence of RsaOtherPrimesInfo");
        const prime: { [member: string]: string } = {};
        for (const key of ["d", "r", "t"]) if (info[key] !== undefined) prime[key] = counted(domString(info[key], `oth.${key}`), call);
        primes.push(prime);
      }
      jwk[member] = primes;
    }
  }
  return jwk;
}

function keyDataOf(format: KeyFormat, value: unknown, call: Conversion): Uint8Array | JsonWebKeyData {
  if (format !== "jwk") {
    if (!isBufferSource(value)) throw new TypeError(`keyData must be a BufferSource for the "${format}" format`);
    return bytesOf(value, "keyData", call);
  }
  if (isBufferSource(value)) throw new TypeError("keyData must be a JsonWebKey object, not bytes, for the \"jwk\" format");
  return jwkOf(value, call);
}

/** `optional unsigned long? length = null`: ToNumber, then modulo 2^32. */
function bitLengthOf(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  const number = +(value as number);
  if (!Number.isFinite(number)) return 0;
  return ((Math.trunc(number) % 2 ** 32) + 2 ** 32) % 2 ** 32;
}

// ---- results and errors --------------------------------------------------------

function arrayBufferOf(value: unknown): ArrayBuffer {
  if (!(value instanceof Uint8Array)) throw new DOMException("crypto.subtle: the host answered with no bytes", "OperationError");
  const buffer = value.buffer as ArrayBuffer;
  return value.byteOffset === 0 && value.byteLength === buffer.byteLength ? buffer : (new Uint8Array(value).buffer as ArrayBuffer);
}

function errorFrom(value: unknown): Error {
  const failure = isObject(value) ? value : { name: "OperationError", message: value };
  const message = typeof failure.message === "string" ? failure.message : "The operation failed";
  if (failure.name === "TypeError") return new TypeError(message);
  const name = typeof failure.name === "string" && ERROR_NAMES.includes(failure.name) ? failure.name : "OperationError";
  return new DOMException(message, name);
}

/**
 * One SubtleCrypto method: converts its arguments (any error rejects the
 * promise, as WebIDL says for promise-returning operations), sends one op, and
 * turns the answer into the method's result.
 */
function call<M extends SubtleMethod, T>(
  method: M,
  given: number,
  required: number,
  convert: (call: Conversion) => SubtleArgs[M],
  finish: (value: unknown) => T,
): Promise<T> {
  return new NativePromise<T>((resolve, reject) => {
    if (given < required) {
      throw new TypeError(`Failed to execute '${method}' on 'SubtleCrypto': ${required} arguments required, but only ${given} present.`);
    }
    const conversion: Conversion = { held: [], bytes: 0 };
    const args = convert(conversion);
    startOp({ name: "subtle", method, args }, (ok, value) => {
      // The keys of the call stay reachable until here, so their host keys outlive the op.
      conversion.held.length = 0;
      if (!ok) {
        reject(errorFrom(value));
        return;
      }
      try {
        resolve(finish(value));
      } catch (error) {
        reject(error);
      }
    });
  });
}

// ---- SubtleCrypto ----------------------------------------------------------------

let constructing = false;

export class SubtleCrypto {
  constructor() {
    if (!constructing) throw new TypeError("Illegal constructor: use crypto.subtle");
  }

  encrypt(algorithm: unknown, key: unknown, data: unknown): Promise<ArrayBuffer> {
    return call("encrypt", arguments.length, 3, (c) => {
      const bytes = bytesOf(data, "data", c);
      return [algorithmOf(algorithm, c), keyArgument(key, "key", c), bytes];
    }, arrayBufferOf);
  }

  decrypt(algorithm: unknown, key: unknown, data: unknown): Promise<ArrayBuffer> {
    return call("decrypt", arguments.length, 3, (c) => {
      const bytes = bytesOf(data, "data", c);
      return [algorithmOf(algorithm, c), keyArgument(key, "key", c), bytes];
    }, arrayBufferOf);
  }

  sign(algorithm: unknown, key: unknown, data: unknown): Promise<ArrayBuffer> {
    return call("sign", arguments.length, 3, (c) => {
      const bytes = bytesOf(data, "data", c);
      return [algorithmOf(algorithm, c), keyArgument(key, "key", c), bytes];
    }, arrayBufferOf);
  }

  verify(algorithm: unknown, key: unknown, signature: unknown, data: unknown): Promise<boolean> {
    return call("verify", arguments.length, 4, (c) => {
      const signatureBytes = bytesOf(signature, "signature", c);
      const bytes = bytesOf(data, "data", c);
      return [algorithmOf(algorithm, c), keyArgument(key, "key", c), signatureBytes, bytes];
    }, (value) => value === true);
  }

  digest(algorithm: unknown, data: unknown): Promise<ArrayBuffer> {
    return call("digest", arguments.length, 2, (c) => {
      const bytes = bytesOf(data, "data", c);
      return [algorithmOf(algorithm, c), bytes];
    }, arrayBufferOf);
  }

  generateKey(algorithm: unknown, extractable: unknown, keyUsages: unknown): Promise<CryptoKey | { publicKey: CryptoKey; privateKey: CryptoKey }> {
    return call("generateKey", arguments.length, 3, (c) => {
      const usages = usagesOf(keyUsages);
      return [algorithmOf(algorithm, c), Boolean(extractable), usages];
    }, keyOrPairFrom);
  }

  deriveKey(algorithm: unknown, baseKey: unknown, derivedKeyType: unknown, extractable: unknown, keyUsages: unknown): Promise<CryptoKey> {
    return call("deriveKey", arguments.length, 5, (c) => {
      const base = keyArgument(baseKey, "baseKey", c);
      const usages = usagesOf(keyUsages);
      return [algorithmOf(algorithm, c), base, algorithmOf(derivedKeyType, c), Boolean(extractable), usages];
    }, keyFrom);
  }

  deriveBits(algorithm: unknown, baseKey: unknown, length: unknown = null): Promise<ArrayBuffer> {
    return call("deriveBits", arguments.length, 2, (c) => {
      const base = keyArgument(baseKey, "baseKey", c);
      const bits = bitLengthOf(length);
      return [algorithmOf(algorithm, c), base, bits];
    }, arrayBufferOf);
  }

  importKey(format: unknown, keyData: unknown, algorithm: unknown, extractable: unknown, keyUsages: unknown): Promise<CryptoKey> {
    return call("importKey", arguments.length, 5, (c) => {
      const keyFormat = formatOf(format);
      const data = keyDataOf(keyFormat, keyData, c);
      const usages = usagesOf(keyUsages);
      return [keyFormat, data, algorithmOf(algorithm, c), Boolean(extractable), usages];
    }, keyFrom);
  }

  exportKey(format: unknown, key: unknown): Promise<ArrayBuffer | JsonWebKey> {
    return call("exportKey", arguments.length, 2, (c) => {
      const keyFormat = formatOf(format);
      return [keyFormat, keyArgument(key, "key", c)];
    }, (value) => (ArrayBuffer.isView(value) ? arrayBufferOf(value) : (value as JsonWebKey)));
  }

  wrapKey(format: unknown, key: unknown, wrappingKey: unknown, wrapAlgorithm: unknown): Promise<ArrayBuffer> {
    return call("wrapKey", arguments.length, 4, (c) => {
      const keyFormat = formatOf(format);
      const handle = keyArgument(key, "key", c);
      const wrapping = keyArgument(wrappingKey, "wrappingKey", c);
      return [keyFormat, handle, wrapping, algorithmOf(wrapAlgorithm, c)];
    }, arrayBufferOf);
  }

  unwrapKey(
    format: unknown,
    wrappedKey: unknown,
    unwrappingKey: unknown,
    unwrapAlgorithm: unknown,
    unwrappedKeyAlgorithm: unknown,
    extractable: unknown,
    keyUsages: unknown,
  ): Promise<CryptoKey> {
    return call("unwrapKey", arguments.length, 7, (c) => {
      const keyFormat = formatOf(format);
      const wrapped = bytesOf(wrappedKey, "wrappedKey", c);
      const unwrapping = keyArgument(unwrappingKey, "unwrappingKey", c);
      const usages = usagesOf(keyUsages);
      return [keyFormat, wrapped, unwrapping, algorithmOf(unwrapAlgorithm, c), algorithmOf(unwrappedKeyAlgorithm, c), Boolean(extractable), usages];
    }, keyFrom);
  }
}
Object.defineProperty(SubtleCrypto.prototype, Symbol.toStringTag, { value: "SubtleCrypto", configurable: true });

constructing = true;
export const subtle = new SubtleCrypto();
constructing = false;

/** What exportKey("jwk") resolves to: the host's JsonWebKey, already copied into the isolate. */
type JsonWebKey = JsonWebKeyData;
