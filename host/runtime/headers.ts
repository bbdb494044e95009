// Headers, per WHATWG Fetch (https://fetch.spec.whatwg.org/#headers-class):
// names are case-insensitive, iteration is sorted and combined, set-cookie
// stays separate (getSetCookie). Values must be what Node's HTTP server accepts.
import type { HeaderList } from "./protocol.js";

export type HeadersInit = Headers | Iterable<Iterable<string>> | Record<string, string>;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** Valid names seen before, to their lower case: apps use the same few names on every request. */
const knownNames = new Map<string, string>();
const MAX_KNOWN_NAMES = 512;

function checkName(name: unknown): string {
  if (typeof name === "string") {
    const known = knownNames.get(name);
    if (known !== undefined) return known;
  }
  const text = String(name);
  if (!TOKEN.test(text)) throw new TypeError(`Headers: "${text}" is not a valid header name`);
  const lower = text.toLowerCase();
  if (knownNames.size < MAX_KNOWN_NAMES) knownNames.set(text, lower);
  return lower;
}

function normalizeValue(name: string, value: unknown): string {
  let text = String(value);
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(text.length - 1);
  if (first === 32 || first === 9 || first === 10 || first === 13 || last === 32 || last === 9 || last === 10 || last === 13) {
    text = text.replace(EDGE_WHITESPACE, "");
  }
  if (INVALID_VALUE.test(text)) throw new TypeError(`Headers: the value of "${name}" contains a character that is not allowed in a header value`);
  return text;
}

/** Internals shared with Request, Response and dispatch in this folder. */
export let headerList: (headers: Headers) => HeaderList;
export let adoptHeaderList: (headers: Headers, list: HeaderList) => Headers;
export let makeImmutable: (headers: Headers) => Headers;

export class Headers {
  /** [lower-cased name, value] in insertion order, duplicates kept. */
  #list: HeaderList = [];
  #immutable = false;
  /** Cache of the sorted and combined view, dropped on every change. */
  #sorted: [string, string][] | null = null;

  constructor(init?: HeadersInit | null) {
    if (init === undefined || init === null) return;
    if (init instanceof Headers) {
      this.#list = init.#list.map(([name, value]) => [name, value]);
      return;
    }
    if (typeof init !== "object" && typeof init !== "function") throw new TypeError("Headers: init must be an object, an array of pairs or a Headers");
    if (typeof (init as Iterable<unknown>)[Symbol.iterator] === "function") {
      for (const pair of init as Iterable<Iterable<string>>) {
        if (typeof pair !== "object" || pair === null || typeof (pair as Iterable<string>)[Symbol.iterator] !== "function") {
          throw new TypeError("Headers: each header pair must be an array of [name, value]");
        }
        const items = Array.from(pair);
        if (items.length !== 2) throw new TypeError(`Headers: each header pair must have exactly 2 items, got ${items.length}`);
        this.append(items[0]!, items[1]!);
      }
      return;
    }
    const record = init as Record<string, unknown>;
    for (const key of Object.keys(record)) this.append(key, record[key] as string);
  }

  append(name: string, value: string): void {
    const key = checkName(name);
    const normalized = normalizeValue(key, value);
    this.#checkMutable();
    this.#list.push([key, normalized]);
    this.#sorted = null;
  }

  delete(name: string): void {
    const key = checkName(name);
    this.#checkMutable();
    const list = this.#list;
    let kept = 0;
    for (let i = 0; i < list.length; i++) if (list[i]![0] !== key) list[kept++] = list[i]!;
    if (kept !== list.length) {
      list.length = kept;
      this.#sorted = null;
    }
  }

  get(name: string): string | null {
    const key = checkName(name);
    let found: string | null = null;
    for (const [entryName, value] of this.#list) {
      if (entryName !== key) continue;
      found = found === null ? value : `${found}, ${value}`;
    }
    return found;
  }

  getSetCookie(): string[] {
    const out: string[] = [];
    for (const [name, value] of this.#list) if (name === "set-cookie") out.push(value);
    return out;
  }

  has(name: string): boolean {
    const key = checkName(name);
    for (const entry of this.#list) if (entry[0] === key) return true;
    return false;
  }

  set(name: string, value: string): void {
    const key = checkName(name);
    const normalized = normalizeValue(key, value);
    this.#checkMutable();
    const list = this.#list;
    let kept = 0;
    let replaced = false;
    for (let i = 0; i < list.length; i++) {
      const entry = list[i]!;
      if (entry[0] !== key) list[kept++] = entry;
      else if (!replaced) {
        replaced = true;
        list[kept++] = [key, normalized];
      }
    }
    list.length = kept;
    if (!replaced) list.push([key, normalized]);
    this.#sorted = null;
  }

  forEach(callback: (value: string, name: string, headers: Headers) => void, thisArg?: unknown): void {
    if (typeof callback !== "function") throw new TypeError("Headers.forEach: the callback must be a function");
    for (const [name, value] of this.#sortedAndCombined()) callback.call(thisArg, value, name, this);
  }

  *entries(): IterableIterator<[string, string]> {
    for (const [name, value] of this.#sortedAndCombined()) yield [name, value];
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.#sortedAndCombined()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.#sortedAndCombined()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  [INSPECT](): string {
    const parts = this.#sortedAndCombined().map(([name, value]) => `${JSON.stringify(name)}: ${JSON.stringify(value)}`);
    return parts.length === 0 ? "Headers {}" : `Headers { ${parts.join(", ")} }`;
  }

  #checkMutable(): void {
    if (this.#immutable) throw new TypeError("Headers: these headers are immutable");
  }

  /** Fetch's "sort and combine". */
  #sortedAndCombined(): [string, string][] {
    if (this.#sorted !== null) return this.#sorted;
    const names: string[] = [];
    for (const [name] of this.#list) if (!names.includes(name)) names.push(name);
    names.sort();
    const out: [string, string][] = [];
    for (const name of names) {
      if (name === "set-cookie") {
        for (const value of this.getSetCookie()) out.push([name, value]);
      } else out.push([name, this.get(name)!]);
    }
    this.#sorted = out;
    return out;
  }

  static {
    headerList = (headers) => headers.#list;
    adoptHeaderList = (headers, list) => {
      headers.#list = list;
      headers.#sorted = null;
      return headers;
    };
    makeImmutable = (headers) => {
      headers.#immutable = true;
      return headers;
    };
  }
}

Object.defineProperty(Headers.prototype, Symbol.toStringTag, { value: "Headers", configurable: true });

/** Whether `list` holds `name` (lower-case), without building a Headers. */
export function listHas(list: HeaderList, name: string): boolean {
  for (const entry of list) if (entry[0] === name) return true;
  return false;
}
