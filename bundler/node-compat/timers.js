// node:timers under nodejs_compat: the isolate's timers; setImmediate is a
// zero-delay timeout, as there is no separate check phase in an isolate.
export const setTimeout = (...args) => globalThis.setTimeout(...args);
export const clearTimeout = (id) => globalThis.clearTimeout(id);
export const setInterval = (...args) => globalThis.setInterval(...args);
export const clearInterval = (id) => globalThis.clearInterval(id);
export function setImmediate(callback, ...args) {
  return globalThis.setTimeout(callback, 0, ...args);
}
export const clearImmediate = (id) => globalThis.clearTimeout(id);

export default { setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate };
