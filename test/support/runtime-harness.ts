// Boots the built in-isolate runtime (dist/runtime/runtime.js) in a real
// isolated-vm isolate with real host callbacks, loads a user ES module, and
// drives invocations through the bridge of host/runtime/protocol.ts exactly as
// a worker would: dispatch, answer ops (timers, request body reads, crypto.subtle
// through the host's real KeyVault), pull the response body chunk by chunk,
// wait for `done`.
import ivm from "isolated-vm";
import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import type { FetchEvent, HeaderList, InstalledHandlers, IsolateMessage, LogLevel, RejectionReason } from "../../host/runtime/protocol.js";
import { encodeEvent, MAX_RANDOM_BYTES } from "../../host/runtime/protocol.js";
import { KeyVault } from "../../host/executor/worker/subtle-host.js";
import { hostText } from "../../host/executor/worker/host-text.js";
import { answerWasm } from "../../host/executor/worker/wasm-memory-limit.js";

const RUNTIME_URL = new URL("../../runtime/runtime.js", import.meta.url);
const FETCH_TIMEOUT_MS = 5000;

/** isolated-vm's typings omit what compiling with cachedData/produceCachedData sets on the Script. */
export type CachedScript = ivm.Script & { cachedData?: ivm.ExternalCopy<ArrayBuffer>; cachedDataRejected?: boolean };

let runtimeCode: string | undefined;
let runtimeCache: ivm.ExternalCopy<ArrayBuffer> | undefined;

/** The runtime script, compiled from V8 code cache after the first time. */
function compileRuntime(isolate: ivm.Isolate): ivm.Script {
  runtimeCode ??= readFileSync(RUNTIME_URL, "utf8");
  if (runtimeCache) {
    const script: CachedScript = isolate.compileScriptSync(runtimeCode, { filename: "atoll:runtime.js", cachedData: runtimeCache });
    if (!script.cachedDataRejected) return script;
  }
  return isolate.compileScriptSync(runtimeCode, { filename: "atoll:runtime.js" });
}

/**
 * Produces the code cache once the runtime has run in `isolate`: compiling the
 * same source again hits V8's in-isolate compilation cache, whose functions are
 * compiled by now, so the cache holds them too (boot ~5 ms instead of ~10 ms).
 */
function produceRuntimeCache(isolate: ivm.Isolate): void {
  if (runtimeCache || !runtimeCode) return;
  const script: CachedScript = isolate.compileScriptSync(runtimeCode, { filename: "atoll:runtime.js", produceCachedData: true });
  runtimeCache = script.cachedData;
}

export interface FetchInit {
  method?: string;
  url?: string;
  headers?: HeaderList | Record<string, string>;
  /** Sent inline (the host read it already). */
  body?: string | Uint8Array | null;
  /** Sent as body "stream": handed out one per `request-body-read` op. */
  bodyChunks?: (string | Uint8Array)[];
}

export interface FetchResult {
  id: number;
  status: number;
  statusText: string;
  headers: HeaderList;
  /** The first value of a header, by lower-case name. */
  header(name: string): string | null;
  body: Uint8Array;
  text: string;
  json(): unknown;
  /** How the body arrived: "none", "inline" or "stream" (then `chunks` counts the chunk messages). */
  bodyKind: "none" | "inline" | "stream" | "piped";
  chunks: number;
  /** Set when the runtime reported an `error` for the invocation. */
  error: { message: string; stack: string } | null;
  /** `done` came before the response or its end (the invocation was aborted). */
  endedWithoutBody: boolean;
  /** Every message of this invocation, in order. */
  messages: IsolateMessage[];
  /** Resolves when `done` arrives. */
  done: Promise<void>;
}

export interface LogRecord {
  id: number | null;
  level: LogLevel;
  message: string;
}

interface InvocationState {
  messages: IsolateMessage[];
  bodyChunks: Uint8Array[];
  waiters: (() => void)[];
  inbox: IsolateMessage[];
  doneResolve: () => void;
  done: Promise<void>;
}

export interface BootOptions {
  env?: Record<string, unknown>;
  memoryMb?: number;
}

export class RuntimeHarness {
  readonly isolate: ivm.Isolate;
  readonly context: ivm.Context;
  readonly messages: IsolateMessage[] = [];
  readonly logs: LogRecord[] = [];
  readonly uncaught: { id: number | null; message: string; stack: string }[] = [];
  /** Rejections of host → isolate calls (an unhandled rejection inside rejects the call). */
  readonly callErrors: string[] = [];
  handlers: InstalledHandlers | null = null;
  /** crypto.subtle's keys for this isolate: the host's own code, as FunctionIsolate uses it. */
  readonly keys = new KeyVault();
  private readonly entry: Record<"install" | "dispatch" | "pull" | "resolve" | "abort" | "rejection", ivm.Reference<(...args: unknown[]) => unknown>>;
  private readonly invocations = new Map<number, InvocationState>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private lastId = 0;
  private messageWaiters: (() => void)[] = [];

  /** Creates an isolate with the runtime booted and no user code yet. */
  constructor(memoryMb = 64) {
    this.isolate = new ivm.Isolate({ memoryLimit: memoryMb });
    this.context = this.isolate.createContextSync();
    const global = this.context.global;
    global.setSync(
      "__atoll_emit",
      new ivm.Callback(
        (payload: unknown) => {
          // One message, or a batch of those emitted in one turn, or that batch's JSON (protocol.ts).
          const batch = typeof payload === "string" ? (JSON.parse(payload) as unknown) : payload;
          for (const message of Array.isArray(batch) ? batch : [batch]) this.receive(message as IsolateMessage);
        },
        { ignored: true },
      ),
    );
    global.setSync(
      "__atoll_random_bytes",
      new ivm.Callback(
        (length: number) => {
          if (!Number.isInteger(length) || length < 0 || length > MAX_RANDOM_BYTES) throw new Error("bad length");
          return randomFillSync(new Uint8Array(length));
        },
        { sync: true },
      ),
    );
    global.setSync("__atoll_text", new ivm.Callback(hostText, { sync: true }));
    global.setSync("__atoll_wasm", new ivm.Callback((kind: unknown, input: unknown) => answerWasm(kind, input, memoryMb), { sync: true }));
    compileRuntime(this.isolate).runSync(this.context);
    produceRuntimeCache(this.isolate);
    const runtime = global.getSync("__atoll_runtime", { reference: true }) as ivm.Reference<Record<string, unknown>>;
    const take = (name: string) => runtime.getSync(name, { reference: true }) as ivm.Reference<(...args: unknown[]) => unknown>;
    this.entry = {
      install: take("install"),
      dispatch: take("dispatch"),
      pull: take("pull"),
      resolve: take("resolve"),
      abort: take("abort"),
      rejection: take("rejection"),
    };
    // As the host does for every isolate: each harness test then also shows that warming leaves nothing behind.
    take("warm").applySync(undefined, []);
    runtime.release();
    global.deleteSync("__atoll_runtime");
  }

  /** Boots a runtime and loads `source` (an ES module whose default export has the handlers). */
  static async boot(source: string, options: BootOptions = {}): Promise<RuntimeHarness> {
    const harness = new RuntimeHarness(options.memoryMb);
    await harness.load(source, options.env ?? {});
    return harness;
  }

  async load(source: string, env: Record<string, unknown>): Promise<InstalledHandlers> {
    const module = await this.isolate.compileModule(source, { filename: "file:///user.js" });
    await module.instantiate(this.context, (specifier) => {
      throw new Error(`unexpected import ${specifier}`);
    });
    await module.evaluate({ timeout: 2000 });
    const exported = module.namespace.getSync("default", { reference: true }) as ivm.Reference<unknown>;
    this.handlers = this.entry.install.applySync(
      undefined,
      [exported.derefInto(), new ivm.ExternalCopy(env).copyInto()],
      { result: { copy: true } },
    ) as InstalledHandlers;
    exported.release();
    return this.handlers;
  }

  /** Evaluates a script in the isolate's global scope (what user code would see) and copies the result out. */
  evaluate(code: string): unknown {
    return this.context.evalSync(code, { copy: true });
  }

  /** Runs one fetch invocation to the end of its response body. */
  async fetch(init: FetchInit = {}): Promise<FetchResult> {
    const id = ++this.lastId;
    let doneResolve!: () => void;
    const done = new Promise<void>((resolve) => (doneResolve = resolve));
    const state: InvocationState = {
      messages: [],
      bodyChunks: (init.bodyChunks ?? []).map(toBytes),
      waiters: [],
      inbox: [],
      doneResolve,
      done,
    };
    this.invocations.set(id, state);
    const headers: HeaderList = Array.isArray(init.headers)
      ? init.headers
      : Object.entries(init.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]);
    const body: FetchEvent["body"] = init.bodyChunks ? "stream" : init.body === undefined || init.body === null ? null : toBytes(init.body);
    const event: FetchEvent = { type: "fetch", method: init.method ?? "GET", url: init.url ?? "https://example.com/", headers, body };
    const encoded = encodeEvent(event);
    this.call("dispatch", [id, encoded.json, encoded.body]);

    const head = await this.next(state, ["response", "error", "done"]);
    const result: FetchResult = {
      id,
      status: 500,
      statusText: "",
      headers: [],
      header(name) {
        return this.headers.find(([key]) => key === name)?.[1] ?? null;
      },
      body: new Uint8Array(0),
      text: "",
      json() {
        return JSON.parse(this.text);
      },
      bodyKind: "none",
      chunks: 0,
      error: null,
      endedWithoutBody: false,
      messages: state.messages,
      done,
    };
    if (head.t === "error") {
      result.error = { message: head.message, stack: head.stack };
      return result;
    }
    if (head.t === "done") {
      result.endedWithoutBody = true;
      return result;
    }
    if (head.t !== "response") throw new Error("unreachable");
    result.status = head.status;
    result.statusText = head.statusText;
    result.headers = head.headers;
    if (head.body instanceof Uint8Array) {
      result.bodyKind = "inline";
      result.body = head.body;
    } else if (head.body !== null && typeof head.body === "object" && "pipe" in head.body) {
      // A body the host holds, passed on: here, the request's own chunks.
      if (head.body.pipe.from !== "request") throw new Error(`the harness cannot pipe a ${head.body.pipe.from} body`);
      result.bodyKind = "piped";
      result.body = concat(state.bodyChunks.splice(0));
    } else if (head.body !== null && typeof head.body === "object") {
      // Text, which the host encodes as UTF-8.
      result.bodyKind = "inline";
      result.body = new TextEncoder().encode(head.body.text);
    } else if (head.body === "stream") {
      result.bodyKind = "stream";
      const parts: Uint8Array[] = [];
      for (;;) {
        this.call("pull", [id]);
        const message = await this.next(state, ["chunk", "end", "error", "done"]);
        if (message.t === "chunk") {
          result.chunks++;
          parts.push(message.data);
          continue;
        }
        if (message.t === "error") result.error = { message: message.message, stack: message.stack };
        if (message.t === "done") result.endedWithoutBody = true;
        break;
      }
      result.body = concat(parts);
    }
    result.text = new TextDecoder().decode(result.body);
    return result;
  }

  /** Tells the runtime the client went away. */
  abort(id: number, reason: string): void {
    this.call("abort", [id, reason]);
  }

  /** Starts a fetch and returns its id at once, for tests that abort mid-way. */
  startFetch(init: FetchInit = {}): { id: number; result: Promise<FetchResult> } {
    const id = this.lastId + 1;
    return { id, result: this.fetch(init) };
  }

  /** Waits until a message matching `predicate` has arrived (any invocation). */
  async waitFor(predicate: (message: IsolateMessage) => boolean, timeoutMs = FETCH_TIMEOUT_MS): Promise<IsolateMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error("timed out waiting for a message from the isolate");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.messageWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  dispose(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.keys.dispose();
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }

  private call(name: "dispatch" | "pull" | "resolve" | "abort" | "rejection", args: unknown[]): void {
    if (this.isolate.isDisposed) return;
    this.entry[name].apply(undefined, args, { arguments: { copy: true } }).catch((error: unknown) => {
      this.callErrors.push(error instanceof Error ? error.message : String(error));
      // As the host does: a promise rejection left unhandled during the call
      // goes back to the runtime as an "unhandledrejection" event.
      if (name !== "rejection") this.call("rejection", [name === "resolve" ? null : args[0], rejectionReason(error)]);
    });
  }

  private resolveOp(op: number, ok: boolean, value: unknown): void {
    this.call("resolve", [op, ok, value]);
  }

  private receive(message: IsolateMessage): void {
    // warm()'s own invocation: the host drops its messages (no invocation of its has that id).
    if ((message as { id?: unknown }).id === -1) return;
    this.messages.push(message);
    const waiters = this.messageWaiters;
    this.messageWaiters = [];
    for (const wake of waiters) wake();
    switch (message.t) {
      case "log":
        this.logs.push({ id: message.id, level: message.level, message: message.message });
        return;
      case "uncaught":
        this.uncaught.push({ id: message.id, message: message.message, stack: message.stack });
        return;
      case "release-keys":
        this.keys.release(message.handles);
        return;
      case "op":
        if (message.name === "subtle") {
          void this.keys.run(message.method, message.args).then((outcome) => this.resolveOp(message.op, outcome.ok, outcome.ok ? outcome.value : outcome.error));
        } else if (message.name === "timer") {
          this.timers.set(
            message.op,
            setTimeout(() => {
              this.timers.delete(message.op);
              this.resolveOp(message.op, true, undefined);
            }, message.ms),
          );
        } else if (message.name === "request-body-read") {
          const state = this.invocations.get(message.id);
          const chunk = state?.bodyChunks.shift() ?? null;
          setImmediate(() => this.resolveOp(message.op, true, chunk));
        } else {
          // Outbound fetch and bindings are tested through a real host (test/fetch.test.ts, test/kv.test.ts).
          setImmediate(() => this.resolveOp(message.op, false, "the runtime harness answers no fetch or binding calls"));
        }
        return;
      case "cancel": {
        const timer = this.timers.get(message.op);
        if (timer) clearTimeout(timer);
        this.timers.delete(message.op);
        return;
      }
      default: {
        const state = this.invocations.get(message.id);
        if (!state) return;
        state.messages.push(message);
        if (message.t === "done") state.doneResolve();
        state.inbox.push(message);
        for (const wake of state.waiters.splice(0)) wake();
      }
    }
  }

  /** The next message of one invocation among `kinds`, or a timeout error. */
  private async next<K extends IsolateMessage["t"]>(state: InvocationState, kinds: K[]): Promise<Extract<IsolateMessage, { t: K }>> {
    const deadline = Date.now() + FETCH_TIMEOUT_MS;
    for (;;) {
      const index = state.inbox.findIndex((message) => (kinds as string[]).includes(message.t));
      if (index >= 0) return state.inbox.splice(index, 1)[0] as Extract<IsolateMessage, { t: K }>;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${kinds.join("/")}; got ${JSON.stringify(state.messages.map((m) => m.t))}; call errors: ${this.callErrors.join("; ")}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        state.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** What the host sends `rejection()`: the copy of the reason isolated-vm rejected a call with. */
export function rejectionReason(error: unknown): RejectionReason {
  if (error instanceof Error) return { error: { name: error.name, message: error.message, stack: error.stack ?? "" } };
  if (error === null || error === undefined || typeof error === "string" || typeof error === "number" || typeof error === "boolean") return { value: error };
  return { value: String(error) };
}

function toBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === "string" ? new TextEncoder().encode(value) : value;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Runs `body` (the inside of an async function, with `request`, `env`, `ctx`
 * in scope) as a fetch handler in a fresh isolate and returns what it returns,
 * through JSON. A thrown error comes back as { error: message }.
 */
export async function runInIsolate(body: string, init: FetchInit = {}): Promise<unknown> {
  const source = `export default {
    async fetch(request, env, ctx) {
      try {
        const result = await (async () => { ${body}\n })();
        return Response.json({ result: result === undefined ? null : result });
      } catch (error) {
        return Response.json({ error: String(error && error.message), name: error && error.name });
      }
    },
  };`;
  const harness = await RuntimeHarness.boot(source);
  try {
    const response = await harness.fetch(init);
    if (response.error) throw new Error(`handler failed: ${response.error.message}`);
    const parsed = response.json() as { result?: unknown; error?: string; name?: string };
    if ("error" in parsed) throw new Error(`in isolate: ${parsed.name}: ${parsed.error}`);
    return parsed.result;
  } finally {
    harness.dispose();
  }
}
