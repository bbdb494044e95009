// atob and btoa, per HTML (https://html.spec.whatwg.org/multipage/webappapis.html#atob)
// with the forgiving-base64 decode of the Infra Standard.
import { DOMException } from "./dom-exception.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

const ASCII_WHITESPACE = /[\t\n\f\r ]+/g;

/** Decodes base64 text into bytes; null when it is not valid forgiving-base64. */
export function decodeBase64(input: string): Uint8Array | null {
  let data = input.replace(ASCII_WHITESPACE, "");
  if (data.length % 4 === 0) {
    if (data.endsWith("==")) data = data.slice(0, -2);
    else if (data.endsWith("=")) data = data.slice(0, -1);
  }
  if (data.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((data.length * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let written = 0;
  for (let i = 0; i < data.length; i++) {
    const code = data.charCodeAt(i);
    const value = code < 128 ? DECODE[code]! : -1;
    if (value < 0) return null;
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[written++] = (buffer >> bits) & 0xff;
    }
  }
  return out;
}

/** Encodes bytes as base64 text with padding. */
export function encodeBase64(bytes: ArrayLike<number>): string {
  let out = "";
  const length = bytes.length;
  let i = 0;
  for (; i + 2 < length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  if (i < length) {
    const n = (bytes[i]! << 16) | ((i + 1 < length ? bytes[i + 1]! : 0) << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
    out += i + 1 < length ? ALPHABET[(n >> 6) & 63]! + "=" : "==";
  }
  return out;
}

export function atob(data: unknown): string {
  if (arguments.length === 0) throw new TypeError("atob: 1 argument required, but only 0 present.");
  const bytes = decodeBase64(String(data));
  if (bytes === null) throw new DOMException("atob: the string to be decoded is not correctly encoded.", "InvalidCharacterError");
  let out = "";
  for (let i = 0; i < bytes.length; i += 0x2000) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x2000) as unknown as number[]);
  }
  return out;
}

export function btoa(data: unknown): string {
  if (arguments.length === 0) throw new TypeError("btoa: 1 argument required, but only 0 present.");
  const text = String(data);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new DOMException("btoa: the string to be encoded contains characters outside of the Latin1 range.", "InvalidCharacterError");
    bytes[i] = code;
  }
  return encodeBase64(bytes);
}
