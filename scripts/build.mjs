// Builds dist/: every TypeScript file of the host, SDK, CLI, tests and benches
// transpiled one to one (esbuild, no bundling), plus the in-isolate runtime
// bundled into a single script that the host compiles once per worker. Of the
// runtime's files, only protocol.ts (the bridge contract) is also host code,
// and url-fast-path.ts is built alone too, for its test against whatwg-url.
import { build } from "esbuild";
import { existsSync, readdirSync, statSync, rmSync } from "node:fs";
import { join } from "node:path";
import { vendorPlugin } from "./runtime-vendor.mjs";

const roots = ["host", "sdk", "bundler", "test", "bench"];
const runtimeDir = join("host", "runtime");

function tsFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (path === runtimeDir) {
      out.push(join(runtimeDir, "protocol.ts"), join(runtimeDir, "url-fast-path.ts"));
      continue;
    }
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (entry.endsWith(".ts") && !entry.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

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
  legalComments: "none",
  logLevel: "warning",
  plugins: [vendorPlugin],
});
