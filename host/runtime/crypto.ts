// The `crypto` global, per Web Crypto (https://w3c.github.io/webcrypto/#crypto-interface):
// getRandomValues() and randomUUID() here, with bytes from the host's CSPRNG
// through a small pool, since each host call costs ~80 µs; `subtle` is subtle.ts.
import { hostRandomBytes } from "./bridge.js";
import { DOMException } from "./dom-exception.js";
import { subtle, type SubtleCrypto } from "./subtle.js";

const POOL_BYTES = 1024;
const MAX_BYTES = 65536;
const INTEGER_ARRAYS = new Set([
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "BigInt64Array",
  "BigUint64Array",
]);
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get!;

let pool: Uint8Array = new Uint8Array(0);
let poolOffset = 0;

/** Fills `target` with random bytes, refilling the pool as needed. */
function fillRandom(target: Uint8Array): void {
  const length = target.length;
  if (length > POOL_BYTES / 2) {
    target.set(hostRandomBytes(length));
    return;
  }
  if (pool.length - poolOffset < length) {
    pool = hostRandomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  target.set(pool.subarray(poolOffset, poolOffset + length));
  // Bytes handed out are wiped so the pool never holds anything handed out before.
  pool.fill(0, poolOffset, poolOffset + length);
  poolOffset += length;
}

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i + 0x100).toString(16).slice(1));

let constructing = false;

/** The interface of `crypto` (a global, as WinterTC's minimum common API lists it); `new Crypto()` is illegal, as in browsers. */
export class Crypto {
  constructor() {
    if (!constructing) throw new TypeError("Illegal constructor: use the global crypto");
  }

  get subtle(): SubtleCrypto {
    return subtle;
  }

  getRandomValues<T extends ArrayBufferView | null>(array: T): T {
    if (arguments.length === 0) throw new TypeError("crypto.getRandomValues: 1 argument required, but only 0 present.");
    const tag = ArrayBuffer.isView(array) ? (typedArrayTag.call(array) as string | undefined) : undefined;
    if (tag === undefined || !INTEGER_ARRAYS.has(tag)) {
      throw new TypeError("crypto.getRandomValues: the argument must be an integer-typed array (Int8Array ... BigUint64Array)");
    }
    const view = array as unknown as ArrayBufferView;
    if (view.byteLength > MAX_BYTES) {
      throw new DOMException(
        `crypto.getRandomValues: the array's byte length (${view.byteLength}) exceeds the number of bytes of entropy available via this API (${MAX_BYTES})`,
        "QuotaExceededError",
      );
    }
    fillRandom(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    return array;
  }

  randomUUID(): string {
    const bytes = new Uint8Array(16);
    fillRandom(bytes);
    bytes[6] = (bytes[6]! & 0x0f) | 0x40;
    bytes[8] = (bytes[8]! & 0x3f) | 0x80;
    const h = (i: number) => HEX[bytes[i]!]!;
    return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
  }
}

Object.defineProperty(Crypto.prototype, Symbol.toStringTag, { value: "Crypto", configurable: true });

constructing = true;
export const crypto = new Crypto();
constructing = false;
