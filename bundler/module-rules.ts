// Imports of files that are not code, as Workers' module rules give them:
// `import page from "./page.html"` is the file as a string (Text),
// `import bytes from "./table.bin"` is an ArrayBuffer (Data),
// `import mod from "./x.wasm"` a WebAssembly.Module (CompiledWasm: compiled
// once, when the bundle loads, after the host caps its memory; see
// host/runtime/wasm.ts). The project's `[[build.rules]]` come first; Workers'
// default rules apply after them, except those of a type a rule without
// `fallthrough` replaced.
import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import type { OnLoadResult, Plugin } from "esbuild";
import picomatch from "picomatch";
import type { ScriptConfig } from "../host/config/script-config.js";

/** Node's WebAssembly.validate (the typings here have no DOM lib): the isolate's V8 is the same one. */
const validateWasm = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly.validate;

type Rule = ScriptConfig["build"]["rules"][number];
type RuleType = Rule["type"];

/** Workers' default module rules (wrangler's, in its order). */
export const DEFAULT_MODULE_RULES: readonly { type: RuleType; globs: string[] }[] = [
  { type: "Text", globs: ["**/*.txt", "**/*.html", "**/*.sql"] },
  { type: "Data", globs: ["**/*.bin"] },
  { type: "CompiledWasm", globs: ["**/*.wasm", "**/*.wasm?module"] },
];

interface CompiledRule {
  type: RuleType;
  matches: (path: string) => boolean;
}

/** The rules in force: the project's, then the defaults of each type no rule replaced. */
export function effectiveRules(rules: readonly Rule[]): CompiledRule[] {
  const replaced = new Set(rules.filter((rule) => !rule.fallthrough).map((rule) => rule.type));
  const all = [...rules, ...DEFAULT_MODULE_RULES.filter((rule) => !replaced.has(rule.type))];
  return all.map((rule) => ({ type: rule.type, matches: picomatch(rule.globs, { dot: true }) }));
}

/** An esbuild plugin that loads the files the rules match as Text, Data or CompiledWasm modules. */
export function moduleRules(projectDir: string, rules: readonly Rule[]): Plugin {
  const compiled = effectiveRules(rules);
  return {
    name: "atoll-module-rules",
    setup(build) {
      build.onLoad({ filter: /.*/, namespace: "file" }, async (args): Promise<OnLoadResult | undefined> => {
        // A file above the project (a workspace's hoisted node_modules) is matched by its path from there
        // down: `**/*.wasm` takes ../../node_modules/pkg/x.wasm as wrangler does.
        const path = relative(projectDir, args.path).split("\\").join("/").replace(/^(\.\.\/)+/, "");
        // Code is never a module rule's business.
        if (/\.[cm]?[jt]sx?$/.test(path)) return undefined;
        const rule = compiled.find((candidate) => candidate.matches(path));
        if (!rule) return undefined;
        const bytes = await readFile(args.path);
        if (rule.type === "CompiledWasm") {
          if (!validateWasm(bytes)) return { errors: [{ text: `${path} is not a valid WebAssembly module (version 1): check that the file is the compiler's .wasm output` }] };
          // The runtime's hook (host/runtime/index.ts): the host checks and caps the bytes, the isolate compiles them.
          return { contents: `export default __atoll_wasm_module(${JSON.stringify(Buffer.from(bytes).toString("base64"))});`, loader: "js" };
        }
        if (rule.type === "Text") return { contents: `export default ${JSON.stringify(bytes.toString("utf8"))};`, loader: "js" };
        // Data: an ArrayBuffer of its own, as on Workers (base64 in the bundle, decoded once at load).
        return {
          contents: `const text = atob(${JSON.stringify(bytes.toString("base64"))});\nconst bytes = new Uint8Array(text.length);\nfor (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);\nexport default bytes.buffer;`,
          loader: "js",
        };
      });
    },
  };
}
