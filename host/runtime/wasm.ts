// WebAssembly as on Workers: a module comes with the bundle (`import mod from
// "./x.wasm"` is a WebAssembly.Module), is instantiated with
// `WebAssembly.instantiate(mod, imports)` or `new WebAssembly.Instance`, and
// code is never generated from bytes at run time (`WebAssembly.compile`,
// `new WebAssembly.Module(bytes)` and `instantiate(bytes)` throw
// CompileError, as Workers' "Wasm code generation disallowed by embedder").
//
// Memory is what V8 leaves out: wasm memory is not in the isolate's heap, so
// its limit does not see it. The host caps each memory a bundled module
// defines at memory_mb (executor/worker/wasm-memory-limit.ts) and exports it
// under a hidden name; `new WebAssembly.Memory` is capped here the same way.
// Every memory is tracked weakly; a new memory or instance that would take the
// total past memory_mb fails with a RangeError, and after every call the host
// adds the total to the heap in use and ends the isolate past memory_mb
// (`wasmBytes`, function-isolate.ts).

import type { HostWasm } from "./protocol.js";

const PAGE_BYTES = 65_536;
const MEMORY_EXPORT_PREFIX = "__atoll_memory_";
const DISALLOWED = "Wasm code generation disallowed by embedder: import the .wasm file instead (`import mod from \"./module.wasm\"`), then WebAssembly.instantiate(mod, imports)";

/* eslint-disable @typescript-eslint/no-explicit-any -- WebAssembly is not in the runtime's lib (ES2022). */
type Constructor = { new (...args: any[]): any; prototype: any; [key: string]: any };
interface WasmNamespace {
  Module: Constructor;
  Instance: Constructor;
  Memory: Constructor;
  CompileError: ErrorConstructor;
  instantiate: (...args: any[]) => Promise<any>;
  compile: (...args: any[]) => Promise<any>;
  compileStreaming?: unknown;
  instantiateStreaming?: unknown;
}

let host: HostWasm | null = null;
/** What the live memories hold together, bytes: the host asks after each call. */
let measure: () => number = () => 0;

/** Total bytes of the isolate's live WebAssembly memories (0 when it has none). */
export function wasmBytes(): number {
  return measure();
}

/** The bundle's `.wasm` imports call this at load (bundler/module-rules.ts): the bytes, base64, as a WebAssembly.Module. */
let compileBundled: (base64: string) => unknown = () => {
  throw new TypeError("WebAssembly is not available in this isolate");
};

export function wasmModuleFromBundle(base64: string): unknown {
  return compileBundled(base64);
}

/** Replaces the global WebAssembly's code-generating parts and caps its memories. */
export function installWebAssembly(global: Record<string, unknown>, hostWasm: unknown): void {
  const wasm = global.WebAssembly as WasmNamespace | undefined;
  if (!wasm || typeof hostWasm !== "function") {
    delete global.WebAssembly;
    return;
  }
  host = hostWasm as HostWasm;
  // Captured before user code runs: it may replace any of these afterwards.
  const apply = Reflect.apply;
  const construct = Reflect.construct;
  const defineProperty = Object.defineProperty;
  const freeze = Object.freeze;
  const keysOf = Object.keys;
  const NativeModule = wasm.Module;
  const NativeInstance = wasm.Instance;
  const NativeMemory = wasm.Memory;
  const CompileError = wasm.CompileError;
  const moduleExports = NativeModule.exports as (module: unknown) => { name: string; kind: string }[];
  const exportsOf = Object.getOwnPropertyDescriptor(NativeInstance.prototype, "exports")!.get!;
  const bufferOf = Object.getOwnPropertyDescriptor(NativeMemory.prototype, "buffer")!.get!;
  const byteLengthOf = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")!.get!;
  const mapSet = Map.prototype.set;
  const mapDelete = Map.prototype.delete;
  const mapForEach = Map.prototype.forEach;
  const weakMapGet = WeakMap.prototype.get;
  const weakMapSet = WeakMap.prototype.set;
  const deref = WeakRef.prototype.deref;
  const NativeWeakRef = WeakRef;
  const startsWith = String.prototype.startsWith;
  const filter = Array.prototype.filter;
  const promiseResolve = Promise.resolve.bind(Promise);
  const promiseReject = Promise.reject.bind(Promise);

  const memories = new Map<number, WeakRef<object>>();
  let nextMemory = 0;
  /** Pages a module's memories start with, by module (from the host's compile). */
  const initialPagesOf = new WeakMap<object, number>();
  const publicExports = new WeakMap<object, object>();
  let maxPages = -1;
  const pageLimit = (): number => {
    if (maxPages < 0) maxPages = Number(host!("pages"));
    return maxPages;
  };
  const memoryMb = () => pageLimit() / 16;

  measure = () => {
    let total = 0;
    apply(mapForEach, memories, [
      (ref: WeakRef<object>, id: number) => {
        const memory = apply(deref, ref, []);
        if (memory === undefined) apply(mapDelete, memories, [id]);
        else total += apply(byteLengthOf, apply(bufferOf, memory, []), []) as number;
      },
    ]);
    return total;
  };
  const track = (memory: object) => void apply(mapSet, memories, [nextMemory++, new NativeWeakRef(memory)]);
  const checkRoom = (pages: number, what: string) => {
    const total = measure() + pages * PAGE_BYTES;
    if (total > pageLimit() * PAGE_BYTES) {
      throw new RangeError(
        `${what}: could not allocate memory: the function's WebAssembly memories would hold ${(total / 1_048_576).toFixed(1)} MiB, over its memory_mb of ${memoryMb()}`,
      );
    }
  };

  compileBundled = (base64) => {
    let result: unknown;
    try {
      result = host!("compile", base64);
    } catch (error) {
      throw new CompileError(`WebAssembly.Module(): ${(error as Error)?.message ?? String(error)}`);
    }
    const [bytes, initialPages] = result as [Uint8Array, number];
    const module = construct(NativeModule, [bytes]) as object;
    apply(weakMapSet, initialPagesOf, [module, initialPages]);
    return module;
  };

  function isModule(value: unknown): value is object {
    try {
      moduleExports(value);
      return true;
    } catch {
      return false;
    }
  }

  function Module(this: unknown): never {
    throw new CompileError(`WebAssembly.Module(): ${DISALLOWED}`);
  }
  Module.prototype = NativeModule.prototype;
  Module.exports = (module: unknown) => apply(filter, moduleExports(module), [(entry: { name: string }) => !apply(startsWith, entry.name, [MEMORY_EXPORT_PREFIX])]);
  Module.imports = NativeModule.imports;
  Module.customSections = NativeModule.customSections;

  function Instance(this: unknown, module: unknown, imports?: unknown): object {
    if (new.target === undefined) throw new TypeError("WebAssembly.Instance must be invoked with 'new'");
    if (isModule(module)) checkRoom((apply(weakMapGet, initialPagesOf, [module]) as number | undefined) ?? 0, "WebAssembly.Instance()");
    const instance = construct(NativeInstance, [module, imports], new.target === Instance ? NativeInstance : new.target) as object;
    // Every memory the module defines is exported under the hidden name (the
    // host's rewrite); imported ones were tracked where they were made.
    const exports = apply(exportsOf, instance, []) as Record<string, unknown>;
    const names = keysOf(exports);
    for (let i = 0; i < names.length; i++) if (apply(startsWith, names[i]!, [MEMORY_EXPORT_PREFIX])) track(exports[names[i]!] as object);
    return instance;
  }
  Instance.prototype = NativeInstance.prototype;
  defineProperty(NativeInstance.prototype, "exports", {
    get(this: object) {
      const exports = apply(exportsOf, this, []) as Record<string, unknown>;
      const names = keysOf(exports);
      let hidden = false;
      for (let i = 0; i < names.length; i++) if (apply(startsWith, names[i]!, [MEMORY_EXPORT_PREFIX])) hidden = true;
      if (!hidden) return exports;
      let visible = apply(weakMapGet, publicExports, [exports]) as object | undefined;
      if (visible === undefined) {
        const copy = Object.create(null) as Record<string, unknown>;
        for (let i = 0; i < names.length; i++) if (!apply(startsWith, names[i]!, [MEMORY_EXPORT_PREFIX])) copy[names[i]!] = exports[names[i]!];
        visible = freeze(copy);
        apply(weakMapSet, publicExports, [exports, visible]);
      }
      return visible;
    },
    enumerable: true,
    configurable: true,
  });

  function Memory(this: unknown, descriptor: { initial?: unknown; minimum?: unknown; maximum?: unknown; shared?: unknown }): object {
    if (new.target === undefined) throw new TypeError("WebAssembly.Memory must be invoked with 'new'");
    if (descriptor === null || typeof descriptor !== "object") throw new TypeError("WebAssembly.Memory(): Argument 0 must be a memory descriptor");
    const initial = Number(descriptor.initial ?? descriptor.minimum);
    const declaredMax = descriptor.maximum === undefined ? Infinity : Number(descriptor.maximum);
    if (descriptor.shared) throw new TypeError("WebAssembly.Memory(): shared memories need SharedArrayBuffer, which Atoll isolates do not have");
    if (!(initial >= 0)) throw new TypeError("WebAssembly.Memory(): Property 'initial' is required and must be a non-negative number");
    if (initial > pageLimit()) {
      throw new RangeError(`WebAssembly.Memory(): could not allocate memory: ${initial} pages (${((initial * PAGE_BYTES) / 1_048_576).toFixed(1)} MiB) is over the function's memory_mb of ${memoryMb()}`);
    }
    checkRoom(initial, "WebAssembly.Memory()");
    const maximum = Math.min(declaredMax, pageLimit());
    const memory = construct(NativeMemory, [{ initial, maximum }], new.target === Memory ? NativeMemory : new.target) as object;
    track(memory);
    return memory;
  }
  Memory.prototype = NativeMemory.prototype;

  for (const [name, replacement, native] of [
    ["Module", Module, NativeModule],
    ["Instance", Instance, NativeInstance],
    ["Memory", Memory, NativeMemory],
  ] as const) {
    defineProperty(replacement, "name", { value: name, configurable: true });
    defineProperty(native.prototype, "constructor", { value: replacement, writable: true, configurable: true, enumerable: false });
    defineProperty(wasm, name, { value: replacement, writable: true, configurable: true, enumerable: false });
  }
  const methods: Record<string, (...args: any[]) => unknown> = {
    compile(): Promise<never> {
      return promiseReject(new CompileError(`WebAssembly.compile(): ${DISALLOWED}`));
    },
    instantiate(source: unknown, imports?: unknown): Promise<unknown> {
      if (!isModule(source)) return promiseReject(new CompileError(`WebAssembly.instantiate(): ${DISALLOWED}`));
      try {
        // With a module, instantiate resolves to the Instance alone (the spec's overload).
        return promiseResolve(new (Instance as unknown as Constructor)(source, imports));
      } catch (error) {
        return promiseReject(error);
      }
    },
  };
  for (const name of keysOf(methods)) defineProperty(wasm, name, { value: methods[name], writable: true, configurable: true, enumerable: false });
  delete wasm.compileStreaming;
  delete wasm.instantiateStreaming;
}
