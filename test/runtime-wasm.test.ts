// WebAssembly in the isolate, as on Workers: bundled modules compile, code is
// never generated from bytes at run time, and memories are capped at
// memory_mb and counted together. Plus the host's rewrite of a module's
// memory section (pure).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { limitWasmMemory, WasmModuleRefusedError } from "../host/executor/worker/wasm-memory-limit.js";
import { RuntimeHarness } from "./support/runtime-harness.js";
import { base64, GROW_WASM, HIDDEN_MEMORY_WASM, IMPORTED_MEMORY_WASM, SHARED_MEMORY_WASM } from "./support/wasm-modules.js";

/** Node's own WebAssembly (the typings here have no DOM lib). */
const NodeWasm = (globalThis as unknown as { WebAssembly: { Module: { new (bytes: Uint8Array): object; exports(module: object): { name: string }[] }; Instance: new (module: object) => unknown } }).WebAssembly;

/** Boots `handler` (the body of an async fetch) with GROW_WASM as `mod`, and returns its JSON. */
async function run(handler: string, memoryMb = 16, module = GROW_WASM): Promise<Record<string, unknown>> {
  const harness = await RuntimeHarness.boot(
    `const mod = __atoll_wasm_module(${JSON.stringify(base64(module))});
     export default { async fetch() { ${handler} } };`,
    { memoryMb },
  );
  try {
    const response = await harness.fetch();
    assert.equal(response.error, null, response.error?.stack);
    return response.json() as Record<string, unknown>;
  } finally {
    harness.dispose();
  }
}

describe("WebAssembly in the isolate", () => {
  it("instantiates a bundled module; its memory and functions work; the host's export is hidden", async () => {
    const seen = await run(`
      const instance = await WebAssembly.instantiate(mod, {});
      instance.exports.store(8, 42);
      const direct = new WebAssembly.Instance(mod);
      return Response.json({
        isModule: mod instanceof WebAssembly.Module,
        isInstance: instance instanceof WebAssembly.Instance && direct instanceof WebAssembly.Instance,
        value: new Int32Array(instance.exports.mem.buffer)[2],
        exports: Object.keys(instance.exports),
        frozen: Object.isFrozen(instance.exports),
        moduleExports: WebAssembly.Module.exports(mod).map((entry) => entry.name),
        constructorIsPublic: Object.getPrototypeOf(mod).constructor === WebAssembly.Module && Object.getPrototypeOf(instance).constructor === WebAssembly.Instance,
        validate: WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])),
        names: [WebAssembly.Module.name, WebAssembly.Instance.name, WebAssembly.Memory.name],
      });
    `);
    assert.deepEqual(seen, {
      isModule: true,
      isInstance: true,
      value: 42,
      exports: ["mem", "grow", "store", "fill"],
      frozen: true,
      moduleExports: ["mem", "grow", "store", "fill"],
      constructorIsPublic: true,
      validate: true,
      names: ["Module", "Instance", "Memory"],
    });
  });

  it("refuses to generate code from bytes at run time, as Workers does", async () => {
    const seen = await run(`
      const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
      const outcome = async (attempt) => { try { await attempt(); return "allowed"; } catch (error) { return error.name + ": " + error.message; } };
      return Response.json({
        compile: await outcome(() => WebAssembly.compile(bytes)),
        module: await outcome(() => new WebAssembly.Module(bytes)),
        viaPrototype: await outcome(() => new (Object.getPrototypeOf(mod).constructor)(bytes)),
        instantiate: await outcome(() => WebAssembly.instantiate(bytes)),
        streaming: [typeof WebAssembly.compileStreaming, typeof WebAssembly.instantiateStreaming],
      });
    `);
    for (const key of ["compile", "module", "viaPrototype", "instantiate"]) {
      assert.match(String(seen[key]), /^CompileError: WebAssembly\.\w+\(\): Wasm code generation disallowed by embedder: import the \.wasm file/, key);
    }
    assert.deepEqual(seen.streaming, ["undefined", "undefined"]);
  });

  it("caps every memory at memory_mb: memory.grow returns -1 past it, and JS memories are capped too", async () => {
    const seen = await run(`
      const js = new WebAssembly.Memory({ initial: 1, maximum: 100_000 });
      let jsPast = "allowed";
      try { js.grow(300); } catch (error) { jsPast = error.name; }
      let tooBig = "allowed";
      try { new WebAssembly.Memory({ initial: 300 }); } catch (error) { tooBig = error.name + ": " + error.message; }
      let shared = "allowed";
      try { new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }); } catch (error) { shared = error.name; }
      const { exports } = new WebAssembly.Instance(mod);
      const first = exports.grow(10_000);
      const toTheLimit = exports.grow(255);
      const past = exports.grow(1);
      return Response.json({ first, toTheLimit, past, size: exports.mem.buffer.byteLength, jsPast, tooBig, shared });
    `);
    assert.equal(seen.first, -1);
    assert.equal(seen.toTheLimit, 1);
    assert.equal(seen.past, -1);
    assert.equal(seen.size, 16 * 1_048_576);
    assert.equal(seen.jsPast, "RangeError");
    assert.match(String(seen.tooBig), /^RangeError: WebAssembly\.Memory\(\): could not allocate memory: 300 pages \(18\.8 MiB\) is over the function's memory_mb of 16$/);
    assert.equal(seen.shared, "TypeError");
  });

  it("counts memories together, a module's unexported memory included: a new one past memory_mb is a RangeError", async () => {
    const seen = await run(
      `
      const { exports } = new WebAssembly.Instance(mod);
      exports.grow(199); // 200 pages: 12.5 of 16 MiB, in a memory user code cannot see
      const outcome = (attempt) => { try { attempt(); return "allowed"; } catch (error) { return error.name + ": " + error.message; } };
      return Response.json({
        exported: "mem" in exports,
        memory: outcome(() => new WebAssembly.Memory({ initial: 100 })),
        instance: outcome(() => { const other = new WebAssembly.Instance(mod); other.exports.grow(100); return other; }),
        small: outcome(() => new WebAssembly.Memory({ initial: 10 })),
      });
    `,
      16,
      HIDDEN_MEMORY_WASM,
    );
    assert.equal(seen.exported, false);
    assert.match(String(seen.memory), /^RangeError: WebAssembly\.Memory\(\): could not allocate memory: the function's WebAssembly memories would hold 18\.8 MiB, over its memory_mb of 16$/);
    // A second instance fits (it starts at one page) and grows within its own cap; the two together
    // (18.8 MiB) leave no room for another memory, and after the call the host ends the isolate (limits.test.ts).
    assert.equal(seen.instance, "allowed");
    assert.match(String(seen.small), /would hold 19\.4 MiB, over its memory_mb of 16$/);
  });

  it("links an imported memory made in JavaScript", async () => {
    const seen = await run(
      `
      const memory = new WebAssembly.Memory({ initial: 3 });
      const { exports } = await WebAssembly.instantiate(mod, { env: { mem: memory } });
      return Response.json({ size: exports.size(), exports: Object.keys(exports) });
    `,
      16,
      IMPORTED_MEMORY_WASM,
    );
    assert.deepEqual(seen, { size: 3, exports: ["size"] });
  });

  it("fails the load of a module with a shared memory, saying why", async () => {
    await assert.rejects(
      RuntimeHarness.boot(`const mod = __atoll_wasm_module(${JSON.stringify(base64(SHARED_MEMORY_WASM))}); export default { fetch() {} };`),
      /CompileError: WebAssembly\.Module\(\): the WebAssembly module has a shared memory \(threads\)/,
    );
  });
});

describe("limitWasmMemory", () => {
  it("caps a memory without a maximum and adds a hidden export, code untouched", () => {
    const { bytes, initialPages } = limitWasmMemory(GROW_WASM, 512, 32);
    assert.deepEqual(initialPages, [1]);
    const module = new NodeWasm.Module(bytes);
    assert.deepEqual(NodeWasm.Module.exports(module).map((entry) => entry.name), ["mem", "grow", "store", "fill", "__atoll_memory_0"]);
    const { exports } = new NodeWasm.Instance(module) as unknown as { exports: { grow(pages: number): number } };
    assert.equal(exports.grow(511), 1);
    assert.equal(exports.grow(1), -1);
  });

  it("adds an export section to a module that has none", () => {
    // (memory 2 8): no exports at all.
    const noExports = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 4, 1, 1, 2, 8]);
    const { bytes, initialPages } = limitWasmMemory(noExports, 4, 0.25);
    assert.deepEqual(initialPages, [2]);
    const instance = new NodeWasm.Instance(new NodeWasm.Module(bytes)) as unknown as { exports: Record<string, { grow(pages: number): number }> };
    const memory = instance.exports.__atoll_memory_0!;
    assert.equal(memory.grow(2), 2);
    assert.throws(() => memory.grow(1), RangeError, "the declared maximum of 8 is capped at 4");
  });

  it("numbers a defined memory after the imported ones; leaves a module without memory as it is", () => {
    assert.equal(limitWasmMemory(IMPORTED_MEMORY_WASM, 16, 1).bytes, IMPORTED_MEMORY_WASM);
  });

  it("refuses what it cannot run, saying what to do", () => {
    assert.throws(() => limitWasmMemory(GROW_WASM, 0, 0), (error: unknown) => error instanceof WasmModuleRefusedError && /starts at 0\.1 MiB, over the function's memory_mb of 0: raise \[limits\] memory_mb/.test(error.message));
    assert.throws(() => limitWasmMemory(SHARED_MEMORY_WASM, 16, 1), /shared memory \(threads\)/);
    assert.throws(() => limitWasmMemory(new Uint8Array([1, 2, 3]), 16, 1), /not a WebAssembly module/);
    assert.throws(() => limitWasmMemory(GROW_WASM.subarray(0, 30), 16, 1), /truncated/);
  });
});
