// URL and URLSearchParams, per the WHATWG URL Standard (https://url.spec.whatwg.org/),
// from whatwg-url, the standard's reference implementation, typed here since the
// package has no types. The build (scripts/build.mjs) gives it the runtime's
// UTF-8 code (encoding.ts) and our domain-to-ASCII (idna.ts) in place of tr46.
import { URL as whatwgURL, URLSearchParams as whatwgURLSearchParams } from "whatwg-url";

export interface URL {
  href: string;
  readonly origin: string;
  protocol: string;
  username: string;
  password: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  readonly searchParams: URLSearchParams;
  hash: string;
  toString(): string;
  toJSON(): string;
}

export interface URLConstructor {
  new (url: string | URL, base?: string | URL): URL;
  readonly prototype: URL;
  canParse(url: string | URL, base?: string | URL): boolean;
  parse(url: string | URL, base?: string | URL): URL | null;
}

export interface URLSearchParams extends Iterable<[string, string]> {
  readonly size: number;
  append(name: string, value: string): void;
  delete(name: string, value?: string): void;
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string, value?: string): boolean;
  set(name: string, value: string): void;
  sort(): void;
  forEach(callback: (value: string, name: string, params: URLSearchParams) => void, thisArg?: unknown): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  toString(): string;
}

export interface URLSearchParamsConstructor {
  new (init?: string | Record<string, string> | Iterable<[string, string]> | URLSearchParams): URLSearchParams;
  readonly prototype: URLSearchParams;
}

export const URL = whatwgURL as URLConstructor;
export const URLSearchParams = whatwgURLSearchParams as URLSearchParamsConstructor;

// Show URLs readably in console output.
const INSPECT = Symbol.for("nodejs.util.inspect.custom");
Object.defineProperty(URL.prototype, INSPECT, {
  value(this: URL) {
    return `URL { href: ${JSON.stringify(this.href)} }`;
  },
  configurable: true,
  writable: true,
});
Object.defineProperty(URLSearchParams.prototype, INSPECT, {
  value(this: URLSearchParams) {
    const parts = Array.from(this, ([name, value]) => `${JSON.stringify(name)} => ${JSON.stringify(value)}`);
    return parts.length === 0 ? "URLSearchParams {}" : `URLSearchParams { ${parts.join(", ")} }`;
  },
  configurable: true,
  writable: true,
});
