// structuredClone(), per HTML's structured serialization
// (https://html.spec.whatwg.org/multipage/structured-data.html): primitives,
// wrappers, Date, RegExp, ArrayBuffer and views, Map, Set, Error, arrays and
// plain data objects, with cycles kept; anything else is a DataCloneError.
import { DOMException } from "./dom-exception.js";

const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get!;
const objectToString = Object.prototype.toString;

type TypedArrayConstructor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView;
const TYPED_ARRAYS: Record<string, TypedArrayConstructor> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};
const ERRORS: Record<string, ErrorConstructor> = {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
};

function fail(what: string): never {
  throw new DOMException(`structuredClone: ${what} could not be cloned.`, "DataCloneError");
}

function cloneValue(value: unknown, memory: Map<object, unknown>): unknown {
  if (typeof value === "function") fail(`function ${(value as { name?: string }).name || "(anonymous)"}`);
  if (typeof value === "symbol") fail(String(value));
  if (typeof value !== "object" || value === null) return value;
  const seen = memory.get(value);
  if (seen !== undefined) return seen;

  const tag = objectToString.call(value).slice(8, -1);
  const viewTag = ArrayBuffer.isView(value) ? (typedArrayTag.call(value) as string | undefined) ?? "DataView" : undefined;
  if (viewTag !== undefined) {
    const view = value as ArrayBufferView;
    const buffer = cloneValue(view.buffer, memory) as ArrayBuffer;
    const bytesPerElement = (view as Uint8Array).BYTES_PER_ELEMENT ?? 1;
    const copy =
      viewTag === "DataView"
        ? new DataView(buffer, view.byteOffset, view.byteLength)
        : new TYPED_ARRAYS[viewTag]!(buffer, view.byteOffset, view.byteLength / bytesPerElement);
    memory.set(value, copy);
    return copy;
  }
  let copy: unknown;
  switch (tag) {
    case "ArrayBuffer":
      copy = (value as ArrayBuffer).slice(0);
      memory.set(value, copy);
      return copy;
    case "SharedArrayBuffer":
      fail("SharedArrayBuffer");
    // falls through (fail never returns)
    case "Date":
      copy = new Date((value as Date).getTime());
      memory.set(value, copy);
      return copy;
    case "RegExp": {
      const regexp = value as RegExp;
      copy = new RegExp(regexp.source, regexp.flags);
      memory.set(value, copy);
      return copy;
    }
    case "Boolean":
    case "Number":
    case "String":
    case "BigInt":
    case "Symbol": {
      const primitive = (value as { valueOf(): unknown }).valueOf();
      if (typeof primitive === "symbol") fail("Symbol object");
      copy = Object(primitive);
      memory.set(value, copy);
      return copy;
    }
    case "Map": {
      const map = new Map();
      memory.set(value, map);
      for (const [key, entry] of value as Map<unknown, unknown>) map.set(cloneValue(key, memory), cloneValue(entry, memory));
      return map;
    }
    case "Set": {
      const set = new Set();
      memory.set(value, set);
      for (const entry of value as Set<unknown>) set.add(cloneValue(entry, memory));
      return set;
    }
    case "Error": {
      const error = value as Error;
      const name = String(error.name);
      const ErrorClass = ERRORS[name] ?? Error;
      const clone = new ErrorClass(String(error.message));
      memory.set(value, clone);
      if (typeof error.stack === "string") Object.defineProperty(clone, "stack", { value: error.stack, writable: true, configurable: true });
      if ("cause" in error) Object.defineProperty(clone, "cause", { value: cloneValue(error.cause, memory), writable: true, configurable: true });
      return clone;
    }
    case "Array": {
      const source = value as unknown[];
      const array = new Array(source.length);
      memory.set(value, array);
      for (const key of Object.keys(source)) array[key as unknown as number] = cloneValue(source[key as unknown as number], memory);
      return array;
    }
    case "Object":
      break;
    default:
      // Platform objects (Request, Headers, streams ...), Promise, WeakMap and
      // friends carry a tag and have no serialization.
      if (typeof (value as { then?: unknown }).then === "function" || tag !== "Object") fail(`a ${tag}`);
  }
  const object: Record<string, unknown> = {};
  memory.set(value, object);
  for (const key of Object.keys(value)) object[key] = cloneValue((value as Record<string, unknown>)[key], memory);
  return object;
}

// ArrayBuffer.prototype.transfer detaches the original (V8 11.4+); without it
// a transferred buffer is copied and the original stays usable.
const transferBuffer = (ArrayBuffer.prototype as { transfer?: (this: ArrayBuffer) => ArrayBuffer }).transfer;

/** The transfer list's ArrayBuffers, each mapped to its transferred copy; anything else is a DataCloneError. */
function transferred(transfer: unknown, what: string): Map<object, unknown> {
  const memory = new Map<object, unknown>();
  if (transfer === undefined || transfer === null) return memory;
  if (typeof transfer !== "object" || typeof (transfer as Iterable<unknown>)[Symbol.iterator] !== "function") {
    throw new TypeError(`${what}: the transfer list must be an array`);
  }
  for (const item of transfer as Iterable<unknown>) {
    if (objectToString.call(item) !== "[object ArrayBuffer]") {
      const name = item !== null && typeof item === "object" ? objectToString.call(item).slice(8, -1) : typeof item;
      throw new DOMException(`${what}: ${name} could not be transferred: only ArrayBuffers can be transferred in Atoll.`, "DataCloneError");
    }
    if (memory.has(item as object)) throw new DOMException(`${what}: an ArrayBuffer is listed twice in the transfer list.`, "DataCloneError");
    const buffer = item as ArrayBuffer;
    memory.set(buffer, transferBuffer !== undefined ? transferBuffer.call(buffer) : buffer.slice(0));
  }
  return memory;
}

/** Clones `value` as structuredClone() does, taking the ArrayBuffers in `transfer` over (postMessage). */
export function cloneWithTransfer<T>(value: T, transfer: unknown, what: string): T {
  return cloneValue(value, transferred(transfer, what)) as T;
}

export function structuredClone<T>(value: T, options?: { transfer?: unknown[] }): T {
  if (arguments.length === 0) throw new TypeError("structuredClone: 1 argument required, but only 0 present.");
  if (options !== undefined && options !== null && typeof options !== "object") throw new TypeError("structuredClone: options must be an object");
  return cloneWithTransfer(value, options?.transfer, "structuredClone");
}
