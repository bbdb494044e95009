// node:crypto under nodejs_compat: Node's synchronous hashes, HMAC and PBKDF2
// on @noble/hashes (audited, pure JS), random values from the isolate's
// crypto.getRandomValues, and the isolate's Web Crypto as `webcrypto`/`subtle`.
// Ciphers, signatures and key objects are not here: their functions throw and
// say to use crypto.subtle.
import { Buffer } from "node:buffer";
import { hmac } from "@noble/hashes/hmac.js";
import { md5, ripemd160, sha1 } from "@noble/hashes/legacy.js";
import { pbkdf2 as noblePbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha224, sha256, sha384, sha512, sha512_224, sha512_256 } from "@noble/hashes/sha2.js";

/** Node's (OpenSSL's) names for the hashes offered, lower-case. */
const HASHES = {
  md5,
  sha1,
  sha224,
  sha256,
  sha384,
  sha512,
  "sha512-224": sha512_224,
  "sha512-256": sha512_256,
  ripemd160,
  rmd160: ripemd160,
};
/** Other spellings OpenSSL takes for them: "SHA-256", "RSA-SHA256", "sha2-256". */
function hashOf(algorithm) {
  const name = String(algorithm).toLowerCase().replace(/^rsa-/, "").replace(/^sha2-/, "sha").replace(/^sha-/, "sha").replace(/^sha512\//, "sha512-");
  const hash = Object.hasOwn(HASHES, name) ? HASHES[name] : undefined;
  if (hash === undefined) {
    throw codedError(Error, "ERR_OSSL_EVP_UNSUPPORTED", `Digest method not supported: "${algorithm}" is not among node:crypto's hashes here (${Object.keys(HASHES).join(", ")})`);
  }
  return hash;
}

function codedError(Type, code, message) {
  const error = new Type(message);
  error.code = code;
  return error;
}

/** Bytes of what Node's crypto functions take: a string (in `encoding`, UTF-8 by default), a Buffer, a typed array, a DataView or an ArrayBuffer. */
function bytesOf(data, encoding, what) {
  if (typeof data === "string") {
    const bytes = Buffer.from(data, encoding === undefined || encoding === "buffer" ? "utf8" : encoding);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw codedError(TypeError, "ERR_INVALID_ARG_TYPE", `The "${what}" argument must be of type string or an instance of Buffer, TypedArray, DataView or ArrayBuffer. Received ${describe(data)}`);
}

function describe(value) {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "object") return `an instance of ${value.constructor?.name ?? "Object"}`;
  return `type ${typeof value} (${String(value).slice(0, 30)})`;
}

/** digest() as Node gives it: a Buffer, or a string in `encoding`. */
function output(bytes, encoding) {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return encoding === undefined || encoding === "buffer" ? buffer : buffer.toString(encoding);
}

/** What createHash and createHmac return: update() chains, digest() ends it. */
class Digest {
  #state;
  #finalized = false;
  #kind;

  constructor(state, kind) {
    this.#state = state;
    this.#kind = kind;
  }

  update(data, inputEncoding) {
    if (this.#finalized) throw codedError(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
    this.#state.update(bytesOf(data, inputEncoding, "data"));
    return this;
  }

  digest(outputEncoding) {
    if (this.#finalized) throw codedError(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
    this.#finalized = true;
    return output(this.#state.digest(), outputEncoding);
  }

  get [Symbol.toStringTag]() {
    return this.#kind;
  }

  /** A Hash that goes on from this one's state (Hash only, as in Node). */
  copy() {
    if (this.#kind !== "Hash") throw new TypeError("hmac.copy is not a function: only a Hash can be copied");
    if (this.#finalized) throw codedError(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
    return new Digest(this.#state.clone(), "Hash");
  }
}

export function createHash(algorithm, _options) {
  return new Digest(hashOf(algorithm).create(), "Hash");
}

export function createHmac(algorithm, key, _options) {
  return new Digest(hmac.create(hashOf(algorithm), bytesOf(key, undefined, "key")), "Hmac");
}

/** crypto.hash(algorithm, data, outputEncoding = "hex"), Node 21.7's one-shot digest. */
export function hash(algorithm, data, outputEncoding = "hex") {
  return output(hashOf(algorithm)(bytesOf(data, undefined, "data")), outputEncoding);
}

export function getHashes() {
  return Object.keys(HASHES);
}

export function pbkdf2Sync(password, salt, iterations, keylen, digest) {
  if (!Number.isInteger(iterations) || iterations < 1) throw codedError(RangeError, "ERR_OUT_OF_RANGE", `The value of "iterations" is out of range. It must be an integer >= 1. Received ${iterations}`);
  if (!Number.isInteger(keylen) || keylen < 0) throw codedError(RangeError, "ERR_OUT_OF_RANGE", `The value of "keylen" is out of range. It must be an integer >= 0. Received ${keylen}`);
  const key = noblePbkdf2(hashOf(digest), bytesOf(password, undefined, "password"), bytesOf(salt, undefined, "salt"), { c: iterations, dkLen: keylen });
  return output(key, undefined);
}

export function pbkdf2(password, salt, iterations, keylen, digest, callback) {
  if (typeof callback !== "function") throw codedError(TypeError, "ERR_INVALID_ARG_TYPE", 'The "callback" argument must be of type function');
  let key;
  try {
    key = pbkdf2Sync(password, salt, iterations, keylen, digest);
  } catch (error) {
    queueMicrotask(() => callback(error));
    return;
  }
  queueMicrotask(() => callback(null, key));
}

/** getRandomValues fills at most 65536 bytes a call. */
const RANDOM_CHUNK_BYTES = 65536;

export function randomFillSync(target, offset = 0, size) {
  const bytes = bytesOf(target, undefined, "buf");
  const end = size === undefined ? bytes.length : offset + size;
  if (!Number.isInteger(offset) || offset < 0 || end > bytes.length || end < offset) {
    throw codedError(RangeError, "ERR_OUT_OF_RANGE", `offset ${offset} and size ${size} do not fit a buffer of ${bytes.length} bytes`);
  }
  for (let at = offset; at < end; at += RANDOM_CHUNK_BYTES) globalThis.crypto.getRandomValues(bytes.subarray(at, Math.min(end, at + RANDOM_CHUNK_BYTES)));
  return target;
}

export function randomBytes(size, callback) {
  if (!Number.isInteger(size) || size < 0 || size > 2 ** 31 - 1) {
    throw codedError(RangeError, "ERR_OUT_OF_RANGE", `The value of "size" is out of range. It must be >= 0 && <= 2147483647. Received ${size}`);
  }
  const bytes = randomFillSync(Buffer.alloc(size));
  if (typeof callback !== "function") return bytes;
  queueMicrotask(() => callback(null, bytes));
  return undefined;
}

/** An integer in [min, max) with no modulo bias (rejection sampling on 48 random bits). */
export function randomInt(min, max, callback) {
  if (max === undefined || typeof max === "function") {
    callback = max;
    max = min;
    min = 0;
  }
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max <= min || max - min > 2 ** 48) {
    throw codedError(RangeError, "ERR_OUT_OF_RANGE", `randomInt needs safe integers with min < max and max - min <= 2**48; got ${min} and ${max}`);
  }
  const range = max - min;
  const limit = 2 ** 48 - (2 ** 48 % range);
  const words = new Uint16Array(3);
  let value;
  do {
    globalThis.crypto.getRandomValues(words);
    value = words[0] * 2 ** 32 + words[1] * 2 ** 16 + words[2];
  } while (value >= limit);
  const result = min + (value % range);
  if (typeof callback !== "function") return result;
  queueMicrotask(() => callback(null, result));
  return undefined;
}

export function randomUUID() {
  return globalThis.crypto.randomUUID();
}

export function getRandomValues(array) {
  return globalThis.crypto.getRandomValues(array);
}

/** Compares in time that depends on the length only, as Node's does; lengths must match. */
export function timingSafeEqual(a, b) {
  if (typeof a === "string" || typeof b === "string") throw codedError(TypeError, "ERR_INVALID_ARG_TYPE", 'The "buf1" and "buf2" arguments must be Buffers, TypedArrays, DataViews or ArrayBuffers, not strings');
  const left = bytesOf(a, undefined, "buf1");
  const right = bytesOf(b, undefined, "buf2");
  if (left.length !== right.length) throw codedError(RangeError, "ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH", "Input buffers must have the same byte length");
  let difference = 0;
  for (let i = 0; i < left.length; i++) difference |= left[i] ^ right[i];
  return difference === 0;
}

export const webcrypto = globalThis.crypto;
export const subtle = globalThis.crypto.subtle;

/** Node's API here has no cipher, signature or key object: each of these says what to use instead. */
function useSubtle(name, instead) {
  return function notOffered() {
    throw codedError(Error, "ERR_FEATURE_UNAVAILABLE_ON_PLATFORM", `crypto.${name} is not available in Atoll's node:crypto: use ${instead} (crypto.subtle, the Web Crypto API)`);
  };
}
export const createCipheriv = useSubtle("createCipheriv", "crypto.subtle.encrypt");
export const createDecipheriv = useSubtle("createDecipheriv", "crypto.subtle.decrypt");
export const createSign = useSubtle("createSign", "crypto.subtle.sign");
export const createVerify = useSubtle("createVerify", "crypto.subtle.verify");
export const sign = useSubtle("sign", "crypto.subtle.sign");
export const verify = useSubtle("verify", "crypto.subtle.verify");
export const generateKeyPair = useSubtle("generateKeyPair", "crypto.subtle.generateKey");
export const generateKeyPairSync = useSubtle("generateKeyPairSync", "crypto.subtle.generateKey");
export const createPrivateKey = useSubtle("createPrivateKey", "crypto.subtle.importKey");
export const createPublicKey = useSubtle("createPublicKey", "crypto.subtle.importKey");
export const createSecretKey = useSubtle("createSecretKey", "crypto.subtle.importKey");
export const createECDH = useSubtle("createECDH", "crypto.subtle.deriveBits with ECDH");
export const createDiffieHellman = useSubtle("createDiffieHellman", "crypto.subtle.deriveBits with ECDH or X25519");
export const scryptSync = useSubtle("scryptSync", "pbkdf2Sync or crypto.subtle.deriveBits with PBKDF2");
export const scrypt = useSubtle("scrypt", "pbkdf2 or crypto.subtle.deriveBits with PBKDF2");

export default {
  createHash,
  createHmac,
  hash,
  getHashes,
  pbkdf2,
  pbkdf2Sync,
  randomBytes,
  randomFillSync,
  randomInt,
  randomUUID,
  getRandomValues,
  timingSafeEqual,
  webcrypto,
  subtle,
  createCipheriv,
  createDecipheriv,
  createSign,
  createVerify,
  sign,
  verify,
  generateKeyPair,
  generateKeyPairSync,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  createECDH,
  createDiffieHellman,
  scryptSync,
  scrypt,
};
