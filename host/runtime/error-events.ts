// ErrorEvent and PromiseRejectionEvent, per HTML
// (https://html.spec.whatwg.org/multipage/webappapis.html#the-errorevent-interface,
// #the-promiserejectionevent-interface): what global-scope.ts dispatches for
// an error or a promise rejection nobody handled.
import { Event, type EventInit } from "./events.js";

export interface ErrorEventInit extends EventInit {
  message?: string;
  filename?: string;
  lineno?: number;
  colno?: number;
  error?: unknown;
}

export class ErrorEvent extends Event {
  #message: string;
  #filename: string;
  #lineno: number;
  #colno: number;
  #error: unknown;

  constructor(type: string, init?: ErrorEventInit | null) {
    if (arguments.length === 0) throw new TypeError("ErrorEvent: 1 argument required, but only 0 present.");
    super(type, init);
    this.#message = init?.message === undefined ? "" : String(init.message);
    this.#filename = init?.filename === undefined ? "" : String(init.filename);
    this.#lineno = init?.lineno === undefined ? 0 : Number(init.lineno) >>> 0;
    this.#colno = init?.colno === undefined ? 0 : Number(init.colno) >>> 0;
    this.#error = init?.error;
  }

  get message(): string {
    return this.#message;
  }
  get filename(): string {
    return this.#filename;
  }
  get lineno(): number {
    return this.#lineno;
  }
  get colno(): number {
    return this.#colno;
  }
  get error(): unknown {
    return this.#error;
  }
}

Object.defineProperty(ErrorEvent.prototype, Symbol.toStringTag, { value: "ErrorEvent", configurable: true });

export interface PromiseRejectionEventInit extends EventInit {
  promise: Promise<unknown>;
  reason?: unknown;
}

export class PromiseRejectionEvent extends Event {
  #promise: Promise<unknown>;
  #reason: unknown;

  constructor(type: string, init: PromiseRejectionEventInit) {
    if (arguments.length < 2) throw new TypeError(`PromiseRejectionEvent: 2 arguments required, but only ${arguments.length} present.`);
    if (init === null || typeof init !== "object" || !("promise" in init) || init.promise === undefined) {
      throw new TypeError("PromiseRejectionEvent: the init dictionary's required member promise is missing.");
    }
    const promise = init.promise;
    if (promise === null || (typeof promise !== "object" && typeof promise !== "function")) {
      throw new TypeError("PromiseRejectionEvent: promise must be an object.");
    }
    super(type, init);
    this.#promise = promise;
    this.#reason = init.reason;
  }

  get promise(): Promise<unknown> {
    return this.#promise;
  }
  get reason(): unknown {
    return this.#reason;
  }
}

Object.defineProperty(PromiseRejectionEvent.prototype, Symbol.toStringTag, { value: "PromiseRejectionEvent", configurable: true });
