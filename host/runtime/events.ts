// Event, CustomEvent and EventTarget, per the DOM Standard
// (https://dom.spec.whatwg.org/#events) without a node tree: an event is
// dispatched at its target only, capture listeners first.
import { DOMException } from "./dom-exception.js";
import { performance } from "./performance.js";
import { reportUncaught } from "./report-error.js";

export interface EventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

type ListenerCallback = ((event: Event) => unknown) | { handleEvent(event: Event): unknown };

interface Listener {
  callback: ListenerCallback;
  capture: boolean;
  once: boolean;
  passive: boolean;
  removed: boolean;
}

export interface AddEventListenerOptions {
  capture?: boolean;
  once?: boolean;
  passive?: boolean;
  signal?: { aborted: boolean; addEventListener(type: string, listener: () => void, options?: { once?: boolean }): void };
}

const NONE = 0;
const AT_TARGET = 2;

/** Event internals shared with EventTarget in this module only. */
let eventState: {
  begin(event: Event, target: EventTarget): void;
  setCurrentTarget(event: Event, target: EventTarget | null): void;
  setPassive(event: Event, passive: boolean): void;
  stoppedImmediately(event: Event): boolean;
  end(event: Event): void;
  isDispatching(event: Event): boolean;
};

export class Event {
  #type: string;
  #bubbles: boolean;
  #cancelable: boolean;
  #composed: boolean;
  #defaultPrevented = false;
  #stopPropagation = false;
  #stopImmediatePropagation = false;
  #dispatching = false;
  #inPassiveListener = false;
  #target: EventTarget | null = null;
  #currentTarget: EventTarget | null = null;
  #phase = NONE;
  #timeStamp = performance.now();

  static readonly NONE = 0;
  static readonly CAPTURING_PHASE = 1;
  static readonly AT_TARGET = 2;
  static readonly BUBBLING_PHASE = 3;

  constructor(type: string, init?: EventInit | null) {
    if (arguments.length === 0) throw new TypeError("Event: 1 argument required, but only 0 present.");
    this.#type = String(type);
    this.#bubbles = Boolean(init?.bubbles);
    this.#cancelable = Boolean(init?.cancelable);
    this.#composed = Boolean(init?.composed);
  }

  get type(): string {
    return this.#type;
  }
  get target(): EventTarget | null {
    return this.#target;
  }
  get srcElement(): EventTarget | null {
    return this.#target;
  }
  get currentTarget(): EventTarget | null {
    return this.#currentTarget;
  }
  get eventPhase(): number {
    return this.#phase;
  }
  get bubbles(): boolean {
    return this.#bubbles;
  }
  get cancelable(): boolean {
    return this.#cancelable;
  }
  get composed(): boolean {
    return this.#composed;
  }
  get defaultPrevented(): boolean {
    return this.#defaultPrevented;
  }
  get isTrusted(): boolean {
    return false;
  }
  get timeStamp(): number {
    return this.#timeStamp;
  }
  get returnValue(): boolean {
    return !this.#defaultPrevented;
  }
  set returnValue(value: boolean) {
    if (!value) this.preventDefault();
  }
  get cancelBubble(): boolean {
    return this.#stopPropagation;
  }
  set cancelBubble(value: boolean) {
    if (value) this.#stopPropagation = true;
  }

  composedPath(): EventTarget[] {
    return this.#dispatching && this.#currentTarget ? [this.#currentTarget] : [];
  }
  preventDefault(): void {
    if (this.#cancelable && !this.#inPassiveListener) this.#defaultPrevented = true;
  }
  stopPropagation(): void {
    this.#stopPropagation = true;
  }
  stopImmediatePropagation(): void {
    this.#stopPropagation = true;
    this.#stopImmediatePropagation = true;
  }
  /** @deprecated kept for old code */
  initEvent(type: string, bubbles = false, cancelable = false): void {
    if (this.#dispatching) return;
    this.#type = String(type);
    this.#bubbles = Boolean(bubbles);
    this.#cancelable = Boolean(cancelable);
  }

  static {
    eventState = {
      begin(event, target) {
        event.#dispatching = true;
        event.#target = target;
        event.#phase = AT_TARGET;
      },
      setCurrentTarget(event, target) {
        event.#currentTarget = target;
      },
      setPassive(event, passive) {
        event.#inPassiveListener = passive;
      },
      stoppedImmediately(event) {
        return event.#stopImmediatePropagation;
      },
      end(event) {
        event.#dispatching = false;
        event.#phase = NONE;
        event.#currentTarget = null;
        event.#stopPropagation = false;
        event.#stopImmediatePropagation = false;
      },
      isDispatching(event) {
        return event.#dispatching;
      },
    };
  }
}

Object.defineProperty(Event.prototype, Symbol.toStringTag, { value: "Event", configurable: true });

export class CustomEvent<T = unknown> extends Event {
  #detail: T | null;
  constructor(type: string, init?: (EventInit & { detail?: T }) | null) {
    if (arguments.length === 0) throw new TypeError("CustomEvent: 1 argument required, but only 0 present.");
    super(type, init);
    this.#detail = init?.detail ?? null;
  }
  get detail(): T | null {
    return this.#detail;
  }
}

Object.defineProperty(CustomEvent.prototype, Symbol.toStringTag, { value: "CustomEvent", configurable: true });

function isCallback(value: unknown): value is ListenerCallback {
  return typeof value === "function" || (typeof value === "object" && value !== null);
}

export class EventTarget {
  #listeners: Map<string, Listener[]> | null = null;

  addEventListener(type: string, callback: ListenerCallback | null, options?: boolean | AddEventListenerOptions): void {
    if (arguments.length < 2) throw new TypeError("addEventListener: 2 arguments required.");
    if (!isCallback(callback)) return;
    type = String(type);
    const opts = typeof options === "object" && options !== null ? options : { capture: Boolean(options) };
    const capture = Boolean(opts.capture);
    const signal = typeof options === "object" && options !== null ? options.signal : undefined;
    if (signal?.aborted) return;
    this.#listeners ??= new Map();
    let list = this.#listeners.get(type);
    if (list === undefined) this.#listeners.set(type, (list = []));
    for (const existing of list) if (existing.callback === callback && existing.capture === capture) return;
    const listener: Listener = { callback, capture, once: Boolean(opts.once), passive: Boolean(opts.passive), removed: false };
    list.push(listener);
    if (signal) signal.addEventListener("abort", () => this.#remove(type, listener), { once: true });
  }

  removeEventListener(type: string, callback: ListenerCallback | null, options?: boolean | { capture?: boolean }): void {
    if (!isCallback(callback) || this.#listeners === null) return;
    const capture = typeof options === "object" && options !== null ? Boolean(options.capture) : Boolean(options);
    const list = this.#listeners.get(String(type));
    if (list === undefined) return;
    for (const listener of list) {
      if (listener.callback === callback && listener.capture === capture) {
        this.#remove(String(type), listener);
        return;
      }
    }
  }

  dispatchEvent(event: Event): boolean {
    if (!(event instanceof Event)) throw new TypeError("dispatchEvent: parameter 1 is not of type 'Event'.");
    if (eventState.isDispatching(event)) throw new DOMException("The event is already being dispatched.", "InvalidStateError");
    eventState.begin(event, this);
    eventState.setCurrentTarget(event, this);
    try {
      const list = this.#listeners?.get(event.type);
      if (list !== undefined && list.length > 0) {
        const snapshot = list.slice();
        if (!this.#invoke(event, snapshot, true)) this.#invoke(event, snapshot, false);
      }
    } finally {
      eventState.end(event);
    }
    return !event.defaultPrevented;
  }

  /** Runs the listeners of one phase; true when stopImmediatePropagation() was called. */
  #invoke(event: Event, listeners: Listener[], capture: boolean): boolean {
    for (const listener of listeners) {
      if (listener.capture !== capture || listener.removed) continue;
      if (listener.once) this.#remove(event.type, listener);
      eventState.setPassive(event, listener.passive);
      try {
        const callback = listener.callback;
        if (typeof callback === "function") callback.call(this, event);
        else if (typeof callback.handleEvent === "function") callback.handleEvent(event);
      } catch (error) {
        reportUncaught(error);
      }
      eventState.setPassive(event, false);
      if (eventState.stoppedImmediately(event)) return true;
    }
    return false;
  }

  #remove(type: string, listener: Listener): void {
    listener.removed = true;
    const list = this.#listeners?.get(type);
    if (list === undefined) return;
    const index = list.indexOf(listener);
    if (index >= 0) list.splice(index, 1);
  }
}

Object.defineProperty(EventTarget.prototype, Symbol.toStringTag, { value: "EventTarget", configurable: true });
