// Response, per WHATWG Fetch (https://fetch.spec.whatwg.org/#response-class),
// with Response.json(), .redirect() and .error().
import { Body, type BodyInit, CONTENT_TYPE, type LazyStream, cloneBody, contentTypeOf, extractBody, setBody } from "./body.js";
import { Headers, type HeadersInit, adoptHeaderList, headerList, makeImmutable } from "./headers.js";
import type { HeaderList } from "./protocol.js";
import { URL } from "./url.js";

export interface ResponseInit {
  status?: number;
  statusText?: string;
  headers?: HeadersInit;
}

export type ResponseType = "basic" | "cors" | "default" | "error" | "opaque" | "opaqueredirect";

/** What dispatch needs of a Response, read from its internals (getters can be overridden). */
export interface ResponseHead {
  type: ResponseType;
  status: number;
  statusText: string;
  headers: HeaderList;
}

const INSPECT = Symbol.for("nodejs.util.inspect.custom");
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];

function isNullBodyStatus(status: number): boolean {
  return status === 101 || status === 103 || status === 204 || status === 205 || status === 304;
}

function toStatus(value: unknown): number {
  // WebIDL unsigned short, then Fetch's range check.
  const number = Math.trunc(Number(value));
  const status = Number.isFinite(number) ? ((number % 65536) + 65536) % 65536 : 0;
  if (status < 200 || status > 599) throw new RangeError(`Response: status ${String(value)} is outside the range 200 to 599`);
  return status;
}

/** A response the host fetched (fetch.ts). */
export interface HostResponseInit {
  status: number;
  statusText: string;
  headers: HeaderList;
  url: string;
  redirected: boolean;
  body: Uint8Array | LazyStream | null;
}

/** The head of a Response, for dispatch. */
export let responseHead: (response: Response) => ResponseHead;
/** A Response for what an outbound fetch returned: its headers are immutable, as in browsers. */
export let responseFromHost: (init: HostResponseInit) => Response;

export class Response extends Body {
  #type: ResponseType = "default";
  #status = 200;
  #statusText = "";
  #headers: Headers;
  #url = "";
  #redirected = false;

  constructor(body?: BodyInit | null, init?: ResponseInit | null) {
    super();
    if (init === undefined || init === null) {
      this.#headers = new Headers();
    } else {
      if (typeof init !== "object") throw new TypeError("Response: init must be an object");
      if (init.status !== undefined) this.#status = toStatus(init.status);
      if (init.statusText !== undefined) {
        const statusText = String(init.statusText);
        if (!REASON_PHRASE.test(statusText)) throw new TypeError("Response: statusText contains characters that are not allowed");
        this.#statusText = statusText;
      }
      this.#headers = new Headers(init.headers);
    }
    if (body === undefined || body === null) return;
    if (isNullBodyStatus(this.#status)) throw new TypeError(`Response: a response with status ${this.#status} cannot have a body`);
    const extracted = extractBody(body);
    setBody(this, extracted);
    if (extracted.contentType !== null) {
      const list = headerList(this.#headers);
      let hasType = false;
      for (const entry of list) if (entry[0] === "content-type") hasType = true;
      if (!hasType) list.push(["content-type", extracted.contentType]);
    }
  }

  get type(): ResponseType {
    return this.#type;
  }
  get url(): string {
    return this.#url;
  }
  get redirected(): boolean {
    return this.#redirected;
  }
  get status(): number {
    return this.#status;
  }
  get ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }
  get statusText(): string {
    return this.#statusText;
  }
  get headers(): Headers {
    return this.#headers;
  }

  clone(): Response {
    const copy = new Response(null, this.#type === "error" ? null : { status: this.#status, statusText: this.#statusText, headers: this.#headers });
    copy.#type = this.#type;
    copy.#url = this.#url;
    copy.#redirected = this.#redirected;
    if (this.#type === "error") {
      copy.#status = 0;
      makeImmutable(copy.#headers);
    }
    cloneBody(this, copy);
    return copy;
  }

  static json(data: unknown, init?: ResponseInit | null): Response {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("Response.json: the data is not JSON-serializable");
    const response = new Response(null, init);
    if (isNullBodyStatus(response.#status)) throw new TypeError(`Response.json: a response with status ${response.#status} cannot have a body`);
    setBody(response, { inline: text, stream: null, contentType: null });
    const list = headerList(response.#headers);
    if (!list.some((entry) => entry[0] === "content-type")) list.push(["content-type", "application/json"]);
    return response;
  }

  static redirect(url: string | URL, status = 302): Response {
    let location: string;
    try {
      location = new URL(String(url)).href;
    } catch {
      throw new TypeError(`Response.redirect: "${String(url)}" is not a valid absolute URL`);
    }
    const code = Number(status);
    if (!REDIRECT_STATUSES.includes(code)) throw new RangeError(`Response.redirect: status ${String(status)} is not a redirect status (301, 302, 303, 307, 308)`);
    const response = new Response(null, { status: code, headers: [["location", location]] });
    makeImmutable(response.#headers);
    return response;
  }

  static error(): Response {
    const response = new Response(null);
    response.#type = "error";
    response.#status = 0;
    makeImmutable(response.#headers);
    return response;
  }

  [CONTENT_TYPE](): string | null {
    return contentTypeOf(headerList(this.#headers));
  }

  [INSPECT](): string {
    return `Response { status: ${this.#status}, statusText: ${JSON.stringify(this.#statusText)}, bodyUsed: ${this.bodyUsed} }`;
  }

  static {
    responseHead = (response) => ({
      type: response.#type,
      status: response.#status,
      statusText: response.#statusText,
      headers: headerList(response.#headers),
    });
    responseFromHost = (init) => {
      const response = new Response();
      // A status the constructor refuses (1xx, 0) never comes from undici's fetch; 3xx does with redirect: "manual".
      response.#status = init.status;
      response.#statusText = init.statusText;
      response.#url = init.url;
      response.#redirected = init.redirected;
      makeImmutable(adoptHeaderList(response.#headers, init.headers));
      if (init.body instanceof Uint8Array) setBody(response, { inline: init.body, stream: null, contentType: null });
      else if (init.body !== null) setBody(response, null, init.body);
      return response;
    };
  }
}

Object.defineProperty(Response.prototype, Symbol.toStringTag, { value: "Response", configurable: true });
