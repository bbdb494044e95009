// One V8 isolate running one script version: boots the runtime, loads the
// user's bundle, and carries invocations across the bridge of runtime/protocol.ts.
// Everything the isolate sends is checked here before the host acts on it.
import ivm from "isolated-vm";
import { randomFillSync } from "node:crypto";
import type { Dispatcher } from "undici";
import type { BindingSpec, FetchEvent, HeaderList, HostStreamRef, InstalledHandlers, IsolateMessage, LogLevel, OutboundRequest, RejectionReason, SubtleMethod } from "../../runtime/protocol.js";
import { MAX_LOG_CHARS_PER_INVOCATION, MAX_RANDOM_BYTES, MAX_RELEASED_KEYS_PER_MESSAGE, SUBTLE_METHODS, TIMER_CANCELLED } from "../../runtime/protocol.js";
import type { RuntimeImage, WithCachedData } from "./runtime-image.js";
import type { TerminationLimit } from "../ipc.js";
import { BundleLoadError, StartupTimeoutError } from "./bundle-errors.js";
import { packCache, scriptSource, SCRIPT_LINE_OFFSET, unpackCache, type ScriptPlan } from "./bundle-script.js";
import { KeyVault } from "./subtle-host.js";
import { Subrequests, type FetchMeter, type ServiceCalls } from "./subrequests.js";
import { hostText } from "./host-text.js";
import { answerWasm } from "./wasm-memory-limit.js";
import { type HostSource, isHostStreamRef } from "../pass-through.js";
import type { ExecutionMarkerWriter } from "../execution-marker.js";

/**
 * Names the version executing in this process, for the front to read if the
 * process dies mid-call (../execution-marker.ts); none outside a worker.
 */
let marker: ExecutionMarkerWriter | null = null;

/** Sets the process's execution marker (the worker does, once, before any isolate runs). */
export function useExecutionMarker(writer: ExecutionMarkerWriter): void {
  marker = writer;
}

/** A call into the isolate, waiting for the one running to return. */
interface PendingCall {
  reference: ivm.Reference<Function>;
  args: unknown[];
  /** The invocation it concerns (charged its CPU), or null: every live one. */
  id: number | null;
}

/**
 * What the isolate tells the worker: the runtime's messages, after validation,
 * and the host's own word when a limit ends an invocation. `done` carries the
 * CPU time the invocation was charged.
 */
export type CheckedMessage =
  | Exclude<ValidMessage, { t: "done" }>
  | { t: "done"; id: number; cpuMs: number; subrequests: number; fetchBytes: FetchMeter; noRetry?: true }
  | { t: "terminated"; id: number; limit: TerminationLimit; message: string };

/** Per-invocation limits, from the version's config. */
export interface InvocationLimits {
  cpuMs: number;
  wallMs: number;
  /** Outbound fetches one invocation may make. */
  subrequests: number;
}

/** One invocation in flight: what it has used and its wall-clock deadline. */
interface Running {
  /** CPU time charged so far, ms. */
  cpuMs: number;
  /** When the wall-clock limit ends it (performance.now() time). */
  deadline: number;
  /** Its wall-clock timer, made only once it outlives the call that started it (most never do). */
  wallTimer: NodeJS.Timeout | null;
  subrequests: number;
  /** Bytes its fetches moved; read when `done` is sent on (their bodies may still be flowing then). */
  fetchBytes: FetchMeter;
  /** Fetch hops between the client and this invocation (0: a client's own request). */
  depth: number;
  /** Storage-trigger chain depth (0: not a storage event). */
  chain: number;
  /** console output so far, in characters; past MAX_LOG_CHARS_PER_INVOCATION the rest is dropped. */
  logChars: number;
}

export interface LoadedBundle {
  handlers: InstalledHandlers;
  /** Code cache for the bundle, when this load produced one. */
  producedCodeCache: Uint8Array | null;
  loadMs: number;
}

const MAX_LOG_MESSAGE_CHARS = 16 * 1024;
/** A call's wall-clock timeout is its remaining CPU budget times this, plus TIMEOUT_SLACK_MS. */
const TIMEOUT_SLACK_FACTOR = 2;
const TIMEOUT_SLACK_MS = 20;
/** console output one invocation may write (about 1 MiB); the rest is dropped, with one line that says so. */
const MAX_HEADERS = 1000;
const MAX_URL_CHARS = 16 * 1024;
const REDIRECT_MODES = new Set(["follow", "manual", "error"]);
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
const MAX_PENDING_TIMERS = 10_000;
/** Messages the runtime may batch into one callback; the rest of a larger batch is dropped. */
const MAX_MESSAGES_PER_BATCH = 100_000;
/** Node's setTimeout ceiling (a 32-bit signed ms count). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long the host waits for the runtime to sum its wasm memories (a loop over live memories, µs). */
const WASM_MEASURE_TIMEOUT_MS = 100;
const LOG_LEVELS = new Set<LogLevel>(["debug", "log", "info", "warn", "error"]);
const SUBTLE_METHOD_NAMES = new Set<string>(SUBTLE_METHODS);

export class FunctionIsolate {
  readonly isolate: ivm.Isolate;
  readonly memoryMb: number;
  /** The version loaded here ("script@version"), as the execution marker names it. */
  label = "(spare)";
  /** Invocations started here and not yet done. */
  private readonly invocations = new Map<number, Running>();
  /** Limits of the version loaded here (defaults until `load`). */
  private limits: InvocationLimits = { cpuMs: 50, wallMs: 30_000, subrequests: 50 };
  private readonly context: ivm.Context;
  /** References to the runtime's entry points (RuntimeEntryPoints); only the host holds them. */
  private readonly entry: Record<"install" | "dispatch" | "pull" | "resolve" | "abort" | "rejection" | "wasmBytes", ivm.Reference<Function>>;
  private onMessage: (message: CheckedMessage) => void = () => {};
  private disposed = false;
  /** Timers the runtime asked for (setTimeout/setInterval), by op. */
  private readonly timers = new Map<number, { timer: NodeJS.Timeout; owners: Set<number> }>();
  /** Outbound fetches; null until allowFetch (a validation isolate never fetches). */
  private subrequests: Subrequests | null = null;
  /** crypto.subtle's keys, per isolate: user code may keep a CryptoKey across invocations. */
  private readonly keys = new KeyVault();
  /**
   * Calls made while another runs or while its messages are handled (an op
   * answered at once): they run in order once it is done, never nested in it.
   */
  private readonly calls: PendingCall[] = [];
  private calling = false;
  /** Messages the runtime emitted during the call running now; handled once it returns. */
  private emitted: unknown[] = [];

  private constructor(isolate: ivm.Isolate, context: ivm.Context, entry: FunctionIsolate["entry"], memoryMb: number) {
    this.isolate = isolate;
    this.context = context;
    this.entry = entry;
    this.memoryMb = memoryMb;
  }

  /**
   * Creates an isolate with the runtime loaded and no user code yet (a spare).
   * Every step is asynchronous: booting runs on isolated-vm's threads, so the
   * worker keeps serving other isolates meanwhile. Everything after (loading
   * the bundle, every invocation) runs synchronously on the worker's thread:
   * a thread hop costs more than a hello request does, and the isolate's
   * messages then come back during the call, so that its result is at hand
   * when it returns (one worker runs one isolate at a time either way).
   */
  static async boot(image: RuntimeImage, memoryMb: number): Promise<FunctionIsolate> {
    const isolate = new ivm.Isolate({ memoryLimit: memoryMb });
    try {
      const context = await isolate.createContext();
      const global = context.global;
      let booted: FunctionIsolate | undefined;
      // Synchronous: called on this thread during applySync, it costs a function call.
      await global.set("__atoll_emit", new ivm.Callback((message: unknown) => booted?.emitted.push(message), { sync: true }));
      await global.set("__atoll_random_bytes", new ivm.Callback(randomBytes, { sync: true }));
      await global.set("__atoll_text", new ivm.Callback((kind: unknown, input: unknown) => booted!.textOnHost(kind, input), { sync: true }));
      await global.set("__atoll_wasm", new ivm.Callback((kind: unknown, input: unknown) => booted!.wasmOnHost(kind, input), { sync: true }));
      await (await image.compile(isolate)).run(context);
      const runtime = (await global.get("__atoll_runtime", { reference: true })) as ivm.Reference<Record<string, unknown>>;
      const entryPoint = async (name: string) => (await runtime.get(name, { reference: true })) as ivm.Reference<Function>;
      const entry = {
        install: await entryPoint("install"),
        dispatch: await entryPoint("dispatch"),
        pull: await entryPoint("pull"),
        resolve: await entryPoint("resolve"),
        abort: await entryPoint("abort"),
        rejection: await entryPoint("rejection"),
        wasmBytes: await entryPoint("wasmBytes"),
      };
      // The runtime's request path, run once now, off the request path: a fresh
      // isolate's first request costs ~2 ms less (cold inline caches, lazy compiles).
      const warm = await entryPoint("warm");
      await warm.apply(undefined, [], { timeout: 1000 });
      warm.release();
      runtime.release();
      await global.delete("__atoll_runtime");
      booted = new FunctionIsolate(isolate, context, entry, memoryMb);
      return booted;
    } catch (error) {
      if (!isolate.isDisposed) isolate.dispose();
      throw error;
    }
  }

  /** Where validated messages from the isolate go. */
  listen(onMessage: (message: CheckedMessage) => void): void {
    this.onMessage = onMessage;
  }

  /**
   * Compiles and evaluates the user's bundle, then installs its default
   * export. `codeCache` (from an earlier load of the same bundle) says which
   * form to compile: as a script (./bundle-script.ts) or as an ES module;
   * without one, `scriptPlan` asks for the script form (validation tries it
   * first). Throws BundleLoadError for anything wrong with the bundle.
   */
  async load(
    bundle: string,
    codeCache: Uint8Array | null,
    env: Record<string, unknown>,
    filename: string,
    evaluateTimeoutMs: number,
    limits?: InvocationLimits,
    bindings: BindingSpec[] = [],
    scriptPlan: ScriptPlan | null = null,
  ): Promise<LoadedBundle> {
    const started = performance.now();
    if (limits) this.limits = limits;
    const cached = codeCache ? unpackCache(codeCache) : null;
    const plan = cached ? cached.plan : scriptPlan;
    const compiled = plan
      ? this.evaluateScript(scriptSource(bundle, plan), plan, cached?.v8Cache ?? null, filename, evaluateTimeoutMs)
      : this.evaluateModule(bundle, cached?.v8Cache ?? null, filename, evaluateTimeoutMs);
    const { namespace, producedCodeCache } = compiled;
    let handlers: InstalledHandlers;
    try {
      const exported = namespace.getSync("default", { reference: true }) as ivm.Reference<unknown> | undefined;
      if (!exported || exported.typeof === "undefined") throw new Error("the module has no default export");
      handlers = this.runSync(
        () =>
          this.entry.install.applySync(undefined, [exported.derefInto(), new ivm.ExternalCopy(env).copyInto(), new ivm.ExternalCopy(bindings).copyInto()], {
            result: { copy: true },
            timeout: evaluateTimeoutMs,
          }) as InstalledHandlers,
      );
      exported.release();
    } catch (error) {
      throw new BundleLoadError("no-default-export", messageOf(error));
    } finally {
      namespace.release();
    }
    return { handlers, producedCodeCache, loadMs: performance.now() - started };
  }

  /**
   * Lets the function fetch, through `dispatcher` (the worker's egress-checked
   * Agent); `openSource` opens the bodies it passes on (../pass-through.ts) for
   * invocation `id`.
   */
  allowFetch(dispatcher: Dispatcher, openSource: (ref: HostStreamRef, id: number | null) => HostSource, services: ServiceCalls | null = null): void {
    this.subrequests ??= new Subrequests(dispatcher, (op, ok, value) => this.resolve(op, ok, value), services);
    this.openSource = openSource;
  }

  /** Service binding name → the script it calls, for this version (`[[services]]`). */
  private services: Record<string, string> = {};

  /** The version's service bindings, set before it loads. */
  bindServices(services: Record<string, string>): void {
    this.services = services;
  }

  private openSource: ((ref: HostStreamRef, id: number | null) => HostSource) | null = null;

  /** Whether `id` is one of this isolate's live invocations. */
  runs(id: number): boolean {
    return this.invocations.has(id);
  }

  /** Takes over the streamed response body of fetch `op` (./subrequests.ts takeBody). */
  takeFetchBody(op: number): HostSource | null {
    return this.subrequests?.takeBody(op) ?? null;
  }

  /**
   * Starts invocation `id`; `depth` counts the fetch hops that led to it,
   * `chain` the storage events (ipc.ts `invoke`). The same limits apply to
   * every kind of event.
   */
  dispatch(id: number, event: string, body: FetchEvent["body"] = null, depth = 0, chain = 0): void {
    this.invocations.set(id, { cpuMs: 0, deadline: performance.now() + this.limits.wallMs, wallTimer: null, subrequests: 0, fetchBytes: { sent: 0, received: 0 }, depth, chain, logChars: 0 });
    this.call(this.entry.dispatch, [id, event, body], id);
    if (this.invocations.has(id)) this.watchWallClock(id);
  }

  /** Invocations that outlived their first call, waiting for their wall-clock timer (set at the end of the turn). */
  private unwatched: number[] = [];

  private watchWallClock(id: number): void {
    if (this.unwatched.push(id) > 1) return;
    setImmediate(() => {
      const ids = this.unwatched;
      this.unwatched = [];
      const now = performance.now();
      for (const unwatched of ids) {
        const running = this.invocations.get(unwatched);
        if (!running || running.wallTimer !== null) continue;
        running.wallTimer = setTimeout(
          () => this.terminate([unwatched], "wall_ms", `the invocation took longer than its wall-clock limit of ${this.limits.wallMs} ms`),
          Math.max(0, running.deadline - now),
        );
      }
    });
  }

  /**
   * The storage-trigger chain depth of invocation `id`; when the runtime
   * could not tell which invocation acted (null, or one that is over), the
   * deepest of those live here: a loop is never made to look shallower.
   */
  chainOf(id: number | null): number {
    const running = id === null ? undefined : this.invocations.get(id);
    if (running) return running.chain;
    let chain = 0;
    for (const live of this.invocations.values()) chain = Math.max(chain, live.chain);
    return chain;
  }

  /** Invocation `id` is over (done or terminated): what it started and nobody else shares ends with it. */
  private invocationOver(id: number): void {
    const running = this.invocations.get(id);
    if (!running) return;
    if (running.wallTimer !== null) clearTimeout(running.wallTimer);
    this.invocations.delete(id);
    this.subrequests?.invocationEnded(id);
    for (const [op, entry] of this.timers) {
      if (!entry.owners.delete(id) || entry.owners.size > 0) continue;
      clearTimeout(entry.timer);
      this.timers.delete(op);
      this.resolve(op, false, TIMER_CANCELLED);
    }
  }

  pull(id: number): void {
    if (this.invocations.has(id)) this.call(this.entry.pull, [id], id);
  }

  resolve(op: number, ok: boolean, value: unknown): void {
    this.call(this.entry.resolve, [op, ok, value], null);
  }

  abort(id: number, reason: string): void {
    if (this.invocations.has(id)) this.call(this.entry.abort, [id, reason], null);
  }

  /**
   * True once V8 disposed the isolate under us (memory limit) or we did, or
   * once its crypto keys crowd the host (KeyVault.crowded: V8 had not yet
   * collected the CryptoKeys user code dropped): it must not serve again.
   */
  get broken(): boolean {
    return this.disposed || this.isolate.isDisposed || this.keys.crowded;
  }

  get idle(): boolean {
    return this.invocations.size === 0;
  }

  /**
   * Total V8 heap in use, plus what its crypto keys take on the host, bytes
   * (async: the sync form blocks while the isolate runs).
   */
  heapBytes(): number {
    // Never busy when this thread asks: every call into it runs on this thread.
    const stats = this.isolate.getHeapStatisticsSync();
    return stats.used_heap_size + stats.externally_allocated_size + this.keys.bytes + this.wasmBytes();
  }

  /** Whether the isolate has asked for WebAssembly: from then on its wasm memories are measured after every call. */
  private usesWasm = false;

  /** What the isolate's WebAssembly memories hold, bytes (0 until it uses WebAssembly). */
  private wasmBytes(): number {
    if (!this.usesWasm || this.isolate.isDisposed) return 0;
    try {
      return Number(this.entry.wasmBytes.applySync(undefined, [], { timeout: WASM_MEASURE_TIMEOUT_MS }));
    } catch {
      return 0;
    }
  }

  /** `__atoll_wasm` (protocol.ts HostWasm), charged to the call that made it. */
  wasmOnHost(kind: unknown, input: unknown): [Uint8Array, number] | number {
    this.usesWasm = true;
    const start = process.cpuUsage();
    try {
      return answerWasm(kind, input, this.memoryMb);
    } finally {
      const used = process.cpuUsage(start);
      this.hostCpuMs += (used.user + used.system) / 1000;
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.onMessage = () => {};
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.subrequests?.dispose();
    this.keys.dispose();
    for (const running of this.invocations.values()) if (running.wallTimer !== null) clearTimeout(running.wallTimer);
    this.invocations.clear();
    this.calls.length = 0;
    this.emitted = [];
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }

  /** Compiles the bundle as an ES module and drops it: only a valid module may run as a script (./bundle-script.ts). */
  checkModuleSyntax(bundle: string, filename: string): void {
    try {
      this.isolate.compileModuleSync(bundle, { filename }).release();
    } catch (error) {
      throw BundleLoadError.fromCompile(error);
    }
  }

  /** The bundle as an ES module, compiled (from `v8Cache` when it is accepted) and evaluated: its namespace. */
  private evaluateModule(bundle: string, v8Cache: Uint8Array | null, filename: string, evaluateTimeoutMs: number): { namespace: ivm.Reference<Record<string, unknown>>; producedCodeCache: Uint8Array | null } {
    let module: WithCachedData<ivm.Module>;
    let producedCodeCache: Uint8Array | null = null;
    try {
      if (v8Cache && v8Cache.byteLength > 0) {
        module = this.isolate.compileModuleSync(bundle, { filename, cachedData: new ivm.ExternalCopy(toArrayBuffer(v8Cache)) });
        if (module.cachedDataRejected) module = this.compileProducingCache(bundle, filename, (cache) => (producedCodeCache = cache));
      } else {
        module = this.compileProducingCache(bundle, filename, (cache) => (producedCodeCache = cache));
      }
    } catch (error) {
      throw BundleLoadError.fromCompile(error);
    }
    try {
      module.instantiateSync(this.context, (specifier) => {
        throw new Error(`the bundle imports "${specifier}": bundles must be self-contained (atoll build bundles every import)`);
      });
    } catch (error) {
      throw new BundleLoadError("evaluate", messageOf(error));
    }
    this.evaluateWithin(evaluateTimeoutMs, () => module.evaluateSync({ timeout: evaluateTimeoutMs }));
    return { namespace: module.namespace, producedCodeCache };
  }

  /**
   * The bundle's script form (./bundle-script.ts), compiled (from `v8Cache`
   * when it is accepted) and run: the object of its exports.
   */
  private evaluateScript(
    source: string,
    plan: ScriptPlan,
    v8Cache: Uint8Array | null,
    filename: string,
    evaluateTimeoutMs: number,
  ): { namespace: ivm.Reference<Record<string, unknown>>; producedCodeCache: Uint8Array | null } {
    const origin = { filename, lineOffset: SCRIPT_LINE_OFFSET };
    let script: WithCachedData<ivm.Script> | undefined;
    let produced: ivm.ExternalCopy<ArrayBuffer> | undefined;
    try {
      if (v8Cache && v8Cache.byteLength > 0) {
        script = this.isolate.compileScriptSync(source, { ...origin, cachedData: new ivm.ExternalCopy(toArrayBuffer(v8Cache)) });
        if (script.cachedDataRejected) {
          script.release();
          script = undefined;
        }
      }
      if (!script) {
        script = this.isolate.compileScriptSync(source, { ...origin, produceCachedData: true });
        produced = script.cachedData;
      }
    } catch (error) {
      throw BundleLoadError.fromCompile(error);
    }
    // Kept until the first invocation is over, unless its cache was made after one already: V8 finds its
    // compilation of this source again (refreshCodeCache) only while its top-level code is alive.
    this.scriptForm = plan.refreshed ? null : { source, plan, origin, script };
    const wrapper = script.runSync(this.context, { reference: true }) as ivm.Reference<Function>;
    let namespace: ivm.Reference<Record<string, unknown>> | undefined;
    try {
      this.evaluateWithin(evaluateTimeoutMs, () => {
        namespace = wrapper.applySync(undefined, [], { timeout: evaluateTimeoutMs, result: { reference: true } }) as ivm.Reference<Record<string, unknown>>;
      });
    } finally {
      wrapper.release();
      if (this.scriptForm?.script !== script) script.release();
    }
    const bytes = produced?.copy();
    return { namespace: namespace!, producedCodeCache: bytes ? packCache(plan, new Uint8Array(bytes)) : null };
  }

  /** The loaded bundle's script form, until its code cache has been made again after a request. */
  private scriptForm: { source: string; plan: ScriptPlan; origin: { filename: string; lineOffset: number }; script: ivm.Script } | null = null;

  /** Whether refreshCodeCache would make a better cache (the bundle runs as a script, and its cache predates any request). */
  get wantsCodeCacheRefresh(): boolean {
    return this.scriptForm !== null;
  }

  /**
   * The script form's code cache made again, once an invocation has run: V8
   * finds its compilation of the same source in this isolate, and the cache
   * then carries every function compiled so far, so the version's next cold
   * start (another worker, after an eviction or a restart) skips compiling
   * them. hono-app's first request: 5.0 ms → 3.5 ms. Null when there is none
   * to make (a module, or done already).
   */
  refreshCodeCache(): Uint8Array | null {
    const form = this.scriptForm;
    this.scriptForm = null;
    if (!form || this.disposed) return null;
    let script: WithCachedData<ivm.Script>;
    try {
      script = this.isolate.compileScriptSync(form.source, { ...form.origin, produceCachedData: true });
    } finally {
      form.script.release();
    }
    const bytes = script.cachedData?.copy();
    script.release();
    return bytes ? packCache({ ...form.plan, refreshed: true }, new Uint8Array(bytes)) : null;
  }

  /** Runs the bundle's top-level code: a timeout or a throw becomes BundleLoadError("evaluate"). */
  private evaluateWithin(evaluateTimeoutMs: number, evaluate: () => void): void {
    let cpuBefore = 0n;
    try {
      this.runSync(() => {
        cpuBefore = this.isolate.cpuTime;
        evaluate();
      });
    } catch (error) {
      if (!this.isolate.isDisposed && messageOf(error).includes("Script execution timed out")) {
        const usedMs = Number(this.isolate.cpuTime - cpuBefore) / 1e6;
        throw new StartupTimeoutError(
          "evaluate",
          `the module's top-level code used more than the start-up CPU budget of ${evaluateTimeoutMs} ms (stopped after ${usedMs.toFixed(0)} ms): move that work into a handler, or do less of it when the module loads`,
        );
      }
      throw new BundleLoadError("evaluate", messageOf(error));
    }
  }

  private compileProducingCache(bundle: string, filename: string, keep: (cache: Uint8Array) => void): ivm.Module {
    const module: WithCachedData<ivm.Module> = this.isolate.compileModuleSync(bundle, { filename, produceCachedData: true });
    const cache = module.cachedData?.copy();
    if (cache) keep(new Uint8Array(cache));
    return module;
  }

  /**
   * Runs `work` (a synchronous call into the isolate) with the execution
   * marker naming this version, then handles what the runtime emitted during
   * it. Throws what `work` threw, after handling those messages.
   */
  private runSync<T>(work: () => T): T {
    marker?.enter(this.label);
    try {
      return work();
    } finally {
      marker?.exit();
      this.takeEmitted();
    }
  }

  /** Handles the messages emitted during the call that just returned (unless the isolate is gone). */
  private takeEmitted(): void {
    const emitted = this.emitted;
    if (emitted.length === 0) return;
    this.emitted = [];
    for (let i = 0; i < emitted.length && !this.disposed; i++) this.receive(emitted[i]);
  }

  /**
   * Calls into the isolate, synchronously on this thread. The call's CPU time
   * is charged to the invocation it concerns (to every one in flight when it
   * concerns none, such as a timer firing), and its `timeout` is what is left
   * of the tightest budget: a loop, synchronous or after an await, is stopped
   * there. V8 counts CPU per isolate, so invocations running concurrently in
   * one isolate are charged for each other: a conservative reading. A call
   * made while one runs (by the handling of its messages) waits for it.
   */
  private call(reference: ivm.Reference<Function>, args: unknown[], id: number | null): void {
    if (this.disposed) return;
    this.calls.push({ reference, args, id });
    if (this.calling) return;
    this.calling = true;
    try {
      for (let next = this.calls.shift(); next !== undefined && !this.disposed; next = this.calls.shift()) this.runCall(next);
    } finally {
      this.calling = false;
      this.calls.length = 0;
    }
  }

  /**
   * CPU the host spent for the call in progress (native UTF-8, `__atoll_text`),
   * ms: isolated-vm's CPU time leaves out the time in callbacks, so it is
   * added to the call's charge; past the call's budget the host refuses
   * (the runtime then codes in JS, which the CPU limit stops).
   */
  private hostCpuMs = 0;
  private hostCpuBudgetMs = 0;

  /** `__atoll_text`, timed and charged to the call that made it. */
  textOnHost(kind: unknown, input: unknown): string | Uint8Array | null {
    if (this.hostCpuMs > this.hostCpuBudgetMs) throw new Error("over the CPU budget");
    const start = process.cpuUsage();
    try {
      return hostText(kind, input);
    } finally {
      const used = process.cpuUsage(start);
      this.hostCpuMs += (used.user + used.system) / 1000;
    }
  }

  private runCall({ reference, args, id }: PendingCall): void {
    const charged = id !== null && this.invocations.has(id) ? [id] : [...this.invocations.keys()];
    this.hostCpuMs = 0;
    this.hostCpuBudgetMs = this.remainingCpuMs(charged);
    // isolated-vm's timeout counts wall time: on a busy machine a thread
    // waiting for a core would be stopped for CPU it never used. So it is
    // only the soft first stop, with slack; the limit itself is checked
    // below against the isolate's CPU time (CLOCK_THREAD_CPUTIME_ID on Linux).
    const timeout = Math.max(1, Math.ceil(this.remainingCpuMs(charged) * TIMEOUT_SLACK_FACTOR + TIMEOUT_SLACK_MS));
    marker?.enter(this.label);
    const before = this.isolate.cpuTime;
    let failure: { error: unknown } | null = null;
    try {
      reference.applySync(undefined, args, { arguments: { copy: true }, timeout });
    } catch (error) {
      failure = { error };
    }
    marker?.exit();
    if (failure !== null) return this.callFailed(reference, id, charged, before, failure.error);
    const used = this.charge(charged, before);
    let over: number[] | null = null;
    for (const charge of charged) if ((this.invocations.get(charge)?.cpuMs ?? 0) > this.limits.cpuMs) (over ??= []).push(charge);
    // What a call that went over its budget emitted is dropped with the isolate.
    if (over !== null) return this.terminateIsolate("cpu_ms", over, `the invocation used more than its CPU limit of ${this.limits.cpuMs} ms (${used.toFixed(1)} ms in its last slice)`);
    if (this.usesWasm) {
      const wasm = this.wasmBytes();
      const heap = this.isolate.getHeapStatisticsSync().used_heap_size;
      if (wasm + heap > this.memoryMb * 1_048_576) {
        return this.terminateIsolate(
          "memory_mb",
          charged,
          `the isolate ran out of memory: its WebAssembly memory (${mib(wasm)} MiB) and heap (${mib(heap)} MiB) passed its limit of ${this.memoryMb} MB`,
        );
      }
    }
    this.takeEmitted();
  }

  /** A call into the isolate threw: a limit, a lost isolate, or an unhandled rejection inside. */
  private callFailed(reference: ivm.Reference<Function>, id: number | null, charged: number[], before: bigint, error: unknown): void {
    if (this.disposed) return;
    if (this.isolate.isDisposed) {
      // isolated-vm disposed the isolate at its memory limit: every invocation in it is lost.
      this.terminateIsolate("memory_mb", charged, `the isolate ran out of memory: it reached its limit of ${this.memoryMb} MB`);
      return;
    }
    if (messageOf(error).includes("Script execution timed out")) {
      const used = this.charge(charged, before);
      this.terminateIsolate("cpu_ms", charged, `the invocation used more than its CPU limit of ${this.limits.cpuMs} ms (${used.toFixed(1)} ms in its last slice)`);
      return;
    }
    this.charge(charged, before);
    // isolated-vm throws from the call in progress when a promise rejection
    // goes unhandled inside; what the call did otherwise stands. The runtime
    // carries on; it dispatches the rejection as an "unhandledrejection"
    // event and logs it unless a listener cancels.
    this.takeEmitted();
    const owner = id !== null && this.invocations.has(id) ? id : null;
    if (reference !== this.entry.rejection) this.call(this.entry.rejection, [owner, rejectionReason(error)], owner);
    else this.onMessage({ t: "uncaught", id: owner, message: messageOf(error), stack: stackOf(error) });
  }

  /** Adds the CPU the isolate used since `before` to each of `ids`; returns it, ms. */
  private charge(ids: number[], before: bigint): number {
    if (this.isolate.isDisposed) return 0;
    const usedMs = Math.max(0, Number(this.isolate.cpuTime - before) / 1e6) + this.hostCpuMs;
    this.hostCpuMs = 0;
    for (const id of ids) {
      const running = this.invocations.get(id);
      if (running) running.cpuMs += usedMs;
    }
    return usedMs;
  }

  private remainingCpuMs(ids: number[]): number {
    let remaining = this.limits.cpuMs;
    for (const id of ids) {
      const running = this.invocations.get(id);
      if (running) remaining = Math.min(remaining, this.limits.cpuMs - running.cpuMs);
    }
    return remaining;
  }

  /** Ends invocations for a limit; the isolate carries on (a wall-clock limit). */
  private terminate(ids: number[], limit: TerminationLimit, message: string): void {
    for (const id of ids) {
      const running = this.invocations.get(id);
      if (!running) continue;
      this.invocationOver(id);
      this.onMessage({ t: "terminated", id, limit, message });
      this.onMessage({ t: "done", id, cpuMs: running.cpuMs, subrequests: running.subrequests, fetchBytes: running.fetchBytes });
      // Let the runtime drop it too; whatever it still sends for it is no longer ours.
      this.call(this.entry.abort, [id, message], null);
    }
  }

  /**
   * A limit stopped a call midway (CPU), or took the isolate away (memory): the
   * isolate goes. The culprits get the termination; the other invocations in
   * this isolate fail with it, and only they.
   */
  private terminateIsolate(limit: TerminationLimit, culprits: number[], message: string): void {
    const onMessage = this.onMessage;
    const ended = [...this.invocations].map(([id, running]) => ({ id, cpuMs: running.cpuMs, subrequests: running.subrequests, fetchBytes: running.fetchBytes }));
    this.dispose();
    for (const { id, cpuMs, subrequests, fetchBytes } of ended) {
      const own = culprits.includes(id);
      onMessage({ t: "terminated", id, limit, message: own ? message : `another request in the same isolate went over a limit: ${message}` });
      onMessage({ t: "done", id, cpuMs, subrequests, fetchBytes });
    }
  }

  /** Takes one message, or a batch of them, from the runtime. */
  private receive(raw: unknown): void {
    if (typeof raw === "string") {
      // A batch without bytes comes as JSON (protocol.ts); one that does not parse is dropped.
      try {
        raw = JSON.parse(raw);
      } catch {
        return;
      }
    }
    if (!Array.isArray(raw)) this.receiveOne(raw);
    else for (let i = 0; i < raw.length && i < MAX_MESSAGES_PER_BATCH; i++) this.receiveOne(raw[i]);
  }

  /** Validates one message from the runtime; drops anything malformed or not ours. */
  private receiveOne(raw: unknown): void {
    const message = checkMessage(raw, this.invocations);
    if (!message) return;
    if (message.t === "done") {
      // The call that emitted it has returned and been charged.
      this.finish(message.id, message.noRetry === true);
      return;
    }
    if (message.t === "op") {
      switch (message.name) {
        case "timer":
          return this.setTimer(message.op, message.ms, message.id);
        case "fetch":
          return this.startFetch(message.op, message.id, message.request);
        case "fetch-upload":
          return this.subrequests ? this.subrequests.upload(message.op, message.fetch, message.data) : this.resolve(message.op, false, "no such fetch");
        case "fetch-read":
          return this.subrequests ? this.subrequests.read(message.op, message.fetch) : this.resolve(message.op, false, "no such fetch");
        case "subtle":
          return this.runSubtle(message.op, message.method, message.args);
      }
    } else if (message.t === "cancel") {
      this.clearTimer(message.op);
      this.subrequests?.release(message.op);
      return;
    }
    if (message.t === "release-keys") return this.keys.release(message.handles);
    if (message.t === "log" && !this.withinLogBudget(message.id, message.message.length)) return;
    this.onMessage(message);
  }

  /**
   * Charges console output to its invocation (to every live one when unknown);
   * false once the budget is spent. The first line over the budget is replaced
   * by one saying so.
   */
  private withinLogBudget(id: number | null, chars: number): boolean {
    const owners = id !== null ? [id] : [...this.invocations.keys()];
    let allowed = true;
    for (const owner of owners) {
      const running = this.invocations.get(owner);
      if (!running) continue;
      const before = running.logChars;
      running.logChars += chars;
      if (running.logChars <= MAX_LOG_CHARS_PER_INVOCATION) continue;
      allowed = false;
      if (before <= MAX_LOG_CHARS_PER_INVOCATION) {
        this.onMessage({
          t: "log",
          id: owner,
          level: "warn",
          message: `[atoll] this invocation wrote more than ${MAX_LOG_CHARS_PER_INVOCATION} characters of console output: the rest is dropped`,
        });
      }
    }
    return allowed;
  }

  /** Invocation `id` is done: reports it with the CPU time it was charged. */
  private finish(id: number, noRetry: boolean): void {
    const running = this.invocations.get(id);
    if (!running) return;
    const cpuMs = running.cpuMs;
    this.invocationOver(id);
    const { subrequests, fetchBytes } = running;
    this.onMessage(noRetry ? { t: "done", id, cpuMs, subrequests, fetchBytes, noRetry: true } : { t: "done", id, cpuMs, subrequests, fetchBytes });
  }

  /** One crypto.subtle call; the vault checks its arguments and never rejects. */
  private runSubtle(op: number, method: SubtleMethod, args: unknown[]): void {
    void this.keys.run(method, args).then((outcome) => this.resolve(op, outcome.ok, outcome.ok ? outcome.value : outcome.error));
  }

  /**
   * An outbound fetch, charged to the invocation that made it. When the
   * runtime cannot tell which (code resumed after an await while several
   * invocations are live), every live invocation is charged: conservative.
   */
  private startFetch(op: number, id: number | null, request: OutboundRequest): void {
    if (!this.subrequests) return this.resolve(op, false, "fetch is not available while a bundle is being validated");
    const owners = id !== null && this.invocations.has(id) ? [id] : [...this.invocations.keys()];
    if (owners.length === 0) {
      return this.resolve(op, false, "fetch() was called outside of a request: make outbound fetches while handling one (ctx.waitUntil keeps an invocation going after its response)");
    }
    let service: string | undefined;
    if (request.service !== undefined) {
      service = Object.hasOwn(this.services, request.service) ? this.services[request.service] : undefined;
      if (service === undefined) return this.resolve(op, false, `env.${request.service} is not a service binding of this version: declare it in [[services]] and deploy again`);
    }
    let depth = 0;
    for (const owner of owners) {
      const running = this.invocations.get(owner)!;
      if (running.subrequests >= this.limits.subrequests) {
        return this.resolve(op, false, `too many subrequests: one invocation may make at most ${this.limits.subrequests} (limits.subrequests in atoll.toml)`);
      }
      depth = Math.max(depth, running.depth);
    }
    let piped: HostSource | null = null;
    if (typeof request.body === "object" && request.body !== null && !(request.body instanceof Uint8Array)) {
      try {
        piped = this.openSource!(request.body.pipe, id);
      } catch (error) {
        return this.resolve(op, false, `fetch ${request.method} ${request.url}: the body cannot be sent: ${messageOf(error)}`);
      }
    }
    for (const owner of owners) this.invocations.get(owner)!.subrequests++;
    // Its bytes are the first owner's (the one that made it, unless the runtime could not tell).
    this.subrequests.start(op, request, owners, this.invocations.get(owners[0]!)!.fetchBytes, depth + 1, piped, service);
  }

  private setTimer(op: number, ms: number, id: number | null): void {
    // Like fetches, a timer belongs to the invocation that set it (to every live one when the runtime cannot tell).
    const owners = new Set(id !== null && this.invocations.has(id) ? [id] : this.invocations.keys());
    if (owners.size === 0) {
      this.resolve(op, false, "a timer was set outside of a request: timers run only while an invocation is live (ctx.waitUntil keeps one going)");
      return;
    }
    if (this.timers.size >= MAX_PENDING_TIMERS) {
      this.resolve(op, false, `too many pending timers (at most ${MAX_PENDING_TIMERS})`);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(op);
      this.resolve(op, true, undefined);
    }, Math.min(ms, MAX_TIMER_MS));
    this.timers.set(op, { timer, owners });
  }

  private clearTimer(op: number): void {
    const entry = this.timers.get(op);
    if (entry) clearTimeout(entry.timer);
    this.timers.delete(op);
  }
}

/** A response head as checked: a text body as the string, a streamed body flagged. */
interface CheckedResponse {
  t: "response";
  id: number;
  status: number;
  statusText: string;
  headers: HeaderList;
  body: null | Uint8Array | string;
  stream?: true;
  /** The body is one the host holds: the worker sends it on (../pass-through.ts). */
  pipe?: HostStreamRef;
}

/** A message of the runtime that passed checkMessage. */
type ValidMessage = Exclude<IsolateMessage, { t: "response" }> | CheckedResponse;

function checkMessage(raw: unknown, invocations: ReadonlyMap<number, unknown>): ValidMessage | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  const ownId = (value: unknown): value is number => typeof value === "number" && invocations.has(value);
  switch (m.t) {
    case "response": {
      if (!ownId(m.id) || !isStatus(m.status) || typeof m.statusText !== "string" || !isHeaderList(m.headers)) return undefined;
      let body: CheckedResponse["body"];
      let pipe: HostStreamRef | undefined;
      if (m.body === "stream" || m.body === null) body = null;
      else if (m.body instanceof Uint8Array) body = m.body;
      else if (typeof (m.body as { text?: unknown }).text === "string") body = (m.body as { text: string }).text;
      else if (isHostStreamRef((m.body as { pipe?: unknown }).pipe)) {
        body = null;
        pipe = (m.body as { pipe: HostStreamRef }).pipe;
      } else return undefined;
      const checked: CheckedResponse = { t: "response", id: m.id, status: m.status, statusText: m.statusText.slice(0, 256), headers: m.headers, body };
      if (m.body === "stream") checked.stream = true;
      if (pipe !== undefined) checked.pipe = pipe;
      return checked;
    }
    case "chunk":
      return ownId(m.id) && m.data instanceof Uint8Array ? { t: "chunk", id: m.id, data: m.data } : undefined;
    case "end":
    case "handled":
      return ownId(m.id) ? { t: m.t, id: m.id } : undefined;
    case "done":
      if (!ownId(m.id)) return undefined;
      return m.noRetry === true ? { t: "done", id: m.id, noRetry: true } : { t: "done", id: m.id };
    case "error":
      if (!ownId(m.id)) return undefined;
      return { t: "error", id: m.id, message: String(m.message).slice(0, MAX_LOG_MESSAGE_CHARS), stack: String(m.stack ?? "").slice(0, MAX_LOG_MESSAGE_CHARS) };
    case "uncaught":
      return { t: "uncaught", id: ownId(m.id) ? m.id : null, message: String(m.message).slice(0, MAX_LOG_MESSAGE_CHARS), stack: String(m.stack ?? "").slice(0, MAX_LOG_MESSAGE_CHARS) };
    case "log": {
      const level = LOG_LEVELS.has(m.level as LogLevel) ? (m.level as LogLevel) : "log";
      return { t: "log", id: ownId(m.id) ? m.id : null, level, message: String(m.message).slice(0, MAX_LOG_MESSAGE_CHARS) };
    }
    case "op":
      if (!Number.isSafeInteger(m.op)) return undefined;
      if (m.name === "timer" && typeof m.ms === "number" && m.ms >= 0) return { t: "op", op: m.op as number, name: "timer", ms: m.ms, id: ownId(m.id) ? m.id : null };
      if (m.name === "request-body-read" && ownId(m.id)) return { t: "op", op: m.op as number, name: "request-body-read", id: m.id };
      if (m.name === "fetch" && isOutboundRequest(m.request)) {
        // An invocation that is over by now counts as unknown: the host charges the live ones.
        return { t: "op", op: m.op as number, name: "fetch", id: ownId(m.id) ? m.id : null, request: m.request };
      }
      if (m.name === "fetch-upload" && Number.isSafeInteger(m.fetch) && (m.data === null || m.data instanceof Uint8Array)) {
        return { t: "op", op: m.op as number, name: "fetch-upload", fetch: m.fetch as number, data: m.data };
      }
      if (m.name === "binding" && typeof m.binding === "string" && m.binding.length <= 64 && typeof m.method === "string" && m.method.length <= 32 && Array.isArray(m.args)) {
        return { t: "op", op: m.op as number, name: "binding", id: ownId(m.id) ? m.id : null, binding: m.binding, method: m.method, args: m.args };
      }
      if (m.name === "fetch-read" && Number.isSafeInteger(m.fetch)) return { t: "op", op: m.op as number, name: "fetch-read", fetch: m.fetch as number };
      // The arguments' shapes are the vault's to check.
      if (m.name === "subtle" && typeof m.method === "string" && SUBTLE_METHOD_NAMES.has(m.method) && Array.isArray(m.args)) {
        return { t: "op", op: m.op as number, name: "subtle", method: m.method as SubtleMethod, args: m.args };
      }
      return undefined;
    case "release-keys":
      if (!Array.isArray(m.handles) || m.handles.length > MAX_RELEASED_KEYS_PER_MESSAGE || !m.handles.every(Number.isSafeInteger)) return undefined;
      return { t: "release-keys", handles: m.handles as number[] };
    case "cancel":
      return Number.isSafeInteger(m.op) ? { t: "cancel", op: m.op as number } : undefined;
    default:
      return undefined;
  }
}

function isStatus(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 200 && (value as number) <= 599;
}

function isOutboundRequest(value: unknown): value is OutboundRequest {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.method === "string" &&
    METHOD.test(r.method) &&
    typeof r.url === "string" &&
    r.url.length <= MAX_URL_CHARS &&
    /^https?:\/\//.test(r.url) &&
    isHeaderList(r.headers) &&
    (r.body === null || r.body === "stream" || r.body instanceof Uint8Array || isHostStreamRef((r.body as { pipe?: unknown }).pipe)) &&
    typeof r.redirect === "string" &&
    REDIRECT_MODES.has(r.redirect) &&
    (r.service === undefined || (typeof r.service === "string" && r.service.length <= 64))
  );
}

function isHeaderList(value: unknown): value is HeaderList {
  if (!Array.isArray(value) || value.length > MAX_HEADERS) return false;
  return value.every((pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string");
}

function randomBytes(length: unknown): Uint8Array {
  if (!Number.isInteger(length) || (length as number) < 0 || (length as number) > MAX_RANDOM_BYTES) {
    throw new Error(`random bytes: length must be an integer from 0 to ${MAX_RANDOM_BYTES}`);
  }
  return randomFillSync(new Uint8Array(length as number));
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** The copy of a rejection's reason isolated-vm gave us, as the runtime's rejection() takes it. */
function rejectionReason(error: unknown): RejectionReason {
  if (error instanceof Error) return { error: { name: error.name, message: error.message, stack: String(error.stack ?? "") } };
  if (error === null || error === undefined || typeof error === "string" || typeof error === "number" || typeof error === "boolean") return { value: error };
  return { value: String(error) };
}

function stackOf(error: unknown): string {
  return error instanceof Error ? String(error.stack ?? error.message) : String(error);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function mib(bytes: number): string {
  return (bytes / 1_048_576).toFixed(1);
}
