// Puts a ceiling on the linear memories a WebAssembly module defines, before
// the isolate compiles it. V8 does not count wasm memory in the isolate's
// heap limit (it grew to 1 GiB under a 64 MB limit), so every memory a module
// defines gets a maximum of at most the function's memory_mb: past it,
// `memory.grow` returns -1, as it does on a machine out of memory, and the
// module's own allocator reports it (Rust and C panic or return null). What
// several memories hold together is checked after every call into the
// isolate (function-isolate.ts). Memories a module imports come from
// `new WebAssembly.Memory`, whose maximum the runtime clamps the same way.
//
// Only the memory section changes: the code, its offsets and the other
// sections are copied as they are. Shared memories (threads, which need
// SharedArrayBuffer, absent here), 64-bit memories and custom page sizes are
// refused.

export const WASM_PAGE_BYTES = 65_536;

/** A module that cannot run within the limits; the message says what to do. */
export class WasmModuleRefusedError extends Error {
  override name = "WasmModuleRefusedError";
}

export interface LimitedModule {
  /** The module's bytes with every defined memory's maximum at most the ceiling. */
  bytes: Uint8Array;
  /** Pages (64 KiB) each defined memory starts with. */
  initialPages: number[];
}

const MAGIC_AND_VERSION = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const IMPORT_SECTION = 2;
const MEMORY_SECTION = 5;
const EXPORT_SECTION = 7;
/** Sections that come after the export section (start, element, data count, code, data): a new one goes before the first of them. */
const EXPORT_SECTION_FOLLOWERS = new Set([8, 9, 12, 10, 11]);
const EXPORT_KIND_MEMORY = 0x02;
const LIMIT_HAS_MAX = 0x01;
const LIMIT_SHARED = 0x02;
const LIMIT_MEMORY64 = 0x04;

/** Name of the export added for defined memory `index`, so that the runtime can measure it; hidden from user code. */
export const MEMORY_EXPORT_PREFIX = "__atoll_memory_";

/**
 * `bytes` with each memory the module defines capped at `maxPages`, and
 * exported as `__atoll_memory_<index>` (the runtime measures what memories
 * hold, and hides these exports). Throws WasmModuleRefusedError.
 */
export function limitWasmMemory(bytes: Uint8Array, maxPages: number, memoryMb: number): LimitedModule {
  for (let i = 0; i < MAGIC_AND_VERSION.length; i++) {
    if (bytes[i] !== MAGIC_AND_VERSION[i]) throw new WasmModuleRefusedError("not a WebAssembly module (version 1): the file does not start with \\0asm 01 00 00 00");
  }
  const sections = readSections(bytes);
  const memorySection = sections.find((section) => section.id === MEMORY_SECTION);
  if (!memorySection) return { bytes, initialPages: [] };
  const reader = new Reader(bytes, memorySection.contentStart);
  const memories: { min: number; max: number }[] = [];
  const count = reader.u32();
  for (let i = 0; i < count; i++) {
    const { min, declaredMax } = readMemoryType(reader);
    if (min > maxPages) {
      throw new WasmModuleRefusedError(
        `the WebAssembly module's memory starts at ${mib(min)} MiB, over the function's memory_mb of ${memoryMb}: raise [limits] memory_mb, or build the module with a smaller initial memory`,
      );
    }
    memories.push({ min, max: Math.min(declaredMax, maxPages) });
  }
  if (reader.at !== memorySection.end) throw new WasmModuleRefusedError("the WebAssembly module's memory section is malformed");
  const importedMemories = countImportedMemories(bytes, sections.find((section) => section.id === IMPORT_SECTION));

  const memoryContent = [...u32Bytes(memories.length)];
  for (const memory of memories) memoryContent.push(LIMIT_HAS_MAX, ...u32Bytes(memory.min), ...u32Bytes(memory.max));
  const addedExports: number[] = [];
  for (let i = 0; i < memories.length; i++) {
    const name = new TextEncoder().encode(`${MEMORY_EXPORT_PREFIX}${importedMemories + i}`);
    addedExports.push(...u32Bytes(name.length), ...name, EXPORT_KIND_MEMORY, ...u32Bytes(importedMemories + i));
  }

  const parts: Uint8Array[] = [bytes.subarray(0, MAGIC_AND_VERSION.length)];
  const exportSection = sections.find((section) => section.id === EXPORT_SECTION);
  let exportsWritten = exportSection !== undefined;
  const newExportSection = () => sectionBytes(EXPORT_SECTION, [...u32Bytes(memories.length), ...addedExports]);
  for (const section of sections) {
    if (!exportsWritten && EXPORT_SECTION_FOLLOWERS.has(section.id)) {
      parts.push(newExportSection());
      exportsWritten = true;
    }
    if (section === memorySection) {
      parts.push(sectionBytes(MEMORY_SECTION, memoryContent));
    } else if (section === exportSection) {
      const exports = new Reader(bytes, section.contentStart);
      const existing = exports.u32();
      parts.push(sectionBytes(EXPORT_SECTION, [...u32Bytes(existing + memories.length), ...bytes.subarray(exports.at, section.end), ...addedExports]));
    } else {
      parts.push(bytes.subarray(section.start, section.end));
    }
  }
  if (!exportsWritten) parts.push(newExportSection());
  return { bytes: concat(parts), initialPages: memories.map((memory) => memory.min) };
}

interface Section {
  id: number;
  /** Offset of the section id. */
  start: number;
  contentStart: number;
  /** Offset just past the section. */
  end: number;
}

function readSections(bytes: Uint8Array): Section[] {
  const reader = new Reader(bytes, MAGIC_AND_VERSION.length);
  const sections: Section[] = [];
  while (reader.at < bytes.length) {
    const start = reader.at;
    const id = reader.byte();
    const size = reader.u32();
    const contentStart = reader.at;
    const end = contentStart + size;
    if (end > bytes.length) throw new WasmModuleRefusedError("the WebAssembly module is truncated: a section runs past its end");
    sections.push({ id, start, contentStart, end });
    reader.at = end;
  }
  return sections;
}

function readMemoryType(reader: Reader): { min: number; declaredMax: number } {
  const flags = reader.byte();
  if (flags & LIMIT_SHARED) throw new WasmModuleRefusedError("the WebAssembly module has a shared memory (threads): Atoll isolates have no SharedArrayBuffer; build it without threads");
  if (flags & LIMIT_MEMORY64) throw new WasmModuleRefusedError("the WebAssembly module has a 64-bit memory (memory64), which Atoll does not run; build it for wasm32");
  if (flags & ~LIMIT_HAS_MAX) throw new WasmModuleRefusedError(`the WebAssembly module's memory has limits Atoll does not know (flags 0x${flags.toString(16)})`);
  const min = reader.u32();
  const declaredMax = flags & LIMIT_HAS_MAX ? reader.u32() : Infinity;
  return { min, declaredMax };
}

/** How many memories the import section imports (they come first in the memory index space). */
function countImportedMemories(bytes: Uint8Array, section: Section | undefined): number {
  if (!section) return 0;
  const reader = new Reader(bytes, section.contentStart);
  let memories = 0;
  const count = reader.u32();
  for (let i = 0; i < count; i++) {
    reader.skip(reader.u32()); // module name
    reader.skip(reader.u32()); // field name
    const kind = reader.byte();
    if (kind === 0x00) reader.u32(); // function: type index
    else if (kind === 0x01) {
      reader.byte(); // table: reference type, then limits
      const flags = reader.byte();
      reader.u32();
      if (flags & LIMIT_HAS_MAX) reader.u32();
    } else if (kind === EXPORT_KIND_MEMORY) {
      readMemoryType(reader);
      memories++;
    } else if (kind === 0x03) reader.skip(2); // global: value type (one byte for numbers and references) and mutability
    else if (kind === 0x04) {
      reader.byte(); // tag: attribute, then type index
      reader.u32();
    } else throw new WasmModuleRefusedError(`the WebAssembly module imports something of a kind Atoll does not know (0x${kind.toString(16)})`);
  }
  return memories;
}

function sectionBytes(id: number, content: ArrayLike<number>): Uint8Array {
  const size = u32Bytes(content.length);
  const out = new Uint8Array(1 + size.length + content.length);
  out[0] = id;
  out.set(size, 1);
  out.set(content, 1 + size.length);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function mib(pages: number): string {
  return ((pages * WASM_PAGE_BYTES) / 1_048_576).toFixed(pages % 16 === 0 ? 0 : 1);
}

function u32Bytes(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    public at: number,
  ) {}

  skip(count: number): void {
    if (this.at + count > this.bytes.length) throw new WasmModuleRefusedError("the WebAssembly module is truncated");
    this.at += count;
  }

  byte(): number {
    if (this.at >= this.bytes.length) throw new WasmModuleRefusedError("the WebAssembly module is truncated");
    return this.bytes[this.at++]!;
  }

  /** An unsigned LEB128 of at most 32 bits. */
  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (result > 0xffff_ffff) break;
        return result;
      }
    }
    throw new WasmModuleRefusedError("the WebAssembly module is malformed: an integer is longer than 32 bits");
  }
}

/** `__atoll_wasm` (runtime/protocol.ts HostWasm) for an isolate whose limit is `memoryMb`. */
export function answerWasm(kind: unknown, input: unknown, memoryMb: number): [Uint8Array, number] | number {
  const maxPages = memoryMb * (1_048_576 / WASM_PAGE_BYTES);
  if (kind === "pages") return maxPages;
  if (kind !== "compile" || typeof input !== "string") throw new TypeError("wasm: unknown kind");
  const { bytes, initialPages } = limitWasmMemory(Buffer.from(input, "base64"), maxPages, memoryMb);
  return [bytes, initialPages.reduce((sum, pages) => sum + pages, 0)];
}
