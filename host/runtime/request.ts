// Request, per WHATWG Fetch (https://fetch.spec.whatwg.org/#request-class).
// Requests the host hands in are built on a private fast path: headers, the
// signal and the body stream are created only when user code touches them.
import { AbortSignal, followingSignal } from "./abort.js";
import {
  Body,
  type BodyInit,
  CONTENT_TYPE,
  type ExtractedBody,
  type LazyStream,
  cloneBody,
  contentTypeOf,
  extractBody,
  hasBody,
  setBody,
  transferBody,
} from "./body.js";
import { Headers, type HeadersInit, adoptHeaderList, headerList } from "./headers.js";
import type { HeaderList } from "./protocol.js";
import { URL } from "./url.js";

export type RequestInfo = Request | string | URL;

export interface RequestInit {
  method?: string;
  headers?: HeadersInit;
  body?: BodyInit;
  signal?: AbortSignal | null;
  redirect?: "follow" | "error" | "manual";
  cache?: string;
  credentials?: string;
  mode?: string;
  referrer?: string;
  referrerPolicy?: string;
  integrity?: string;
  keepalive?: boolean;
  duplex?: "half";
}

/** A request as the host delivers it (dispatch.ts). */
export interface HostRequestInit {
  method: string;
  url: string;
  headers: HeaderList;
  body: Uint8Array | LazyStream | null;
  /** Makes the signal the first time someone asks for it. */
  signal: () => AbortSignal;
}

interface RequestOptions {
  redirect: string;
  cache: string;
  credentials: string;
  mode: string;
  referrer: string;
  referrerPolicy: string;
  integrity: string;
  keepalive: boolean;
}

const DEFAULT_OPTIONS: RequestOptions = Object.freeze({
  redirect: "follow",
  cache: "default",
  credentials: "same-origin",
  mode: "cors",
  referrer: "about:client",
  referrerPolicy: "",
  integrity: "",
  keepalive: false,
});

const INTERNAL = Symbol("internal");
const INSPECT = Symbol.for("nodejs.util.inspect.custom");
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const NORMALIZED_METHODS: Record<string, string> = { delete: "DELETE", get: "GET", head: "HEAD", options: "OPTIONS", post: "POST", put: "PUT" };
const REDIRECTS = ["follow", "error", "manual"];

function normalizeMethod(method: unknown): string {
  const text = String(method);
  if (!TOKEN.test(text)) throw new TypeError(`Request: "${text}" is not a valid HTTP method`);
  const upper = text.toUpperCase();
  if (upper === "CONNECT" || upper === "TRACE" || upper === "TRACK") throw new TypeError(`Request: the method ${upper} is not allowed`);
  return NORMALIZED_METHODS[text.toLowerCase()] ?? text;
}

function parseUrl(input: unknown): string {
  const text = String(input);
  try {
    return new URL(text).href;
  } catch {
    throw new TypeError(`Request: "${text}" is not a valid absolute URL`);
  }
}

/** Builds the Request for an invocation without any validation (the host did it). */
export let requestFromHost: (init: HostRequestInit) => Request;

export class Request extends Body {
  #method: string;
  #url: string;
  #headers: Headers | null = null;
  #headerList: HeaderList | null = null;
  #signal: AbortSignal | null = null;
  #makeSignal: (() => AbortSignal) | null = null;
  #options: RequestOptions = DEFAULT_OPTIONS;

  constructor(input: RequestInfo, init?: RequestInit);
  /** @internal */
  constructor(input: typeof INTERNAL, init: HostRequestInit);
  constructor(input: RequestInfo | typeof INTERNAL, init?: RequestInit | HostRequestInit) {
    super();
    if (input === INTERNAL) {
      const host = init as HostRequestInit;
      this.#method = host.method;
      this.#url = host.url;
      this.#headerList = host.headers;
      this.#makeSignal = host.signal;
      if (host.body instanceof Uint8Array) setBody(this, { inline: host.body, stream: null, contentType: null });
      else if (host.body !== null) setBody(this, null, host.body);
      return;
    }
    if (arguments.length === 0) throw new TypeError("Request: 1 argument required, but only 0 present.");
    const options = (init ?? {}) as RequestInit;
    if (typeof options !== "object") throw new TypeError("Request: init must be an object");
    const source = input instanceof Request ? input : null;
    this.#url = source ? source.#url : parseUrl(input);
    this.#method = options.method !== undefined ? normalizeMethod(options.method) : source ? source.#method : "GET";

    const custom: Partial<RequestOptions> = {};
    if (options.redirect !== undefined) {
      if (!REDIRECTS.includes(options.redirect)) throw new TypeError(`Request: redirect must be one of ${REDIRECTS.join(", ")}`);
      custom.redirect = options.redirect;
    }
    for (const key of ["cache", "credentials", "mode", "referrer", "referrerPolicy", "integrity"] as const) {
      if (options[key] !== undefined) custom[key] = String(options[key]);
    }
    if (options.keepalive !== undefined) custom.keepalive = Boolean(options.keepalive);
    if (source || Object.keys(custom).length > 0) this.#options = { ...(source ? source.#options : DEFAULT_OPTIONS), ...custom };

    const headers = new Headers(options.headers !== undefined ? options.headers : source ? source.headers : undefined);
    this.#headers = headers;

    let signal: AbortSignal | null | undefined = options.signal;
    if (signal === undefined) signal = source ? source.signal : null;
    if (signal !== null && !(signal instanceof AbortSignal)) throw new TypeError("Request: signal must be an AbortSignal");
    this.#signal = signal ? followingSignal(signal) : null;

    let body: ExtractedBody | LazyStream | null = null;
    const initBody = options.body;
    if (initBody !== undefined && initBody !== null) {
      body = extractBody(initBody);
      if (body.contentType !== null && !headers.has("content-type")) headers.append("content-type", body.contentType);
    } else if (source && hasBody(source) && initBody === undefined) {
      body = transferBody(source);
    }
    if (body !== null && (this.#method === "GET" || this.#method === "HEAD")) {
      throw new TypeError(`Request: a ${this.#method} request cannot have a body`);
    }
    if (typeof body === "function") setBody(this, null, body);
    else setBody(this, body);
  }

  get method(): string {
    return this.#method;
  }
  get url(): string {
    return this.#url;
  }
  get headers(): Headers {
    if (this.#headers === null) {
      this.#headers = adoptHeaderList(new Headers(), this.#headerList ?? []);
      this.#headerList = null;
    }
    return this.#headers;
  }
  get signal(): AbortSignal {
    if (this.#signal === null) {
      this.#signal = this.#makeSignal ? this.#makeSignal() : followingSignal(null);
      this.#makeSignal = null;
    }
    return this.#signal;
  }
  get redirect(): string {
    return this.#options.redirect;
  }
  get cache(): string {
    return this.#options.cache;
  }
  get credentials(): string {
    return this.#options.credentials;
  }
  get mode(): string {
    return this.#options.mode;
  }
  get referrer(): string {
    return this.#options.referrer;
  }
  get referrerPolicy(): string {
    return this.#options.referrerPolicy;
  }
  get integrity(): string {
    return this.#options.integrity;
  }
  get keepalive(): boolean {
    return this.#options.keepalive;
  }
  get destination(): string {
    return "";
  }
  get duplex(): string {
    return "half";
  }
  get isReloadNavigation(): boolean {
    return false;
  }
  get isHistoryNavigation(): boolean {
    return false;
  }

  clone(): Request {
    const copy = new Request(INTERNAL, {
      method: this.#method,
      url: this.#url,
      headers: headerList(this.headers).map(([name, value]) => [name, value]),
      body: null,
      signal: () => followingSignal(this.signal),
    });
    copy.#options = this.#options;
    cloneBody(this, copy);
    return copy;
  }

  [CONTENT_TYPE](): string | null {
    return contentTypeOf(this.#headers !== null ? headerList(this.#headers) : (this.#headerList ?? []));
  }

  [INSPECT](): string {
    return `Request { method: ${JSON.stringify(this.#method)}, url: ${JSON.stringify(this.#url)}, bodyUsed: ${this.bodyUsed} }`;
  }

  static {
    requestFromHost = (init) => new Request(INTERNAL, init);
  }
}

Object.defineProperty(Request.prototype, Symbol.toStringTag, { value: "Request", configurable: true });
