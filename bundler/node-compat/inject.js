// Injected into every bundle built under nodejs_compat (esbuild's `inject`):
// `Buffer` as a global, as Workers has it, and the few members of Node's
// `process` that the npm packages behind these modules read (util's callbackify
// calls process.nextTick, path.resolve process.cwd). esbuild binds only the
// names a bundle uses, so a bundle that never names Buffer does not carry it.
// `process` itself stays undefined: see NODE_COMPAT_DEFINES in ../node-compat.ts.
export { Buffer } from "node:buffer";

export function atollNodeCompatNextTick(callback, ...args) {
  queueMicrotask(() => callback(...args));
}

/** There is no working directory in an isolate: "/" (what path.resolve starts from). */
export function atollNodeCompatCwd() {
  return "/";
}
