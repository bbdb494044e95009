// One V8 isolate running one script version: boots the runtime, loads the
// user's bundle, and carries invocations across the bridge of runtime/protocol.ts.
// Everything the isolate sends is checked here before the host acts on it.
import ivm from "isolated-vm";
import { randomFillSync } from "node:crypto";
import type { FetchEvent, HeaderList, InstalledHandlers, IsolateMessage, LogLevel, RejectionReason } from "../../runtime/protocol.js";
import { MAX_RANDOM_BYTES } from "../../runtime/protocol.js";
import type { RuntimeImage, WithCachedData } from "./runtime-image.js";
import type { TerminationLimit } from "../ipc.js";
import { BundleLoadError } from "./bundle-errors.js";

/**
 * What the isolate tells the worker: the runtime's messages, after validation,
 * and the host's own word when a limit ends an invocation.
 */
export type CheckedMessage = IsolateMessage | { t: "terminated"; id: number; limit: TerminationLimit; message: string };

/** Per-invocation limits, from the version's config. */
export interface InvocationLimits {
  cpuMs: number;
  wallMs: number;
}

/** One invocation in flight: what it has used and its wall-clock deadline. */
interface Running {
  cpuNs: bigint;
  wallTimer: NodeJS.Timeout;
}

export interface LoadedBundle {
  handlers: InstalledHandlers;
  /** Code cache for the bundle, when this load produced one. */
  producedCodeCache: Uint8Array | null;
  loadMs: number;
}

const MAX_LOG_MESSAGE_CHARS = 16 * 1024;
const MAX_HEADERS = 1000;
const MAX_PENDING_TIMERS = 10_000;
/** Messages the runtime may batch into one callback; the rest of a larger batch is dropped. */
const MAX_MESSAGES_PER_BATCH = 100_000;
/** Node's setTimeout ceiling (a 32-bit signed ms count). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const LOG_LEVELS = new Set<LogLevel>(["debug", "log", "info", "warn", "error"]);

export class FunctionIsolate {
  readonly isolate: ivm.Isolate;
  readonly memoryMb: number;
  /** Invocations started here and not yet done. */
  private readonly invocations = new Map<number, Running>();
  /** Limits of the version loaded here (defaults until `load`). */
  private limits: InvocationLimits = { cpuMs: 50, wallMs: 30_000 };
  private readonly context: ivm.Context;
  /** References to the runtime's entry points (RuntimeEntryPoints); only the host holds them. */
  private readonly entry: Record<"install" | "dispatch" | "pull" | "resolve" | "abort" | "rejection", ivm.Reference<Function>>;
  private onMessage: (message: CheckedMessage) => void = () => {};
  private disposed = false;
  /** Timers the runtime asked for (setTimeout/setInterval), by op. */
  private readonly timers = new Map<number, NodeJS.Timeout>();

  private constructor(isolate: ivm.Isolate, context: ivm.Context, entry: FunctionIsolate["entry"], memoryMb: number) {
    this.isolate = isolate;
    this.context = context;
    this.entry = entry;
    this.memoryMb = memoryMb;
  }

  /**
   * Creates an isolate with the runtime loaded and no user code yet (a spare).
   * Every step is asynchronous: booting runs on isolated-vm's threads, so the
   * worker keeps serving other isolates meanwhile.
   */
  static async boot(image: RuntimeImage, memoryMb: number): Promise<FunctionIsolate> {
    const isolate = new ivm.Isolate({ memoryLimit: memoryMb });
    try {
      const context = await isolate.createContext();
      const global = context.global;
      let booted: FunctionIsolate | undefined;
      await global.set("__atoll_emit", new ivm.Callback((message: unknown) => booted?.receive(message), { ignored: true }));
      await global.set("__atoll_random_bytes", new ivm.Callback(randomBytes, { sync: true }));
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
      };
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
   * Compiles and evaluates the user's ES module, then installs its default
   * export. Throws BundleLoadError for anything wrong with the bundle.
   */
  async load(
    bundle: string,
    codeCache: Uint8Array | null,
    env: Record<string, unknown>,
    filename: string,
    evaluateTimeoutMs: number,
    limits?: InvocationLimits,
  ): Promise<LoadedBundle> {
    const started = performance.now();
    if (limits) this.limits = limits;
    let module: WithCachedData<ivm.Module>;
    let producedCodeCache: Uint8Array | null = null;
    try {
      if (codeCache) {
        module = this.isolate.compileModuleSync(bundle, { filename, cachedData: new ivm.ExternalCopy(toArrayBuffer(codeCache)) });
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
    try {
      await module.evaluate({ timeout: evaluateTimeoutMs });
    } catch (error) {
      throw new BundleLoadError("evaluate", messageOf(error));
    }
    const namespace = module.namespace;
    let handlers: InstalledHandlers;
    try {
      const exported = namespace.getSync("default", { reference: true }) as ivm.Reference<unknown> | undefined;
      if (!exported || exported.typeof === "undefined") throw new Error("the module has no default export");
      handlers = this.entry.install.applySync(undefined, [exported.derefInto(), new ivm.ExternalCopy(env).copyInto()], {
        result: { copy: true },
        timeout: evaluateTimeoutMs,
      }) as InstalledHandlers;
      exported.release();
    } catch (error) {
      throw new BundleLoadError("no-default-export", messageOf(error));
    } finally {
      namespace.release();
    }
    return { handlers, producedCodeCache, loadMs: performance.now() - started };
  }

  dispatch(id: number, event: FetchEvent): void {
    const wallTimer = setTimeout(() => this.terminate([id], "wall_ms", `the invocation took longer than its wall-clock limit of ${this.limits.wallMs} ms`), this.limits.wallMs);
    this.invocations.set(id, { cpuNs: 0n, wallTimer });
    this.call(this.entry.dispatch, [id, event], id);
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

  /** True once V8 disposed the isolate under us (memory limit) or we did: it must not serve again. */
  get broken(): boolean {
    return this.disposed || this.isolate.isDisposed;
  }

  get idle(): boolean {
    return this.invocations.size === 0;
  }

  /** Total V8 heap in use, bytes (async: the sync form blocks while the isolate runs). */
  async heapBytes(): Promise<number> {
    const stats = await this.isolate.getHeapStatistics();
    return stats.used_heap_size + stats.externally_allocated_size;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.onMessage = () => {};
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const running of this.invocations.values()) clearTimeout(running.wallTimer);
    this.invocations.clear();
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }

  private compileProducingCache(bundle: string, filename: string, keep: (cache: Uint8Array) => void): ivm.Module {
    const module: WithCachedData<ivm.Module> = this.isolate.compileModuleSync(bundle, { filename, produceCachedData: true });
    const cache = module.cachedData?.copy();
    if (cache) keep(new Uint8Array(cache));
    return module;
  }

  /**
   * Calls into the isolate on isolated-vm's threads. The call's CPU time is
   * charged to the invocation it concerns (to every one in flight when it
   * concerns none, such as a timer firing), and its `timeout` is what is left
   * of the tightest budget: a loop, synchronous or after an await, is stopped
   * there. V8 counts CPU per isolate, so invocations running concurrently in
   * one isolate are charged for each other: a conservative reading.
   */
  private call(reference: ivm.Reference<Function>, args: unknown[], id: number | null): void {
    if (this.disposed) return;
    const charged = id !== null && this.invocations.has(id) ? [id] : [...this.invocations.keys()];
    const before = this.isolate.cpuTime;
    const timeout = Math.max(1, Math.ceil(this.remainingCpuMs(charged)));
    reference.apply(undefined, args, { arguments: { copy: true }, timeout }).then(
      () => this.charge(charged, before),
      (error: unknown) => {
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
        // isolated-vm rejects the call in progress when a promise rejection goes
        // unhandled inside. The runtime carries on; it dispatches the rejection
        // as an "unhandledrejection" event and logs it unless a listener cancels.
        const owner = id !== null && this.invocations.has(id) ? id : null;
        if (reference !== this.entry.rejection) this.call(this.entry.rejection, [owner, rejectionReason(error)], owner);
        else this.onMessage({ t: "uncaught", id: owner, message: messageOf(error), stack: stackOf(error) });
      },
    );
  }

  /** Adds the CPU the isolate used since `before` to each of `ids`; returns it, ms. */
  private charge(ids: number[], before: bigint): number {
    if (this.isolate.isDisposed) return 0;
    const used = this.isolate.cpuTime - before;
    for (const id of ids) {
      const running = this.invocations.get(id);
      if (running) running.cpuNs += used;
    }
    return Number(used) / 1e6;
  }

  private remainingCpuMs(ids: number[]): number {
    let remaining = this.limits.cpuMs;
    for (const id of ids) {
      const running = this.invocations.get(id);
      if (running) remaining = Math.min(remaining, this.limits.cpuMs - Number(running.cpuNs) / 1e6);
    }
    return remaining;
  }

  /** Ends invocations for a limit; the isolate carries on (a wall-clock limit). */
  private terminate(ids: number[], limit: TerminationLimit, message: string): void {
    for (const id of ids) {
      const running = this.invocations.get(id);
      if (!running) continue;
      clearTimeout(running.wallTimer);
      this.invocations.delete(id);
      this.onMessage({ t: "terminated", id, limit, message });
      this.onMessage({ t: "done", id });
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
    const ids = [...this.invocations.keys()];
    this.dispose();
    for (const id of ids) {
      const own = culprits.includes(id);
      onMessage({ t: "terminated", id, limit, message: own ? message : `another request in the same isolate went over a limit: ${message}` });
      onMessage({ t: "done", id });
    }
  }

  /** Takes one message, or a batch of them, from the runtime. */
  private receive(raw: unknown): void {
    if (!Array.isArray(raw)) this.receiveOne(raw);
    else for (let i = 0; i < raw.length && i < MAX_MESSAGES_PER_BATCH; i++) this.receiveOne(raw[i]);
  }

  /** Validates one message from the runtime; drops anything malformed or not ours. */
  private receiveOne(raw: unknown): void {
    const message = checkMessage(raw, this.invocations);
    if (!message) return;
    if (message.t === "done") {
      clearTimeout(this.invocations.get(message.id)?.wallTimer);
      this.invocations.delete(message.id);
    }
    if (message.t === "op" && message.name === "timer") this.setTimer(message.op, message.ms);
    else if (message.t === "cancel") this.clearTimer(message.op);
    else this.onMessage(message);
  }

  private setTimer(op: number, ms: number): void {
    if (this.timers.size >= MAX_PENDING_TIMERS) {
      this.resolve(op, false, `too many pending timers (at most ${MAX_PENDING_TIMERS})`);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(op);
      this.resolve(op, true, undefined);
    }, Math.min(ms, MAX_TIMER_MS));
    this.timers.set(op, timer);
  }

  private clearTimer(op: number): void {
    const timer = this.timers.get(op);
    if (timer) clearTimeout(timer);
    this.timers.delete(op);
  }
}

function checkMessage(raw: unknown, invocations: ReadonlyMap<number, unknown>): IsolateMessage | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  const ownId = (value: unknown): value is number => typeof value === "number" && invocations.has(value);
  switch (m.t) {
    case "response": {
      if (!ownId(m.id) || !isStatus(m.status) || typeof m.statusText !== "string" || !isHeaderList(m.headers)) return undefined;
      if (!(m.body === null || m.body === "stream" || m.body instanceof Uint8Array)) return undefined;
      return { t: "response", id: m.id, status: m.status, statusText: m.statusText.slice(0, 256), headers: m.headers, body: m.body };
    }
    case "chunk":
      return ownId(m.id) && m.data instanceof Uint8Array ? { t: "chunk", id: m.id, data: m.data } : undefined;
    case "end":
    case "done":
      return ownId(m.id) ? { t: m.t, id: m.id } : undefined;
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
      if (m.name === "timer" && typeof m.ms === "number" && m.ms >= 0) return { t: "op", op: m.op as number, name: "timer", ms: m.ms };
      if (m.name === "request-body-read" && ownId(m.id)) return { t: "op", op: m.op as number, name: "request-body-read", id: m.id };
      return undefined;
    case "cancel":
      return Number.isSafeInteger(m.op) ? { t: "cancel", op: m.op as number } : undefined;
    default:
      return undefined;
  }
}

function isStatus(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 200 && (value as number) <= 599;
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
