// A bundle as a classic script. V8's code cache does little for ES modules
// under isolated-vm: fixtures/hono-app's module took ~3 ms to compile from its
// cache, as a script 0.4 ms (and 3,000 small functions 12 ms against 2 ms).
// esbuild's bundles (atoll build, wrangler) have no import and one
// `export { … }` clause at their end, so they become
//
//   (function () { "use strict";          ← line 0 (the script's lineOffset is -1)
//   …the bundle, unchanged…                ← lines and columns as uploaded
//   return { "default": index_default };   ← where the export clause was
//   })
//
// Any other module (imports, `export default` inline, import.meta, top-level
// await) stays a module; so does one whose script form fails to compile or
// evaluate when it is validated (./main.ts), so a bundle never fails as a
// script where it would run as a module.
import { init, parse } from "es-module-lexer";

/** Where the bundle's one export clause is, and what it exports: [exported name, local name]. */
export interface ScriptPlan {
  clauseStart: number;
  clauseEnd: number;
  exports: [string, string][];
  /** The cache this plan came with was made after a request had run (FunctionIsolate.refreshCodeCache). */
  refreshed?: boolean;
}

/** es-module-lexer compiles its WebAssembly once per process: await this before planScript. */
export function lexerReady(): Promise<void> {
  return init();
}

/** The script's line offset: its first line is the wrapper's, so the bundle's lines keep their numbers. */
export const SCRIPT_LINE_OFFSET = -1;

const PREFIX = '(function () { "use strict";\n';
const SUFFIX = "\n})";

/** How `bundle` runs as a script, or null when it must run as a module. */
export function planScript(bundle: string): ScriptPlan | null {
  let imports, exports;
  try {
    [imports, exports] = parse(bundle);
  } catch {
    return null; // not valid JavaScript: the module compile reports it
  }
  if (imports.length > 0 || exports.length === 0) return null;
  const clauseStart = exports[0]!.exportStart;
  const pairs: [string, string][] = [];
  let lastEnd = clauseStart;
  for (const exported of exports) {
    if (exported.type !== "direct" || exported.exportStart !== clauseStart || exported.localName === undefined) return null;
    pairs.push([exported.name, exported.localName]);
    lastEnd = Math.max(lastEnd, exported.end, exported.localEnd);
  }
  if (!/^export\s*\{/.test(bundle.slice(clauseStart, clauseStart + 64))) return null;
  const close = bundle.indexOf("}", lastEnd);
  if (close === -1) return null;
  const semicolon = /^\s*;/.exec(bundle.slice(close + 1, close + 64));
  return { clauseStart, clauseEnd: close + 1 + (semicolon ? semicolon[0].length : 0), exports: pairs };
}

/** The script that evaluates to a function returning the bundle's exports. */
export function scriptSource(bundle: string, plan: ScriptPlan): string {
  const fields = plan.exports.map(([name, local]) => `${JSON.stringify(name)}: ${local}`).join(", ");
  return `${PREFIX}${bundle.slice(0, plan.clauseStart)}return { ${fields} };${bundle.slice(plan.clauseEnd)}${SUFFIX}`;
}

// The code cache a version keeps (opaque to the front and the store) says which form it is for:
// "ATLS", a 4-byte length, the plan as JSON, then V8's bytes. A cache without the magic is a
// module's (from versions uploaded before scripts).
const MAGIC = [0x41, 0x54, 0x4c, 0x53];

export function packCache(plan: ScriptPlan, v8Cache: Uint8Array): Uint8Array {
  const header = Buffer.from(JSON.stringify(plan));
  const blob = new Uint8Array(8 + header.length + v8Cache.byteLength);
  blob.set(MAGIC, 0);
  new DataView(blob.buffer).setUint32(4, header.length);
  blob.set(header, 8);
  blob.set(v8Cache, 8 + header.length);
  return blob;
}

export function unpackCache(blob: Uint8Array): { plan: ScriptPlan | null; v8Cache: Uint8Array } {
  if (blob.byteLength < 8 || MAGIC.some((byte, i) => blob[i] !== byte)) return { plan: null, v8Cache: blob };
  const length = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(4);
  try {
    const plan = JSON.parse(Buffer.from(blob.buffer, blob.byteOffset + 8, length).toString()) as ScriptPlan;
    return { plan, v8Cache: blob.subarray(8 + length) };
  } catch {
    return { plan: null, v8Cache: new Uint8Array(0) };
  }
}
