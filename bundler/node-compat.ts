// Workers' `nodejs_compat` (and `nodejs_als`) for a bundle: an esbuild plugin
// that resolves the node: modules Workers offers (and their bare names,
// "buffer", "events", as Workers resolves them) to the shims in
// bundler/node-compat/, injects a global `Buffer`, and lowers async functions
// when the bundle uses AsyncLocalStorage, so that its context follows every
// await. Nothing here is a real global of the isolate: the shims are bundled
// into the function like any package it imports.
import { join, resolve, sep } from "node:path";
import { build as esbuild, type BuildFailure, type BuildOptions, type BuildResult, type Plugin } from "esbuild";
import { ASYNC_LOCAL_STORAGE_FLAG, hasNodeCompat } from "./compatibility-flags.js";
import {
  ASYNC_LOCAL_STORAGE_MODULES,
  BARE_BUILTIN_FILTER,
  NODE_BUILTINS,
  NODE_COMPAT_MODULES,
  isOwnLookup,
  notOfferedMessage,
  refuseNodeBuiltins,
  resolveInstalledOrRefuse,
  withoutPrefix,
} from "./node-builtins.js";
import { packageRoot } from "./package-root.js";

/** Where the shims are: plain JavaScript that esbuild bundles from source. */
export function nodeCompatDir(): string {
  return join(packageRoot(), "bundler", "node-compat");
}

const ASYNC_HOOKS_SHIM = "async-hooks.js";
const INJECT_FILE = "inject.js";

/**
 * What the npm packages behind the shims read of Node's globals, bound at
 * build time. `process` itself stays undefined (typeof process is
 * "undefined", as without the flag); only these members are replaced.
 */
const NODE_COMPAT_DEFINES: Readonly<Record<string, string>> = {
  global: "globalThis",
  "globalThis.Buffer": "Buffer",
  "global.Buffer": "Buffer",
  "process.env.NODE_DEBUG": "undefined",
  "process.stderr": "undefined",
  "process.emitWarning": "undefined",
  "process.nextTick": "atollNodeCompatNextTick",
  "process.cwd": "atollNodeCompatCwd",
};

/** esbuild's `supported` that turns every await into a `.then` call (async-hooks.js carries its context there). */
export const LOWERED_ASYNC: Readonly<Record<string, boolean>> = { "async-await": false, "async-generator": false, "for-await": false };

/** The plugin for a project's compatibility flags: the node-compat one under nodejs_compat or nodejs_als, else the one that refuses node built-ins. */
export function nodeModulesFor(flags: readonly string[]): Plugin {
  if (hasNodeCompat(flags)) return nodeCompat(NODE_COMPAT_MODULES, "nodejs_compat");
  if (flags.includes(ASYNC_LOCAL_STORAGE_FLAG)) return nodeCompat(ASYNC_LOCAL_STORAGE_MODULES, "nodejs_als");
  return refuseNodeBuiltins;
}

function nodeCompat(modules: Readonly<Record<string, string>>, flag: "nodejs_compat" | "nodejs_als"): Plugin {
  const shimDir = nodeCompatDir();
  const shimOf = (name: string) => {
    const file = Object.hasOwn(modules, name) ? modules[name] : undefined;
    // Only async-hooks.js does something on evaluation (it patches `then` and the timers); the rest can go when unused.
    return file === undefined ? undefined : { path: join(shimDir, file), ...(file === ASYNC_HOOKS_SHIM ? {} : { sideEffects: false }) };
  };
  return {
    name: `atoll-${flag.replace("_", "-")}`,
    setup(build) {
      const options = build.initialOptions;
      if (flag === "nodejs_compat") {
        const inject = join(shimDir, INJECT_FILE);
        if (!options.inject?.includes(inject)) options.inject = [...(options.inject ?? []), inject];
        // The project's own `define` wins.
        options.define = { ...NODE_COMPAT_DEFINES, ...options.define };
      }

      build.onResolve({ filter: /^node:/ }, (args) => shimOf(withoutPrefix(args.path)) ?? { errors: [{ text: notOfferedMessage(args.path, flag) }] });
      build.onResolve({ filter: BARE_BUILTIN_FILTER }, async (args) => {
        if (isOwnLookup(args) || !NODE_BUILTINS.has(args.path)) return undefined;
        // The shims' own imports of "buffer", "events" … are the npm packages of those names.
        if (args.importer.startsWith(shimDir + sep)) return undefined;
        return shimOf(args.path) ?? resolveInstalledOrRefuse(build, args, notOfferedMessage(args.path, flag));
      });

      if (options.supported?.["async-await"] === false) return;
      // Whether the bundle uses AsyncLocalStorage is known once it is built: then it is built again, lowered.
      build.onEnd(async (result) => {
        if (result.errors.length > 0 || !result.metafile || !result.outputFiles) return undefined;
        const workingDir = options.absWorkingDir ?? process.cwd();
        const asyncHooks = join(shimDir, ASYNC_HOOKS_SHIM);
        if (!Object.keys(result.metafile.inputs).some((input) => resolve(workingDir, input) === asyncHooks)) return undefined;
        let lowered: BuildResult;
        try {
          lowered = await esbuild({ ...(options as BuildOptions), supported: { ...options.supported, ...LOWERED_ASYNC } });
        } catch (error) {
          if (isBuildFailure(error)) return { errors: error.errors };
          throw error;
        }
        result.outputFiles.splice(0, result.outputFiles.length, ...(lowered.outputFiles ?? []));
        if (lowered.metafile) Object.assign(result.metafile, lowered.metafile);
        return undefined;
      });
    },
  };
}

function isBuildFailure(error: unknown): error is BuildFailure {
  return error instanceof Error && Array.isArray((error as Partial<BuildFailure>).errors);
}
