// MessageEvent, MessageChannel and MessagePort, per HTML
// (https://html.spec.whatwg.org/multipage/web-messaging.html), inside one
// isolate: a message is cloned when posted (structuredClone's rules, only
// ArrayBuffers transferable) and delivered to the other port as a task, once
// that port is started (start(), or setting onmessage).
import { DOMException } from "./dom-exception.js";
import { Event, type EventInit, EventTarget, defineEventHandler, dispatchTrusted } from "./events.js";
import { cloneWithTransfer } from "./structured-clone.js";
import { queueTask } from "./timers.js";

export interface MessageEventInit extends EventInit {
  data?: unknown;
  origin?: string;
  lastEventId?: string;
  source?: MessagePort | null;
  ports?: MessagePort[];
}

export class MessageEvent extends Event {
  #data: unknown;
  #origin: string;
  #lastEventId: string;
  #source: MessagePort | null;
  #ports: readonly MessagePort[];

  constructor(type: string, init?: MessageEventInit | null) {
    if (arguments.length === 0) throw new TypeError("MessageEvent: 1 argument required, but only 0 present.");
    super(type, init);
    const source = init?.source ?? null;
    if (source !== null && !(source instanceof MessagePort)) throw new TypeError("MessageEvent: source must be a MessagePort or null.");
    const ports = init?.ports === undefined ? [] : Array.from(init.ports);
    for (const port of ports) if (!(port instanceof MessagePort)) throw new TypeError("MessageEvent: ports must be MessagePorts.");
    this.#data = init?.data ?? null;
    this.#origin = init?.origin === undefined ? "" : String(init.origin);
    this.#lastEventId = init?.lastEventId === undefined ? "" : String(init.lastEventId);
    this.#source = source;
    this.#ports = Object.freeze(ports);
  }

  get data(): unknown {
    return this.#data;
  }
  get origin(): string {
    return this.#origin;
  }
  get lastEventId(): string {
    return this.#lastEventId;
  }
  get source(): MessagePort | null {
    return this.#source;
  }
  get ports(): readonly MessagePort[] {
    return this.#ports;
  }
}

Object.defineProperty(MessageEvent.prototype, Symbol.toStringTag, { value: "MessageEvent", configurable: true });

const INTERNAL = Symbol("internal");

let entangle: (one: MessagePort, other: MessagePort) => void;

export class MessagePort extends EventTarget {
  #other: MessagePort | null = null;
  /** Messages posted to this port, already cloned, waiting for it to be started. */
  #queue: unknown[] = [];
  #started = false;
  #closed = false;
  /** A delivery task is queued. */
  #delivering = false;

  constructor(token?: unknown) {
    if (token !== INTERNAL) throw new TypeError("Illegal constructor: MessagePorts come from new MessageChannel()");
    super();
  }

  postMessage(message: unknown, transfer?: unknown[] | { transfer?: unknown[] }): void {
    if (arguments.length === 0) throw new TypeError("MessagePort.postMessage: 1 argument required, but only 0 present.");
    const list = Array.isArray(transfer) ? transfer : transfer !== undefined && transfer !== null ? transfer.transfer : undefined;
    if (list !== undefined && list !== null && typeof list === "object") {
      for (const item of list as unknown[]) {
        if (item instanceof MessagePort) {
          throw new DOMException("MessagePort.postMessage: MessagePorts cannot be transferred in Atoll (the channel lives in one isolate).", "DataCloneError");
        }
      }
    }
    const data = cloneWithTransfer(message, list, "MessagePort.postMessage");
    const target = this.#other;
    if (target === null || target.#closed) return;
    target.#queue.push(data);
    target.#deliverSoon();
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#deliverSoon();
  }

  close(): void {
    this.#closed = true;
    this.#queue = [];
    const other = this.#other;
    this.#other = null;
    if (other !== null) other.#other = null;
  }

  /** One message per task, as HTML's port message queue runs. */
  #deliverSoon(): void {
    if (!this.#started || this.#delivering || this.#queue.length === 0) return;
    this.#delivering = true;
    queueTask(() => {
      this.#delivering = false;
      if (this.#closed || this.#queue.length === 0) return;
      const data = this.#queue.shift();
      this.#deliverSoon();
      dispatchTrusted(this, new MessageEvent("message", { data }));
    });
  }

  static {
    entangle = (one, other) => {
      one.#other = other;
      other.#other = one;
    };
  }
}

// Setting onmessage starts the port; addEventListener("message", ...) does not.
defineEventHandler(MessagePort.prototype, "message", { onSet: (port) => (port as MessagePort).start() });
defineEventHandler(MessagePort.prototype, "messageerror");
Object.defineProperty(MessagePort.prototype, Symbol.toStringTag, { value: "MessagePort", configurable: true });

export class MessageChannel {
  #port1 = new MessagePort(INTERNAL);
  #port2 = new MessagePort(INTERNAL);

  constructor() {
    entangle(this.#port1, this.#port2);
  }

  get port1(): MessagePort {
    return this.#port1;
  }
  get port2(): MessagePort {
    return this.#port2;
  }
}

Object.defineProperty(MessageChannel.prototype, Symbol.toStringTag, { value: "MessageChannel", configurable: true });
