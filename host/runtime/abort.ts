// AbortController and AbortSignal, per the DOM Standard
// (https://dom.spec.whatwg.org/#aborting-ongoing-activities), with
// AbortSignal.abort(), .timeout() (a host timer) and .any().
import { currentInvocation, startOp } from "./bridge.js";
import { DOMException } from "./dom-exception.js";
import { Event, EventTarget, type AddEventListenerOptions } from "./events.js";
import { reportUncaught } from "./report-error.js";

const INTERNAL = Symbol("internal");

let createSignal: () => AbortSignal;
let signalAbort: (signal: AbortSignal, reason: unknown) => void;
let addAbortAlgorithm: (signal: AbortSignal, algorithm: (reason: unknown) => void) => void;

export class AbortSignal extends EventTarget {
  #aborted = false;
  #reason: unknown = undefined;
  #onabort: ((event: Event) => unknown) | null = null;
  #onabortRegistered = false;
  #algorithms: ((reason: unknown) => void)[] | null = null;
  /** Signals made by any() that follow this one; weak, unless they have listeners. */
  #dependents: Set<WeakRef<AbortSignal>> | null = null;
  #heldDependents: Set<AbortSignal> | null = null;
  /** For a signal made by any(): the signals it follows. */
  #sources: AbortSignal[] | null = null;

  constructor(token?: unknown) {
    if (token !== INTERNAL) throw new TypeError("Illegal constructor: use new AbortController().signal or AbortSignal.abort()");
    super();
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }

  get onabort(): ((event: Event) => unknown) | null {
    return this.#onabort;
  }

  set onabort(handler: ((event: Event) => unknown) | null) {
    this.#onabort = typeof handler === "function" ? handler : null;
    if (this.#onabort !== null && !this.#onabortRegistered) {
      this.#onabortRegistered = true;
      this.addEventListener("abort", (event) => this.#onabort?.call(this, event));
    }
  }

  override addEventListener(type: string, callback: Parameters<EventTarget["addEventListener"]>[1], options?: boolean | AddEventListenerOptions): void {
    // A dependent signal with listeners must live as long as what it follows.
    if (this.#sources !== null && !this.#aborted) for (const source of this.#sources) source.#hold(this);
    super.addEventListener(type, callback, options);
  }

  #hold(dependent: AbortSignal): void {
    (this.#heldDependents ??= new Set()).add(dependent);
  }

  static abort(reason?: unknown): AbortSignal {
    const signal = new AbortSignal(INTERNAL);
    signal.#aborted = true;
    signal.#reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
    return signal;
  }

  static timeout(ms: number): AbortSignal {
    const delay = Number(ms);
    if (!Number.isFinite(delay) || delay < 0) throw new TypeError("AbortSignal.timeout: ms must be a non-negative number");
    const signal = new AbortSignal(INTERNAL);
    // A timer the host drops (its invocation is over) never fires: the signal just stays unaborted.
    startOp({ name: "timer", ms: Math.trunc(delay), id: currentInvocation() }, (ok) => {
      if (ok) signal.#abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
    });
    return signal;
  }

  static any(signals: Iterable<AbortSignal>): AbortSignal {
    const sources = Array.from(signals);
    for (const source of sources) {
      if (!(source instanceof AbortSignal)) throw new TypeError("AbortSignal.any: every item must be an AbortSignal");
    }
    const result = new AbortSignal(INTERNAL);
    for (const source of sources) {
      if (source.#aborted) {
        result.#aborted = true;
        result.#reason = source.#reason;
        return result;
      }
    }
    result.#sources = [];
    for (const source of sources) {
      // Follow the original signals, not intermediate any() results.
      const roots = source.#sources ?? [source];
      for (const root of roots) {
        if (result.#sources.includes(root)) continue;
        result.#sources.push(root);
        root.#addDependent(result);
      }
    }
    return result;
  }

  #addDependent(dependent: AbortSignal): void {
    const dependents = (this.#dependents ??= new Set());
    if (dependents.size >= 64) {
      for (const ref of dependents) if (ref.deref() === undefined) dependents.delete(ref);
    }
    dependents.add(new WeakRef(dependent));
  }

  #abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
    const dependents: AbortSignal[] = [];
    for (const ref of this.#dependents ?? []) {
      const dependent = ref.deref();
      if (dependent !== undefined && !dependent.#aborted) {
        dependent.#aborted = true;
        dependent.#reason = this.#reason;
        dependents.push(dependent);
      }
    }
    this.#dependents = null;
    this.#heldDependents = null;
    this.#runAbortSteps();
    for (const dependent of dependents) dependent.#runAbortSteps();
  }

  #runAbortSteps(): void {
    const algorithms = this.#algorithms;
    this.#algorithms = null;
    for (const algorithm of algorithms ?? []) {
      try {
        algorithm(this.#reason);
      } catch (error) {
        reportUncaught(error);
      }
    }
    this.dispatchEvent(new Event("abort"));
  }

  static {
    createSignal = () => new AbortSignal(INTERNAL);
    signalAbort = (signal, reason) => signal.#abort(reason);
    addAbortAlgorithm = (signal, algorithm) => {
      if (!signal.#aborted) (signal.#algorithms ??= []).push(algorithm);
    };
  }
}

Object.defineProperty(AbortSignal.prototype, Symbol.toStringTag, { value: "AbortSignal", configurable: true });

export class AbortController {
  #signal: AbortSignal = createSignal();

  get signal(): AbortSignal {
    return this.#signal;
  }

  abort(reason?: unknown): void {
    signalAbort(this.#signal, reason);
  }
}

Object.defineProperty(AbortController.prototype, Symbol.toStringTag, { value: "AbortController", configurable: true });

/** Runs `algorithm` (runtime code, not a listener user code can remove) when `signal` aborts. */
export function onAbort(signal: AbortSignal, algorithm: (reason: unknown) => void): void {
  addAbortAlgorithm(signal, algorithm);
}

/** A signal that follows `source` (Request's signal follows init.signal). */
export function followingSignal(source: AbortSignal | null | undefined): AbortSignal {
  return source ? AbortSignal.any([source]) : createSignal();
}
