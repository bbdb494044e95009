// node:timers/promises under nodejs_compat: promise-returning timers over the
// isolate's setTimeout, with Node's `signal` option.
function abortError(signal) {
  const error = new Error("The operation was aborted", { cause: signal.reason });
  error.name = "AbortError";
  error.code = "ABORT_ERR";
  return error;
}

export function setTimeout(delayMs = 1, value = undefined, options = {}) {
  const signal = options.signal;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => {
      globalThis.clearTimeout(id);
      reject(abortError(signal));
    };
    const id = globalThis.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(value);
    }, delayMs);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export function setImmediate(value = undefined, options = {}) {
  return setTimeout(0, value, options);
}

export async function* setInterval(delayMs = 1, value = undefined, options = {}) {
  for (;;) yield await setTimeout(delayMs, value, options);
}

export const scheduler = {
  wait: (delayMs, options = {}) => setTimeout(delayMs, undefined, options),
  yield: () => setTimeout(0),
};

export default { setTimeout, setImmediate, setInterval, scheduler };
