// Small WebAssembly modules for the tests, assembled by hand (the text form
// beside each). fixtures/wasm-app/src/memory.wasm holds GROW_WASM's bytes.

function bytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.split(/\s+/).filter(Boolean).map((pair) => parseInt(pair, 16)));
}

const HEADER = "00 61 73 6d 01 00 00 00";
// (type (func (param i32) (result i32))) (type (func (param i32 i32))) (type (func (param i32 i32 i32)))
const TYPES = "01 11 03 60 01 7f 01 7f 60 02 7f 7f 00 60 03 7f 7f 7f 00";
// three functions, of types 0, 1 and 2
const FUNCTIONS = "03 04 03 00 01 02";
// (memory 1): one page, no maximum
const MEMORY = "05 03 01 00 01";
// (func $grow (param $pages i32) (result i32) (memory.grow (local.get $pages)))
// (func $store (param $at i32) (param $value i32) (i32.store (local.get $at) (local.get $value)))
// (func $fill (param $at i32) (param $value i32) (param $length i32) (memory.fill (local.get $at) (local.get $value) (local.get $length)))
const CODE = "0a 1e 03 06 00 20 00 40 00 0b 09 00 20 00 20 01 36 02 00 0b 0b 00 20 00 20 01 20 02 fc 0b 00 0b";

/** (export "mem" (memory 0)) (export "grow") (export "store") (export "fill"). */
export const GROW_WASM = bytes(`${HEADER} ${TYPES} ${FUNCTIONS} ${MEMORY}
  07 1d 04 03 6d 65 6d 02 00 04 67 72 6f 77 00 00 05 73 74 6f 72 65 00 01 04 66 69 6c 6c 00 02 ${CODE}`);

/** The same module, its memory not exported: only the host's hidden export can measure it. */
export const HIDDEN_MEMORY_WASM = bytes(`${HEADER} ${TYPES} ${FUNCTIONS} ${MEMORY}
  07 17 03 04 67 72 6f 77 00 00 05 73 74 6f 72 65 00 01 04 66 69 6c 6c 00 02 ${CODE}`);

/** (memory (export "mem") 1 1 shared): a threads module, which Atoll refuses. */
export const SHARED_MEMORY_WASM = bytes(`${HEADER} 05 04 01 03 01 01 07 07 01 03 6d 65 6d 02 00`);

/** (import "env" "mem" (memory 1)) (func (export "size") (result i32) (memory.size)). */
export const IMPORTED_MEMORY_WASM = bytes(`${HEADER} 01 05 01 60 00 01 7f 02 0c 01 03 65 6e 76 03 6d 65 6d 02 00 01
  03 02 01 00 07 08 01 04 73 69 7a 65 00 00 0a 06 01 04 00 3f 00 0b`);

export function base64(module: Uint8Array): string {
  return Buffer.from(module).toString("base64");
}
