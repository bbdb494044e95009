// node:async_hooks under nodejs_compat (or nodejs_als): AsyncLocalStorage and
// AsyncResource, as Workers offers them (no enterWith, disable or createHook).
//
// An isolate has no promise hooks, so the context travels the way zone.js
// carries its zones: whoever registers a callback (Promise.prototype.then,
// setTimeout, setInterval, queueMicrotask) gets it wrapped to run in the
// context that was current when it was registered. Native `await` does not go
// through `then`, so a bundle that imports this module has its async functions
// lowered to generators by the bundler (bundler/node-compat.ts), which makes
// every await a `then`. The context is only ever changed for the length of a
// synchronous call and put back in a `finally`: between tasks it is the empty
// one, so a callback nobody wrapped (one the runtime calls on its own) sees no
// store, never another request's.

/** The stores of every AsyncLocalStorage, frozen: a new context is a new Map. */
const EMPTY_CONTEXT = new Map();
let currentContext = EMPTY_CONTEXT;

function runInContext(context, fn, thisArg, args) {
  const previous = currentContext;
  currentContext = context;
  try {
    return Reflect.apply(fn, thisArg, args);
  } finally {
    currentContext = previous;
  }
}

/** `fn`, bound to run in the context that is current now. */
function bindToCurrentContext(fn) {
  if (typeof fn !== "function") return fn;
  const context = currentContext;
  return function runInRegisteredContext(...args) {
    return runInContext(context, fn, this, args);
  };
}

/** Marks what this module patched, so that a second copy of it (two bundled versions) does not wrap twice. */
const PATCHED = Symbol.for("atoll.node-compat.async-context");

function patchAsyncEntryPoints() {
  if (Promise.prototype.then[PATCHED]) return;
  const originalThen = Promise.prototype.then;
  const then = {
    then(onFulfilled, onRejected) {
      return Reflect.apply(originalThen, this, [bindToCurrentContext(onFulfilled), bindToCurrentContext(onRejected)]);
    },
  }.then;
  then[PATCHED] = true;
  Object.defineProperty(Promise.prototype, "then", { value: then, writable: true, configurable: true, enumerable: false });

  for (const name of ["setTimeout", "setInterval"]) {
    const original = globalThis[name];
    if (typeof original !== "function") continue;
    const wrapped = {
      [name](callback, ...rest) {
        return Reflect.apply(original, this, [bindToCurrentContext(callback), ...rest]);
      },
    }[name];
    Object.defineProperty(globalThis, name, { value: wrapped, writable: true, configurable: true, enumerable: false });
  }
  const originalQueueMicrotask = globalThis.queueMicrotask;
  if (typeof originalQueueMicrotask === "function") {
    const queueMicrotask = {
      queueMicrotask(callback) {
        return Reflect.apply(originalQueueMicrotask, this, [bindToCurrentContext(callback)]);
      },
    }.queueMicrotask;
    Object.defineProperty(globalThis, "queueMicrotask", { value: queueMicrotask, writable: true, configurable: true, enumerable: false });
  }
}

patchAsyncEntryPoints();

function notOnWorkers(method, instead) {
  const error = new Error(`AsyncLocalStorage.${method}() is not available (as on Workers): ${instead}`);
  error.code = "ERR_METHOD_NOT_IMPLEMENTED";
  return error;
}

export class AsyncLocalStorage {
  /** Runs `fn(...args)` with `store` as this storage's store, there and in every callback it registers. */
  run(store, fn, ...args) {
    const context = new Map(currentContext);
    context.set(this, store);
    return runInContext(context, fn, undefined, args);
  }

  /** Runs `fn(...args)` with no store for this storage. */
  exit(fn, ...args) {
    if (!currentContext.has(this)) return Reflect.apply(fn, undefined, args);
    const context = new Map(currentContext);
    context.delete(this);
    return runInContext(context, fn, undefined, args);
  }

  /** The store of the innermost run() this code was called or registered from; undefined outside one. */
  getStore() {
    return currentContext.get(this);
  }

  enterWith(_store) {
    throw notOnWorkers("enterWith", "wrap the code in storage.run(store, fn)");
  }

  disable() {
    throw notOnWorkers("disable", "use storage.exit(fn) to run code without the store");
  }

  /** `fn` bound to the context that is current now. */
  static bind(fn) {
    if (typeof fn !== "function") throw new TypeError("AsyncLocalStorage.bind: fn must be a function");
    return bindToCurrentContext(fn);
  }

  /** A function that runs any function in the context that is current now. */
  static snapshot() {
    const context = currentContext;
    return (fn, ...args) => runInContext(context, fn, undefined, args);
  }
}

let lastAsyncId = 0;

export class AsyncResource {
  #context = currentContext;
  #asyncId = ++lastAsyncId;
  #type;

  constructor(type, _options) {
    if (typeof type !== "string") throw new TypeError('The "type" argument must be of type string');
    this.#type = type;
  }

  runInAsyncScope(fn, thisArg, ...args) {
    return runInContext(this.#context, fn, thisArg, args);
  }

  bind(fn, thisArg) {
    const resource = this;
    const bound = function (...args) {
      return resource.runInAsyncScope(fn, thisArg === undefined ? this : thisArg, ...args);
    };
    Object.defineProperty(bound, "length", { value: fn.length, configurable: true });
    bound.asyncResource = this;
    return bound;
  }

  static bind(fn, type, thisArg) {
    return new AsyncResource(type ?? (fn.name || "bound-anonymous-fn")).bind(fn, thisArg);
  }

  emitDestroy() {
    return this;
  }

  asyncId() {
    return this.#asyncId;
  }

  triggerAsyncId() {
    return 0;
  }

  get type() {
    return this.#type;
  }
}

export default { AsyncLocalStorage, AsyncResource };
