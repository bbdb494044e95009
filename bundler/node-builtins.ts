// Node.js built-in modules in a bundle: which ones Atoll offers under which
// compatibility flag, and an esbuild plugin that refuses them all when no flag
// is set (isolates have no `fs`, `net` or `process`, so such an import could
// only fail at run time). node-compat.ts resolves the offered ones.
import { builtinModules } from "node:module";
import type { OnResolveArgs, OnResolveResult, Plugin, PluginBuild } from "esbuild";

export const NODE_BUILTINS: ReadonlySet<string> = new Set(builtinModules);
/** Bare specifiers that may name a built-in ("buffer", "stream/web"); scoped packages and paths never do. */
export const BARE_BUILTIN_FILTER = /^[a-z_][a-z0-9_/]*$/;
/** Marks the plugin's own look-up, so that it does not intercept itself. */
const LOOKUP = Symbol("atoll-builtin-lookup");

/** The modules `nodejs_compat` offers, each with its shim in bundler/node-compat/. */
export const NODE_COMPAT_MODULES: Readonly<Record<string, string>> = {
  assert: "assert.cjs",
  "assert/strict": "assert-strict.cjs",
  async_hooks: "async-hooks.js",
  buffer: "buffer.cjs",
  crypto: "crypto.js",
  events: "events.cjs",
  path: "path.cjs",
  "path/posix": "path.cjs",
  "stream/web": "stream-web.js",
  string_decoder: "string-decoder.cjs",
  timers: "timers.js",
  "timers/promises": "timers-promises.js",
  util: "util.cjs",
  "util/types": "util-types.cjs",
};

/** What `nodejs_als` alone offers: AsyncLocalStorage, as on Workers. */
export const ASYNC_LOCAL_STORAGE_MODULES: Readonly<Record<string, string>> = { async_hooks: "async-hooks.js" };

/** The offered modules, as a message lists them: "assert, async_hooks, buffer, …". */
const OFFERED_LIST = [...new Set(Object.keys(NODE_COMPAT_MODULES).map((name) => (name === "stream/web" ? name : name.split("/")[0]!)))].join(", ");
const WEB_APIS = "Use fetch, Request/Response, crypto.subtle, streams and TextEncoder instead, or a package that works in browsers or Workers";
const NODE_COMPAT_SETTING = 'compatibility_flags = ["nodejs_compat"] in atoll.toml (or wrangler.toml)';

/** Without a flag: why a built-in is refused, and whether nodejs_compat would offer it. */
export function nodeBuiltinMessage(specifier: string): string {
  const refused = `Atoll functions cannot import node built-ins: "${specifier}" is a Node.js module, and functions run in V8 isolates with Web APIs only.`;
  if (Object.hasOwn(NODE_COMPAT_MODULES, withoutPrefix(specifier))) {
    return `${refused} Set ${NODE_COMPAT_SETTING} to get it, with the other node: modules Workers offers (${OFFERED_LIST}); or ${WEB_APIS.charAt(0).toLowerCase()}${WEB_APIS.slice(1)}`;
  }
  return `${refused} ${WEB_APIS}. (${NODE_COMPAT_SETTING} offers ${OFFERED_LIST}, not this one.)`;
}

/** Under a flag: why a built-in it does not offer is refused. */
export function notOfferedMessage(specifier: string, flag: "nodejs_compat" | "nodejs_als"): string {
  if (flag === "nodejs_als") {
    return `"${specifier}" is a Node.js module that nodejs_als does not offer (it gives node:async_hooks only): set ${NODE_COMPAT_SETTING} for ${OFFERED_LIST}`;
  }
  return `"${specifier}" is not among the Node.js modules Atoll offers under nodejs_compat (${OFFERED_LIST}): functions run in V8 isolates with Web APIs only. ${WEB_APIS}`;
}

export function withoutPrefix(specifier: string): string {
  return specifier.startsWith("node:") ? specifier.slice("node:".length) : specifier;
}

/**
 * A bare built-in name that no shim answers: a package installed under that
 * name (the "punycode" or "url" polyfills) is fine; otherwise `refusal`.
 */
export async function resolveInstalledOrRefuse(build: PluginBuild, args: OnResolveArgs, refusal: string): Promise<OnResolveResult> {
  const found = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: LOOKUP });
  if (found.errors.length === 0 && found.path) {
    return { path: found.path, namespace: found.namespace, external: found.external, sideEffects: found.sideEffects, suffix: found.suffix };
  }
  return { errors: [{ text: refusal }] };
}

/** Whether `args` is the plugins' own look-up, which they let through. */
export function isOwnLookup(args: OnResolveArgs): boolean {
  return args.pluginData === LOOKUP;
}

export const refuseNodeBuiltins: Plugin = {
  name: "atoll-refuse-node-builtins",
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => ({ errors: [{ text: nodeBuiltinMessage(args.path) }] }));
    build.onResolve({ filter: BARE_BUILTIN_FILTER }, async (args) => {
      if (isOwnLookup(args) || !NODE_BUILTINS.has(args.path)) return undefined;
      return resolveInstalledOrRefuse(build, args, nodeBuiltinMessage(args.path));
    });
  },
};
