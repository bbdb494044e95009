// Builds dist/: every TypeScript file of the host, SDK, CLI, tests and benches
// transpiled one to one (esbuild, no bundling), plus the in-isolate runtime
// bundled into a single script that the host compiles once per worker. Of the
// runtime's files, only protocol.ts (the bridge contract) is also host code.
import { build } from "esbuild";
import { existsSync, readdirSync, statSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { mappingTableModule } from "./tr46-table.mjs";

const roots = ["host", "sdk", "bundler", "test", "bench"];
const runtimeDir = join("host", "runtime");

function tsFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (path === runtimeDir) {
      out.push(join(runtimeDir, "protocol.ts"));
      continue;
    }
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (entry.endsWith(".ts") && !entry.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/**
 * Imports inside bundled packages that the runtime answers itself, as
 * [package whose files import it, import path, runtime module].
 */
const runtimeSubstitutes = [
  // whatwg-url builds its UTF-8 coders from the global TextEncoder/TextDecoder
  // when it loads, before the runtime has installed them.
  ["whatwg-url", "./encoding", "encoding.ts"],
  // tr46 is needed only for non-ASCII hosts; idna.ts loads it on first use.
  ["whatwg-url", "tr46", "idna.ts"],
];

/**
 * Fixes to bundled packages not yet in a release we can use, as [file, find,
 * replace, why]. The build fails when `find` is gone: drop the patch then.
 */
const runtimePatches = [
  [
    "whatwg-url/lib/url-state-machine.js",
    "const len = countSymbols(this.buffer);\n    for (let pointer = 0; pointer < len; ++pointer) {\n      const codePoint = this.buffer.codePointAt(pointer);",
    "for (const symbol of this.buffer) {\n      const codePoint = symbol.codePointAt(0);",
    "userinfo after an astral code point lost a character (jsdom/whatwg-url#333, after 15.1.0)",
  ],
];

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** @type {import("esbuild").Plugin} */
const vendorPlugin = {
  name: "runtime-vendor",
  setup(build) {
    for (const [pkg, path, module] of runtimeSubstitutes) {
      build.onResolve({ filter: new RegExp(`^${escapeRegExp(path)}$`) }, (args) =>
        args.importer.includes(`/node_modules/${pkg}/`) ? { path: resolve(runtimeDir, module) } : undefined,
      );
    }
    build.onLoad({ filter: /\/node_modules\/tr46\/lib\/mappingTable\.json$/ }, async (args) => ({
      contents: mappingTableModule(await readFile(args.path, "utf8")),
      loader: "js",
    }));
    for (const [file, find, replace, why] of runtimePatches) {
      build.onLoad({ filter: new RegExp(`/node_modules/${escapeRegExp(file)}$`) }, async (args) => {
        const source = await readFile(args.path, "utf8");
        if (!source.includes(find)) throw new Error(`the patch to ${file} no longer applies (${why}): remove it if the package has the fix`);
        return { contents: source.replace(find, replace), loader: "js" };
      });
    }
  },
};

rmSync("dist", { recursive: true, force: true });
await build({
  entryPoints: roots.filter((root) => existsSync(root)).flatMap(tsFiles),
  outdir: "dist",
  outbase: ".",
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "inline",
  logLevel: "warning",
});
await build({
  entryPoints: [join(runtimeDir, "index.ts")],
  outfile: "dist/runtime/runtime.js",
  bundle: true,
  format: "iife",
  platform: "neutral",
  // whatwg-url and its dependencies name their entry in "main" only.
  mainFields: ["module", "main"],
  target: "es2022",
  minify: true,
  // Users see these names: Request.name, err.constructor.name, stack frames.
  keepNames: true,
  legalComments: "none",
  logLevel: "warning",
  plugins: [vendorPlugin],
});
