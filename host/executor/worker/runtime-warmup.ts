// Runs a few invocations through the runtime in a throwaway isolate before the
// worker's first real one, then takes the runtime's code cache from it: V8
// compiles functions lazily, so a cache taken right after boot would lack the
// whole request path (Request, Headers, Response, dispatch), and every cold
// start would compile it again. Measured: ~2-4 ms off each cold start.
import { encodeEvent, type FetchEvent } from "../../runtime/protocol.js";
import { FunctionIsolate } from "./function-isolate.js";
import type { RuntimeImage } from "./runtime-image.js";

/** Host-written code, never user code: the common paths of a fetch handler. */
const WARMUP_MODULE = `
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const params = Object.fromEntries(url.searchParams);
    const accept = request.headers.get("accept");
    if (url.pathname === "/stream") {
      const chunks = ["a", "b"];
      return new Response(new ReadableStream({ pull(c) { const next = chunks.shift(); if (next) c.enqueue(new TextEncoder().encode(next)); else c.close(); } }));
    }
    const body = request.method === "POST" ? await request.json() : null;
    ctx.waitUntil(Promise.resolve());
    const response = Response.json({ path: url.pathname, params, body, accept }, { status: 201 });
    const wrapped = new Response(response.body, response);
    wrapped.headers.set("x-warm", "1");
    return wrapped;
  },
};`;

const REQUESTS: FetchEvent[] = [
  {
    type: "fetch",
    method: "POST",
    url: "http://warmup.localhost/json?a=1&b=two",
    headers: [["accept", "application/json"], ["content-type", "application/json"], ["user-agent", "atoll-warmup"]],
    body: new TextEncoder().encode('{"hello":"world"}'),
  },
  { type: "fetch", method: "GET", url: "http://warmup.localhost/stream", headers: [["host", "warmup.localhost"]], body: null },
  { type: "fetch", method: "GET", url: "http://warmup.localhost/json", headers: [], body: null },
];

export async function warmUpRuntime(image: RuntimeImage): Promise<void> {
  const isolate = await FunctionIsolate.boot(image, 64);
  try {
    await isolate.load(WARMUP_MODULE, null, {}, "atoll:warmup.js", 1000, { cpuMs: 1000, wallMs: 1000, subrequests: 0 });
    for (const [index, event] of REQUESTS.entries()) await runToCompletion(isolate, index + 1, event);
  } finally {
    // Whatever happened above, the cache taken now is at least as good as one taken at boot.
    await image.captureCache(isolate.isolate);
    isolate.dispose();
  }
}

function runToCompletion(isolate: FunctionIsolate, id: number, event: FetchEvent): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the runtime warm-up did not finish within 1 s")), 1000);
    isolate.listen((message) => {
      if (message.t === "response" && message.stream) isolate.pull(id);
      else if (message.t === "chunk") isolate.pull(id);
      else if (message.t === "error") reject(new Error(`runtime warm-up failed: ${message.message}`));
      else if (message.t === "done") {
        clearTimeout(timer);
        resolve();
      }
    });
    const { json, body } = encodeEvent(event);
    isolate.dispatch(id, json, body);
  });
}
