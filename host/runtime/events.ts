// Event, CustomEvent and EventTarget, per the DOM Standard
// (https://dom.spec.whatwg.org/#events) without a node tree: an event is
// dispatched at its target only, capture listeners first.
import { DOMException } from "./dom-exception.js";
import { defineConstantsOnPrototype } from "./webidl-constants.js";
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
  markTrusted(event: Event): void;
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
  #trusted = false;
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
  /** True for events the runtime dispatches (error, unhandledrejection, message, abort...). */
  get isTrusted(): boolean {
    return this.#trusted;
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
      markTrusted(event) {
        event.#trusted = true;
      },
    };
  }
}

Object.defineProperty(Event.prototype, Symbol.toStringTag, { value: "Event", configurable: true });
defineConstantsOnPrototype(Event);

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

/** The listeners of an EventTarget (created on demand when `create`); throws for anything else. */
let listenersOf: (target: object, create: boolean) => Map<string, Listener[]> | null;

/**
 * The global object, made an EventTarget after the fact (global-scope.ts):
 * it was not constructed by EventTarget, so its listeners live here.
 */
let adoptedTarget: object | null = null;
let adoptedListeners: Map<string, Listener[]> | null = null;

/** Lets `target` (the global object) use EventTarget's methods; global-scope.ts sets its prototype. */
export function adoptAsEventTarget(target: object): void {
  adoptedTarget = target;
}

/** `this` of an EventTarget method: a bare addEventListener(...) call means the global object (WebIDL). */
function receiver(self: unknown): object {
  return self === undefined || self === null ? (adoptedTarget ?? {}) : (self as object);
}

function addListener(target: object, type: string, callback: ListenerCallback, options?: boolean | AddEventListenerOptions): void {
  const opts = typeof options === "object" && options !== null ? options : { capture: Boolean(options) };
  const capture = Boolean(opts.capture);
  const signal = typeof options === "object" && options !== null ? options.signal : undefined;
  if (signal?.aborted) return;
  const listeners = listenersOf(target, true)!;
  let list = listeners.get(type);
  if (list === undefined) listeners.set(type, (list = []));
  for (const existing of list) if (existing.callback === callback && existing.capture === capture) return;
  const listener: Listener = { callback, capture, once: Boolean(opts.once), passive: Boolean(opts.passive), removed: false };
  list.push(listener);
  if (signal) signal.addEventListener("abort", () => removeListener(target, type, listener), { once: true });
}

function removeListener(target: object, type: string, listener: Listener): void {
  listener.removed = true;
  const list = listenersOf(target, false)?.get(type);
  if (list === undefined) return;
  const index = list.indexOf(listener);
  if (index >= 0) list.splice(index, 1);
}

function dispatch(target: object, event: Event): boolean {
  if (!(event instanceof Event)) throw new TypeError("dispatchEvent: parameter 1 is not of type 'Event'.");
  const listeners = listenersOf(target, false);
  if (eventState.isDispatching(event)) throw new DOMException("The event is already being dispatched.", "InvalidStateError");
  eventState.begin(event, target as EventTarget);
  eventState.setCurrentTarget(event, target as EventTarget);
  try {
    const list = listeners?.get(event.type);
    if (list !== undefined && list.length > 0) {
      const snapshot = list.slice();
      if (!invoke(target, event, snapshot, true)) invoke(target, event, snapshot, false);
    }
  } finally {
    eventState.end(event);
  }
  return !event.defaultPrevented;
}

/** Runs the listeners of one phase; true when stopImmediatePropagation() was called. */
function invoke(target: object, event: Event, listeners: Listener[], capture: boolean): boolean {
  for (const listener of listeners) {
    if (listener.capture !== capture || listener.removed) continue;
    if (listener.once) removeListener(target, event.type, listener);
    eventState.setPassive(event, listener.passive);
    try {
      const callback = listener.callback;
      if (typeof callback === "function") callback.call(target, event);
      else if (typeof callback.handleEvent === "function") callback.handleEvent(event);
    } catch (error) {
      reportUncaught(error);
    }
    eventState.setPassive(event, false);
    if (eventState.stoppedImmediately(event)) return true;
  }
  return false;
}

/** Dispatches an event the runtime made (isTrusted); true unless it was canceled. */
export function dispatchTrusted(target: EventTarget | object, event: Event): boolean {
  eventState.markTrusted(event);
  return dispatch(target, event);
}

export class EventTarget {
  #listeners: Map<string, Listener[]> | null = null;

  addEventListener(type: string, callback: ListenerCallback | null, options?: boolean | AddEventListenerOptions): void {
    const target = receiver(this);
    if (arguments.length < 2) throw new TypeError("addEventListener: 2 arguments required.");
    listenersOf(target, false);
    if (!isCallback(callback)) return;
    addListener(target, String(type), callback, options);
  }

  removeEventListener(type: string, callback: ListenerCallback | null, options?: boolean | { capture?: boolean }): void {
    const target = receiver(this);
    const listeners = listenersOf(target, false);
    if (!isCallback(callback) || listeners === null) return;
    const capture = typeof options === "object" && options !== null ? Boolean(options.capture) : Boolean(options);
    const list = listeners.get(String(type));
    if (list === undefined) return;
    for (const listener of list) {
      if (listener.callback === callback && listener.capture === capture) {
        removeListener(target, String(type), listener);
        return;
      }
    }
  }

  dispatchEvent(event: Event): boolean {
    return dispatch(receiver(this), event);
  }

  static {
    listenersOf = (target, create) => {
      if (target === adoptedTarget) {
        if (create) adoptedListeners ??= new Map();
        return adoptedListeners;
      }
      if (typeof target !== "object" || target === null || !(#listeners in target)) throw new TypeError("Illegal invocation: not an EventTarget");
      if (create) target.#listeners ??= new Map();
      return target.#listeners;
    };
  }
}

Object.defineProperty(EventTarget.prototype, Symbol.toStringTag, { value: "EventTarget", configurable: true });

type EventHandlerValue = ((...args: unknown[]) => unknown) | null;

interface EventHandlerOptions {
  /** Calls the handler (default: with the event); its result decides cancelation. */
  call?: (handler: (...args: unknown[]) => unknown, target: object, event: Event) => unknown;
  /** The return value that cancels the event: false (HTML's default), true for onerror. */
  cancelOn?: boolean;
  /** Runs each time a handler (not null) is set: MessagePort's onmessage starts the port. */
  onSet?: (target: object) => void;
}

const handlerValues = new WeakMap<object, Map<string, { value: EventHandlerValue; listener: ListenerCallback }>>();

/**
 * Defines the event handler IDL attribute `on<type>` on `prototype` (HTML's
 * event handlers): one listener, added when a handler is first set, calls
 * whatever handler is set at the time.
 */
export function defineEventHandler(prototype: object, type: string, options: EventHandlerOptions = {}): void {
  const cancelOn = options.cancelOn ?? false;
  Object.defineProperty(prototype, `on${type}`, {
    get(this: object): EventHandlerValue {
      listenersOf(this, false);
      return handlerValues.get(this)?.get(type)?.value ?? null;
    },
    set(this: object, value: unknown) {
      listenersOf(this, false);
      const handler = typeof value === "function" ? (value as (...args: unknown[]) => unknown) : null;
      let slots = handlerValues.get(this);
      const slot = slots?.get(type);
      if (handler === null) {
        if (slot !== undefined) {
          slots!.delete(type);
          const list = listenersOf(this, false)?.get(type);
          const listener = list?.find((entry) => entry.callback === slot.listener);
          if (listener !== undefined) removeListener(this, type, listener);
        }
      } else if (slot !== undefined) {
        slot.value = handler;
      } else {
        const target = this;
        const entry = {
          value: handler as EventHandlerValue,
          listener: (event: Event) => {
            const current = entry.value;
            if (current === null) return;
            const result = options.call ? options.call(current, target, event) : current.call(target, event);
            if (result === cancelOn) event.preventDefault();
          },
        };
        if (slots === undefined) handlerValues.set(this, (slots = new Map()));
        slots.set(type, entry);
        addListener(this, type, entry.listener);
      }
      if (handler !== null) options.onSet?.(this);
    },
    enumerable: true,
    configurable: true,
  });
}
