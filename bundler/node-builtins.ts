// An esbuild plugin that refuses imports of Node.js built-in modules: isolates
// have no `fs`, `net` or `process`, so such an import could only fail at run time.
import { builtinModules } from "node:module";
import type { Plugin } from "esbuild";

const BUILTINS = new Set(builtinModules);
/** Marks the plugin's own look-up, so that it does not intercept itself. */
const LOOKUP = Symbol("atoll-builtin-lookup");

export function nodeBuiltinMessage(specifier: string): string {
  return `Atoll functions cannot import node built-ins: "${specifier}" is a Node.js module, and functions run in V8 isolates with Web APIs only. Use fetch, Request/Response, crypto.subtle, streams and TextEncoder instead, or a package that works in browsers or Workers`;
}

export const refuseNodeBuiltins: Plugin = {
  name: "atoll-refuse-node-builtins",
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => ({ errors: [{ text: nodeBuiltinMessage(args.path) }] }));
    build.onResolve({ filter: /^[a-z_][a-z0-9_/]*$/ }, async (args) => {
      if (args.pluginData === LOOKUP || !BUILTINS.has(args.path)) return undefined;
      // A package installed under a built-in's name (the "buffer" or "events" polyfills) is fine.
      const found = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: LOOKUP });
      if (found.errors.length === 0 && found.path) {
        return { path: found.path, namespace: found.namespace, external: found.external, sideEffects: found.sideEffects, suffix: found.suffix };
      }
      return { errors: [{ text: nodeBuiltinMessage(args.path) }] };
    });
  },
};
